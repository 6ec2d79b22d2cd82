//! A stateful streamlet in the mesh: `route-by-key` sends matching chunks to an alternative
//! store and keeps a persistent map of them in its partition's state, read once by the owner
//! and found again by the next owner; placed on another swarmlet, it runs there (its state's
//! home) whichever swarmlet the broker enters.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;

use super::{BUCKET, COLD, Mesh, Spec, get, retrying, routed_policies, segment_key};
use crate::pipeline::logs;
use crate::support::metrics::scrape;
use crate::support::{bounded, md5_hex};

fn policies(dir: &std::path::Path, backend: &str) -> std::path::PathBuf {
    policies_at(dir, backend, "edge")
}

/// [`routed_policies`] written into `dir`.
fn policies_at(dir: &std::path::Path, backend: &str, location: &str) -> std::path::PathBuf {
    let path = dir.join("routed.yaml");
    std::fs::write(&path, routed_policies(backend, location)).expect("write policies");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_by_key_keeps_its_map_in_partition_state() {
    let dir = tempfile::tempdir().expect("dir");
    // The backend's address is known once the mesh started it: workers are spawned after the
    // policy file names it.
    let path = dir.path().join("routed.yaml");
    let Some(mut mesh) = Mesh::start_with("mesh::stateful", Vec::new(), path).await else {
        return;
    };
    policies(dir.path(), &mesh.backend.endpoint);
    mesh.spawn(Spec::edge()).await;
    mesh.spawn(Spec::edge()).await;
    bounded(150, "stateful", async {
        let view = mesh.wait_members(2).await;
        mesh.bucket().await;
        let entry = mesh.workers[0].client();
        entry
            .create_bucket()
            .bucket(COLD)
            .send()
            .await
            .expect("cold bucket");

        // Partition 5: ten segments, the ones at offsets 900-909 are routed to the cold store.
        let p = 5;
        let owner = mesh.owner_of(&view, &segment_key(p, 0));
        let mut objects = Vec::new();
        for offset in (0..5).chain(900..905) {
            let key = segment_key(p, offset);
            let body = logs(100_000 + offset as usize);
            entry
                .put_object()
                .bucket(BUCKET)
                .key(&key)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .expect("put");
            objects.push((key, body, offset >= 900));
        }

        // Routed chunks are stored in the cold bucket (compressed), the others in the bucket,
        // which lists every chunk (routed ones by their locator) at its logical size.
        let backend = mesh.workers[0].client(); // through Nexus: listing shows what is stored
        let listed = backend
            .list_objects_v2()
            .bucket(COLD)
            .send()
            .await
            .expect("list cold");
        let cold_keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        for (key, _, routed) in &objects {
            assert_eq!(
                cold_keys.contains(key),
                *routed,
                "{key} in {COLD}: {cold_keys:?}"
            );
        }
        let listed = backend
            .list_objects_v2()
            .bucket(BUCKET)
            .send()
            .await
            .expect("list");
        assert_eq!(
            listed.key_count(),
            Some(10),
            "every chunk lists in {BUCKET}"
        );
        for (key, body, _) in &objects {
            let o = listed
                .contents()
                .iter()
                .find(|o| o.key() == Some(key.as_str()))
                .unwrap_or_else(|| panic!("{key} not listed"));
            assert_eq!(o.size(), Some(body.len() as i64), "{key} listed size");
        }

        // Reads through any worker find every chunk, the routed ones through the map.
        for w in &mesh.workers {
            for (key, body, _) in &objects {
                let got = get(&w.client(), BUCKET, key)
                    .await
                    .unwrap_or_else(|e| panic!("{key}: {e}"));
                assert_eq!(
                    md5_hex(&got),
                    md5_hex(body),
                    "{key} through {}",
                    w.endpoint()
                );
            }
        }

        // The owner loaded the partition's state once and served the rest from its cache.
        let m = scrape(mesh.workers[owner].admin).await;
        assert_eq!(m.value("nexus_state_loads_total", &[]), 1.0, "{}", m.text);
        assert_eq!(
            m.value("nexus_state_commits_total", &[("reason", "ok")]),
            5.0
        );
        let other = scrape(mesh.workers[1 - owner].admin).await;
        assert_eq!(other.value("nexus_state_loads_total", &[]), 0.0);

        // The state is in Redis, fenced by the owner's epoch.
        let cluster = nexus_core::cluster::RedisCluster::connect(&mesh.meta_url())
            .await
            .expect("redis");
        let epoch = view.swarmlets["edge"].epoch;
        let state = cluster
            .state_load("route-by-key", "logs-app", p, epoch)
            .await
            .expect("state");
        assert_eq!(state["routed-chunks"], b"5");
        assert_eq!(
            state.keys().filter(|k| k.starts_with("routed/")).count(),
            5,
            "{state:?}"
        );

        // The owner dies: the next owner loads the map (raising the fence) and serves the routed
        // chunks, and a new routed chunk extends the same map.
        mesh.workers[owner].kill();
        let survivor = 1 - owner;
        let c = mesh.workers[survivor].client();
        mesh.wait_members(1).await;
        for (key, body, _) in &objects {
            let (got, _) = retrying(Duration::from_secs(10), "read after failover", || {
                get(&c, BUCKET, key)
            })
            .await;
            assert_eq!(md5_hex(&got), md5_hex(body), "{key} after failover");
        }
        let key = segment_key(p, 909);
        let body = logs(90_000);
        retrying(Duration::from_secs(10), "routed put after failover", || {
            let (c, key, body) = (c.clone(), key.clone(), body.clone());
            async move {
                c.put_object()
                    .bucket(BUCKET)
                    .key(key)
                    .body(ByteStream::from(body))
                    .send()
                    .await
            }
        })
        .await;
        assert_eq!(
            md5_hex(
                &get(&c, COLD, &key)
                    .await
                    .map(|_| body.clone())
                    .expect("in cold")
            ),
            md5_hex(&body)
        );
        let m = scrape(mesh.workers[survivor].admin).await;
        assert_eq!(m.value("nexus_state_loads_total", &[]), 1.0, "{}", m.text);
        // The dead owner's epoch can no longer commit.
        let mut w = nexus_core::cluster::StateWrites::default();
        w.set("routed/late".into(), b"\"cold\"".to_vec());
        let err = cluster
            .state_commit("route-by-key", "logs-app", p, epoch, &w)
            .await
            .expect_err("fenced");
        assert!(
            matches!(err, nexus_core::cluster::ClusterError::Fenced { .. }),
            "{err}"
        );
        let state = cluster
            .state_load("route-by-key", "logs-app", p, u64::MAX - 1)
            .await
            .expect("state");
        assert_eq!(state["routed-chunks"], b"6");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placed_stateful_stage_keeps_its_state_in_its_home_swarmlet() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("routed.yaml");
    let Some(mut mesh) = Mesh::start_with("mesh::stateful_home", Vec::new(), path).await else {
        return;
    };
    policies_at(dir.path(), &mesh.backend.endpoint, "cloud");
    mesh.spawn(Spec::edge()).await;
    mesh.spawn(Spec::at("cloud", "cloud", &[])).await;
    bounded(150, "placed stateful stage", async {
        mesh.wait_members(2).await;
        mesh.bucket().await;
        let (edge, cloud) = (&mesh.workers[0], &mesh.workers[1]);
        edge.client()
            .create_bucket()
            .bucket(COLD)
            .send()
            .await
            .expect("cold bucket");
        // Partition 2: a routed chunk and a kept one through the edge, a routed one through
        // the cloud.
        let p = 2;
        let objects = [
            // Three frames, run concurrently: the first frame's writes must survive the
            // answers of the other two.
            (segment_key(p, 900), logs(3 << 20), edge),
            (segment_key(p, 0), logs(200_000), edge),
            (segment_key(p, 901), logs(250_000), cloud),
        ];
        for (key, body, entry) in &objects {
            entry
                .client()
                .put_object()
                .bucket(BUCKET)
                .key(key)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("put {key}: {e:?}\n{}", entry.log()));
        }
        // route-by-key ran in the cloud only, for every frame of every write.
        let calls = |m: &crate::support::metrics::Scrape| {
            m.value(
                "nexus_streamlet_call_duration_seconds_count",
                &[("streamlet", "route-by-key")],
            )
        };
        let (me, mc) = (scrape(edge.admin).await, scrape(cloud.admin).await);
        assert_eq!(calls(&me), 0.0, "no write ran route-by-key at the edge");
        assert_eq!(calls(&mc), 5.0, "one call per frame: 3 + 1 + 1");
        // The edge committed the writes the cloud stage answered with, fenced by the cloud's
        // epoch; the map holds both routed chunks.
        assert!(me.value("nexus_state_commits_total", &[("reason", "ok")]) >= 1.0);
        let cluster = nexus_core::cluster::RedisCluster::connect(&mesh.meta_url())
            .await
            .expect("redis");
        let state = cluster
            .state_read("route-by-key", "logs-app", p)
            .await
            .expect("state");
        assert_eq!(
            state.get("routed-chunks").map(Vec::as_slice),
            Some(&b"2"[..]),
            "{state:?}"
        );
        for (key, _, _) in &objects {
            let routed = state.keys().any(|k| k.ends_with(key.as_str()));
            assert_eq!(
                routed,
                key.contains("/0000000000000000090"),
                "{key}: {state:?}"
            );
            assert_eq!(
                get(&edge.client(), COLD, key).await.is_ok(),
                routed,
                "{key} in {COLD}"
            );
        }
        // Reads through either entry (the edge's pre-GET reads a snapshot of the map).
        for w in [edge, cloud] {
            for (key, body, _) in &objects {
                let got = get(&w.client(), BUCKET, key)
                    .await
                    .unwrap_or_else(|e| panic!("{key}: {e}"));
                assert_eq!(
                    md5_hex(&got),
                    md5_hex(body),
                    "{key} through {}",
                    w.endpoint()
                );
            }
        }
    })
    .await;
}
