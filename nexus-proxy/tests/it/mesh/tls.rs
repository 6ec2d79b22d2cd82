//! The mesh over TLS: workers serve their S3 port with `--tls-cert`, advertise `https://` and
//! dial each other with rustls, trusting only the cluster's CA; a worker whose certificate
//! another CA signed is never sent a byte.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;

use super::placement::{calls, key, policies};
use super::{BUCKET, Mesh, Spec, get, retrying, segment_key};
use crate::pipeline::logs;
use crate::support::metrics::scrape;
use crate::support::tls::TestCa;
use crate::support::{bounded, md5_hex};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_and_placed_stages_run_over_tls() {
    let ca = Arc::new(TestCa::new());
    let dir = tempfile::tempdir().expect("dir");
    let mut specs = vec![Spec::edge().with_tls(&ca)];
    specs.extend(Spec::three_swarmlets().into_iter().map(|s| s.with_tls(&ca)));
    let Some(mesh) = Mesh::start_with("mesh::tls", specs, policies(dir.path())).await else {
        return;
    };
    bounded(150, "mesh over TLS", async {
        let view = mesh.view().await;
        assert!(
            view.workers().all(|w| w.advertise.starts_with("https://")),
            "{view:?}"
        );
        mesh.bucket().await;
        let (entry, gpu, cloud) = (&mesh.workers[0], &mesh.workers[2], &mesh.workers[3]);
        // Eight partitions: about half are owned by the other edge worker and forwarded to it.
        let mut objects = Vec::new();
        for p in 0..8 {
            let k = key("logs-app", 0).replace("/0/", &format!("/{p}/"));
            let body = logs(1 << 20);
            entry
                .client()
                .put_object()
                .bucket(BUCKET)
                .key(&k)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("put {k}: {e:?}\n{}", entry.log()));
            objects.push((k, body));
        }
        let forwarded = scrape(entry.admin)
            .await
            .value("nexus_mesh_forwarded_total", &[]);
        let owned_elsewhere = objects
            .iter()
            .filter(|(k, _)| mesh.owner_of(&view, k) != 0)
            .count();
        assert!(owned_elsewhere > 0, "no partition went to the other worker");
        assert!(
            forwarded >= owned_elsewhere as f64,
            "{forwarded} forwards for {owned_elsewhere} partitions owned elsewhere"
        );
        // Every frame went through the gpu and cloud stages (stage calls over HTTPS).
        assert_eq!(calls(&scrape(gpu.admin).await, "compress-zstd"), 8.0);
        assert_eq!(calls(&scrape(cloud.admin).await, "noop"), 8.0);
        for (k, body) in &objects {
            let got = get(&cloud.client(), BUCKET, k).await.expect("get");
            assert_eq!(md5_hex(&got), md5_hex(body), "{k}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_with_an_untrusted_certificate_is_sent_nothing() {
    let (ca, rogue_ca) = (Arc::new(TestCa::new()), Arc::new(TestCa::new()));
    let specs = vec![Spec::edge().with_tls(&ca), Spec::edge().with_tls(&rogue_ca)];
    let Some(mut mesh) = Mesh::start("mesh::tls_untrusted", specs).await else {
        return;
    };
    bounded(120, "untrusted peer", async {
        let view = mesh.view().await;
        let k = (0..64)
            .map(|p| segment_key(p, 0))
            .find(|k| mesh.owner_of(&view, k) == 1)
            .expect("the rogue worker owns some partition");
        let (body, client) = (logs(256 << 10), mesh.workers[0].client());
        let put = || {
            client
                .put_object()
                .bucket(BUCKET)
                .key(&k)
                .body(ByteStream::from(body.clone()))
                .send()
        };
        // The bucket through the trusted worker (a bucket request is not forwarded).
        client
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect("bucket");
        let err = put().await.expect_err("the owner cannot be verified");
        let raw = format!("{err:?}");
        assert!(raw.contains("SlowDown") || raw.contains("503"), "{raw}");
        let log = mesh.workers[0].log();
        assert!(
            log.contains("UnknownIssuer") || log.contains("certificate"),
            "the entry's log names the certificate problem:\n{log}"
        );
        // Nothing was stored anywhere.
        mesh.workers[1].kill();
        mesh.wait_members(1).await;
        let absent = get(&client, BUCKET, &k).await.expect_err("nothing stored");
        assert!(absent.contains("NoSuchKey"), "{absent}");
        // The broker's retry lands on the trusted worker, the new owner.
        retrying(Duration::from_secs(10), "put after the rogue left", put).await;
        assert_eq!(
            md5_hex(&get(&client, BUCKET, &k).await.expect("get")),
            md5_hex(&body)
        );
    })
    .await;
}
