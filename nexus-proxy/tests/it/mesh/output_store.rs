//! A policy's `spec.output.store`, and a routing stage's pick: the stored object goes to that
//! store, the bucket keeps a locator (empty, with the object's metadata), and reads, HEAD, LIST,
//! copies and deletes follow it, also after the policy is deleted. Run with a worker process
//! (the mesh harness), which reads the store's credentials from its environment.

use std::process::Command;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};

use super::{BUCKET, COLD, Mesh, Spec, cli, cold_store, get, routed_policies, segment_key};
use crate::pipeline::logs;
use crate::support::backends::BACKEND_KEYS;
use crate::support::{MIB, bounded, client_config, md5_hex};

fn to_cold(backend: &str) -> String {
    format!(
        "{}---
apiVersion: nexus/v1
kind: Policy
metadata: {{name: logs-to-cold}}
spec:
  system: kafka
  target: {{bucket: {BUCKET}, keyPrefix: tiered/, streams: [\"logs-*\"]}}
  pipeline:
    - {{streamlet: compress-zstd, location: edge, params: {{level: 3}}}}
  output: {{store: cold}}
---
apiVersion: nexus/v1
kind: Policy
metadata: {{name: metrics-to-cold}}
spec:
  system: kafka
  target: {{bucket: {BUCKET}, keyPrefix: tiered/, streams: [\"metrics-*\"]}}
  pipeline: []
  output: {{store: cold}}
",
        cold_store(backend)
    )
}

/// Uploads `body` as a multipart upload of 5 MiB parts.
async fn multipart(c: &aws_sdk_s3::Client, key: &str, body: &[u8]) {
    let up = c
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .expect("create");
    let id = up.upload_id().expect("id");
    let mut parts = Vec::new();
    for (n, piece) in (1..).zip(body.chunks(5 * MIB)) {
        let p = c
            .upload_part()
            .bucket(BUCKET)
            .key(key)
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(piece.to_vec()))
            .send()
            .await
            .expect("part");
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(p.e_tag().expect("etag"))
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .expect("complete");
}

/// One edge worker (with `extra` flags) whose policies are `policies(backend endpoint)`, both
/// buckets created; `None` without Redis. Returns the mesh, a client of the backend itself and
/// the temp dir.
async fn cold_mesh(
    test: &str,
    extra: &[&str],
    policies: impl FnOnce(&str) -> String,
) -> Option<(Mesh, aws_sdk_s3::Client, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("policies.yaml");
    let mut mesh = Mesh::start_with(test, Vec::new(), path.clone()).await?;
    std::fs::write(&path, policies(&mesh.backend.endpoint)).expect("write policies");
    mesh.spawn(Spec {
        extra: extra.iter().map(|&a| a.to_owned()).collect(),
        ..Spec::edge()
    })
    .await;
    mesh.wait_members(1).await;
    let backend = aws_sdk_s3::Client::from_conf(
        client_config(&mesh.backend.endpoint, None, BACKEND_KEYS.0, BACKEND_KEYS.1)
            .force_path_style(true)
            .build(),
    );
    let nexus = mesh.workers[0].client();
    for b in [BUCKET, COLD] {
        nexus
            .create_bucket()
            .bucket(b)
            .send()
            .await
            .expect("bucket");
    }
    Some((mesh, backend, dir))
}

/// Stored size of `key` in `bucket` of the backend itself, `None` if absent.
async fn stored_size(backend: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<i64> {
    backend
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .ok()
        .and_then(|h| h.content_length())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_output_store_holds_the_bytes_and_the_bucket_a_locator() {
    // Staged uploads over 5 MiB are assembled as a multipart upload in the cold store.
    let Some((mesh, backend, _dir)) = cold_mesh(
        "mesh::output_store",
        &["--complete-put-max", "5242880"],
        to_cold,
    )
    .await
    else {
        return;
    };
    bounded(120, "output store", async {
        let nexus = mesh.workers[0].client();

        // A single PUT and a multipart upload through compress-zstd, and a PUT under a policy
        // with no stages (framed unchanged), all to the cold store.
        let single = (segment_key(0, 0), logs(3 * MIB));
        nexus
            .put_object()
            .bucket(BUCKET)
            .key(&single.0)
            .body(ByteStream::from(single.1.clone()))
            .send()
            .await
            .expect("put");
        let multi = (segment_key(1, 0), logs(11 * MIB));
        multipart(&nexus, &multi.0, &multi.1).await;
        let plain_key = segment_key(0, 0).replace("logs-app", "metrics-app");
        let plain = (plain_key, logs(MIB + 7));
        nexus
            .put_object()
            .bucket(BUCKET)
            .key(&plain.0)
            .body(ByteStream::from(plain.1.clone()))
            .send()
            .await
            .expect("put plain");
        // Framed unchanged, the stored upload passes 5 MiB: assembled in the cold store.
        let big_key = segment_key(1, 0).replace("logs-app", "metrics-app");
        let big = (big_key, crate::support::pattern_seeded(11 * MIB, 5));
        multipart(&nexus, &big.0, &big.1).await;
        let assembled = backend
            .head_object()
            .bucket(COLD)
            .key(&big.0)
            .send()
            .await
            .expect("assembled in cold");
        assert!(
            assembled
                .e_tag()
                .is_some_and(|e| e.trim_matches('"').ends_with("-1")),
            "a backend multipart object: {:?}",
            assembled.e_tag()
        );
        let objects = [&single, &multi, &plain, &big];

        // The bytes are in the cold bucket (compressed where a stage compressed), the bucket
        // holds empty locators.
        for (key, body) in objects {
            let cold = stored_size(&backend, COLD, key).await.expect("in cold");
            assert!(cold > 0, "{key}: {cold} bytes in {COLD}");
            assert_eq!(stored_size(&backend, BUCKET, key).await, Some(0), "{key}");
            if !key.contains("metrics-") {
                assert!(cold < body.len() as i64 / 2, "{key} is compressed: {cold}");
            }
        }

        // Reads, ranges, HEAD and LIST answer the logical object.
        for (key, body) in objects {
            let got = get(&nexus, BUCKET, key).await.expect("get");
            assert_eq!(md5_hex(&got), md5_hex(body), "{key}");
            let range = nexus
                .get_object()
                .bucket(BUCKET)
                .key(key)
                .range("bytes=1000000-1000099")
                .send()
                .await
                .expect("range");
            let bytes = range.body.collect().await.expect("body").into_bytes();
            assert!(bytes[..] == body[1_000_000..1_000_100], "{key} range");
            let head = nexus
                .head_object()
                .bucket(BUCKET)
                .key(key)
                .send()
                .await
                .expect("head");
            assert_eq!(head.content_length(), Some(body.len() as i64), "{key}");
            assert!(head.metadata().is_none_or(|m| m.is_empty()), "{key}");
        }
        let listed = nexus
            .list_objects_v2()
            .bucket(BUCKET)
            .send()
            .await
            .expect("list");
        for (key, body) in objects {
            let o = listed
                .contents()
                .iter()
                .find(|o| o.key() == Some(key.as_str()))
                .unwrap_or_else(|| panic!("{key} not listed"));
            assert_eq!(o.size(), Some(body.len() as i64), "{key} listed size");
        }

        // A copy of a located object is a whole object in the bucket.
        let copy_key = segment_key(2, 0);
        nexus
            .copy_object()
            .bucket(BUCKET)
            .key(&copy_key)
            .copy_source(format!("{BUCKET}/{}", single.0))
            .send()
            .await
            .expect("copy");
        assert!(stored_size(&backend, BUCKET, &copy_key).await > Some(0));
        let got = get(&nexus, BUCKET, &copy_key).await.expect("get copy");
        assert_eq!(md5_hex(&got), md5_hex(&single.1));

        // Deleting the policies keeps every object readable.
        let out = Command::new(cli())
            .args(["--meta", &mesh.meta_url(), "policy", "delete"])
            .args(["logs-to-cold", "metrics-to-cold"])
            .output()
            .expect("nexus policy delete");
        assert!(out.status.success(), "{out:?}");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        for (key, body) in objects {
            let got = get(&nexus, BUCKET, key).await.expect("get after delete");
            assert_eq!(md5_hex(&got), md5_hex(body), "{key} without its policy");
        }
        // No policy targets the bucket now, but the store is still applied: a delete still
        // removes the bytes.
        nexus
            .delete_object()
            .bucket(BUCKET)
            .key(&single.0)
            .send()
            .await
            .expect("delete without a policy");
        assert_eq!(stored_size(&backend, COLD, &single.0).await, None);
        assert_eq!(stored_size(&backend, BUCKET, &single.0).await, None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_remove_the_bytes_and_the_locator() {
    let Some((mesh, backend, _dir)) = cold_mesh("mesh::output_delete", &[], to_cold).await else {
        return;
    };
    bounded(120, "deletes of located objects", async {
        let nexus = mesh.workers[0].client();
        let keys: Vec<String> = (0..4).map(|p| segment_key(p, 0)).collect();
        for k in &keys {
            nexus
                .put_object()
                .bucket(BUCKET)
                .key(k)
                .body(ByteStream::from(logs(200_000)))
                .send()
                .await
                .expect("put");
            assert!(stored_size(&backend, COLD, k).await.is_some());
        }
        // DeleteObject: both go.
        nexus
            .delete_object()
            .bucket(BUCKET)
            .key(&keys[0])
            .send()
            .await
            .expect("delete");
        assert_eq!(stored_size(&backend, COLD, &keys[0]).await, None);
        assert_eq!(stored_size(&backend, BUCKET, &keys[0]).await, None);
        // DeleteObjects (how Kafka's RSM deletes a segment's files), with a missing key.
        let mut batch: Vec<ObjectIdentifier> = keys[1..]
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build().expect("id"))
            .collect();
        batch.push(
            ObjectIdentifier::builder()
                .key(segment_key(9, 0))
                .build()
                .expect("id"),
        );
        let out = nexus
            .delete_objects()
            .bucket(BUCKET)
            .delete(
                Delete::builder()
                    .set_objects(Some(batch))
                    .build()
                    .expect("delete"),
            )
            .send()
            .await
            .expect("delete objects");
        assert!(out.errors().is_empty(), "{:?}", out.errors());
        for k in &keys[1..] {
            assert_eq!(stored_size(&backend, COLD, k).await, None, "{k} in {COLD}");
            assert_eq!(stored_size(&backend, BUCKET, k).await, None, "{k}");
        }
        let left = backend
            .list_objects_v2()
            .bucket(COLD)
            .send()
            .await
            .expect("list cold");
        assert_eq!(left.key_count(), Some(0), "nothing left in {COLD}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_multipart_upload_is_stored_where_its_parts_were_routed() {
    let Some((mesh, backend, _dir)) = cold_mesh("mesh::routed_multipart", &[], |b| {
        routed_policies(b, "edge")
    })
    .await
    else {
        return;
    };
    bounded(120, "routed multipart", async {
        let nexus = mesh.workers[0].client();
        // Offset 900 matches the router, offset 0 does not.
        let (routed, kept) = (segment_key(3, 900), segment_key(3, 0));
        let body = logs(6 * MIB + 3);
        multipart(&nexus, &routed, &body).await;
        multipart(&nexus, &kept, &body).await;
        let cold = stored_size(&backend, COLD, &routed)
            .await
            .expect("routed to cold");
        assert!(cold > 0 && cold < body.len() as i64 / 2, "{cold}");
        assert_eq!(
            stored_size(&backend, BUCKET, &routed).await,
            Some(0),
            "a locator"
        );
        assert_eq!(stored_size(&backend, COLD, &kept).await, None);
        assert!(stored_size(&backend, BUCKET, &kept).await > Some(0));
        for k in [&routed, &kept] {
            let got = get(&nexus, BUCKET, k).await.expect("get");
            assert_eq!(md5_hex(&got), md5_hex(&body), "{k}");
        }
        nexus
            .delete_object()
            .bucket(BUCKET)
            .key(&routed)
            .send()
            .await
            .expect("delete");
        assert_eq!(stored_size(&backend, COLD, &routed).await, None);
    })
    .await;
}
