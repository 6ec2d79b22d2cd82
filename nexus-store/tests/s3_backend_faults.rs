//! What a client sees through `S3Backend` when the backend is down or broken: never a panic,
//! never a 2xx with an error body; unreachable or unintelligible backends are 503
//! `ServiceUnavailable` (retryable); a 304 keeps its validators.

mod s3_backend_support;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use nexus_store::s3::{S3Backend, S3BackendConfig};
use s3_backend_support::{
    Canned, CannedServer, backend_config, client_through, closed_loopback_port, status_and_code,
};

/// A client through a backend in front of `endpoint`, one attempt per request.
fn client_to(endpoint: &str) -> aws_sdk_s3::Client {
    let cfg = S3BackendConfig {
        max_attempts: 1,
        ..backend_config(endpoint)
    };
    client_through(S3Backend::new(cfg).expect("config"))
}

fn assert_unavailable<E: ProvideErrorMetadata>(what: &str, err: &aws_sdk_s3::error::SdkError<E>) {
    assert_eq!(
        status_and_code(err),
        (503, "ServiceUnavailable".to_owned()),
        "{what}"
    );
    let message = err.message().unwrap_or_default();
    assert!(
        message.starts_with("backend unavailable: "),
        "{what}: message {message:?}"
    );
}

fn complete_request(
    client: &aws_sdk_s3::Client,
) -> aws_sdk_s3::operation::complete_multipart_upload::builders::CompleteMultipartUploadFluentBuilder
{
    let parts = CompletedMultipartUpload::builder()
        .parts(
            CompletedPart::builder()
                .part_number(1)
                .e_tag("\"abc\"")
                .build(),
        )
        .build();
    client
        .complete_multipart_upload()
        .bucket("bkt")
        .key("k")
        .upload_id("u")
        .multipart_upload(parts)
}

/// Default configuration (with its retry) against a port where nothing listens.
#[tokio::test]
async fn backend_down_is_503_service_unavailable() {
    let endpoint = format!("http://127.0.0.1:{}", closed_loopback_port());
    let client = client_through(s3_backend_support::backend_to(&endpoint));

    assert_unavailable(
        "head bucket",
        &client
            .head_bucket()
            .bucket("bkt")
            .send()
            .await
            .expect_err("down"),
    );
    assert_unavailable(
        "list buckets",
        &client.list_buckets().send().await.expect_err("down"),
    );
    assert_unavailable(
        "get",
        &client
            .get_object()
            .bucket("bkt")
            .key("k")
            .send()
            .await
            .expect_err("down"),
    );
    let put = client
        .put_object()
        .bucket("bkt")
        .key("k")
        .body(ByteStream::from(vec![7u8; 64 * 1024]));
    assert_unavailable("put", &put.send().await.expect_err("down"));
    let part = client
        .upload_part()
        .bucket("bkt")
        .key("k")
        .upload_id("u")
        .part_number(1);
    assert_unavailable(
        "upload part",
        &part
            .body(ByteStream::from_static(b"p"))
            .send()
            .await
            .expect_err("down"),
    );
    assert_unavailable(
        "complete",
        &complete_request(&client).send().await.expect_err("down"),
    );
}

#[tokio::test]
async fn connection_closed_without_answer_is_503() {
    let server = CannedServer::start(Canned::Hangup).await;
    let client = client_to(&server.endpoint);
    assert_unavailable(
        "get",
        &client
            .get_object()
            .bucket("bkt")
            .key("k")
            .send()
            .await
            .expect_err("hangup"),
    );
    let put = client
        .put_object()
        .bucket("bkt")
        .key("k")
        .body(ByteStream::from_static(b"x"));
    assert_unavailable("put", &put.send().await.expect_err("hangup"));
}

#[tokio::test]
async fn not_modified_keeps_etag_and_last_modified() {
    let server = CannedServer::start(Canned::Respond {
        status: 304,
        headers: vec![
            ("etag", "\"5d41402abc4b2a76b9719d911017c592\""),
            ("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ],
        body: "",
    })
    .await;
    let client = client_to(&server.endpoint);
    let get = client
        .get_object()
        .bucket("bkt")
        .key("k")
        .if_none_match("\"5d41402abc4b2a76b9719d911017c592\"");
    let head = client
        .head_object()
        .bucket("bkt")
        .key("k")
        .if_none_match("\"5d41402abc4b2a76b9719d911017c592\"");
    let get_raw = get
        .send()
        .await
        .expect_err("304")
        .raw_response()
        .map(|r| (r.status().as_u16(), r.headers().clone()));
    let head_raw = head
        .send()
        .await
        .expect_err("304")
        .raw_response()
        .map(|r| (r.status().as_u16(), r.headers().clone()));
    for (what, raw) in [("get", get_raw), ("head", head_raw)] {
        let (status, headers) = raw.expect("raw response");
        assert_eq!(status, 304, "{what}");
        assert_eq!(
            headers.get("etag"),
            Some("\"5d41402abc4b2a76b9719d911017c592\""),
            "{what}"
        );
        assert_eq!(
            headers.get("last-modified"),
            Some("Wed, 21 Oct 2015 07:28:00 GMT"),
            "{what}"
        );
    }
}

#[tokio::test]
async fn error_document_inside_200_gets_its_proper_status() {
    let cases = [
        ("InternalError", 500, "InternalError"),
        ("SlowDown", 503, "SlowDown"),
        ("NoSuchUpload", 404, "NoSuchUpload"),
        ("SomethingNobodyKnows", 500, "InternalError"),
    ];
    for (code, status, expect_code) in cases {
        let body: &'static str = Box::leak(
            format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>failed late</Message></Error>").into_boxed_str(),
        );
        let server = CannedServer::start(Canned::Respond {
            status: 200,
            headers: vec![("content-type", "application/xml")],
            body,
        })
        .await;
        let client = client_to(&server.endpoint);
        let err = complete_request(&client)
            .send()
            .await
            .expect_err("error in 200");
        assert_eq!(
            status_and_code(&err),
            (status, expect_code.to_owned()),
            "CompleteMultipartUpload, {code} in 200"
        );
        let copy = client
            .copy_object()
            .bucket("bkt")
            .key("k")
            .copy_source("bkt/src")
            .send()
            .await;
        assert_eq!(
            status_and_code(&copy.expect_err("error in 200")).0,
            status,
            "CopyObject, {code} in 200"
        );
    }
}

#[tokio::test]
async fn unparsable_or_foreign_answers_are_503() {
    let garbage = CannedServer::start(Canned::Respond {
        status: 200,
        headers: vec![("content-type", "application/xml")],
        body: "<html>definitely not S3",
    })
    .await;
    let client = client_to(&garbage.endpoint);
    assert_unavailable(
        "list v2",
        &client
            .list_objects_v2()
            .bucket("bkt")
            .send()
            .await
            .expect_err("garbage"),
    );
    let create = client
        .create_multipart_upload()
        .bucket("bkt")
        .key("k")
        .send()
        .await;
    assert_unavailable("create upload", &create.expect_err("garbage"));

    let gateway = CannedServer::start(Canned::Respond {
        status: 502,
        headers: vec![("content-type", "text/html")],
        body: "<html><body>Bad Gateway</body></html>",
    })
    .await;
    let client = client_to(&gateway.endpoint);
    assert_unavailable(
        "get",
        &client
            .get_object()
            .bucket("bkt")
            .key("k")
            .send()
            .await
            .expect_err("502"),
    );
    assert_unavailable(
        "head",
        &client
            .head_object()
            .bucket("bkt")
            .key("k")
            .send()
            .await
            .expect_err("502"),
    );
}

#[tokio::test]
async fn bodyless_client_errors_keep_their_status() {
    let server = CannedServer::start(Canned::Respond {
        status: 403,
        headers: vec![],
        body: "",
    })
    .await;
    let client = client_to(&server.endpoint);
    let err = client
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .expect_err("403");
    assert_eq!(status_and_code(&err), (403, "AccessDenied".to_owned()));
}

/// `https://` goes through rustls (ring): a server that only speaks plain HTTP fails the
/// handshake, which is the backend being unusable, not the client's fault.
#[tokio::test]
async fn tls_handshake_failure_is_503() {
    let plain = s3_backend_support::S3sFsServer::start().await;
    let endpoint = plain.endpoint.replacen("http://", "https://", 1);
    let client = client_to(&endpoint);
    let err = client
        .list_buckets()
        .send()
        .await
        .expect_err("no TLS there");
    assert_unavailable("list buckets over TLS", &err);
}
