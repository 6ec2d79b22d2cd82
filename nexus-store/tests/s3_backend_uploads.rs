//! Upload framing and checksums through `S3Backend` into s3s-fs: the client's aws-chunked
//! framing stays on the client side, checksums the client sent reach the backend (which
//! verifies them), trailer checksums are recomputed, and wrong checksums fail at the backend.

mod s3_backend_support;

use std::convert::Infallible;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http_body::Frame;
use http_body_util::StreamBody;
use s3_backend_support::{S3sFsServer, backend_to, client_through, status_and_code};
use s3s::{S3, S3Request};

/// A body the SDK cannot see in memory: it must stream it, and with a checksum algorithm set
/// it frames it as aws-chunked with the checksum in a trailer, like the brokers' Java SDK.
fn streaming_body(data: &[u8]) -> ByteStream {
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = data
        .chunks(64 * 1024)
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    ByteStream::from_body_1_x(StreamBody::new(futures::stream::iter(frames)))
}

fn crc32_b64(data: &[u8]) -> String {
    B64.encode(crc32fast::hash(data).to_be_bytes())
}

fn body_of(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i % 251).unwrap_or(0))
        .collect()
}

#[tokio::test]
async fn aws_chunked_upload_with_trailer_checksum_is_stored_with_that_checksum() {
    let fs = S3sFsServer::start().await;
    let backend = backend_to(&fs.endpoint);
    let direct = backend.client().clone();
    let client = client_through(backend);
    client
        .create_bucket()
        .bucket("chunked")
        .send()
        .await
        .expect("bucket");

    let data = body_of(300_000);
    client
        .put_object()
        .bucket("chunked")
        .key("segment")
        .content_length(i64::try_from(data.len()).expect("len"))
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(streaming_body(&data))
        .send()
        .await
        .expect("aws-chunked put with CRC32 trailer");

    let stored = direct
        .head_object()
        .bucket("chunked")
        .key("segment")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("direct head");
    assert_eq!(stored.content_length(), Some(300_000));
    assert_eq!(stored.checksum_crc32(), Some(crc32_b64(&data).as_str()));
    // The backend request is aws-chunked again (the SDK's own framing, which carries the
    // recomputed trailer): S3 drops that coding, s3s-fs stores it. The client's coding must not
    // be added on top of it (a duplicate is what s3s_aws::Proxy sent).
    assert!(
        matches!(stored.content_encoding(), None | Some("aws-chunked")),
        "stored Content-Encoding: {:?}",
        stored.content_encoding()
    );

    let got = client
        .get_object()
        .bucket("chunked")
        .key("segment")
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
}

/// s3s-fs neither checks nor reports part checksums; this proves the reframed part streams
/// through intact.
#[tokio::test]
async fn aws_chunked_multipart_parts_with_trailer_checksums() {
    let fs = S3sFsServer::start().await;
    let client = client_through(backend_to(&fs.endpoint));
    client
        .create_bucket()
        .bucket("parts")
        .send()
        .await
        .expect("bucket");
    let create = client
        .create_multipart_upload()
        .bucket("parts")
        .key("m")
        .send()
        .await
        .expect("create");
    let id = create.upload_id().expect("id");
    let data = body_of(5 * 1024 * 1024 + 7);
    let part = client
        .upload_part()
        .bucket("parts")
        .key("m")
        .upload_id(id)
        .part_number(1)
        .content_length(i64::try_from(data.len()).expect("len"))
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(streaming_body(&data))
        .send()
        .await
        .expect("aws-chunked part");
    assert!(part.e_tag().is_some());
    let completed = CompletedMultipartUpload::builder()
        .parts(
            CompletedPart::builder()
                .part_number(1)
                .e_tag(part.e_tag().expect("etag"))
                .build(),
        )
        .build();
    client
        .complete_multipart_upload()
        .bucket("parts")
        .key("m")
        .upload_id(id)
        .multipart_upload(completed)
        .send()
        .await
        .expect("complete");
    let got = client
        .get_object()
        .bucket("parts")
        .key("m")
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
}

#[tokio::test]
async fn checksums_in_headers_are_verified_by_the_backend() {
    let fs = S3sFsServer::start().await;
    let client = client_through(backend_to(&fs.endpoint));
    client
        .create_bucket()
        .bucket("sums")
        .send()
        .await
        .expect("bucket");

    let put = client
        .put_object()
        .bucket("sums")
        .key("ok")
        .checksum_crc32(crc32_b64(b"payload"));
    put.body(ByteStream::from_static(b"payload"))
        .send()
        .await
        .expect("right crc32");

    let put = client
        .put_object()
        .bucket("sums")
        .key("bad")
        .checksum_crc32(crc32_b64(b"other"));
    let err = put
        .body(ByteStream::from_static(b"payload"))
        .send()
        .await
        .expect_err("wrong crc32");
    assert_eq!(status_and_code(&err), (400, "BadDigest".to_owned()));

    let wrong_md5 = B64.encode([0u8; 16]);
    let put = client
        .put_object()
        .bucket("sums")
        .key("bad-md5")
        .content_md5(wrong_md5);
    let err = put
        .body(ByteStream::from_static(b"payload"))
        .send()
        .await
        .expect_err("wrong md5");
    assert_eq!(status_and_code(&err).0, 400);
}

/// Called straight through the `s3s::S3` trait, the way the worker's front end calls it.
#[tokio::test]
async fn content_encoding_loses_only_aws_chunked() {
    let fs = S3sFsServer::start().await;
    let backend = backend_to(&fs.endpoint);
    let direct = backend.client().clone();
    direct
        .create_bucket()
        .bucket("enc")
        .send()
        .await
        .expect("bucket");

    for (key, sent, stored) in [
        ("both", "aws-chunked,gzip", Some("gzip")),
        ("only", "aws-chunked", None),
        ("none", "gzip", Some("gzip")),
    ] {
        let input = s3s::dto::PutObjectInput {
            bucket: "enc".to_owned(),
            key: key.to_owned(),
            content_encoding: Some(sent.to_owned()),
            content_length: Some(4),
            body: Some(s3s::Body::from(Bytes::from_static(b"data")).into()),
            ..Default::default()
        };
        backend
            .put_object(s3s_request(input))
            .await
            .expect("put through the trait");
        let head = direct
            .head_object()
            .bucket("enc")
            .key(key)
            .send()
            .await
            .expect("head");
        assert_eq!(head.content_encoding(), stored, "{key}: sent {sent:?}");
    }
}

fn s3s_request<T>(input: T) -> S3Request<T> {
    S3Request {
        input,
        method: http::Method::PUT,
        uri: http::Uri::from_static("/"),
        headers: http::HeaderMap::new(),
        extensions: http::Extensions::new(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    }
}
