//! Membership and fenced state in a real Redis (`nexus_core::cluster`).

use std::time::Duration;

use nexus_core::cluster::{ClusterError, RedisCluster, StateWrites, WorkerRecord};
use nexus_core::meta::test_util::RedisServer;

fn worker(id: &str, swarmlet: &str) -> WorkerRecord {
    WorkerRecord {
        id: id.into(),
        swarmlet: swarmlet.into(),
        location: "edge".into(),
        hardware: vec!["gpu".into()],
        advertise: format!("http://127.0.0.1:1/{id}"),
        started_ms: 1,
        policy_revision: 3,
    }
}

#[tokio::test]
async fn members_join_leave_and_die_with_epochs() {
    let Some(server) = RedisServer::start("cluster::membership") else {
        return;
    };
    let cluster = RedisCluster::connect(&server.url()).await.unwrap();
    let (a, b, c) = (
        worker("a", "edge"),
        worker("b", "edge"),
        worker("c", "cloud"),
    );
    cluster.beat(&a).await.unwrap();
    cluster.beat(&b).await.unwrap();
    let view = cluster.beat(&c).await.unwrap();
    assert_eq!(view.swarmlets["edge"].epoch, 2);
    assert_eq!(view.swarmlets["cloud"].epoch, 1);
    assert_eq!(view.workers().count(), 3);
    assert_eq!(view.worker("b").unwrap(), &b);

    // A heartbeat of a known member changes nothing.
    let view = cluster.beat(&a).await.unwrap();
    assert_eq!(view.swarmlets["edge"].epoch, 2);

    // A graceful leave bumps the epoch at once.
    let view = cluster.leave(&b).await.unwrap();
    assert_eq!(view.swarmlets["edge"].epoch, 3);
    assert!(view.worker("b").is_none());

    // A silent member is pruned after DEAD_AFTER by anyone's heartbeat: one death, one epoch.
    tokio::time::sleep(Duration::from_millis(900)).await;
    cluster.beat(&a).await.unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    let view = cluster.beat(&a).await.unwrap();
    assert!(view.worker("c").is_none(), "{view:?}");
    assert_eq!(view.swarmlets["cloud"].epoch, 2);
    assert_eq!(view.swarmlets["edge"].epoch, 3);
    assert!(view.worker("a").is_some());
    assert_eq!(cluster.view().await.unwrap().swarmlets["cloud"].epoch, 2);
}

#[tokio::test]
async fn state_commits_are_fenced_by_the_owner_epoch() {
    let Some(server) = RedisServer::start("cluster::state") else {
        return;
    };
    let cluster = RedisCluster::connect(&server.url()).await.unwrap();
    assert!(
        cluster
            .state_load("route", "t", 0, 4)
            .await
            .unwrap()
            .is_empty()
    );
    let mut w = StateWrites::default();
    w.set("k1".into(), b"v1".to_vec());
    w.set("gone".into(), b"x".to_vec());
    assert!(w.incr("n".into(), 2));
    assert!(w.incr("n".into(), 3));
    let incrs = cluster.state_commit("route", "t", 0, 4, &w).await.unwrap();
    assert_eq!(incrs["n"], 5);
    let mut w = StateWrites::default();
    w.delete("gone".into());
    w.incr("n".into(), 1);
    cluster.state_commit("route", "t", 0, 4, &w).await.unwrap();
    let state = cluster.state_load("route", "t", 0, 4).await.unwrap();
    assert_eq!(state.len(), 2, "{state:?}");
    assert_eq!(state["k1"], b"v1");
    assert_eq!(state["n"], b"6");

    // A new owner at epoch 5 loads: the old owner (epoch 4) can no longer commit or load.
    cluster.state_load("route", "t", 0, 5).await.unwrap();
    let mut w = StateWrites::default();
    w.set("k2".into(), b"late".to_vec());
    let err = cluster
        .state_commit("route", "t", 0, 4, &w)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClusterError::Fenced { fence: 5, ours: 4 }),
        "{err}"
    );
    assert!(matches!(
        cluster.state_load("route", "t", 0, 4).await,
        Err(ClusterError::Fenced { .. })
    ));
    let state = cluster.state_load("route", "t", 0, 5).await.unwrap();
    assert!(!state.contains_key("k2"));
    // Other partitions are independent.
    assert!(
        cluster
            .state_load("route", "t", 1, 1)
            .await
            .unwrap()
            .is_empty()
    );
}

#[test]
fn later_writes_merge_as_if_made_after() {
    let mut first = StateWrites::default();
    first.set("routed/a".into(), b"\"cold\"".to_vec());
    first.incr("chunks".into(), 1);
    first.set("n".into(), b"5".to_vec());
    let mut later = StateWrites::default();
    later.incr("chunks".into(), 2);
    later.incr("n".into(), 3);
    later.delete("routed/a".into());
    later.set("routed/b".into(), b"\"cold\"".to_vec());
    assert!(first.merge(later));
    let mut want = StateWrites::default();
    want.delete("routed/a".into());
    want.set("routed/b".into(), b"\"cold\"".to_vec());
    want.incr("chunks".into(), 3);
    want.set("n".into(), b"8".to_vec());
    assert_eq!(first, want);
    // An increment of a pending value that is not an integer is refused.
    let mut text = StateWrites::default();
    text.set("x".into(), b"abc".to_vec());
    let mut inc = StateWrites::default();
    inc.incr("x".into(), 1);
    assert!(!text.merge(inc));
}
