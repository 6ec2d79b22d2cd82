//! Partition-aware routing: every partition is served by its owner, whatever the entry worker.

use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::{BUCKET, Mesh, Spec, cli, segment_key};
use crate::pipeline::logs;
use crate::support::metrics::scrape;
use crate::support::{bounded, md5_hex};

fn puts(m: &crate::support::metrics::Scrape, op: &str) -> usize {
    m.value("nexus_s3_requests_total", &[("op", op), ("status", "200")]) as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_are_served_by_their_owner_through_any_entry() {
    let Some(mesh) = Mesh::start(
        "mesh::routing",
        vec![Spec::edge(), Spec::edge(), Spec::edge()],
    )
    .await
    else {
        return;
    };
    bounded(120, "routing", async {
        let view = mesh.wait_members(3).await;
        mesh.bucket().await;
        let entry = &mesh.workers[0];
        let mut owned = [0usize; 3];
        let mut objects = Vec::new();
        for p in 0..12u64 {
            let key = segment_key(p, 0);
            let body = logs(200_000 + p as usize * 1000);
            let out = entry
                .client()
                .put_object()
                .bucket(BUCKET)
                .key(&key)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .expect("put through the entry worker");
            assert_eq!(
                out.e_tag(),
                Some(format!("\"{}\"", md5_hex(&body)).as_str())
            );
            owned[mesh.owner_of(&view, &key)] += 1;
            objects.push((key, body));
        }
        assert!(
            owned.iter().filter(|n| **n > 0).count() >= 2,
            "12 partitions on one worker: {owned:?}"
        );

        // One multipart upload through a worker that does not own the partition.
        let key = segment_key(40, 7);
        let owner = mesh.owner_of(&view, &key);
        let entry2 = &mesh.workers[(owner + 1) % 3];
        let c = entry2.client();
        let up = c
            .create_multipart_upload()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .expect("create");
        let id = up.upload_id().expect("id").to_owned();
        let parts = [logs(5 << 20), logs(1 << 20)];
        let mut done = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let n = i32::try_from(i + 1).expect("n");
            let r = c
                .upload_part()
                .bucket(BUCKET)
                .key(&key)
                .upload_id(&id)
                .part_number(n)
                .body(ByteStream::from(part.clone()))
                .send()
                .await
                .expect("part");
            done.push(
                CompletedPart::builder()
                    .part_number(n)
                    .e_tag(r.e_tag().expect("etag"))
                    .build(),
            );
        }
        c.complete_multipart_upload()
            .bucket(BUCKET)
            .key(&key)
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await
            .expect("complete");
        objects.push((key, [parts[0].clone(), parts[1].clone()].concat()));

        // Every object reads back identical through every worker.
        for w in &mesh.workers {
            for (key, body) in &objects {
                let got = w
                    .client()
                    .get_object()
                    .bucket(BUCKET)
                    .key(key)
                    .send()
                    .await
                    .expect("get");
                let bytes = got.body.collect().await.expect("body").into_bytes();
                assert_eq!(
                    md5_hex(&bytes),
                    md5_hex(body),
                    "{key} through {}",
                    w.endpoint()
                );
            }
        }

        // Each PutObject ran on the owner; the entry forwarded the rest; all parts met the owner.
        let mut forwarded = 0.0;
        for (i, w) in mesh.workers.iter().enumerate() {
            let m = scrape(w.admin).await;
            assert_eq!(
                puts(&m, "PutObject"),
                owned[i],
                "PutObjects served by worker {i}: {owned:?}"
            );
            let parts_here = puts(&m, "UploadPart");
            assert_eq!(
                parts_here,
                if i == owner { 2 } else { 0 },
                "UploadParts on worker {i}"
            );
            forwarded += m.value(
                "nexus_mesh_forwarded_total",
                &[("swarmlet", "edge"), ("status", "200")],
            );
        }
        // 12 PUTs (minus the entry's own), the multipart upload's 4 requests, 3 × 13 GETs minus
        // the owners' own.
        assert!(
            forwarded >= (12 - owned[0] + 4) as f64,
            "forwarded {forwarded}"
        );

        // The CLI shows the workers, their labels, shares and revisions.
        let out = Command::new(cli())
            .args(["--meta", &mesh.meta_url(), "swarmlet", "list"])
            .output()
            .expect("cli");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for w in &mesh.workers {
            assert!(
                text.contains(&w.id(&view)) && text.contains(&w.endpoint()),
                "{text}"
            );
        }
        assert!(text.contains("SHARE") && text.contains('%'), "{text}");
        let out = Command::new(cli())
            .args(["--meta", &mesh.meta_url(), "-o", "json", "status"])
            .output()
            .expect("cli");
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status json");
        let workers = status["workers"].as_array().expect("workers");
        assert_eq!(workers.len(), 3, "{status}");
        let shares: f64 = workers
            .iter()
            .map(|w| {
                w["share"]
                    .as_str()
                    .expect("valid")
                    .trim_end_matches('%')
                    .parse::<f64>()
                    .expect("valid")
            })
            .sum();
        assert!((shares - 100.0).abs() < 0.5, "{status}");
        assert!(workers.iter().all(|w| w["revision"] != "0"), "{status}");
    })
    .await;
}
