//! The Redis store's own behaviour: AUTH, schema versions, prefixes, restarts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nexus_core::meta::test_util::RedisServer;
use nexus_core::meta::{
    CacheOptions, Event, MetaError, MetaStore, RedisMeta, RedisOptions, ResourceKind,
    SnapshotCache, open,
};

use crate::{eventually, policy};

#[tokio::test]
async fn auth_required_and_checked() {
    let Some(server) = RedisServer::start_with_password("redis::auth", "s3cret-pw") else {
        return;
    };
    let store = open(&server.url()).await.unwrap();
    store.apply(vec![policy("a", "1")].into()).await.unwrap();

    let wrong = format!("redis://:wrong-pw@127.0.0.1:{}", server.port());
    let started = Instant::now();
    let err = open(&wrong).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, MetaError::Auth { .. }), "{msg}");
    assert!(
        msg.contains("credentials") && !msg.contains("wrong-pw"),
        "{msg}"
    );
    assert!(msg.contains("***"), "the URL is shown redacted: {msg}");
    assert!(!err.is_retryable());
    eprintln!("auth failure reported in {:?}", started.elapsed());

    let none = format!("redis://127.0.0.1:{}", server.port());
    let err = open(&none).await.unwrap_err();
    assert!(matches!(err, MetaError::Auth { .. }), "{err}");
}

#[tokio::test]
async fn unreachable_server_is_a_clear_retryable_error() {
    if !RedisServer::available("redis::unreachable") {
        return;
    }
    let port = nexus_core::meta::test_util::free_port();
    let started = Instant::now();
    let err = open(&format!("redis://127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn schema_versions_are_checked() {
    let Some(server) = RedisServer::start("redis::schema") else {
        return;
    };
    // A fresh namespace is initialised.
    let store = open(&server.url()).await.unwrap();
    assert!(server.command("GET nexus:schema").contains("\r\n1\r\n"));

    // A newer layout is refused at open, by apply and by snapshot.
    assert!(server.command("SET nexus:schema 2").starts_with("+OK"));
    let err = open(&server.url()).await.unwrap_err();
    assert!(
        matches!(
            err,
            MetaError::SchemaTooNew {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade nexus"), "{err}");
    let err = store
        .apply(vec![policy("a", "1")].into())
        .await
        .unwrap_err();
    assert!(
        matches!(err, MetaError::SchemaTooNew { found: 2, .. }),
        "{err}"
    );
    assert!(matches!(
        store.snapshot().await.unwrap_err(),
        MetaError::SchemaTooNew { .. }
    ));
    assert_eq!(
        server.command("EXISTS nexus:revision"),
        ":0\r\n",
        "nothing was written"
    );

    // Data without a schema marker is not ours to touch.
    let other = format!("{}?prefix=legacy:", server.url());
    assert!(server.command("SET legacy:revision 7").starts_with("+OK"));
    let err = open(&other).await.unwrap_err();
    assert!(matches!(err, MetaError::SchemaUnknown { .. }), "{err}");
    assert!(
        server
            .command("SET legacy:schema banana")
            .starts_with("+OK")
    );
    let err = open(&other).await.unwrap_err();
    assert!(err.to_string().contains("banana"), "{err}");
}

#[tokio::test]
async fn prefixes_isolate_namespaces_and_scripts_reload() {
    let Some(server) = RedisServer::start("redis::prefixes") else {
        return;
    };
    let a = open(&format!("{}?prefix=team-a:", server.url()))
        .await
        .unwrap();
    let b = RedisMeta::connect(&server.url(), {
        let mut o = RedisOptions::default();
        o.prefix = "{team-b}:".into();
        o
    })
    .await
    .unwrap();
    a.apply(vec![policy("p", "a")].into()).await.unwrap();
    assert!(b.get(ResourceKind::Policy, "p").await.unwrap().is_none());
    assert_eq!(b.revision().await.unwrap(), 0);
    assert!(a.describe().contains("prefix team-a:"), "{}", a.describe());
    assert!(server.command("EXISTS team-a:res:policy:p").contains(":1"));

    // The server forgets our scripts: EVALSHA falls back to loading them.
    assert!(server.command("SCRIPT FLUSH").starts_with("+OK"));
    assert_eq!(
        a.apply(vec![policy("p", "a2")].into())
            .await
            .unwrap()
            .revision,
        2
    );
    assert_eq!(a.snapshot().await.unwrap().revision, 2);
}

/// Redis restarts under a running watcher: the last snapshot keeps serving, freshness turns
/// false after the grace period, the feed reconnects and resyncs, freshness returns, and
/// changes flow again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_serving_then_resyncs() {
    let Some(mut server) = RedisServer::start("redis::restart") else {
        return;
    };
    let store = open(&server.url()).await.unwrap();
    store.apply(vec![policy("a", "1")].into()).await.unwrap();
    let mut options = CacheOptions::default();
    options.poll_interval = Duration::from_millis(100);
    options.call_timeout = Duration::from_secs(1);
    let cache = SnapshotCache::start(
        Arc::clone(&store),
        |s| {
            Ok::<_, String>(
                s.of_kind(ResourceKind::Policy)
                    .map(|r| r.name.clone())
                    .collect::<Vec<_>>(),
            )
        },
        options,
    )
    .await
    .unwrap();
    let mut feed = store.watch();
    let grace = Duration::from_millis(600);

    server.save();
    server.stop();
    eventually(Duration::from_secs(5), "not fresh", || {
        !cache.is_fresh(grace)
    })
    .await;
    assert_eq!(*cache.current(), ["a"], "serving the last snapshot");
    assert!(store.revision().await.is_err());

    let down = Instant::now();
    server.restart();
    // The feed reconnects (backoff capped at 2 s) and tells us to resync.
    let resync = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(Event::Resync { revision }) = feed.recv().await {
                return revision;
            }
        }
    })
    .await
    .expect("a resync after the restart");
    assert_eq!(resync, Some(1), "the saved dataset came back");
    eprintln!("restart -> resync: {:?}", down.elapsed());
    eventually(Duration::from_secs(5), "fresh again", || {
        cache.is_fresh(grace)
    })
    .await;
    eprintln!("restart -> fresh: {:?}", down.elapsed());

    let out = store.apply(vec![policy("b", "1")].into()).await.unwrap();
    assert_eq!(out.revision, 2);
    assert!(cache.wait_for_revision(2, Duration::from_secs(1)).await);
    assert_eq!(*cache.current(), ["a", "b"]);
    assert!(cache.status().load_errors > 0);
}

/// Redis comes back empty (no persistence): the namespace is re-initialised by the next apply
/// and watchers follow the store, whose revision went back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_without_data_follows_the_store() {
    let Some(mut server) = RedisServer::start("redis::restart_empty") else {
        return;
    };
    let store = open(&server.url()).await.unwrap();
    store
        .apply(vec![policy("a", "1"), policy("b", "1")].into())
        .await
        .unwrap();
    let mut options = CacheOptions::default();
    options.poll_interval = Duration::from_millis(100);
    let cache = SnapshotCache::start(
        Arc::clone(&store),
        |s| Ok::<_, String>(s.records.len()),
        options,
    )
    .await
    .unwrap();
    server.restart();
    eventually(Duration::from_secs(5), "the empty store", || {
        *cache.current() == 0
    })
    .await;
    let out = store.apply(vec![policy("c", "1")].into()).await.unwrap();
    assert_eq!(out.revision, 1);
    assert!(server.command("GET nexus:schema").contains("\r\n1\r\n"));
    eventually(Duration::from_secs(2), "the new record", || {
        *cache.current() == 1
    })
    .await;
}

#[tokio::test]
async fn garbage_on_our_channel_means_resync() {
    let Some(server) = RedisServer::start("redis::garbage") else {
        return;
    };
    let store = open(&server.url()).await.unwrap();
    let mut feed = store.watch();
    // The first event is the subscription's resync.
    let first = tokio::time::timeout(Duration::from_secs(2), feed.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(first, Event::Resync { revision: Some(0) }),
        "{first:?}"
    );
    assert!(
        server
            .command("PUBLISH nexus:events not-json")
            .starts_with(':')
    );
    let event = tokio::time::timeout(Duration::from_secs(2), feed.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(event, Event::Resync { revision: None }),
        "{event:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca() {
    let Some(server) = RedisServer::start_tls("redis::tls") else {
        return;
    };
    let url = server.tls_url().unwrap();
    let with_ca = format!("{url}?tls_ca={}", server.ca_file().display());
    let store = open(&with_ca).await.unwrap();
    let mut feed = store.watch();
    crate::feed_ready(&store, &mut feed).await;
    let out = store.apply(vec![policy("a", "1")].into()).await.unwrap();
    let change = crate::next_change(&mut feed, Duration::from_secs(1)).await;
    assert_eq!(change.revision, out.revision, "the feed works over TLS too");
    assert_eq!(
        store
            .get(ResourceKind::Policy, "a")
            .await
            .unwrap()
            .unwrap()
            .body,
        "1"
    );

    // Without the CA, the system roots do not trust the server: a clear error.
    let err = open(&url).await.unwrap_err().to_string();
    eprintln!("untrusted: {err}");
    assert!(
        err.contains("certificate") || err.contains("UnknownIssuer"),
        "{err}"
    );
    // TLS options on a plain URL are refused.
    let err = open(&format!(
        "redis://127.0.0.1:{}?tls_ca=/x.pem",
        server.port()
    ))
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("tls_ca needs a rediss:// URL"), "{err}");
}
