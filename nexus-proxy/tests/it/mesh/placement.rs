//! Location and hardware routing: each stage runs on a swarmlet with its location and labels
//! (edge → edge-gpu → cloud), writes and reads, whatever the entry worker.

use aws_sdk_s3::primitives::ByteStream;

use super::{BUCKET, Mesh, Spec};
use crate::pipeline::logs;
use crate::support::metrics::{Scrape, scrape};
use crate::support::{bounded, md5_hex};

pub(super) fn policies(dir: &std::path::Path) -> std::path::PathBuf {
    let text = format!(
        "apiVersion: nexus/v1
kind: Policy
metadata: {{name: logs-three-places}}
spec:
  system: kafka
  target: {{bucket: {BUCKET}, keyPrefix: tiered/, streams: [\"logs-*\"]}}
  pipeline:
    - {{streamlet: tag, location: edge, params: {{entries: \"placed=edge\"}}}}
    - {{streamlet: compress-zstd, location: edge, hardware: [gpu], params: {{level: 3}}}}
    - {{streamlet: noop, location: cloud}}
---
apiVersion: nexus/v1
kind: Policy
metadata: {{name: metrics-to-cloud}}
spec:
  system: kafka
  target: {{bucket: {BUCKET}, keyPrefix: tiered/, streams: [\"metrics-*\"]}}
  pipeline:
    - {{streamlet: compress-gzip, location: cloud}}
---
apiVersion: nexus/v1
kind: Policy
metadata: {{name: needs-a-tpu}}
spec:
  system: kafka
  target: {{bucket: {BUCKET}, keyPrefix: tiered/, streams: [\"ai-*\"]}}
  pipeline:
    - {{streamlet: noop, location: edge, hardware: [tpu]}}
"
    );
    let path = dir.join("placed.yaml");
    std::fs::write(&path, text).expect("write policies");
    path
}

pub(super) fn calls(m: &Scrape, streamlet: &str) -> f64 {
    m.value(
        "nexus_streamlet_call_duration_seconds_count",
        &[("streamlet", streamlet)],
    )
}

pub(super) fn key(topic: &str, offset: u64) -> String {
    format!("tiered/{topic}-MWJ6FHTfRYy67jzwZdeqSQ/0/{offset:020}-tqimKeZwStOEOwRzT3L5oQ.log")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_run_where_their_location_and_hardware_are() {
    let dir = tempfile::tempdir().expect("dir");
    let specs = Spec::three_swarmlets();
    let Some(mesh) = Mesh::start_with("mesh::placement", specs, policies(dir.path())).await else {
        return;
    };
    bounded(150, "placement", async {
        mesh.bucket().await;
        let (edge, gpu, cloud) = (&mesh.workers[0], &mesh.workers[1], &mesh.workers[2]);
        let mut objects = Vec::new();
        // Three locations, entering at either end.
        for (i, entry) in [edge, cloud].into_iter().enumerate() {
            let (k, body) = (key("logs-app", i as u64), logs(3 << 20));
            entry
                .client()
                .put_object()
                .bucket(BUCKET)
                .key(&k)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .expect("put logs");
            objects.push((k, body));
        }
        let m = [
            scrape(edge.admin).await,
            scrape(gpu.admin).await,
            scrape(cloud.admin).await,
        ];
        // 3 MiB in 1 MiB frames: 3 frames per object, 2 objects.
        assert_eq!(calls(&m[0], "tag"), 6.0, "tag runs at the edge");
        assert_eq!(calls(&m[1], "tag") + calls(&m[2], "tag"), 0.0);
        assert_eq!(
            calls(&m[1], "compress-zstd"),
            6.0,
            "zstd runs on the gpu worker"
        );
        assert_eq!(
            calls(&m[0], "compress-zstd") + calls(&m[2], "compress-zstd"),
            0.0
        );
        assert_eq!(calls(&m[2], "noop"), 6.0, "noop runs in the cloud");
        assert_eq!(calls(&m[0], "noop") + calls(&m[1], "noop"), 0.0);

        // Two locations: an edge entry, the stage in the cloud.
        let (k, body) = (key("metrics-app", 0), logs(1 << 20));
        edge.client()
            .put_object()
            .bucket(BUCKET)
            .key(&k)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("put metrics");
        objects.push((k, body));
        assert_eq!(calls(&scrape(cloud.admin).await, "compress-gzip"), 1.0);
        assert_eq!(calls(&scrape(edge.admin).await, "compress-gzip"), 0.0);

        // Reads decode the recorded pipeline in reverse at the same places, through any entry.
        for w in &mesh.workers {
            for (k, body) in &objects {
                let got = w
                    .client()
                    .get_object()
                    .bucket(BUCKET)
                    .key(k)
                    .send()
                    .await
                    .expect("get");
                let tags = got.metadata().cloned();
                let bytes = got.body.collect().await.expect("body").into_bytes();
                assert_eq!(
                    md5_hex(&bytes),
                    md5_hex(body),
                    "{k} through {}",
                    w.endpoint()
                );
                assert!(tags.is_none_or(|t| t.keys().all(|k| !k.starts_with("nexus-"))));
            }
        }
        let gpu_after = scrape(gpu.admin).await;
        assert_eq!(
            calls(&gpu_after, "compress-zstd"),
            6.0 + 2.0 * 3.0 * 3.0,
            "reads decode zstd on the gpu worker"
        );
        // The stored object is compressed (NXF1) and carries the edge stage's context.
        let head = edge
            .client()
            .head_object()
            .bucket(BUCKET)
            .key(&objects[0].0)
            .send()
            .await
            .expect("head");
        assert_eq!(head.content_length(), Some(3 << 20));

        // No worker has the labels: the error names the stage, the streamlet and what is missing.
        let err = edge
            .client()
            .put_object()
            .bucket(BUCKET)
            .key(key("ai-app", 0))
            .body(ByteStream::from(vec![1u8; 1000]))
            .send()
            .await
            .expect_err("no tpu");
        let raw = format!("{err:?}");
        assert!(
            raw.contains("503") || raw.contains("ServiceUnavailable"),
            "{raw}"
        );
        assert!(
            raw.contains("stage 0") && raw.contains("noop") && raw.contains("tpu"),
            "{raw}"
        );
    })
    .await;
}
