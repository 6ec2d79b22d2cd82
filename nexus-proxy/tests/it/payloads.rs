//! Every payload mode a client can send, and what the proxy does with bad bodies.
//!
//! - aws-sdk-s3 over TLS: signed hex SHA-256, `UNSIGNED-PAYLOAD`, and streaming bodies with a
//!   CRC32 / CRC32C / SHA-256 trailer (the SDK frames these `STREAMING-UNSIGNED-PAYLOAD-TRAILER`
//!   over https);
//! - aws-sdk-s3 over plain HTTP with a streaming body: `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`;
//! - hand-built, hand-signed requests (plain HTTP and TLS) for every mode, including signed
//!   chunks without a trailer, which no SDK at hand sends;
//! - damaged requests: a wrong chunk signature (403 SignatureDoesNotMatch), a wrong trailer
//!   checksum (400), a wrong trailer signature, a wrong `x-amz-content-sha256`, a wrong
//!   Content-MD5: nothing is stored, and an existing object stays as it was.

use std::convert::Infallible;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http_body::Frame;
use http_body_util::StreamBody;
use md5::{Digest as _, Md5};

use crate::support::metrics::scrape;
use crate::support::raw::{Conn, RawResponse};
use crate::support::relay::Relay;
use crate::support::sigv4::{Checksum, Damage, Payload, Req, Signer, Stamp, object_path};
use crate::support::{
    ACCESS_KEY, Env, Kind, Options, Proxy, SECRET_KEY, bounded, pattern_seeded, quoted_md5,
    sha256_hex,
};

const CHUNK: usize = 64 * 1024;

/// A body the SDK cannot see in memory, so it streams it (aws-chunked when a checksum is set).
fn streaming(data: &[u8]) -> ByteStream {
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = data
        .chunks(40_000)
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    ByteStream::from_body_1_x(StreamBody::new(futures::stream::iter(frames)))
}

fn sdk_algorithm(c: Checksum) -> ChecksumAlgorithm {
    match c {
        Checksum::Crc32 => ChecksumAlgorithm::Crc32,
        Checksum::Crc32c => ChecksumAlgorithm::Crc32C,
        Checksum::Sha256 => ChecksumAlgorithm::Sha256,
    }
}

/// The stored object's checksum of algorithm `c`, as HEAD reports it.
async fn stored_checksum(env: &Env, b: &str, key: &str, c: Checksum) -> Option<String> {
    let head = env
        .client
        .head_object()
        .bucket(b)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap_or_else(|e| panic!("[{:?}] head {key}: {e:?}", env.kind));
    match c {
        Checksum::Crc32 => head.checksum_crc32().map(str::to_owned),
        Checksum::Crc32c => head.checksum_crc32_c().map(str::to_owned),
        Checksum::Sha256 => head.checksum_sha256().map(str::to_owned),
    }
}

async fn received_put_bytes(env: &Env) -> f64 {
    scrape(env.proxy.admin)
        .await
        .value("nexus_s3_received_bytes_total", &[("op", "PutObject")])
}

async fn assert_stored(env: &Env, b: &str, key: &str, data: &[u8], what: &str) {
    let got = env.get(b, key).await;
    assert_eq!(got.len(), data.len(), "[{:?}] {what}: length", env.kind);
    assert_eq!(
        sha256_hex(&got),
        sha256_hex(data),
        "[{:?}] {what}: bytes",
        env.kind
    );
    let head = env
        .client
        .head_object()
        .bucket(b)
        .key(key)
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.e_tag(),
        Some(quoted_md5(data).as_str()),
        "[{:?}] {what}: ETag",
        env.kind
    );
}

/// Every mode, hand-built, on one connection (keep-alive between requests).
async fn hand_built_modes(env: &Env, b: &str, tls: bool) {
    let kind = env.kind;
    let ca = if tls { env.proxy.ca.as_ref() } else { None };
    let mut conn = Conn::open(env.proxy.s3, ca).await;
    let host = env.proxy.s3.to_string();
    let modes = [
        ("hex", Payload::Hex),
        ("unsigned", Payload::Unsigned),
        ("signed-chunks", Payload::SignedChunks { chunk: CHUNK }),
        (
            "signed-chunks-crc32",
            Payload::SignedChunksTrailer {
                chunk: CHUNK,
                checksum: Checksum::Crc32,
            },
        ),
        (
            "signed-chunks-crc32c",
            Payload::SignedChunksTrailer {
                chunk: CHUNK,
                checksum: Checksum::Crc32c,
            },
        ),
        (
            "signed-chunks-sha256",
            Payload::SignedChunksTrailer {
                chunk: CHUNK,
                checksum: Checksum::Sha256,
            },
        ),
        (
            "unsigned-trailer-crc32",
            Payload::UnsignedChunksTrailer {
                chunk: CHUNK,
                checksum: Checksum::Crc32,
            },
        ),
        (
            "unsigned-trailer-crc32c",
            Payload::UnsignedChunksTrailer {
                chunk: CHUNK,
                checksum: Checksum::Crc32c,
            },
        ),
        (
            "unsigned-trailer-sha256",
            Payload::UnsignedChunksTrailer {
                chunk: CHUNK,
                checksum: Checksum::Sha256,
            },
        ),
    ];
    for (i, (name, mode)) in modes.into_iter().enumerate() {
        // A body that is not a multiple of the chunk size, and an empty one.
        for len in [200_001, 0] {
            let data = pattern_seeded(len, 100 + i as u32);
            let key = format!("hand/{}/{name}/{len}", if tls { "tls" } else { "http" });
            let res = conn
                .send(
                    Req::new("PUT", host.clone(), object_path(b, &key))
                        .body(data.clone())
                        .signed(mode),
                )
                .await;
            assert_eq!(res.status, 200, "[{kind:?}] {key}: {}", res.text());
            assert_eq!(
                res.header("etag"),
                Some(quoted_md5(&data).as_str()),
                "[{kind:?}] {key}"
            );
            assert!(
                res.header("x-amz-request-id").is_some(),
                "[{kind:?}] request id"
            );
            assert_stored(env, b, &key, &data, &key).await;
            if let Payload::SignedChunksTrailer { checksum, .. }
            | Payload::UnsignedChunksTrailer { checksum, .. } = mode
            {
                assert_eq!(
                    stored_checksum(env, b, &key, checksum).await,
                    Some(checksum.value(&data)),
                    "[{kind:?}] {key}: the trailer's checksum is stored"
                );
            }
        }
    }
    // UploadPart in a signed-chunk mode with a trailer.
    let out = env
        .client
        .create_multipart_upload()
        .bucket(b)
        .key("hand/part")
        .send()
        .await
        .expect("create upload");
    let id = out.upload_id().expect("id").to_owned();
    let part = pattern_seeded(150_000, 9);
    let res = conn
        .send(
            Req::new("PUT", host.clone(), object_path(b, "hand/part"))
                .query("partNumber", "1")
                .query("uploadId", &id)
                .body(part.clone())
                .signed(Payload::SignedChunksTrailer {
                    chunk: CHUNK,
                    checksum: Checksum::Crc32,
                }),
        )
        .await;
    assert_eq!(
        res.status,
        200,
        "[{kind:?}] chunked UploadPart: {}",
        res.text()
    );
    let etag = res.header("etag").expect("part ETag").to_owned();
    assert_eq!(etag, quoted_md5(&part), "[{kind:?}] part ETag");
    env.client
        .complete_multipart_upload()
        .bucket(b)
        .key("hand/part")
        .upload_id(&id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(&etag)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("[{kind:?}] complete: {e:?}"));
    assert_eq!(
        env.get(b, "hand/part").await,
        part,
        "[{kind:?}] chunked part stored"
    );
}

/// Damaged requests change nothing.
pub async fn refusals(env: &Env) {
    let kind = env.kind;
    let b = env.bucket("it-refusals").await;
    let host = env.proxy.s3.to_string();
    let data = pattern_seeded(150_000, 77);
    let signer = Signer::default();

    type Expect = fn(&RawResponse) -> bool;
    let signature_mismatch: Expect = |r| r.status_code() == (403, "SignatureDoesNotMatch".into());
    let bad_digest: Expect =
        |r| r.status == 400 && matches!(r.code().as_deref(), Some("BadDigest" | "InvalidRequest"));
    let sha_mismatch: Expect = |r| r.status_code() == (400, "XAmzContentSHA256Mismatch".into());
    // 150 000 bytes in 64 KiB chunks: data chunks 0..=2, the final empty chunk is 3.
    let cases: [(&str, Payload, Damage, Expect); 8] = [
        (
            "final chunk signature, no trailer",
            Payload::SignedChunks { chunk: CHUNK },
            Damage {
                chunk_signature: Some(3),
                ..Damage::default()
            },
            signature_mismatch,
        ),
        (
            "second chunk signature",
            Payload::SignedChunks { chunk: CHUNK },
            Damage {
                chunk_signature: Some(1),
                ..Damage::default()
            },
            signature_mismatch,
        ),
        (
            "final chunk signature",
            Payload::SignedChunksTrailer {
                chunk: CHUNK,
                checksum: Checksum::Crc32,
            },
            Damage {
                chunk_signature: Some(3),
                ..Damage::default()
            },
            signature_mismatch,
        ),
        (
            "trailer signature",
            Payload::SignedChunksTrailer {
                chunk: CHUNK,
                checksum: Checksum::Crc32c,
            },
            Damage {
                trailer_signature: true,
                ..Damage::default()
            },
            signature_mismatch,
        ),
        (
            "signed trailer checksum",
            Payload::SignedChunksTrailer {
                chunk: CHUNK,
                checksum: Checksum::Crc32,
            },
            Damage {
                trailer_value: true,
                ..Damage::default()
            },
            bad_digest,
        ),
        (
            "unsigned trailer checksum (CRC32C)",
            Payload::UnsignedChunksTrailer {
                chunk: CHUNK,
                checksum: Checksum::Crc32c,
            },
            Damage {
                trailer_value: true,
                ..Damage::default()
            },
            bad_digest,
        ),
        (
            "unsigned trailer checksum (SHA-256)",
            Payload::UnsignedChunksTrailer {
                chunk: CHUNK,
                checksum: Checksum::Sha256,
            },
            Damage {
                trailer_value: true,
                ..Damage::default()
            },
            bad_digest,
        ),
        (
            "x-amz-content-sha256",
            Payload::Hex,
            Damage {
                content_sha256: true,
                ..Damage::default()
            },
            sha_mismatch,
        ),
    ];
    for (i, (what, payload, damage, expect)) in cases.into_iter().enumerate() {
        for existing in [false, true] {
            let key = format!("refused/{i}/{existing}");
            if existing {
                env.put(&b, &key, b"before").await;
            }
            let req = Req::new("PUT", host.clone(), object_path(&b, &key))
                .body(data.clone())
                .sign(&signer, &Stamp::now(), payload, damage);
            let res = crate::support::raw::send(env.proxy.s3, None, req).await;
            assert!(
                expect(&res),
                "[{kind:?}] {what}: got {} {:?}: {}",
                res.status,
                res.code(),
                res.text()
            );
            if existing {
                assert_eq!(
                    env.get(&b, &key).await,
                    b"before",
                    "[{kind:?}] {what}: object replaced"
                );
            } else {
                assert_eq!(
                    env.head_status(&b, &key).await,
                    404,
                    "[{kind:?}] {what}: object stored"
                );
            }
        }
    }

    // A wrong Content-MD5 (the SDK's own request otherwise).
    let err = env
        .client
        .put_object()
        .bucket(&b)
        .key("refused/md5")
        .content_md5(B64.encode(Md5::digest(b"not the body")))
        .body(ByteStream::from(data.clone()))
        .send()
        .await;
    let err = err.expect_err("wrong Content-MD5");
    let (status, code) = crate::support::status_and_code(&err);
    assert_eq!(
        (status, code.as_str()),
        (400, "BadDigest"),
        "[{kind:?}] wrong Content-MD5"
    );
    let head = env
        .client
        .head_object()
        .bucket(&b)
        .key("refused/md5")
        .send()
        .await;
    assert_eq!(
        head.as_ref()
            .map_err(|e| crate::support::status_and_code(e).0)
            .err(),
        Some(404),
        "[{kind:?}] Content-MD5: {head:?}"
    );

    // A damaged part leaves no part behind.
    let id = env
        .client
        .create_multipart_upload()
        .bucket(&b)
        .key("refused/part")
        .send()
        .await
        .expect("create")
        .upload_id()
        .expect("id")
        .to_owned();
    let req = Req::new("PUT", host.clone(), object_path(&b, "refused/part"))
        .query("partNumber", "1")
        .query("uploadId", &id)
        .body(data.clone())
        .sign(
            &signer,
            &Stamp::now(),
            Payload::SignedChunks { chunk: CHUNK },
            Damage {
                chunk_signature: Some(0),
                ..Damage::default()
            },
        );
    let res = crate::support::raw::send(env.proxy.s3, None, req).await;
    assert_eq!(
        res.status_code(),
        (403, "SignatureDoesNotMatch".to_owned()),
        "[{kind:?}] damaged part: {}",
        res.text()
    );
    let parts = env
        .client
        .list_parts()
        .bucket(&b)
        .key("refused/part")
        .upload_id(&id)
        .send()
        .await
        .expect("list parts");
    assert!(
        parts.parts().is_empty(),
        "[{kind:?}] damaged part kept: {:?}",
        parts.parts()
    );
}

pub async fn run(env: &Env) {
    let b = env.bucket("it-payloads").await;
    hand_built_modes(env, &b, false).await;
    refusals(env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded() {
    bounded(60, "payloads::embedded", async {
        run(&Env::embedded().await).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_fs() {
    bounded(60, "payloads::s3s_fs", async {
        run(&Env::s3s_fs().await).await
    })
    .await;
}

/// aws-sdk-s3 and hand-built requests over TLS on loopback, trusting a CA made for the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls() {
    bounded(60, "payloads::over_tls", async {
        let proxy = Proxy::start(Options {
            tls: true,
            ..Options::default()
        })
        .await;
        let client = proxy.client();
        let env = Env::from_proxy(Kind::Embedded, proxy, client);
        let b = env.bucket("it-tls").await;
        let data = pattern_seeded(300_000, 5);

        // Signed payload (hex SHA-256), in-memory body: no framing.
        let before = received_put_bytes(&env).await;
        env.put(&b, "tls/signed", &data).await;
        assert_stored(&env, &b, "tls/signed", &data, "signed over TLS").await;
        assert_eq!(
            received_put_bytes(&env).await - before,
            data.len() as f64,
            "a signed in-memory PUT is sent as is"
        );

        // UNSIGNED-PAYLOAD.
        env.client
            .put_object()
            .bucket(&b)
            .key("tls/unsigned")
            .body(ByteStream::from(data.clone()))
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .expect("UNSIGNED-PAYLOAD over TLS");
        assert_stored(&env, &b, "tls/unsigned", &data, "unsigned over TLS").await;

        // Streaming bodies: aws-chunked, unsigned chunks, checksum in a trailer.
        for c in [Checksum::Crc32, Checksum::Crc32c, Checksum::Sha256] {
            let key = format!("tls/trailer/{}", c.header());
            let before = received_put_bytes(&env).await;
            env.client
                .put_object()
                .bucket(&b)
                .key(&key)
                .content_length(data.len() as i64)
                .checksum_algorithm(sdk_algorithm(c))
                .body(streaming(&data))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{key}: {e:?}"));
            let framed = received_put_bytes(&env).await - before;
            assert!(
                framed > data.len() as f64,
                "{key}: {framed} bytes on the wire for {} bytes: not aws-chunked",
                data.len()
            );
            assert_stored(&env, &b, &key, &data, &key).await;
            assert_eq!(
                stored_checksum(&env, &b, &key, c).await,
                Some(c.value(&data)),
                "{key}: trailer checksum stored"
            );
        }

        // And every mode hand-built, over TLS.
        hand_built_modes(&env, &b, true).await;

        // HTTP/2 (ALPN h2): a signed-chunk upload with a trailer, and a ranged read.
        let mut h2 = Conn::open_h2(env.proxy.s3, env.proxy.ca.as_ref().expect("CA")).await;
        let authority = format!("localhost:{}", env.proxy.s3.port());
        let mut req = Req::new("PUT", authority.clone(), object_path(&b, "tls/h2"))
            .body(data.clone())
            .signed(Payload::SignedChunksTrailer {
                chunk: CHUNK,
                checksum: Checksum::Crc32c,
            });
        *req.uri_mut() = format!("https://{authority}{}", req.uri())
            .parse()
            .expect("uri");
        let res = h2.send(req).await;
        assert_eq!(res.status, 200, "PUT over HTTP/2: {}", res.text());
        assert_stored(&env, &b, "tls/h2", &data, "HTTP/2").await;
        let mut req = Req::new("GET", authority.clone(), object_path(&b, "tls/h2"))
            .header("range", "bytes=100-199")
            .signed(Payload::Hex);
        *req.uri_mut() = format!("https://{authority}{}", req.uri())
            .parse()
            .expect("uri");
        let res = h2.send(req).await;
        assert_eq!(res.status, 206, "ranged GET over HTTP/2: {}", res.text());
        assert_eq!(&res.body[..], &data[100..200]);
    })
    .await;
}

/// Over plain HTTP, aws-sdk-s3 signs every chunk of a streaming body and the trailer
/// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`), as the brokers' SDKs do; in-memory bodies
/// are signed whole (hex SHA-256). A relay records what went over the wire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_over_http_signs_whole_bodies_and_every_chunk() {
    bounded(60, "payloads::sdk_over_http", async {
        let proxy = Proxy::start(Options::default()).await;
        let relay = Relay::start(proxy.s3).await;
        let client = aws_sdk_s3::Client::from_conf(
            proxy
                .client_config(ACCESS_KEY, SECRET_KEY)
                .endpoint_url(format!("http://{}", relay.addr))
                .force_path_style(true)
                .build(),
        );
        let env = Env::from_proxy(Kind::Embedded, proxy, client);
        let b = env.bucket("it-sdk-chunks").await;
        let data = pattern_seeded(1_000_000, 6);

        relay.clear();
        env.put(&b, "whole", &data).await;
        let wire = relay.sent();
        let sha = format!("x-amz-content-sha256: {}", sha256_hex(&data));
        assert!(
            wire.contains(&sha),
            "a signed in-memory PUT declares its SHA-256"
        );
        assert_stored(&env, &b, "whole", &data, "whole").await;

        for c in [Checksum::Crc32, Checksum::Crc32c, Checksum::Sha256] {
            let key = format!("chunks/{}", c.header());
            relay.clear();
            env.client
                .put_object()
                .bucket(&b)
                .key(&key)
                .content_length(data.len() as i64)
                .checksum_algorithm(sdk_algorithm(c))
                .body(streaming(&data))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{key}: {e:?}"));
            let wire = relay.sent();
            for sign in [
                "x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                "content-encoding: aws-chunked",
                ";chunk-signature=",
                "x-amz-trailer-signature:",
                &format!("{}:{}", c.header(), c.value(&data)),
            ] {
                assert!(wire.contains(sign), "{key}: {sign:?} not on the wire");
            }
            assert_stored(&env, &b, &key, &data, &key).await;
            assert_eq!(
                stored_checksum(&env, &b, &key, c).await,
                Some(c.value(&data)),
                "{key}"
            );
        }
    })
    .await;
}
