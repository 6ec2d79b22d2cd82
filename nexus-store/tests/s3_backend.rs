//! `S3Backend` against a real S3 server: aws-sdk-s3 client → (in process) s3s front with SigV4
//! → `S3Backend` → (real HTTP, its own SigV4) → s3s-fs on loopback. Buckets, object reads and
//! writes, errors, ranges, conditions, metadata.

mod s3_backend_support;

use std::collections::HashMap;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Tag, Tagging};
use s3_backend_support::s3s_fs_env::{Env, pattern, quoted_md5};
use s3_backend_support::status_and_code;

#[tokio::test]
async fn bucket_operations_pass_through() {
    let env = Env::start().await;
    let bucket = env.bucket("buckets").await;

    env.client
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("head bucket");
    let listed = env
        .client
        .list_buckets()
        .send()
        .await
        .expect("list buckets");
    assert!(listed.buckets().iter().any(|b| b.name() == Some("buckets")));
    env.client
        .get_bucket_location()
        .bucket(&bucket)
        .send()
        .await
        .expect("location");

    let err = env
        .client
        .head_bucket()
        .bucket("missing")
        .send()
        .await
        .expect_err("missing bucket");
    assert_eq!(status_and_code(&err).0, 404);
    let err = env
        .client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect_err("exists");
    assert_eq!(
        status_and_code(&err),
        (409, "BucketAlreadyExists".to_owned())
    );

    env.put(&bucket, "k", b"x").await;
    env.client
        .delete_object()
        .bucket(&bucket)
        .key("k")
        .send()
        .await
        .expect("delete");
    env.client
        .delete_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("delete bucket");
    let err = env
        .client
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(status_and_code(&err).0, 404);
}

#[tokio::test]
async fn objects_of_every_size_round_trip_with_metadata() {
    let env = Env::start().await;
    let bucket = env.bucket("sizes").await;
    for len in [0, 1, 5 * 1024 * 1024 + 1] {
        let key = format!("object-{len}");
        let body = pattern(len);
        let out = env
            .client
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .content_type("application/x-kafka-segment")
            .metadata("topic", "orders")
            .metadata("segment-version", "42")
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("put");
        assert_eq!(out.e_tag(), Some(quoted_md5(&body).as_str()), "{key}");

        let got = env
            .client
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .expect("get");
        assert_eq!(got.content_length(), Some(i64::try_from(len).expect("len")));
        assert_eq!(got.e_tag(), Some(quoted_md5(&body).as_str()));
        let meta = got.metadata().cloned().unwrap_or_default();
        assert_eq!(
            meta.get("topic").map(String::as_str),
            Some("orders"),
            "{key}"
        );
        assert_eq!(meta.get("segment-version").map(String::as_str), Some("42"));
        let bytes = got.body.collect().await.expect("body").into_bytes();
        assert!(bytes.as_ref() == body.as_slice(), "{key}: body differs");

        let head = env
            .client
            .head_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .expect("head");
        assert_eq!(
            head.content_length(),
            Some(i64::try_from(len).expect("len"))
        );
        assert_eq!(head.content_type(), Some("application/x-kafka-segment"));
        assert_eq!(
            head.metadata()
                .and_then(|m| m.get("topic"))
                .map(String::as_str),
            Some("orders")
        );
        assert!(head.last_modified().is_some());
    }
}

/// The proxied answer is the backend's own: same status, same code.

#[tokio::test]
async fn missing_bucket_and_key_are_404_with_the_backend_code() {
    let env = Env::start().await;
    let bucket = env.bucket("errors").await;
    let proxied = env
        .client
        .get_object()
        .bucket(&bucket)
        .key("nope")
        .send()
        .await
        .expect_err("no key");
    let direct = env
        .direct
        .get_object()
        .bucket(&bucket)
        .key("nope")
        .send()
        .await
        .expect_err("no key");
    assert_eq!(status_and_code(&proxied), (404, "NoSuchKey".to_owned()));
    assert_eq!(status_and_code(&proxied), status_and_code(&direct));
    assert_eq!(proxied.message(), direct.message());

    let proxied = env
        .client
        .get_object()
        .bucket("no-such-bucket")
        .key("k")
        .send()
        .await
        .expect_err("no bucket");
    let direct = env
        .direct
        .get_object()
        .bucket("no-such-bucket")
        .key("k")
        .send()
        .await
        .expect_err("no bucket");
    assert_eq!(status_and_code(&proxied).0, 404);
    assert_eq!(status_and_code(&proxied), status_and_code(&direct));

    let proxied = env
        .client
        .list_objects_v2()
        .bucket("no-such-bucket")
        .send()
        .await
        .expect_err("no bucket");
    assert_eq!(status_and_code(&proxied), (404, "NoSuchBucket".to_owned()));
    let proxied = env
        .client
        .head_object()
        .bucket(&bucket)
        .key("nope")
        .send()
        .await
        .expect_err("no key");
    assert_eq!(status_and_code(&proxied).0, 404);
}

#[tokio::test]
async fn ranges_read_the_requested_bytes() {
    let env = Env::start().await;
    let bucket = env.bucket("ranges").await;
    let body = pattern(10_000);
    env.put(&bucket, "r", &body).await;
    let cases: [(&str, std::ops::Range<usize>); 4] = [
        ("bytes=0-0", 0..1),
        ("bytes=100-199", 100..200),
        ("bytes=9990-", 9990..10_000),
        ("bytes=-10", 9990..10_000),
    ];
    for (range, expect) in cases {
        let got = env
            .client
            .get_object()
            .bucket(&bucket)
            .key("r")
            .range(range)
            .send()
            .await
            .expect(range);
        let want_range = format!("bytes {}-{}/10000", expect.start, expect.end - 1);
        assert_eq!(got.content_range(), Some(want_range.as_str()), "{range}");
        assert_eq!(
            got.content_length(),
            Some(i64::try_from(expect.len()).expect("len"))
        );
        let bytes = got.body.collect().await.expect("body").into_bytes();
        assert!(
            bytes.as_ref() == &body[expect.clone()],
            "{range}: wrong bytes"
        );
    }
    let err = env
        .client
        .get_object()
        .bucket(&bucket)
        .key("r")
        .range("bytes=20000-")
        .send()
        .await;
    let err = err.expect_err("unsatisfiable range");
    assert_eq!(status_and_code(&err), (416, "InvalidRange".to_owned()));
}

/// s3s-fs implements conditional PUT and copy-source conditions (conditional GET/HEAD and the
/// 304 are covered against moto and a canned backend).

#[tokio::test]
async fn conditional_writes_and_copies_pass_through() {
    let env = Env::start().await;
    let bucket = env.bucket("conditionals").await;
    let etag = env.put(&bucket, "c", b"conditional body").await;

    let put = env
        .client
        .put_object()
        .bucket(&bucket)
        .key("c")
        .if_none_match("*")
        .body(ByteStream::from_static(b"2"));
    assert_eq!(
        status_and_code(&put.send().await.expect_err("exists")),
        (412, "PreconditionFailed".to_owned())
    );
    let put = env
        .client
        .put_object()
        .bucket(&bucket)
        .key("c")
        .if_match("\"0000\"")
        .body(ByteStream::from_static(b"2"));
    assert_eq!(
        status_and_code(&put.send().await.expect_err("etag differs")).0,
        412
    );
    let put = env
        .client
        .put_object()
        .bucket(&bucket)
        .key("c")
        .if_match(&etag)
        .body(ByteStream::from_static(b"2"));
    put.send().await.expect("etag matches");

    let copy = env
        .client
        .copy_object()
        .bucket(&bucket)
        .key("d")
        .copy_source(format!("{bucket}/c"));
    let err = copy
        .copy_source_if_match(&etag)
        .send()
        .await
        .expect_err("source changed");
    assert_eq!(
        status_and_code(&err),
        (412, "PreconditionFailed".to_owned())
    );
    assert_eq!(env.get(&bucket, "c").await, b"2");
}

#[tokio::test]
async fn tagging_not_implemented_by_the_backend_passes_through_as_501() {
    let env = Env::start().await;
    let bucket = env.bucket("tags").await;
    env.put(&bucket, "t", b"x").await;
    let tagging = Tagging::builder()
        .tag_set(Tag::builder().key("k").value("v").build().expect("tag"))
        .build()
        .expect("tagging");
    let err = env
        .client
        .put_object_tagging()
        .bucket(&bucket)
        .key("t")
        .tagging(tagging)
        .send()
        .await;
    assert_eq!(
        status_and_code(&err.expect_err("put tagging")),
        (501, "NotImplemented".to_owned())
    );
    let err = env
        .client
        .get_object_tagging()
        .bucket(&bucket)
        .key("t")
        .send()
        .await;
    assert_eq!(
        status_and_code(&err.expect_err("get tagging")),
        (501, "NotImplemented".to_owned())
    );
    let err = env
        .client
        .delete_object_tagging()
        .bucket(&bucket)
        .key("t")
        .send()
        .await;
    assert_eq!(
        status_and_code(&err.expect_err("delete tagging")),
        (501, "NotImplemented".to_owned())
    );
}

#[tokio::test]
async fn user_metadata_survives_every_write_path() {
    let env = Env::start().await;
    let bucket = env.bucket("metadata").await;
    let meta: HashMap<String, String> = [
        (
            "managedledgername",
            "public/default/persistent/t-partition-0",
        ),
        ("x", "y z"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.client
        .put_object()
        .bucket(&bucket)
        .key("m")
        .set_metadata(Some(meta.clone()))
        .body(ByteStream::from_static(b"m"))
        .send()
        .await
        .expect("put");
    let got = env
        .client
        .get_object()
        .bucket(&bucket)
        .key("m")
        .range("bytes=0-0")
        .send()
        .await
        .expect("get");
    assert_eq!(
        got.metadata(),
        Some(&meta),
        "ranged GET must carry user metadata"
    );
    let stored = env
        .direct
        .head_object()
        .bucket(&bucket)
        .key("m")
        .send()
        .await
        .expect("direct head");
    assert_eq!(stored.metadata(), Some(&meta));
}
