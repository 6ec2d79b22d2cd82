//! CopyObject.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{MetadataDirective, TaggingDirective};

use crate::support::{Env, code, etag_of, status};

#[tokio::test]
async fn copy_object() {
    let env = Env::with_bucket("src").await;
    let c = &env.client;
    c.create_bucket()
        .bucket("dst")
        .send()
        .await
        .expect("bucket");
    c.put_object()
        .bucket("src")
        .key("a b/ü#1")
        .body(ByteStream::from_static(b"copy me"))
        .content_type("text/plain")
        .metadata("m", "1")
        .tagging("t=1")
        .send()
        .await
        .expect("put");
    let etag = etag_of(b"copy me");

    // Default directive COPY, across buckets, url-encoded source key.
    let out = c
        .copy_object()
        .bucket("dst")
        .key("copy")
        .copy_source("src/a%20b/%C3%BC%231")
        .send()
        .await
        .expect("copy");
    assert_eq!(
        out.copy_object_result().and_then(|r| r.e_tag()),
        Some(etag.as_str())
    );
    assert_eq!(env.get("dst", "copy").await, b"copy me");
    let head = c
        .head_object()
        .bucket("dst")
        .key("copy")
        .send()
        .await
        .expect("head");
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(
        head.metadata().and_then(|m| m.get("m")).map(String::as_str),
        Some("1")
    );
    let tags = c
        .get_object_tagging()
        .bucket("dst")
        .key("copy")
        .send()
        .await
        .expect("tags");
    assert_eq!(tags.tag_set().len(), 1);

    // REPLACE metadata and tags.
    c.copy_object()
        .bucket("dst")
        .key("replaced")
        .copy_source("src/a%20b/%C3%BC%231")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("application/json")
        .metadata("n", "2")
        .tagging_directive(TaggingDirective::Replace)
        .tagging("x=y&z=w")
        .send()
        .await
        .expect("copy replace");
    let head = c
        .head_object()
        .bucket("dst")
        .key("replaced")
        .send()
        .await
        .expect("head");
    assert_eq!(head.content_type(), Some("application/json"));
    assert!(
        head.metadata()
            .is_some_and(|m| m.get("m").is_none() && m.get("n").is_some())
    );
    let tags = c
        .get_object_tagging()
        .bucket("dst")
        .key("replaced")
        .send()
        .await
        .expect("tags");
    assert_eq!(tags.tag_set().len(), 2);

    // Onto itself: only with REPLACE.
    let err = c
        .copy_object()
        .bucket("src")
        .key("a b/ü#1")
        .copy_source("src/a%20b/%C3%BC%231")
        .send()
        .await
        .expect_err("self copy");
    assert_eq!(code(&err), "InvalidRequest");
    c.copy_object()
        .bucket("src")
        .key("a b/ü#1")
        .copy_source("src/a%20b/%C3%BC%231")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("fresh", "yes")
        .send()
        .await
        .expect("self copy replace");
    let head = c
        .head_object()
        .bucket("src")
        .key("a b/ü#1")
        .send()
        .await
        .expect("head");
    assert!(
        head.metadata()
            .is_some_and(|m| m.get("fresh").is_some() && m.get("m").is_none())
    );
    assert_eq!(env.get("src", "a b/ü#1").await, b"copy me");

    // Copy-source conditionals.
    let err = c
        .copy_object()
        .bucket("dst")
        .key("c2")
        .copy_source("src/a%20b/%C3%BC%231")
        .copy_source_if_match("\"0000\"")
        .send()
        .await
        .expect_err("if-match");
    assert_eq!(status(&err), 412);
    let err = c
        .copy_object()
        .bucket("dst")
        .key("c2")
        .copy_source("src/a%20b/%C3%BC%231")
        .copy_source_if_none_match(&etag)
        .send()
        .await
        .expect_err("if-none-match");
    assert_eq!(status(&err), 412);
    c.copy_object()
        .bucket("dst")
        .key("c2")
        .copy_source("src/a%20b/%C3%BC%231")
        .copy_source_if_match(&etag)
        .send()
        .await
        .expect("if-match ok");
    let past = DateTime::from(SystemTime::now() - Duration::from_secs(3600));
    let future = DateTime::from(SystemTime::now() + Duration::from_secs(3600));
    let source = "src/a%20b/%C3%BC%231";
    let err = c
        .copy_object()
        .bucket("dst")
        .key("c2")
        .copy_source(source)
        .copy_source_if_unmodified_since(past)
        .send()
        .await
        .expect_err("if-unmodified-since");
    assert_eq!(status(&err), 412);
    let err = c
        .copy_object()
        .bucket("dst")
        .key("c2")
        .copy_source(source)
        .copy_source_if_modified_since(future)
        .send()
        .await
        .expect_err("if-modified-since");
    assert_eq!(status(&err), 412);
    c.copy_object()
        .bucket("dst")
        .key("c2")
        .copy_source(source)
        .copy_source_if_modified_since(past)
        .copy_source_if_unmodified_since(future)
        .send()
        .await
        .expect("dates hold");

    // Missing source, missing destination bucket.
    let err = c
        .copy_object()
        .bucket("dst")
        .key("c3")
        .copy_source("src/nope")
        .send()
        .await
        .expect_err("no source");
    assert_eq!(code(&err), "NoSuchKey");
    let err = c
        .copy_object()
        .bucket("nobucket")
        .key("c3")
        .copy_source("src/a%20b/%C3%BC%231")
        .send()
        .await
        .expect_err("no bucket");
    assert_eq!(code(&err), "NoSuchBucket");
}
