//! Workers die (SIGKILL) in the middle of single and multipart uploads, leave (SIGTERM) and
//! join: the broker-style retry succeeds on the new owner and every acknowledged object reads
//! back identical.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;

use super::{BUCKET, Mesh, Spec, get, retrying, segment_key};
use crate::pipeline::logs;
use crate::support::metrics::scrape;
use crate::support::raw;
use crate::support::sigv4::{Payload, Req, object_path};
use crate::support::{bounded, md5_hex};

async fn put(c: &aws_sdk_s3::Client, key: &str, body: &[u8]) -> Result<(), String> {
    c.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

/// A key of a partition that worker `i` owns in `view`.
fn key_owned_by(mesh: &Mesh, view: &nexus_core::cluster::View, i: usize, offset: u64) -> String {
    (0..500u64)
        .map(|p| segment_key(p, offset))
        .find(|k| mesh.owner_of(view, k) == i)
        .expect("a partition owned by the worker")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_owners_lose_no_acknowledged_object() {
    let Some(mut mesh) =
        Mesh::start("mesh::kill", vec![Spec::edge(), Spec::edge(), Spec::edge()]).await
    else {
        return;
    };
    bounded(180, "kill", async {
        let view = mesh.wait_members(3).await;
        mesh.bucket().await;
        let entry = mesh.workers[0].client();
        let mut acked = Vec::new();
        for p in 0..9u64 {
            let (key, body) = (segment_key(p, 100), logs(150_000 + p as usize));
            put(&entry, &key, &body).await.expect("put");
            acked.push((key, body));
        }

        // A single PUT in flight through worker 0 to worker 1, which dies mid-body.
        let key = key_owned_by(&mesh, &view, 1, 200);
        let body = logs(2 << 20);
        let host = mesh.workers[0].s3.to_string();
        let (parts, _) = Req::new("PUT", &host, object_path(BUCKET, &key))
            .body(body.clone())
            .signed(Payload::Hex)
            .into_parts();
        let (started, first) = tokio::sync::oneshot::channel();
        let frames: Vec<Bytes> = body.chunks(256 << 10).map(Bytes::copy_from_slice).collect();
        let slow = http::Request::from_parts(
            parts,
            raw::slow(frames, Duration::from_millis(150), started),
        );
        let entry_addr = mesh.workers[0].s3;
        let in_flight = tokio::spawn(async move { raw::send(entry_addr, None, slow).await });
        first.await.expect("body started");
        tokio::time::sleep(Duration::from_millis(200)).await;
        mesh.workers[1].kill();
        let answer = in_flight.await.expect("request task");
        assert_ne!(
            answer.status, 200,
            "a PUT whose owner died mid-body was acknowledged"
        );
        assert!(
            answer.status == 503 || answer.status >= 500,
            "{}",
            answer.status
        );
        // Nothing half-written is visible, and the broker's retry lands on the new owner.
        let (_, retries) = retrying(
            Duration::from_secs(10),
            "retry after the owner died",
            || put(&entry, &key, &body),
        )
        .await;
        let died = Instant::now();
        assert_eq!(
            md5_hex(&get(&entry, BUCKET, &key).await.expect("read")),
            md5_hex(&body)
        );
        acked.push((key, body));
        println!("single PUT: {retries} retries until the new owner took it");

        // Members see the death within 2 s (heartbeat 0.5 s, dead after 1.5 s).
        let view = mesh.wait_members(2).await;
        assert!(died.elapsed() < Duration::from_secs(3));

        // A multipart upload whose owner (worker 2) dies between parts.
        let key = key_owned_by(&mesh, &view, 2, 300);
        let up = entry
            .create_multipart_upload()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .expect("create");
        let id = up.upload_id().expect("id").to_owned();
        let parts = [logs(5 << 20), logs(3 << 20)];
        let p1 = entry
            .upload_part()
            .bucket(BUCKET)
            .key(&key)
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from(parts[0].clone()))
            .send()
            .await
            .expect("part 1");
        mesh.workers[2].kill();
        let (p2, _) = retrying(
            Duration::from_secs(10),
            "part 2 after the owner died",
            || {
                let (c, key, id, body) = (entry.clone(), key.clone(), id.clone(), parts[1].clone());
                async move {
                    c.upload_part()
                        .bucket(BUCKET)
                        .key(key)
                        .upload_id(id)
                        .part_number(2)
                        .body(ByteStream::from(body))
                        .send()
                        .await
                }
            },
        )
        .await;
        let done = vec![
            CompletedPart::builder()
                .part_number(1)
                .e_tag(p1.e_tag().expect("etag"))
                .build(),
            CompletedPart::builder()
                .part_number(2)
                .e_tag(p2.e_tag().expect("etag"))
                .build(),
        ];
        retrying(Duration::from_secs(10), "complete", || {
            let (c, key, id, done) = (entry.clone(), key.clone(), id.clone(), done.clone());
            async move {
                c.complete_multipart_upload()
                    .bucket(BUCKET)
                    .key(key)
                    .upload_id(id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(done))
                            .build(),
                    )
                    .send()
                    .await
            }
        })
        .await;
        acked.push((key, [parts[0].clone(), parts[1].clone()].concat()));

        // Every acknowledged object reads back identical through the survivor.
        mesh.wait_members(1).await;
        for (key, body) in &acked {
            let got = get(&entry, BUCKET, key)
                .await
                .unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(md5_hex(&got), md5_hex(body), "{key}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_and_joining_workers_move_partitions() {
    let Some(mut mesh) = Mesh::start("mesh::join", vec![Spec::edge(), Spec::edge()]).await else {
        return;
    };
    bounded(120, "join", async {
        let before = mesh.wait_members(2).await;
        let epoch = before.swarmlets["edge"].epoch;
        mesh.bucket().await;
        let entry = mesh.workers[0].client();

        // A third worker joins: the epoch moves and it takes over a share of the partitions.
        let new = mesh.spawn(Spec::edge()).await;
        let view = mesh.wait_members(3).await;
        assert!(view.swarmlets["edge"].epoch > epoch);
        let key = key_owned_by(&mesh, &view, new, 500);
        let body = logs(400_000);
        put(&entry, &key, &body)
            .await
            .expect("put to the new owner");
        let m = scrape(mesh.workers[new].admin).await;
        assert_eq!(
            m.value(
                "nexus_s3_requests_total",
                &[("op", "PutObject"), ("status", "200")]
            ),
            1.0
        );

        // It leaves with SIGTERM: gone from the view at once (no heartbeat timeout), exit 0,
        // and its partitions are served by the others.
        let epoch = view.swarmlets["edge"].epoch;
        let status = mesh.workers[new].terminate();
        assert!(status.success(), "{status:?}");
        let after = mesh.view().await;
        assert_eq!(after.workers().count(), 2, "{after:?}");
        assert!(after.swarmlets["edge"].epoch > epoch);
        let (got, _) = retrying(Duration::from_secs(5), "read after the leave", || {
            get(&entry, BUCKET, &key)
        })
        .await;
        assert_eq!(md5_hex(&got), md5_hex(&body));
    })
    .await;
}
