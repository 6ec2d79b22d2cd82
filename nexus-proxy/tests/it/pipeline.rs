//! Policies that run streamlets: the shipped WASM components (built by
//! `scripts/build-streamlets.sh`) deployed into a running worker, objects stored framed and
//! compressed in real backends, and every response field the client reads unchanged: sizes,
//! ETags, ranges, preconditions, metadata, copies; runaway streamlets contained.

use std::path::PathBuf;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, MetadataDirective};
use nexus_core::meta::{self, Batch, Change, ResourceKind};

use crate::support::backends::S3sFsServer;
use crate::support::{Options, Proxy, bounded, md5_hex, policies_dir, status_and_code};

/// The built streamlets (`scripts/build-streamlets.sh`; `scripts/test.sh` runs it first).
pub fn dist() -> PathBuf {
    let dir = std::env::var_os("NEXUS_STREAMLETS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../streamlets/dist"),
        PathBuf::from,
    );
    assert!(
        dir.join("compress-zstd.wasm").is_file(),
        "{} has no built streamlets: run `bash scripts/build-streamlets.sh`",
        dir.display()
    );
    dir
}

/// Real logs, repeated to `len` bytes (compressible like real segments, not trivially).
pub fn logs(len: usize) -> Vec<u8> {
    let shared = std::env::var_os("NEXUS_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    let mut all = Vec::new();
    for f in [
        "HDFS_2k.log",
        "Spark_2k.log",
        "OpenStack_2k.log",
        "Apache_2k.log",
        "Hadoop_2k.log",
    ] {
        let p = shared.join("data/loghub").join(f);
        all.extend(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
    }
    let mut out = Vec::with_capacity(len);
    let mut round = 0u32;
    while out.len() < len {
        out.extend_from_slice(format!("round {round}\n").as_bytes());
        out.extend_from_slice(&all);
        round += 1;
    }
    out.truncate(len);
    out
}

fn kafka_key(topic: &str, suffix: &str) -> String {
    format!(
        "tiered/{topic}-MWJ6FHTfRYy67jzwZdeqSQ/0/00000000000000004711-tqimKeZwStOEOwRzT3L5oQ.{suffix}"
    )
}

/// A worker with the example policies and the shipped streamlets in front of s3s-fs (`opts`
/// for the rest), bucket `kafka-tiered` created: the backend, the worker, a client of the
/// backend and one of the worker.
async fn kafka_tiered_on_s3s_fs(
    opts: Options,
) -> (S3sFsServer, Proxy, aws_sdk_s3::Client, aws_sdk_s3::Client) {
    let fs = S3sFsServer::start().await;
    let proxy = Proxy::start(Options {
        backend: Some(fs.endpoint.clone()),
        policies: Some(policies_dir()),
        streamlets: Some(dist()),
        ..opts
    })
    .await;
    let direct = proxy.backend_client(&fs.endpoint);
    let client = proxy.client();
    client
        .create_bucket()
        .bucket("kafka-tiered")
        .send()
        .await
        .expect("bucket");
    (fs, proxy, direct, client)
}

async fn get_range(
    client: &aws_sdk_s3::Client,
    key: &str,
    range: &str,
) -> (Vec<u8>, Option<String>) {
    let out = client
        .get_object()
        .bucket("kafka-tiered")
        .key(key)
        .range(range)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {range}: {e:?}"));
    let cr = out.content_range().map(str::to_owned);
    let len = out.content_length();
    let body = out
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes()
        .to_vec();
    assert_eq!(len, Some(body.len() as i64), "Content-Length of {range}");
    (body, cr)
}

#[tokio::test]
async fn compressed_objects_read_back_exactly_through_every_read_path() {
    bounded(120, "compressing policy", async {
        let (_fs, proxy, direct, client) = kafka_tiered_on_s3s_fs(Options::default()).await;
        let data = logs(3 * (1 << 20) + 12_345); // three full frames and a partial one
        let key = kafka_key("logs-app", "log");
        let put = client
            .put_object()
            .bucket("kafka-tiered")
            .key(&key)
            .metadata("origin", "broker-1")
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .expect("put");
        let etag = format!("\"{}\"", md5_hex(&data));
        assert_eq!(
            put.e_tag(),
            Some(etag.as_str()),
            "PUT answers the plaintext MD5"
        );

        // The backend holds fewer, framed bytes, and says what it is.
        let stored = direct
            .head_object()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("direct head");
        let stored_len = stored.content_length().expect("len");
        assert!(
            stored_len * 3 < data.len() as i64,
            "stored {stored_len} of {}",
            data.len()
        );
        let meta = stored.metadata().cloned().unwrap_or_default();
        assert_eq!(meta.get("nexus-format").map(String::as_str), Some("nxf1"));
        assert!(
            meta.get("nexus-pipeline")
                .is_some_and(|p| p.starts_with("compress-zstd@sha256:")),
            "{meta:?}"
        );

        // The compression ratio is in the metrics, labelled by policy name.
        let m = crate::support::metrics::scrape(proxy.admin).await;
        assert_eq!(
            m.value(
                "nexus_pipeline_logical_bytes_total",
                &[("policy", "kafka-logs-zstd")]
            ),
            data.len() as f64,
            "{}",
            m.text
        );
        assert_eq!(
            m.value(
                "nexus_pipeline_stored_bytes_total",
                &[("policy", "kafka-logs-zstd")]
            ),
            stored_len as f64
        );

        // HEAD and GET see the logical object.
        let head = client
            .head_object()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("head");
        assert_eq!(head.content_length(), Some(data.len() as i64));
        assert_eq!(head.e_tag(), Some(etag.as_str()));
        let meta = head.metadata().cloned().unwrap_or_default();
        assert_eq!(meta.len(), 1, "only the client's metadata: {meta:?}");
        assert_eq!(meta.get("origin").map(String::as_str), Some("broker-1"));
        let got = client
            .get_object()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("get");
        assert_eq!(got.e_tag(), Some(etag.as_str()));
        assert_eq!(got.content_length(), Some(data.len() as i64));
        let body = got.body.collect().await.expect("body").into_bytes();
        assert!(body.as_ref() == data.as_slice(), "full GET differs");

        // LIST reports the logical size and ETag.
        let listed = client
            .list_objects_v2()
            .bucket("kafka-tiered")
            .send()
            .await
            .expect("list");
        let entry = listed
            .contents()
            .iter()
            .find(|o| o.key() == Some(key.as_str()))
            .expect("listed");
        assert_eq!(entry.size(), Some(data.len() as i64));
        assert_eq!(entry.e_tag(), Some(etag.as_str()));
        let listed = client
            .list_objects()
            .bucket("kafka-tiered")
            .send()
            .await
            .expect("list v1");
        let entry = listed
            .contents()
            .iter()
            .find(|o| o.key() == Some(key.as_str()))
            .expect("listed");
        assert_eq!(entry.size(), Some(data.len() as i64));

        // Ranges: one byte, across frames, open-ended, suffix, the last byte.
        let n = data.len();
        for (range, from, to) in [
            ("bytes=0-0".to_owned(), 0, 1),
            (
                format!("bytes=1000-{}", (1 << 20) + 5000),
                1000,
                (1 << 20) + 5001,
            ),
            (
                format!("bytes={}-", 2 * (1 << 20) + 7),
                2 * (1 << 20) + 7,
                n,
            ),
            ("bytes=-1048576".to_owned(), n - (1 << 20), n),
            (format!("bytes={}-{}", n - 1, n + 100), n - 1, n),
        ] {
            let (body, cr) = get_range(&client, &key, &range).await;
            assert!(body == data[from..to], "{range}: wrong bytes");
            assert_eq!(cr, Some(format!("bytes {from}-{}/{n}", to - 1)), "{range}");
        }
        let err = client
            .get_object()
            .bucket("kafka-tiered")
            .key(&key)
            .range(format!("bytes={n}-"))
            .send()
            .await
            .expect_err("416");
        assert_eq!(status_and_code(&err), (416, "InvalidRange".to_owned()));

        // Preconditions against the logical ETag.
        let err = client
            .get_object()
            .bucket("kafka-tiered")
            .key(&key)
            .if_none_match(&etag)
            .send()
            .await
            .expect_err("304");
        assert_eq!(status_and_code(&err).0, 304);
        let err = client
            .get_object()
            .bucket("kafka-tiered")
            .key(&key)
            .if_match("\"0123\"")
            .send()
            .await
            .expect_err("412");
        assert_eq!(status_and_code(&err).0, 412);
        let ok = client
            .head_object()
            .bucket("kafka-tiered")
            .key(&key)
            .if_match(&etag)
            .send()
            .await
            .expect("If-Match");
        assert_eq!(ok.content_length(), Some(n as i64));

        // Copies of a transformed source read back as the source.
        for (dest, replace) in [("copy-same", false), ("copy-replaced", true)] {
            let mut c = client
                .copy_object()
                .bucket("kafka-tiered")
                .key(dest)
                .copy_source(format!("kafka-tiered/{key}"));
            if replace {
                c = c
                    .metadata_directive(MetadataDirective::Replace)
                    .metadata("origin", "copier");
            }
            c.send()
                .await
                .unwrap_or_else(|e| panic!("copy {dest}: {e:?}"));
            let got = client
                .get_object()
                .bucket("kafka-tiered")
                .key(dest)
                .send()
                .await
                .expect("get copy");
            assert_eq!(got.e_tag(), Some(etag.as_str()), "{dest}");
            let body = got.body.collect().await.expect("body").into_bytes();
            assert!(body.as_ref() == data.as_slice(), "{dest} differs");
        }

        // UploadPartCopy from a transformed source with a range (Pravega concatenation).
        let target = "concat/segment";
        let up = client
            .create_multipart_upload()
            .bucket("kafka-tiered")
            .key(target)
            .send()
            .await
            .expect("create");
        let id = up.upload_id().expect("id");
        let part = client
            .upload_part_copy()
            .bucket("kafka-tiered")
            .key(target)
            .upload_id(id)
            .part_number(1)
            .copy_source(format!("kafka-tiered/{key}"))
            .copy_source_range("bytes=500-2000499")
            .send()
            .await
            .expect("upload part copy");
        let part_etag = part
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .expect("etag")
            .to_owned();
        client
            .complete_multipart_upload()
            .bucket("kafka-tiered")
            .key(target)
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(
                        CompletedPart::builder()
                            .part_number(1)
                            .e_tag(part_etag)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("complete");
        let got = client
            .get_object()
            .bucket("kafka-tiered")
            .key(target)
            .send()
            .await
            .expect("get");
        let body = got.body.collect().await.expect("body").into_bytes();
        assert!(
            body.as_ref() == &data[500..2_000_500],
            "concatenated part differs"
        );

        // An empty object under the policy.
        let empty = kafka_key("logs-empty", "log");
        client
            .put_object()
            .bucket("kafka-tiered")
            .key(&empty)
            .body(ByteStream::from_static(b""))
            .send()
            .await
            .expect("put empty");
        let got = client
            .get_object()
            .bucket("kafka-tiered")
            .key(&empty)
            .send()
            .await
            .expect("get empty");
        assert_eq!(got.content_length(), Some(0));
        assert_eq!(got.e_tag(), Some(format!("\"{}\"", md5_hex(b"")).as_str()));

        // Deleting the policy never breaks reading what was written under it.
        let store = meta::open(&format!(
            "file:{}",
            proxy.data_dir().join("meta.json").display()
        ))
        .await
        .expect("store");
        let out = store
            .apply(Batch::new(vec![Change::delete(
                ResourceKind::Policy,
                "kafka-logs-zstd",
            )]))
            .await
            .expect("delete policy");
        assert!(
            proxy
                .control()
                .wait_for_revision(out.revision, std::time::Duration::from_secs(5))
                .await
        );
        let got = client
            .get_object()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("get after delete");
        let body = got.body.collect().await.expect("body").into_bytes();
        assert!(
            body.as_ref() == data.as_slice(),
            "read after the policy was deleted differs"
        );
        let (body, _) = get_range(&client, &key, "bytes=-10").await;
        assert_eq!(body, data[n - 10..]);
        // And writes after it are stored as sent.
        let plain_key = kafka_key("logs-app", "log").replace("4711", "4712");
        client
            .put_object()
            .bucket("kafka-tiered")
            .key(&plain_key)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .expect("put plain");
        let stored = direct
            .head_object()
            .bucket("kafka-tiered")
            .key(&plain_key)
            .send()
            .await
            .expect("direct head");
        assert_eq!(stored.content_length(), Some(n as i64));
        proxy.shutdown().await;
    })
    .await;
}

/// Policies whose streamlet misbehaves in one way each, on one stream each.
fn misbehave_policies(dir: &std::path::Path) {
    let mut text = String::new();
    for mode in [
        "loop",
        "alloc",
        "panic",
        "reject",
        "unavailable",
        "get-corrupt",
    ] {
        text.push_str(&format!(
            "---\napiVersion: nexus/v1\nkind: Policy\nmetadata:\n  name: misbehave-{mode}\nspec:\n  system: kafka\n  target:\n    bucket: kafka-tiered\n    keyPrefix: tiered/\n    streams: [\"{mode}\"]\n  pipeline:\n    - streamlet: misbehave\n      location: edge\n      params:\n        mode: {mode}\n"
        ));
    }
    std::fs::write(dir.join("misbehave.yaml"), text).expect("write policies");
}

#[tokio::test]
async fn runaway_streamlets_fail_their_request_and_nothing_else() {
    bounded(120, "runaway streamlets", async {
        let dir = tempfile::tempdir().expect("tempdir");
        misbehave_policies(dir.path());
        let proxy = Proxy::start(Options {
            streamlets: Some(dist().join("testing")),
            policies: Some(dir.path().to_owned()),
            ..Options::default()
        })
        .await;
        let client = proxy.client();
        client
            .create_bucket()
            .bucket("kafka-tiered")
            .send()
            .await
            .expect("bucket");
        let body = logs(300_000);
        for (mode, status, code) in [
            ("loop", 500, "InternalError"),
            ("alloc", 500, "InternalError"),
            ("panic", 500, "InternalError"),
            ("reject", 400, "InvalidRequest"),
            ("unavailable", 503, "ServiceUnavailable"),
        ] {
            let key = kafka_key(mode, "log");
            let started = std::time::Instant::now();
            let err = client
                .put_object()
                .bucket("kafka-tiered")
                .key(&key)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .expect_err(mode);
            assert_eq!(
                status_and_code(&err),
                (status, code.to_owned()),
                "{mode}: {err:?}"
            );
            let msg = format!("{err:?}");
            assert!(
                msg.contains("misbehave") && msg.contains("stage 0"),
                "{mode}: {msg}"
            );
            eprintln!("{mode}: answered after {:?}", started.elapsed());
            let missing = client
                .head_object()
                .bucket("kafka-tiered")
                .key(&key)
                .send()
                .await;
            assert!(missing.is_err(), "{mode}: a failed write stored something");
        }
        // A read whose streamlet decodes wrongly fails instead of returning wrong bytes.
        let key = kafka_key("get-corrupt", "log");
        client
            .put_object()
            .bucket("kafka-tiered")
            .key(&key)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("put");
        let read = client
            .get_object()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await;
        let failed = match read {
            Err(_) => true,
            Ok(out) => out.body.collect().await.is_err(),
        };
        assert!(failed, "a corrupt decode was served");
        // The worker is unharmed: an unaffected write and read work.
        let fine = kafka_key("healthy", "log");
        client
            .put_object()
            .bucket("kafka-tiered")
            .key(&fine)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("healthy put");
        let got = client
            .get_object()
            .bucket("kafka-tiered")
            .key(&fine)
            .send()
            .await
            .expect("healthy get");
        assert!(
            got.body
                .collect()
                .await
                .expect("body")
                .into_bytes()
                .as_ref()
                == body.as_slice()
        );
        let m = crate::support::metrics::scrape(proxy.admin).await;
        for reason in ["timeout", "memory", "trap", "error"] {
            let total: f64 = m
                .text
                .lines()
                .filter(|l| {
                    l.starts_with("nexus_streamlet_failures_total{")
                        && l.contains(&format!("reason=\"{reason}\""))
                })
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            assert!(total >= 1.0, "no {reason} failure counted:\n{}", m.text);
        }
        proxy.shutdown().await;
    })
    .await;
}

/// What the brokers' Java SDK sends: `aws-chunked` bodies with signed chunks and a checksum
/// trailer. Through a compressing policy the checksum is verified on the plaintext; a body
/// whose trailer does not match is refused and nothing is stored.
#[tokio::test]
async fn chunked_uploads_with_trailers_are_verified_before_encoding() {
    use crate::support::raw::Conn;
    use crate::support::sigv4::{Checksum, Damage, Payload, Req, Signer, Stamp, object_path};
    bounded(60, "chunked through a pipeline", async {
        let proxy = Proxy::start(Options {
            policies: Some(policies_dir()),
            streamlets: Some(dist()),
            ..Options::default()
        })
        .await;
        let client = proxy.client();
        client
            .create_bucket()
            .bucket("kafka-tiered")
            .send()
            .await
            .expect("bucket");
        let mut conn = Conn::open(proxy.s3, None).await;
        let host = proxy.s3.to_string();
        let data = logs((1 << 20) + 77_777);
        let payload = Payload::SignedChunksTrailer {
            chunk: 64 << 10,
            checksum: Checksum::Crc32c,
        };
        let good = kafka_key("logs-chunked", "log");
        let res = conn
            .send(
                Req::new("PUT", host.clone(), object_path("kafka-tiered", &good))
                    .body(data.clone())
                    .signed(payload),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(
            res.header("etag"),
            Some(format!("\"{}\"", md5_hex(&data)).as_str())
        );
        let got = client
            .get_object()
            .bucket("kafka-tiered")
            .key(&good)
            .send()
            .await
            .expect("get");
        assert!(
            got.body
                .collect()
                .await
                .expect("body")
                .into_bytes()
                .as_ref()
                == data.as_slice()
        );

        let bad = kafka_key("logs-chunked-bad", "log");
        let damage = Damage {
            trailer_value: true,
            ..Damage::default()
        };
        let req = Req::new("PUT", host, object_path("kafka-tiered", &bad)).body(data.clone());
        let mut conn = Conn::open(proxy.s3, None).await;
        let res = conn
            .send(req.sign(&Signer::default(), &Stamp::now(), payload, damage))
            .await;
        assert_eq!(res.status, 400, "{}", res.text());
        assert!(res.text().contains("BadDigest"), "{}", res.text());
        let missing = client
            .head_object()
            .bucket("kafka-tiered")
            .key(&bad)
            .send()
            .await;
        assert!(
            missing.is_err(),
            "a body that failed its checksum was stored"
        );
        proxy.shutdown().await;
    })
    .await;
}

/// Multipart uploads through a compressing policy, as the Aiven RSM writes `.log` segments:
/// parts in parallel and out of order, one re-uploaded, then Complete; the client sees S3's
/// multipart ETag over its plaintext parts, reads across part boundaries, and the backend holds
/// one compressed object and no staging left.
#[tokio::test]
async fn multipart_uploads_through_a_pipeline() {
    use aws_sdk_s3::primitives::ByteStream as BS;
    bounded(120, "multipart through a pipeline", async {
        let (_fs, proxy, direct, client) = kafka_tiered_on_s3s_fs(Options::default()).await;
        let key = kafka_key("logs-mp", "log");
        let all = logs(2 * (5 << 20) + 1_300_000);
        let parts: Vec<&[u8]> = vec![&all[..5 << 20], &all[5 << 20..10 << 20], &all[10 << 20..]];
        let up = client
            .create_multipart_upload()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("create");
        let id = up.upload_id().expect("id").to_owned();
        assert!(id.starts_with("nx1."), "a staged upload: {id}");

        // Parts 3, 1, 2 at once; then part 2 again.
        let send = |n: i32, data: Vec<u8>| {
            let (client, key, id) = (client.clone(), key.clone(), id.clone());
            async move {
                client
                    .upload_part()
                    .bucket("kafka-tiered")
                    .key(&key)
                    .upload_id(&id)
                    .part_number(n)
                    .body(BS::from(data))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("part {n}: {e:?}"))
                    .e_tag()
                    .expect("etag")
                    .to_owned()
            }
        };
        let (e3, e1, _) = tokio::join!(
            send(3, parts[2].to_vec()),
            send(1, parts[0].to_vec()),
            send(2, vec![b'x'; 5 << 20])
        );
        let e2 = send(2, parts[1].to_vec()).await;
        for (e, p) in [(&e1, parts[0]), (&e2, parts[1]), (&e3, parts[2])] {
            assert_eq!(
                e,
                &format!("\"{}\"", md5_hex(p)),
                "part ETag is the plaintext MD5"
            );
        }
        let listed = client
            .list_parts()
            .bucket("kafka-tiered")
            .key(&key)
            .upload_id(&id)
            .send()
            .await
            .expect("list parts");
        let sizes: Vec<(i32, i64)> = listed
            .parts()
            .iter()
            .map(|p| (p.part_number().unwrap_or(0), p.size().unwrap_or(0)))
            .collect();
        assert_eq!(sizes, vec![(1, 5 << 20), (2, 5 << 20), (3, 1_300_000)]);

        // S3's checks at Complete.
        let complete = |parts: Vec<(i32, String)>| {
            let (client, key, id) = (client.clone(), key.clone(), id.clone());
            async move {
                let list = parts
                    .into_iter()
                    .map(|(n, e)| CompletedPart::builder().part_number(n).e_tag(e).build())
                    .collect();
                client
                    .complete_multipart_upload()
                    .bucket("kafka-tiered")
                    .key(&key)
                    .upload_id(&id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(list))
                            .build(),
                    )
                    .send()
                    .await
            }
        };
        let err = complete(vec![(1, e1.clone()), (2, "\"0000\"".into())])
            .await
            .expect_err("wrong etag");
        assert_eq!(status_and_code(&err), (400, "InvalidPart".to_owned()));
        let err = complete(vec![(2, e2.clone()), (1, e1.clone())])
            .await
            .expect_err("order");
        assert_eq!(status_and_code(&err), (400, "InvalidPartOrder".to_owned()));
        let err = complete(vec![(1, e1.clone()), (3, e3.clone()), (2, e2.clone())])
            .await
            .expect_err("order");
        assert_eq!(status_and_code(&err).1, "InvalidPartOrder");
        let done = complete(vec![(1, e1.clone()), (2, e2.clone()), (3, e3.clone())])
            .await
            .expect("complete");
        let mut md5s = Vec::new();
        for p in &parts {
            md5s.extend(hex::decode(md5_hex(p)).expect("hex"));
        }
        let etag = format!("\"{}-3\"", md5_hex(&md5s));
        assert_eq!(
            done.e_tag(),
            Some(etag.as_str()),
            "S3's multipart ETag over the plaintext parts"
        );

        let head = client
            .head_object()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("head");
        assert_eq!(head.content_length(), Some(all.len() as i64));
        assert_eq!(head.e_tag(), Some(etag.as_str()));
        let got = client
            .get_object()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("get");
        assert!(
            got.body
                .collect()
                .await
                .expect("body")
                .into_bytes()
                .as_ref()
                == all.as_slice(),
            "full GET differs"
        );
        let from = (5 << 20) - 1000;
        let (body, _) =
            get_range(&client, &key, &format!("bytes={from}-{}", (10 << 20) + 999)).await;
        assert!(
            body == all[from..(10 << 20) + 1000],
            "range across part boundaries differs"
        );

        // The backend: one compressed object, no staging left; listings never show staging.
        let stored = direct
            .head_object()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("direct head");
        assert!(stored.content_length().expect("len") * 3 < all.len() as i64);
        let staging = direct
            .list_objects_v2()
            .bucket("kafka-tiered")
            .prefix(".nexus-staging/")
            .send()
            .await
            .expect("list");
        assert_eq!(
            staging.key_count(),
            Some(0),
            "staging left: {:?}",
            staging.contents()
        );
        let upload2 = client
            .create_multipart_upload()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("create 2");
        let id2 = upload2.upload_id().expect("id").to_owned();
        let listed = client
            .list_objects_v2()
            .bucket("kafka-tiered")
            .send()
            .await
            .expect("list");
        assert!(
            listed
                .contents()
                .iter()
                .all(|o| !o.key().unwrap_or("").starts_with(".nexus-staging/")),
            "{:?}",
            listed.contents()
        );
        let listed = client
            .list_objects_v2()
            .bucket("kafka-tiered")
            .delimiter("/")
            .send()
            .await
            .expect("list /");
        assert!(
            listed
                .common_prefixes()
                .iter()
                .all(|p| p.prefix() != Some(".nexus-staging/"))
        );

        // A small non-last part is refused at Complete; Abort removes the upload.
        let small = client
            .upload_part()
            .bucket("kafka-tiered")
            .key(&key)
            .upload_id(&id2)
            .part_number(1)
            .body(BS::from(vec![1u8; 1000]))
            .send()
            .await
            .expect("small");
        let last = client
            .upload_part()
            .bucket("kafka-tiered")
            .key(&key)
            .upload_id(&id2)
            .part_number(2)
            .body(BS::from(vec![2u8; 1000]))
            .send()
            .await
            .expect("last");
        let err = client
            .complete_multipart_upload()
            .bucket("kafka-tiered")
            .key(&key)
            .upload_id(&id2)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(
                        CompletedPart::builder()
                            .part_number(1)
                            .e_tag(small.e_tag().expect("e"))
                            .build(),
                    )
                    .parts(
                        CompletedPart::builder()
                            .part_number(2)
                            .e_tag(last.e_tag().expect("e"))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect_err("too small");
        assert_eq!(status_and_code(&err), (400, "EntityTooSmall".to_owned()));
        client
            .abort_multipart_upload()
            .bucket("kafka-tiered")
            .key(&key)
            .upload_id(&id2)
            .send()
            .await
            .expect("abort");
        let err = client
            .upload_part()
            .bucket("kafka-tiered")
            .key(&key)
            .upload_id(&id2)
            .part_number(1)
            .body(BS::from(vec![1u8; 10]))
            .send()
            .await
            .expect_err("aborted");
        assert_eq!(status_and_code(&err), (404, "NoSuchUpload".to_owned()));
        let staging = direct
            .list_objects_v2()
            .bucket("kafka-tiered")
            .prefix(".nexus-staging/")
            .send()
            .await
            .expect("list");
        assert_eq!(
            staging.key_count(),
            Some(0),
            "abort left staging: {:?}",
            staging.contents()
        );
        // The completed object still reads back; clients cannot write under the staging prefix.
        let got = client
            .get_object()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("get");
        assert_eq!(got.content_length(), Some(all.len() as i64));
        let err = client
            .put_object()
            .bucket("kafka-tiered")
            .key(".nexus-staging/x")
            .body(BS::from_static(b"x"))
            .send()
            .await
            .expect_err("reserved");
        assert_eq!(status_and_code(&err), (400, "InvalidArgument".to_owned()));
        proxy.shutdown().await;
    })
    .await;
}

/// The client's checksums on a transformed object are S3's: per part, COMPOSITE and
/// FULL_OBJECT at Complete, on HEAD/GET with checksum mode, the same values as the embedded
/// store reports for the same upload stored as sent.
#[tokio::test]
async fn checksums_of_transformed_objects_are_the_clients() {
    use aws_sdk_s3::types::{ChecksumAlgorithm as Alg, ChecksumMode, ChecksumType};
    use base64::Engine as _;
    bounded(120, "checksums through a pipeline", async {
        let proxy = Proxy::start(Options {
            policies: Some(policies_dir()),
            streamlets: Some(dist()),
            ..Options::default()
        })
        .await;
        let client = proxy.client();
        for b in ["kafka-tiered", "plain"] {
            client
                .create_bucket()
                .bucket(b)
                .send()
                .await
                .expect("bucket");
        }
        let data = logs(11 << 20);
        let parts: Vec<&[u8]> = vec![
            &data[..5 << 20],
            &data[5 << 20..10 << 20],
            &data[10 << 20..],
        ];
        let crc32 = |d: &[u8]| crc32fast::hash(d).to_be_bytes();
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        let composite = {
            let raw: Vec<u8> = parts.iter().flat_map(|p| crc32(p)).collect();
            format!("{}-3", b64(&crc32(&raw)))
        };
        let full_c = b64(&crc32c::crc32c(&data).to_be_bytes());

        for (bucket, transformed) in [("kafka-tiered", true), ("plain", false)] {
            for (alg, kind, want) in [
                (Alg::Crc32, ChecksumType::Composite, composite.clone()),
                (Alg::Crc32C, ChecksumType::FullObject, full_c.clone()),
            ] {
                let key = kafka_key(&format!("logs-sums-{}", kind.as_str()), "log");
                let up = client
                    .create_multipart_upload()
                    .bucket(bucket)
                    .key(&key)
                    .checksum_algorithm(alg.clone())
                    .checksum_type(kind.clone())
                    .send()
                    .await
                    .expect("create");
                let id = up.upload_id().expect("id");
                assert_eq!(
                    up.upload_id().is_some_and(|i| i.starts_with("nx1.")),
                    transformed
                );
                let mut done = Vec::new();
                for (i, p) in parts.iter().enumerate() {
                    let n = i as i32 + 1;
                    let out = client
                        .upload_part()
                        .bucket(bucket)
                        .key(&key)
                        .upload_id(id)
                        .part_number(n)
                        .checksum_algorithm(alg.clone())
                        .body(ByteStream::from(p.to_vec()))
                        .send()
                        .await
                        .expect("part");
                    let sent = match alg {
                        Alg::Crc32 => out.checksum_crc32().map(str::to_owned),
                        _ => out.checksum_crc32_c().map(str::to_owned),
                    };
                    let expected = match alg {
                        Alg::Crc32 => b64(&crc32(p)),
                        _ => b64(&crc32c::crc32c(p).to_be_bytes()),
                    };
                    assert_eq!(
                        sent.as_deref(),
                        Some(expected.as_str()),
                        "{bucket} part {n}"
                    );
                    done.push(
                        CompletedPart::builder()
                            .part_number(n)
                            .set_e_tag(out.e_tag().map(str::to_owned))
                            .set_checksum_crc32(out.checksum_crc32().map(str::to_owned))
                            .set_checksum_crc32_c(out.checksum_crc32_c().map(str::to_owned))
                            .build(),
                    );
                }
                let out = client
                    .complete_multipart_upload()
                    .bucket(bucket)
                    .key(&key)
                    .upload_id(id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(done))
                            .build(),
                    )
                    .send()
                    .await
                    .expect("complete");
                let got =
                    |crc32: Option<&str>, crc32c: Option<&str>| crc32.or(crc32c).map(str::to_owned);
                assert_eq!(
                    got(out.checksum_crc32(), out.checksum_crc32_c()).as_deref(),
                    Some(want.as_str()),
                    "{bucket} {kind:?} at Complete"
                );
                assert_eq!(out.checksum_type(), Some(&kind), "{bucket}");
                let head = client
                    .head_object()
                    .bucket(bucket)
                    .key(&key)
                    .checksum_mode(ChecksumMode::Enabled)
                    .send()
                    .await
                    .expect("head");
                assert_eq!(
                    got(head.checksum_crc32(), head.checksum_crc32_c()).as_deref(),
                    Some(want.as_str()),
                    "{bucket} {kind:?} on HEAD"
                );
                let plain_head = client
                    .head_object()
                    .bucket(bucket)
                    .key(&key)
                    .send()
                    .await
                    .expect("head");
                assert_eq!(plain_head.checksum_crc32(), None, "only with checksum mode");
                let get = client
                    .get_object()
                    .bucket(bucket)
                    .key(&key)
                    .checksum_mode(ChecksumMode::Enabled)
                    .send()
                    .await
                    .expect("get");
                assert_eq!(
                    got(get.checksum_crc32(), get.checksum_crc32_c()).as_deref(),
                    Some(want.as_str()),
                    "{bucket} {kind:?} on GET"
                );
                let body = get.body.collect().await.expect("body").into_bytes();
                assert!(body.as_ref() == data.as_slice());

                // A copy reports the source's checksum, as S3 does (unless another algorithm
                // is asked for).
                let copied = client
                    .copy_object()
                    .bucket(bucket)
                    .key(format!("{key}-copy"))
                    .copy_source(format!("{bucket}/{key}"))
                    .send()
                    .await
                    .expect("copy");
                let r = copied.copy_object_result().expect("copy result");
                let copy_sum = got(r.checksum_crc32(), r.checksum_crc32_c());
                let copy_head = client
                    .head_object()
                    .bucket(bucket)
                    .key(format!("{key}-copy"))
                    .checksum_mode(ChecksumMode::Enabled)
                    .send()
                    .await
                    .expect("head of the copy");
                let copy_head_sum = got(copy_head.checksum_crc32(), copy_head.checksum_crc32_c());
                if kind == ChecksumType::FullObject {
                    assert_eq!(copy_sum.as_deref(), Some(want.as_str()), "{bucket} copy");
                    assert_eq!(copy_head_sum, copy_sum, "{bucket}: HEAD of the copy");
                } else if transformed {
                    // A composite checksum describes parts; the copy is one object.
                    assert_eq!((copy_sum, copy_head_sum), (None, None), "{bucket} copy");
                } else {
                    // The store computes the copy's own (full-object) checksum.
                    assert!(
                        copy_sum.as_ref().is_some_and(|c| !c.contains('-')),
                        "{copy_sum:?}"
                    );
                }
                assert_eq!(
                    copy_head.metadata(),
                    plain_head.metadata(),
                    "{bucket}: metadata copied"
                );
                assert_eq!(copy_head.content_length(), plain_head.content_length());
                if transformed {
                    let other = client
                        .copy_object()
                        .bucket(bucket)
                        .key(format!("{key}-copy2"))
                        .copy_source(format!("{bucket}/{key}"))
                        .checksum_algorithm(Alg::Sha256)
                        .send()
                        .await
                        .expect("copy with another algorithm");
                    let r = other.copy_object_result().expect("copy result");
                    assert_eq!((r.checksum_crc32(), r.checksum_crc32_c()), (None, None));
                }
            }
        }

        // A part whose checksum the client claims wrongly at Complete is refused.
        let key = kafka_key("logs-sums-bad", "log");
        let up = client
            .create_multipart_upload()
            .bucket("kafka-tiered")
            .key(&key)
            .checksum_algorithm(Alg::Crc32)
            .send()
            .await
            .expect("create");
        let id = up.upload_id().expect("id");
        let out = client
            .upload_part()
            .bucket("kafka-tiered")
            .key(&key)
            .upload_id(id)
            .part_number(1)
            .body(ByteStream::from(parts[2].to_vec()))
            .send()
            .await
            .expect("part without a checksum of its own");
        assert_eq!(
            out.checksum_crc32(),
            Some(b64(&crc32(parts[2])).as_str()),
            "computed in the upload's algorithm"
        );
        let err = client
            .complete_multipart_upload()
            .bucket("kafka-tiered")
            .key(&key)
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(
                        CompletedPart::builder()
                            .part_number(1)
                            .set_e_tag(out.e_tag().map(str::to_owned))
                            .checksum_crc32("AAAAAA==")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect_err("wrong part checksum");
        assert_eq!(status_and_code(&err), (400, "InvalidPart".to_owned()));
        proxy.shutdown().await;
    })
    .await;
}

/// Frame indexes are cached per stored object: ranged reads after an overwrite see the new
/// object, never the cached index of the old one.
#[tokio::test]
async fn ranged_reads_after_an_overwrite_see_the_new_object() {
    bounded(120, "index cache and overwrites", async {
        let proxy = Proxy::start(Options {
            policies: Some(policies_dir()),
            streamlets: Some(dist()),
            ..Options::default()
        })
        .await;
        let client = proxy.client();
        client
            .create_bucket()
            .bucket("kafka-tiered")
            .send()
            .await
            .expect("bucket");
        let key = kafka_key("logs-overwrite", "log");
        let all = logs(9 << 20);
        for (round, data) in [
            &all[..5 << 20],
            &all[1000..(9 << 20)],
            &all[7..(2 << 20) + 9],
        ]
        .into_iter()
        .enumerate()
        {
            client
                .put_object()
                .bucket("kafka-tiered")
                .key(&key)
                .body(ByteStream::from(data.to_vec()))
                .send()
                .await
                .expect("put");
            let n = data.len();
            for range in [
                format!("bytes={}-{}", n - 1_500_000, n - 1),
                "bytes=0-99".to_owned(),
                format!("bytes={}-{}", n / 2, n / 2 + (1 << 20)),
            ] {
                let (body, cr) = get_range(&client, &key, &range).await;
                let (a, b) = range["bytes=".len()..].split_once('-').expect("range");
                let (a, b): (usize, usize) = (a.parse().expect("a"), b.parse().expect("b"));
                assert!(body == data[a..=b], "round {round} {range}");
                assert_eq!(cr, Some(format!("bytes {a}-{b}/{n}")));
            }
        }
        proxy.shutdown().await;
    })
    .await;
}

/// Complete of a staged upload larger than `--complete-put-max` (here its minimum, 5 MiB)
/// assembles the object in the store: a staged part of at least 5 MiB is copied there
/// (UploadPartCopy), smaller ones are streamed and topped up to 5 MiB, the last part carries
/// the index. A smaller upload still takes one PUT. Both read back exactly,
/// with the multipart ETag over the plaintext parts, and leave no staging behind.
#[tokio::test]
async fn large_staged_uploads_are_assembled_inside_the_store() {
    use aws_sdk_s3::primitives::ByteStream as BS;
    bounded(120, "assembling staged uploads", async {
        let (_fs, proxy, direct, client) = kafka_tiered_on_s3s_fs(Options {
            complete_put_max: 5 << 20,
            ..Options::default()
        })
        .await;
        // Compressible logs (stored small), incompressible bytes (stored as large), logs.
        let big: Vec<Vec<u8>> = vec![
            logs(5 << 20),
            crate::support::pattern_seeded(16 << 20, 3),
            logs(1 << 20),
        ];
        let small: Vec<Vec<u8>> = vec![logs(5 << 20), logs(300_000)];
        for (name, parts, backend_parts) in [("big", &big, Some("-3")), ("small", &small, None)] {
            let key = kafka_key(&format!("logs-assembled-{name}"), "log");
            let id = client
                .create_multipart_upload()
                .bucket("kafka-tiered")
                .key(&key)
                .metadata("origin", name)
                .send()
                .await
                .expect("create")
                .upload_id()
                .expect("id")
                .to_owned();
            let mut done = Vec::new();
            for (i, data) in parts.iter().enumerate() {
                let n = i32::try_from(i + 1).expect("part number");
                let e_tag = client
                    .upload_part()
                    .bucket("kafka-tiered")
                    .key(&key)
                    .upload_id(&id)
                    .part_number(n)
                    .body(BS::from(data.clone()))
                    .send()
                    .await
                    .expect("part")
                    .e_tag()
                    .map(str::to_owned);
                done.push(
                    CompletedPart::builder()
                        .part_number(n)
                        .set_e_tag(e_tag)
                        .build(),
                );
            }
            let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            let complete = client
                .complete_multipart_upload()
                .bucket("kafka-tiered")
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
            let logical = crate::support::multipart_etag(&slices);
            assert_eq!(complete.e_tag(), Some(logical.as_str()), "{name}");

            // How the store holds it: a backend multipart object, or one PUT.
            let stored = direct
                .head_object()
                .bucket("kafka-tiered")
                .key(&key)
                .send()
                .await
                .expect("direct head");
            let stored_etag = stored
                .e_tag()
                .unwrap_or_default()
                .trim_matches('"')
                .to_owned();
            match backend_parts {
                Some(suffix) => assert!(stored_etag.ends_with(suffix), "{name}: {stored_etag}"),
                None => assert!(!stored_etag.contains('-'), "{name}: {stored_etag}"),
            }

            let all = parts.concat();
            let got = client
                .get_object()
                .bucket("kafka-tiered")
                .key(&key)
                .send()
                .await
                .expect("get");
            assert_eq!(got.e_tag(), Some(logical.as_str()));
            assert_eq!(
                got.metadata()
                    .and_then(|m| m.get("origin"))
                    .map(String::as_str),
                Some(name)
            );
            let body = got.body.collect().await.expect("body").into_bytes();
            assert!(body.as_ref() == all.as_slice(), "{name}: the whole object");
            // A range across the first part boundary.
            let (a, b) = ((5 << 20) - 1000, (5 << 20) + 70_000);
            let (body, _) = get_range(&client, &key, &format!("bytes={a}-{b}")).await;
            assert!(body == all[a..=b], "{name}: a range across parts");

            let staging = direct
                .list_objects_v2()
                .bucket("kafka-tiered")
                .prefix(".nexus-staging/")
                .send()
                .await
                .expect("list staging");
            assert_eq!(staging.key_count(), Some(0), "{name}: staging left behind");
        }
        // The worker kept each assembled object's index with the ETag the store answered:
        // every read went without a HEAD.
        let m = crate::support::metrics::scrape(proxy.admin).await;
        let reads = |path| m.value("nexus_transformed_reads_total", &[("path", path)]);
        assert_eq!(
            (reads("known"), reads("changed"), reads("head")),
            (4.0, 0.0, 0.0)
        );
        proxy.shutdown().await;
    })
    .await;
}

/// A worker that wrote an object, or read its index, skips the HEAD of later reads (one GET,
/// `If-Match` the stored ETag), and still sees every change made behind its back: new metadata
/// on the same stored bytes, a plain object written straight to the backend, a new transformed
/// one, a delete. Preconditions hold on that path too.
#[tokio::test]
async fn reads_without_a_head_still_see_every_change() {
    bounded(120, "reads of known objects", async {
        let (fs, proxy, direct, client) = kafka_tiered_on_s3s_fs(Options::default()).await;
        // A second worker on the same store, which did not write the object.
        let reader = Proxy::start(Options {
            backend: Some(fs.endpoint.clone()),
            policies: Some(policies_dir()),
            streamlets: Some(dist()),
            ..Options::default()
        })
        .await;
        let reads_at = |admin: std::net::SocketAddr, path: &'static str| async move {
            crate::support::metrics::scrape(admin)
                .await
                .value("nexus_transformed_reads_total", &[("path", path)])
        };
        let reads = |path: &'static str| reads_at(proxy.admin, path);
        let key = kafka_key("logs-known", "log");
        let data = logs((3 << 20) + 5);
        let n = data.len();
        let tail = format!("bytes={}-{}", n - (1 << 20), n - 1);
        let put = |origin: &'static str, body: Vec<u8>| {
            let client = client.clone();
            let key = key.clone();
            async move {
                client
                    .put_object()
                    .bucket("kafka-tiered")
                    .key(&key)
                    .metadata("origin", origin)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .expect("put");
            }
        };
        let stored_etag = || async {
            direct
                .head_object()
                .bucket("kafka-tiered")
                .key(&key)
                .send()
                .await
                .expect("direct head")
                .e_tag()
                .map(str::to_owned)
        };
        let (key_ref, range_ref) = (key.as_str(), tail.as_str());
        let get_tail_from = move |client: aws_sdk_s3::Client| async move {
            let out = client
                .get_object()
                .bucket("kafka-tiered")
                .key(key_ref)
                .range(range_ref)
                .send()
                .await
                .expect("ranged get");
            let origin = out.metadata().and_then(|m| m.get("origin")).cloned();
            let etag = out.e_tag().map(str::to_owned);
            let body = out.body.collect().await.expect("body").into_bytes();
            (body.to_vec(), origin, etag)
        };
        let get_tail = || get_tail_from(client.clone());
        let get_tail_elsewhere = || get_tail_from(reader.client());

        put("a", data.clone()).await;
        let first_stored = stored_etag().await;
        let logical = format!("\"{}\"", md5_hex(&data));
        let (body, origin, etag) = get_tail().await;
        assert!(body == data[n - (1 << 20)..], "first read");
        assert_eq!(
            (origin.as_deref(), etag.as_deref()),
            (Some("a"), Some(logical.as_str()))
        );
        // The writer kept the index it wrote: no HEAD even for the first read.
        assert_eq!((reads("head").await, reads("known").await), (0.0, 1.0));
        let (body, ..) = get_tail().await;
        assert!(body == data[n - (1 << 20)..], "second read");
        assert_eq!((reads("head").await, reads("known").await), (0.0, 2.0));
        // The other worker reads the HEAD and the index once, then no more.
        for round in 0..2 {
            let (body, origin, _) = get_tail_elsewhere().await;
            assert!(body == data[n - (1 << 20)..], "other worker, read {round}");
            assert_eq!(origin.as_deref(), Some("a"));
        }
        assert_eq!(
            (
                reads_at(reader.admin, "head").await,
                reads_at(reader.admin, "known").await
            ),
            (1.0, 1.0)
        );

        // Preconditions on the known path.
        let err = client
            .get_object()
            .bucket("kafka-tiered")
            .key(&key)
            .range(&tail)
            .if_none_match(&logical)
            .send()
            .await
            .expect_err("not modified");
        assert_eq!(status_and_code(&err).0, 304);
        assert_eq!(reads("known").await, 3.0);

        // The same stored bytes with new metadata: the read's own answer carries it.
        put("b", data.clone()).await;
        assert_eq!(
            stored_etag().await,
            first_stored,
            "frames are deterministic"
        );
        let (body, origin, _) = get_tail().await;
        assert!(body == data[n - (1 << 20)..]);
        assert_eq!(origin.as_deref(), Some("b"));
        assert_eq!((reads("head").await, reads("known").await), (0.0, 4.0));

        // A plain object written straight to the backend by someone else.
        let plain = crate::support::pattern_seeded(n, 7);
        direct
            .put_object()
            .bucket("kafka-tiered")
            .key(&key)
            .body(ByteStream::from(plain.clone()))
            .send()
            .await
            .expect("direct put");
        let (body, origin, etag) = get_tail().await;
        assert!(body == plain[n - (1 << 20)..], "the plain object");
        assert_eq!(origin, None);
        assert_eq!(etag, Some(format!("\"{}\"", md5_hex(&plain))));
        assert_eq!(reads("changed").await, 1.0);

        // A new transformed object, then a delete behind the worker's back.
        let other = logs((3 << 20) + 5).into_iter().rev().collect::<Vec<u8>>();
        put("c", other.clone()).await;
        for _ in 0..2 {
            let (body, origin, _) = get_tail().await;
            assert!(body == other[n - (1 << 20)..], "the new object");
            assert_eq!(origin.as_deref(), Some("c"));
        }
        assert_eq!((reads("head").await, reads("known").await), (0.0, 6.0));
        direct
            .delete_object()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("direct delete");
        let err = client
            .get_object()
            .bucket("kafka-tiered")
            .key(&key)
            .range(&tail)
            .send()
            .await
            .expect_err("deleted");
        assert_eq!(status_and_code(&err), (404, "NoSuchKey".to_owned()));
        reader.shutdown().await;
        proxy.shutdown().await;
    })
    .await;
}

/// A policy's `frameSize` decides how objects written under it are cut (and is kept with
/// multipart uploads from Create on); reads do not depend on it.
#[tokio::test]
async fn the_policy_frame_size_cuts_the_frames() {
    bounded(120, "frameSize", async {
        let dir = tempfile::tempdir().expect("temp dir");
        let policy = std::fs::read_to_string(policies_dir().join("kafka-logs-zstd.yaml"))
            .expect("policy")
            .replace("  pipeline:\n", "  frameSize: 256KiB\n  pipeline:\n");
        std::fs::write(dir.path().join("p.yaml"), policy).expect("write");
        let proxy = Proxy::start(Options {
            policies: Some(dir.path().to_owned()),
            streamlets: Some(dist()),
            ..Options::default()
        })
        .await;
        let client = proxy.client();
        client
            .create_bucket()
            .bucket("kafka-tiered")
            .send()
            .await
            .expect("bucket");
        let calls = || async {
            crate::support::metrics::scrape(proxy.admin).await.value(
                "nexus_streamlet_call_duration_seconds_count",
                &[("streamlet", "compress-zstd")],
            )
        };
        let data = logs((3 << 19) + 1000); // 1.5 MiB + 1000: six full 256 KiB frames and a bit
        let key = kafka_key("logs-frames", "log");
        let before = calls().await;
        client
            .put_object()
            .bucket("kafka-tiered")
            .key(&key)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .expect("put");
        assert_eq!(calls().await - before, 7.0, "frames of 256 KiB");
        let (body, _) = get_range(&client, &key, "bytes=262000-262999").await;
        assert!(body == data[262_000..263_000], "a range across two frames");
        let got = client
            .get_object()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("get");
        assert!(
            got.body
                .collect()
                .await
                .expect("body")
                .into_bytes()
                .as_ref()
                == data.as_slice()
        );

        // Parts are cut the same way.
        let key = kafka_key("logs-frames-mp", "log");
        let up = client
            .create_multipart_upload()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("create");
        let before = calls().await;
        client
            .upload_part()
            .bucket("kafka-tiered")
            .key(&key)
            .upload_id(up.upload_id().expect("id"))
            .part_number(1)
            .body(ByteStream::from(data[..1 << 20].to_vec()))
            .send()
            .await
            .expect("part");
        assert_eq!(
            calls().await - before,
            4.0,
            "a 1 MiB part in 256 KiB frames"
        );
        proxy.shutdown().await;
    })
    .await;
}

/// A staged upload lives in the output store, so another worker continues it: Create on one
/// worker, parts on another (as after the first one died), Complete on the first, read on
/// either.
#[tokio::test]
async fn a_staged_upload_continues_on_another_worker() {
    bounded(120, "upload across workers", async {
        let fs = S3sFsServer::start().await;
        let start = || {
            Proxy::start(Options {
                backend: Some(fs.endpoint.clone()),
                policies: Some(policies_dir()),
                streamlets: Some(dist()),
                ..Options::default()
            })
        };
        let (a, b) = (start().await, start().await);
        let (ca, cb) = (a.client(), b.client());
        ca.create_bucket()
            .bucket("kafka-tiered")
            .send()
            .await
            .expect("bucket");
        let key = kafka_key("logs-handover", "log");
        let data = logs((5 << 20) + 777_777);
        let up = ca
            .create_multipart_upload()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("create on A");
        let id = up.upload_id().expect("id").to_owned();
        a.shutdown().await; // A goes away with the upload open
        let mut parts = Vec::new();
        for (n, chunk) in [(1, &data[..5 << 20]), (2, &data[5 << 20..])] {
            let out = cb
                .upload_part()
                .bucket("kafka-tiered")
                .key(&key)
                .upload_id(&id)
                .part_number(n)
                .body(ByteStream::from(chunk.to_vec()))
                .send()
                .await
                .expect("part on B");
            parts.push(
                CompletedPart::builder()
                    .part_number(n)
                    .set_e_tag(out.e_tag().map(str::to_owned))
                    .build(),
            );
        }
        let c = start().await; // a new worker completes it
        let done = c
            .client()
            .complete_multipart_upload()
            .bucket("kafka-tiered")
            .key(&key)
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .expect("complete on C");
        assert_eq!(
            done.e_tag(),
            Some(crate::support::multipart_etag(&[&data[..5 << 20], &data[5 << 20..]]).as_str())
        );
        let got = cb
            .get_object()
            .bucket("kafka-tiered")
            .key(&key)
            .send()
            .await
            .expect("get on B");
        assert!(
            got.body
                .collect()
                .await
                .expect("body")
                .into_bytes()
                .as_ref()
                == data.as_slice()
        );
        b.shutdown().await;
        c.shutdown().await;
    })
    .await;
}

/// ListMultipartUploads shows staged uploads (transformed objects) beside the store's own
/// (pass-through), in key order, with prefix, page size and markers.
#[tokio::test]
async fn staged_uploads_are_listed_with_the_stores_own() {
    bounded(60, "ListMultipartUploads", async {
        let proxy = Proxy::start(Options {
            policies: Some(policies_dir()),
            streamlets: Some(dist()),
            ..Options::default()
        })
        .await;
        let client = proxy.client();
        client
            .create_bucket()
            .bucket("kafka-tiered")
            .send()
            .await
            .expect("bucket");
        let staged_key = kafka_key("logs-listed", "log");
        let plain_key = kafka_key("logs-listed", "indexes"); // aux: passes through
        let mut ids = Vec::new();
        for key in [&staged_key, &plain_key] {
            let up = client
                .create_multipart_upload()
                .bucket("kafka-tiered")
                .key(key)
                .send()
                .await
                .expect("create");
            ids.push(up.upload_id().expect("id").to_owned());
        }
        assert!(
            ids[0].starts_with("nx1.") && !ids[1].starts_with("nx1."),
            "{ids:?}"
        );
        let list =
            |prefix: Option<&str>, max: Option<i32>, km: Option<String>, im: Option<String>| {
                let client = client.clone();
                let prefix = prefix.map(str::to_owned);
                async move {
                    let out = client
                        .list_multipart_uploads()
                        .bucket("kafka-tiered")
                        .set_prefix(prefix)
                        .set_max_uploads(max)
                        .set_key_marker(km)
                        .set_upload_id_marker(im)
                        .send()
                        .await
                        .expect("list uploads");
                    let got: Vec<(String, String)> = out
                        .uploads()
                        .iter()
                        .map(|u| {
                            (
                                u.key().unwrap_or("").to_owned(),
                                u.upload_id().unwrap_or("").to_owned(),
                            )
                        })
                        .collect();
                    (
                        got,
                        out.is_truncated(),
                        out.next_key_marker().map(str::to_owned),
                        out.next_upload_id_marker().map(str::to_owned),
                    )
                }
            };
        let mut want = vec![
            (staged_key.clone(), ids[0].clone()),
            (plain_key.clone(), ids[1].clone()),
        ];
        want.sort();
        let (all, truncated, _, _) = list(None, None, None, None).await;
        assert_eq!(all, want);
        assert_eq!(truncated, Some(false));
        let (first, truncated, km, im) = list(None, Some(1), None, None).await;
        assert_eq!((first.as_slice(), truncated), (&want[..1], Some(true)));
        let (second, _, _, _) = list(None, Some(1), km, im).await;
        assert_eq!(second, want[1..]);
        let (only, _, _, _) = list(Some(&staged_key), None, None, None).await;
        assert_eq!(only, vec![(staged_key.clone(), ids[0].clone())]);
        client
            .abort_multipart_upload()
            .bucket("kafka-tiered")
            .key(&staged_key)
            .upload_id(&ids[0])
            .send()
            .await
            .expect("abort");
        let (left, _, _, _) = list(None, None, None, None).await;
        assert_eq!(left, vec![(plain_key, ids[1].clone())]);
        proxy.shutdown().await;
    })
    .await;
}

/// The shipped `tag` streamlet (example policy `generic-archive-tagged-gzip`) puts its entries
/// into the object's context, which is stored with the object; gzip still runs after it and
/// the object reads back as written.
#[tokio::test]
async fn tag_stores_its_entries_with_the_object() {
    use base64::Engine as _;
    bounded(60, "tag", async {
        let fs = S3sFsServer::start().await;
        let proxy = Proxy::start(Options {
            backend: Some(fs.endpoint.clone()),
            policies: Some(policies_dir()),
            streamlets: Some(dist()),
            ..Options::default()
        })
        .await;
        let client = proxy.client();
        client
            .create_bucket()
            .bucket("archive")
            .send()
            .await
            .expect("bucket");
        let data = logs(1_500_000);
        client
            .put_object()
            .bucket("archive")
            .key("reports/2026-12.log")
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .expect("put");
        let stored = proxy
            .backend_client(&fs.endpoint)
            .head_object()
            .bucket("archive")
            .key("reports/2026-12.log")
            .send()
            .await
            .expect("backend head");
        let meta = stored.metadata().cloned().unwrap_or_default();
        let ctx = meta.get("nexus-ctx").expect("context stored");
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(ctx)
            .expect("base64url");
        let entries: std::collections::BTreeMap<String, String> =
            serde_json::from_slice(&json).expect("json");
        assert_eq!(
            entries,
            [("team", "storage"), ("tier", "archive")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into()
        );
        assert!(
            meta.get("nexus-pipeline")
                .is_some_and(|p| p.starts_with("compress-gzip@")),
            "tag runs on PUT only, so only gzip is recorded for reads: {meta:?}"
        );
        assert!(stored.content_length().unwrap_or(0) * 3 < data.len() as i64);
        let got = client
            .get_object()
            .bucket("archive")
            .key("reports/2026-12.log")
            .send()
            .await
            .expect("get");
        assert!(
            got.body
                .collect()
                .await
                .expect("body")
                .into_bytes()
                .as_ref()
                == data.as_slice()
        );
        proxy.shutdown().await;
    })
    .await;
}
