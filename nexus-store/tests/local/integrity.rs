//! Body integrity: Content-MD5, `x-amz-checksum-*` headers and aws-chunked trailers. A mismatch
//! is rejected and leaves nothing behind.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use base64::Engine as _;
use md5::Digest as _;

use crate::support::{Env, client_with, code, data, status, streaming_body};

fn b64(raw: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw)
}

async fn assert_absent(env: &Env, bucket: &str, key: &str) {
    let err = env
        .client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect_err("absent");
    assert_eq!(status(&err), 404);
    assert!(env.files_under("blobs").is_empty(), "no blob left behind");
}

#[tokio::test]
async fn content_md5() {
    let env = Env::with_bucket("md5").await;
    let c = &env.client;
    let good = b64(&md5::Md5::digest(b"body"));
    c.put_object()
        .bucket("md5")
        .key("ok")
        .content_md5(&good)
        .body(ByteStream::from_static(b"body"))
        .send()
        .await
        .expect("good md5");
    c.delete_object()
        .bucket("md5")
        .key("ok")
        .send()
        .await
        .expect("delete");

    let wrong = b64(&md5::Md5::digest(b"other"));
    let err = c
        .put_object()
        .bucket("md5")
        .key("k")
        .content_md5(&wrong)
        .body(ByteStream::from_static(b"body"))
        .send()
        .await
        .expect_err("mismatch");
    assert_eq!(code(&err), "BadDigest");
    assert_eq!(status(&err), 400);
    assert_absent(&env, "md5", "k").await;

    let err = c
        .put_object()
        .bucket("md5")
        .key("k")
        .content_md5("not-base64!")
        .body(ByteStream::from_static(b"body"))
        .send()
        .await
        .expect_err("invalid");
    assert_eq!(code(&err), "InvalidDigest");
    assert_absent(&env, "md5", "k").await;
}

#[tokio::test]
async fn checksum_headers() {
    let env = Env::with_bucket("hdr").await;
    let c = &env.client;
    let err = c
        .put_object()
        .bucket("hdr")
        .key("k")
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from_static(b"body"))
        .send()
        .await
        .expect_err("crc32");
    assert_eq!(code(&err), "BadDigest");
    assert_absent(&env, "hdr", "k").await;
    let err = c
        .put_object()
        .bucket("hdr")
        .key("k")
        .checksum_sha256("short")
        .body(ByteStream::from_static(b"body"))
        .send()
        .await
        .expect_err("malformed");
    assert_eq!(code(&err), "InvalidRequest");
    assert_absent(&env, "hdr", "k").await;
    let sha1 = b64(&sha1::Sha1::digest(b"body"));
    c.put_object()
        .bucket("hdr")
        .key("k")
        .checksum_sha1(&sha1)
        .body(ByteStream::from_static(b"body"))
        .send()
        .await
        .expect("sha1 ok");
    let head = c
        .head_object()
        .bucket("hdr")
        .key("k")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("head");
    assert_eq!(head.checksum_sha1(), Some(sha1.as_str()));

    // UploadPart too.
    let id = c
        .create_multipart_upload()
        .bucket("hdr")
        .key("mp")
        .send()
        .await
        .expect("create")
        .upload_id
        .expect("id");
    let err = c
        .upload_part()
        .bucket("hdr")
        .key("mp")
        .upload_id(&id)
        .part_number(1)
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .expect_err("part crc32");
    assert_eq!(code(&err), "BadDigest");
    let parts = c
        .list_parts()
        .bucket("hdr")
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .expect("list parts");
    assert!(parts.parts().is_empty());
    assert!(env.files_under("uploads").is_empty());
}

fn no_edit(_: &mut [u8]) {}

/// Overwrites the value of the `x-amz-checksum-crc32` trailer.
fn wrong_trailer(raw: &mut [u8]) {
    let name = b"x-amz-checksum-crc32:";
    let at = raw
        .windows(name.len())
        .rposition(|w| w == name)
        .expect("trailer present")
        + name.len();
    raw[at..at + 8].copy_from_slice(b"AAAAAA==");
}

/// Flips the first data byte of an aws-chunked body (unsigned chunks: only the trailer can tell).
fn flip_first_byte(raw: &mut [u8]) {
    let at = raw
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("chunk header")
        + 2;
    raw[at] ^= 0xff;
}

#[tokio::test]
async fn trailers() {
    let env = Env::with_bucket("trl").await;
    let body = data(300 * 1024, 3);
    let crc = b64(&crc32fast::hash(&body).to_be_bytes());

    // Signed chunks with a trailer (what the SDK sends over http) and unsigned chunks with a
    // trailer (over https).
    for (endpoint, key) in [
        ("http://localhost:8014", "signed"),
        ("https://localhost:8014", "unsigned"),
    ] {
        let client = client_with(&env, endpoint, no_edit);
        let out = client
            .put_object()
            .bucket("trl")
            .key(key)
            .body(streaming_body(&env, &body).await)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .expect(key);
        assert_eq!(out.checksum_crc32(), Some(crc.as_str()), "{key}");
        assert_eq!(env.get("trl", key).await, body, "{key}");
        let head = env
            .client
            .head_object()
            .bucket("trl")
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .expect("head");
        assert_eq!(head.content_encoding(), None, "aws-chunked is never stored");
        assert_eq!(head.checksum_crc32(), Some(crc.as_str()));
    }
    for key in ["signed", "unsigned"] {
        env.client
            .delete_object()
            .bucket("trl")
            .key(key)
            .send()
            .await
            .expect("delete");
    }

    for (edit, what) in [
        (wrong_trailer as fn(&mut [u8]), "wrong trailer"),
        (flip_first_byte, "corrupted data"),
    ] {
        let client = client_with(&env, "https://localhost:8014", edit);
        let err = client
            .put_object()
            .bucket("trl")
            .key("bad")
            .body(streaming_body(&env, &body).await)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .expect_err(what);
        assert_eq!(code(&err), "BadDigest", "{what}");
        assert_absent(&env, "trl", "bad").await;
    }
}
