//! `S3Backend` against moto (`moto_server`, a child process): the S3 surface s3s-fs lacks —
//! tagging, ListMultipartUploads, conditional GET/HEAD (304), keys that are not file paths.
//! Skips when moto is not installed, fails when `CI` is set and it is missing.

mod s3_backend_support;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, Tag, Tagging};
use base64::Engine as _;
use bytes::Bytes;
use http_body::Frame;
use http_body_util::StreamBody;
use s3_backend_support::{MotoServer, backend_to, client_through, status_and_code};

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    let tags = pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("tag"))
        .collect();
    Tagging::builder()
        .set_tag_set(Some(tags))
        .build()
        .expect("tagging")
}

fn sorted_tags(tags: &[Tag]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = tags
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    out.sort();
    out
}

/// One moto server for all checks: starting it takes a second or two.
#[tokio::test]
async fn moto_backend_tagging_uploads_conditionals_and_odd_keys() {
    let Some(moto) =
        MotoServer::start_or_skip("moto_backend_tagging_uploads_conditionals_and_odd_keys").await
    else {
        return;
    };
    let client = client_through(backend_to(&moto.endpoint));
    client
        .create_bucket()
        .bucket("tiering")
        .send()
        .await
        .expect("create bucket");

    tagging_round_trips(&client).await;
    multipart_uploads_are_listed(&client).await;
    conditional_reads_answer_304_with_validators(&client).await;
    keys_that_are_not_paths_are_kept_exactly(&client).await;
    trailer_checksum_reaches_the_backend(&client).await;
}

async fn tagging_round_trips(client: &aws_sdk_s3::Client) {
    client
        .put_object()
        .bucket("tiering")
        .key("tagged")
        .tagging("tier=cold&owner=kafka")
        .body(ByteStream::from_static(b"segment"))
        .send()
        .await
        .expect("put with tagging header");
    let got = client
        .get_object_tagging()
        .bucket("tiering")
        .key("tagged")
        .send()
        .await
        .expect("get tags");
    assert_eq!(
        sorted_tags(got.tag_set()),
        [
            ("owner".into(), "kafka".into()),
            ("tier".into(), "cold".into())
        ]
    );

    let put = client.put_object_tagging().bucket("tiering").key("tagged");
    put.tagging(tagging(&[("tier", "archive"), ("x y", "ü/1")]))
        .send()
        .await
        .expect("put tags");
    let got = client
        .get_object_tagging()
        .bucket("tiering")
        .key("tagged")
        .send()
        .await
        .expect("get tags");
    assert_eq!(
        sorted_tags(got.tag_set()),
        [
            ("tier".into(), "archive".into()),
            ("x y".into(), "ü/1".into())
        ]
    );

    client
        .delete_object_tagging()
        .bucket("tiering")
        .key("tagged")
        .send()
        .await
        .expect("delete tags");
    let got = client
        .get_object_tagging()
        .bucket("tiering")
        .key("tagged")
        .send()
        .await
        .expect("get tags");
    assert!(got.tag_set().is_empty(), "tags left: {:?}", got.tag_set());

    let err = client
        .get_object_tagging()
        .bucket("tiering")
        .key("missing")
        .send()
        .await
        .expect_err("missing");
    assert_eq!(status_and_code(&err), (404, "NoSuchKey".to_owned()));
}

async fn multipart_uploads_are_listed(client: &aws_sdk_s3::Client) {
    let created = client
        .create_multipart_upload()
        .bucket("tiering")
        .key("uploads/one")
        .send()
        .await;
    let id = created.expect("create").upload_id().expect("id").to_owned();
    let listed = client
        .list_multipart_uploads()
        .bucket("tiering")
        .prefix("uploads/")
        .send()
        .await;
    let listed = listed.expect("list uploads");
    let ids: Vec<&str> = listed
        .uploads()
        .iter()
        .filter_map(|u| u.upload_id())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    client
        .abort_multipart_upload()
        .bucket("tiering")
        .key("uploads/one")
        .upload_id(&id)
        .send()
        .await
        .expect("abort");
    let listed = client
        .list_multipart_uploads()
        .bucket("tiering")
        .prefix("uploads/")
        .send()
        .await;
    assert!(listed.expect("list uploads").uploads().is_empty());
}

async fn conditional_reads_answer_304_with_validators(client: &aws_sdk_s3::Client) {
    let put = client
        .put_object()
        .bucket("tiering")
        .key("cond")
        .body(ByteStream::from_static(b"v1"));
    let etag = put
        .send()
        .await
        .expect("put")
        .e_tag()
        .expect("etag")
        .to_owned();
    let err = client
        .get_object()
        .bucket("tiering")
        .key("cond")
        .if_none_match(&etag)
        .send()
        .await;
    let err = err.expect_err("304");
    let raw = err.raw_response().expect("raw");
    assert_eq!(raw.status().as_u16(), 304);
    assert_eq!(
        raw.headers().get("etag"),
        Some(etag.as_str()),
        "304 must keep the ETag"
    );
    let err = client
        .head_object()
        .bucket("tiering")
        .key("cond")
        .if_none_match(&etag)
        .send()
        .await;
    assert_eq!(
        err.expect_err("304")
            .raw_response()
            .map(|r| r.status().as_u16()),
        Some(304)
    );
    let err = client
        .get_object()
        .bucket("tiering")
        .key("cond")
        .if_match("\"nope\"")
        .send()
        .await;
    assert_eq!(
        status_and_code(&err.expect_err("412")),
        (412, "PreconditionFailed".to_owned())
    );
}

/// Pravega's keys start with `/` and contain `//`; every one must come back byte for byte.
async fn keys_that_are_not_paths_are_kept_exactly(client: &aws_sdk_s3::Client) {
    let keys = [
        "/scope/stream//segment#1$2",
        "odd//double",
        "/leading only",
        "trailing/",
    ];
    for key in keys {
        let put = client
            .put_object()
            .bucket("tiering")
            .key(key)
            .body(ByteStream::from(key.as_bytes().to_vec()));
        put.send()
            .await
            .unwrap_or_else(|e| panic!("put {key:?}: {e:?}"));
        let got = client.get_object().bucket("tiering").key(key).send().await;
        let body = got
            .unwrap_or_else(|e| panic!("get {key:?}: {e:?}"))
            .body
            .collect()
            .await
            .expect("body");
        assert_eq!(body.into_bytes().as_ref(), key.as_bytes(), "{key}");
    }
    let listed = client
        .list_objects_v2()
        .bucket("tiering")
        .send()
        .await
        .expect("list");
    let listed: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    for key in keys {
        assert!(
            listed.contains(&key),
            "{key:?} not listed exactly: {listed:?}"
        );
    }
}

/// The broker's style of upload: aws-chunked with the CRC32 in a trailer. The backend must end
/// up with the same CRC32 and without the client's `aws-chunked` coding.
async fn trailer_checksum_reaches_the_backend(client: &aws_sdk_s3::Client) {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = data
        .chunks(64 * 1024)
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let body = ByteStream::from_body_1_x(StreamBody::new(futures::stream::iter(frames)));
    client
        .put_object()
        .bucket("tiering")
        .key("trailer")
        .content_length(200_000)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(body)
        .send()
        .await
        .expect("aws-chunked put with trailer");
    let head = client
        .head_object()
        .bucket("tiering")
        .key("trailer")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await;
    let head = head.expect("head");
    let want =
        base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(&data).to_be_bytes());
    assert_eq!(head.checksum_crc32(), Some(want.as_str()));
    assert_eq!(head.content_encoding(), None);
    assert_eq!(head.content_length(), Some(200_000));
}
