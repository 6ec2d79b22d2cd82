//! Multipart uploads: parts in parallel, out of order and re-uploaded; UploadPartCopy with byte
//! ranges; ListParts, ListMultipartUploads, complete (ETag `md5-of-md5s-N`), abort.

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::support::{
    Env, Kind, MIB, Options, Proxy, bounded, copy_source, multipart_etag, pattern, pattern_seeded,
    quoted_md5, sha256_hex, status_and_code,
};

pub async fn run(env: &Env) {
    parallel_out_of_order_and_reuploaded_parts(env).await;
    part_copies_with_ranges(env).await;
    abort_and_refusals(env).await;
}

async fn upload_part(env: &Env, b: &str, key: &str, id: &str, n: i32, data: Vec<u8>) -> String {
    env.client
        .upload_part()
        .bucket(b)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(data))
        .send()
        .await
        .unwrap_or_else(|e| panic!("[{:?}] upload part {n}: {e:?}", env.kind))
        .e_tag()
        .expect("part ETag")
        .to_owned()
}

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, etag)| {
                    CompletedPart::builder()
                        .part_number(*n)
                        .e_tag(*etag)
                        .build()
                })
                .collect(),
        ))
        .build()
}

async fn parallel_out_of_order_and_reuploaded_parts(env: &Env) {
    let kind = env.kind;
    let c = &env.client;
    let b = env.bucket("it-multipart").await;
    let key = "topic-0/00000000000000000000.log";
    let meta: HashMap<String, String> = [("segment".to_owned(), "0".to_owned())].into();
    let id = c
        .create_multipart_upload()
        .bucket(&b)
        .key(key)
        .set_metadata(Some(meta.clone()))
        .send()
        .await
        .expect("create upload")
        .upload_id()
        .expect("upload id")
        .to_owned();

    let p1 = pattern_seeded(5 * MIB, 11);
    let p2_first = pattern_seeded(5 * MIB, 12);
    let p2 = pattern_seeded(5 * MIB, 13);
    let p3 = pattern_seeded(300_000, 14);

    // Parts 3, 1 and the first version of 2, all at once.
    let (e3, e1, e2_first) = tokio::join!(
        upload_part(env, &b, key, &id, 3, p3.clone()),
        upload_part(env, &b, key, &id, 1, p1.clone()),
        upload_part(env, &b, key, &id, 2, p2_first.clone()),
    );
    assert_eq!(e1, quoted_md5(&p1), "[{kind:?}] part ETag is its MD5");
    assert_eq!(e2_first, quoted_md5(&p2_first), "[{kind:?}]");
    assert_eq!(e3, quoted_md5(&p3), "[{kind:?}]");
    // Part 2 again, with other bytes: the last upload of a part number wins.
    let e2 = upload_part(env, &b, key, &id, 2, p2.clone()).await;
    assert_eq!(e2, quoted_md5(&p2), "[{kind:?}] re-uploaded part");

    let parts = c
        .list_parts()
        .bucket(&b)
        .key(key)
        .upload_id(&id)
        .send()
        .await
        .expect("list parts");
    let mut listed: Vec<(i32, i64, Option<String>)> = parts
        .parts()
        .iter()
        .map(|p| {
            (
                p.part_number().unwrap_or(0),
                p.size().unwrap_or(-1),
                p.e_tag().map(str::to_owned),
            )
        })
        .collect();
    listed.sort();
    let sizes: Vec<(i32, i64)> = listed.iter().map(|(n, s, _)| (*n, *s)).collect();
    assert_eq!(
        sizes,
        [(1, 5 * MIB as i64), (2, 5 * MIB as i64), (3, 300_000)],
        "[{kind:?}] parts listed"
    );
    if kind.full_multipart() {
        let etags: Vec<Option<String>> = listed.into_iter().map(|(_, _, e)| e).collect();
        assert_eq!(
            etags,
            [Some(e1.clone()), Some(e2.clone()), Some(e3.clone())],
            "[{kind:?}] part ETags listed"
        );
    }

    let uploads = c.list_multipart_uploads().bucket(&b).send().await;
    if kind.lists_uploads() {
        let uploads = uploads.expect("list uploads");
        let found: Vec<(Option<&str>, Option<&str>)> = uploads
            .uploads()
            .iter()
            .map(|u| (u.key(), u.upload_id()))
            .collect();
        assert_eq!(
            found,
            [(Some(key), Some(id.as_str()))],
            "[{kind:?}] uploads listed"
        );
    } else {
        assert_eq!(
            status_and_code(&uploads.expect_err("s3s-fs lists no uploads")),
            (501, "NotImplemented".to_owned()),
            "[{kind:?}] the backend's 501 passes through"
        );
    }

    let done = c
        .complete_multipart_upload()
        .bucket(&b)
        .key(key)
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (2, &e2), (3, &e3)]))
        .send()
        .await
        .unwrap_or_else(|e| panic!("[{kind:?}] complete: {e:?}"));
    let want_etag = multipart_etag(&[&p1, &p2, &p3]);
    assert_eq!(
        done.e_tag(),
        Some(want_etag.as_str()),
        "[{kind:?}] multipart ETag"
    );

    let whole: Vec<u8> = [p1.as_slice(), &p2, &p3].concat();
    let head = c
        .head_object()
        .bucket(&b)
        .key(key)
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.content_length(),
        Some(whole.len() as i64),
        "[{kind:?}]"
    );
    assert_eq!(head.e_tag(), Some(want_etag.as_str()), "[{kind:?}]");
    assert_eq!(
        head.metadata(),
        Some(&meta),
        "[{kind:?}] metadata of the upload"
    );
    let got = env.get(&b, key).await;
    assert_eq!(got.len(), whole.len(), "[{kind:?}]");
    assert_eq!(
        sha256_hex(&got),
        sha256_hex(&whole),
        "[{kind:?}] completed bytes"
    );

    // A range across the boundary of parts 1 and 2.
    let (from, to) = (5 * MIB - 10, 5 * MIB + 9);
    let ranged = c
        .get_object()
        .bucket(&b)
        .key(key)
        .range(format!("bytes={from}-{to}"))
        .send()
        .await
        .expect("range across parts");
    let body = ranged.body.collect().await.expect("body").into_bytes();
    assert_eq!(
        &body[..],
        &whole[from..=to],
        "[{kind:?}] range across parts"
    );

    if kind.lists_uploads() {
        let uploads = c
            .list_multipart_uploads()
            .bucket(&b)
            .send()
            .await
            .expect("list uploads");
        assert!(
            uploads.uploads().is_empty(),
            "[{kind:?}] completed upload still listed"
        );
    }
}

async fn part_copies_with_ranges(env: &Env) {
    let kind = env.kind;
    let c = &env.client;
    let b = env.bucket("it-part-copy").await;
    let src = pattern_seeded(5 * MIB + 1, 21);
    env.put(&b, "chunks/src", &src).await;
    let key = "chunks/concatenated";
    let id = c
        .create_multipart_upload()
        .bucket(&b)
        .key(key)
        .send()
        .await
        .expect("create")
        .upload_id()
        .expect("id")
        .to_owned();

    let mut etags = Vec::new();
    for (n, (from, to)) in [(1, (0, 5 * MIB - 1)), (2, (5 * MIB - 1, 5 * MIB))] {
        let out = c
            .upload_part_copy()
            .bucket(&b)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .copy_source(copy_source(&b, "chunks/src"))
            .copy_source_range(format!("bytes={from}-{to}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("[{kind:?}] UploadPartCopy {n}: {e:?}"));
        let etag = out
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .expect("copy part ETag")
            .to_owned();
        assert_eq!(
            etag,
            quoted_md5(&src[from..=to]),
            "[{kind:?}] part copy ETag"
        );
        etags.push(etag);
    }
    let beyond = c
        .upload_part_copy()
        .bucket(&b)
        .key(key)
        .upload_id(&id)
        .part_number(3)
        .copy_source(copy_source(&b, "chunks/src"))
        .copy_source_range(format!("bytes={}-{}", 5 * MIB + 1, 5 * MIB + 100))
        .send()
        .await;
    // AWS answers 400 InvalidArgument "Range specified is not valid for source object of size",
    // as the embedded store does; s3s-fs says 416 InvalidRange (passed through); moto 5.1
    // accepts the range and copies nothing.
    let want = match kind {
        Kind::Embedded => Some((400, "InvalidArgument")),
        Kind::S3sFs => Some((416, "InvalidRange")),
        Kind::Moto => None,
    };
    if let Some((status, code)) = want {
        let err = beyond.expect_err("range beyond the source");
        assert_eq!(
            status_and_code(&err),
            (status, code.to_owned()),
            "[{kind:?}] UploadPartCopy beyond the source"
        );
    }

    let done = c
        .complete_multipart_upload()
        .bucket(&b)
        .key(key)
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &etags[0]), (2, &etags[1])]))
        .send()
        .await
        .unwrap_or_else(|e| panic!("[{kind:?}] complete copies: {e:?}"));
    let p1 = &src[..5 * MIB];
    let p2 = &src[5 * MIB - 1..];
    assert_eq!(
        done.e_tag(),
        Some(multipart_etag(&[p1, p2]).as_str()),
        "[{kind:?}] ETag of copied parts"
    );
    let got = env.get(&b, key).await;
    assert_eq!(
        sha256_hex(&got),
        sha256_hex(&[p1, p2].concat()),
        "[{kind:?}]"
    );
}

async fn abort_and_refusals(env: &Env) {
    let kind = env.kind;
    let c = &env.client;
    let b = env.bucket("it-abort").await;
    let key = "aborted";
    let id = c
        .create_multipart_upload()
        .bucket(&b)
        .key(key)
        .send()
        .await
        .expect("create")
        .upload_id()
        .expect("id")
        .to_owned();
    upload_part(env, &b, key, &id, 1, pattern_seeded(1024, 31)).await;
    c.abort_multipart_upload()
        .bucket(&b)
        .key(key)
        .upload_id(&id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("[{kind:?}] abort: {e:?}"));
    assert_eq!(
        env.head_status(&b, key).await,
        404,
        "[{kind:?}] aborted upload made no object"
    );
    let err = c
        .upload_part()
        .bucket(&b)
        .key(key)
        .upload_id(&id)
        .part_number(2)
        .body(ByteStream::from_static(b"late"))
        .send()
        .await
        .expect_err("part for an aborted upload");
    let (status, code) = status_and_code(&err);
    // moto 5.1 fails this request with an HTML 500 (a KeyError): not an S3 answer, so the
    // proxy reports the backend as unavailable.
    let want = match kind {
        Kind::Embedded => (404, "NoSuchUpload"),
        Kind::Moto => (503, "ServiceUnavailable"),
        Kind::S3sFs => (403, "AccessDenied"),
    };
    assert_eq!(
        (status, code.as_str()),
        want,
        "[{kind:?}] part for an aborted upload"
    );
    if kind.full_multipart() {
        let err = c
            .list_parts()
            .bucket(&b)
            .key(key)
            .upload_id(&id)
            .send()
            .await
            .expect_err("parts of an aborted upload");
        assert_eq!(
            status_and_code(&err),
            (404, "NoSuchUpload".to_owned()),
            "[{kind:?}]"
        );
    }

    // Parts other than the last must be at least 5 MiB.
    let id = c
        .create_multipart_upload()
        .bucket(&b)
        .key("small-parts")
        .send()
        .await
        .expect("create")
        .upload_id()
        .expect("id")
        .to_owned();
    let e1 = upload_part(env, &b, "small-parts", &id, 1, pattern_seeded(1024, 41)).await;
    let e2 = upload_part(env, &b, "small-parts", &id, 2, pattern_seeded(1024, 42)).await;
    let err = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("small-parts")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
        .send()
        .await
        .expect_err("parts too small");
    assert_eq!(
        status_and_code(&err),
        (400, "EntityTooSmall".to_owned()),
        "[{kind:?}] small parts"
    );
    assert_eq!(env.head_status(&b, "small-parts").await, 404, "[{kind:?}]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded() {
    bounded(60, "multipart::embedded", async {
        run(&Env::embedded().await).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_fs() {
    bounded(60, "multipart::s3s_fs", async {
        run(&Env::s3s_fs().await).await
    })
    .await;
}

/// Incomplete staged uploads older than `--staging-ttl` and staged parts left without an
/// upload are swept away; newer uploads are kept and still complete.
#[tokio::test]
async fn stale_staged_uploads_are_garbage_collected() {
    use crate::support::backends::S3sFsServer;
    use std::time::Duration;
    crate::support::bounded(60, "staging GC", async {
        let fs = S3sFsServer::start().await;
        let proxy = Proxy::start(Options {
            backend: Some(fs.endpoint.clone()),
            policies: Some(
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies"),
            ),
            streamlets: Some(crate::pipeline::dist()),
            staging_ttl: Duration::from_secs(4),
            staging_sweep: Duration::from_secs(1),
            ..Options::default()
        })
        .await;
        let client = proxy.client();
        let direct = proxy.backend_client(&fs.endpoint);
        client
            .create_bucket()
            .bucket("kafka-tiered")
            .send()
            .await
            .expect("bucket");
        let key = |n: u32| {
            format!("tiered/logs-gc-MWJ6FHTfRYy67jzwZdeqSQ/0/{n:020}-tqimKeZwStOEOwRzT3L5oQ.log")
        };
        let created = std::time::Instant::now();
        let stale = client
            .create_multipart_upload()
            .bucket("kafka-tiered")
            .key(key(1))
            .send()
            .await
            .expect("create");
        let stale_id = stale.upload_id().expect("id").to_owned();
        assert!(stale_id.starts_with("nx1."));
        client
            .upload_part()
            .bucket("kafka-tiered")
            .key(key(1))
            .upload_id(&stale_id)
            .part_number(1)
            .body(ByteStream::from(pattern(300_000)))
            .send()
            .await
            .expect("part");
        // A staged part whose upload is gone (written around the worker).
        direct
            .put_object()
            .bucket("kafka-tiered")
            .key(".nexus-staging/nx1.0123456789abcdef0123456789abcdef/part-00001")
            .body(ByteStream::from_static(b"left behind"))
            .send()
            .await
            .expect("orphan");
        let staged = |direct: aws_sdk_s3::Client| async move {
            let out = direct
                .list_objects_v2()
                .bucket("kafka-tiered")
                .prefix(".nexus-staging/")
                .send()
                .await
                .expect("list staging");
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect::<Vec<_>>()
        };
        let before = staged(direct.clone()).await;
        // Only a listing well inside the ttl must see all three (S3 times have 1 s resolution;
        // a loaded machine may already be past it, and then the sweep may have begun).
        if created.elapsed() < Duration::from_secs(2) {
            assert_eq!(before.len(), 3, "record, part, orphan: {before:?}");
        }

        // Wait for the sweep (ttl 4 s, sweeps every second; S3 times have 1 s resolution).
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while !staged(direct.clone()).await.is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "still staged: {:?}",
                staged(direct.clone()).await
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let err = client
            .upload_part()
            .bucket("kafka-tiered")
            .key(key(1))
            .upload_id(&stale_id)
            .part_number(2)
            .body(ByteStream::from(pattern(10)))
            .send()
            .await
            .expect_err("the swept upload is gone");
        assert_eq!(status_and_code(&err).1, "NoSuchUpload");

        // An upload that keeps going is not swept: it completes.
        let live = client
            .create_multipart_upload()
            .bucket("kafka-tiered")
            .key(key(2))
            .send()
            .await
            .expect("create");
        let id = live.upload_id().expect("id").to_owned();
        let part = client
            .upload_part()
            .bucket("kafka-tiered")
            .key(key(2))
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from(pattern(1000)))
            .send()
            .await
            .expect("part");
        client
            .complete_multipart_upload()
            .bucket("kafka-tiered")
            .key(key(2))
            .upload_id(&id)
            .multipart_upload(
                aws_sdk_s3::types::CompletedMultipartUpload::builder()
                    .parts(
                        aws_sdk_s3::types::CompletedPart::builder()
                            .part_number(1)
                            .set_e_tag(part.e_tag().map(str::to_owned))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("complete within the ttl");
        proxy.shutdown().await;
    })
    .await;
}
