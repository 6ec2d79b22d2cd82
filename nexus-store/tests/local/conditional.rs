//! Conditional reads (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since) and
//! conditional writes.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::{ByteStream, DateTime};

use crate::support::{Env, code, status};

fn at(t: SystemTime) -> DateTime {
    DateTime::from(t)
}

#[tokio::test]
async fn get_and_head_conditionals() {
    let env = Env::with_bucket("cond").await;
    let etag = env.put("cond", "k", b"payload").await;
    let head = env
        .client
        .head_object()
        .bucket("cond")
        .key("k")
        .send()
        .await
        .expect("head");
    let modified = head.last_modified().expect("last modified");
    let past = at(SystemTime::now() - Duration::from_secs(3600));
    let future = at(SystemTime::now() + Duration::from_secs(3600));
    let c = &env.client;

    // If-Match
    c.get_object()
        .bucket("cond")
        .key("k")
        .if_match(&etag)
        .send()
        .await
        .expect("match");
    c.get_object()
        .bucket("cond")
        .key("k")
        .if_match("*")
        .send()
        .await
        .expect("match any");
    let err = c
        .get_object()
        .bucket("cond")
        .key("k")
        .if_match("\"0000\"")
        .send()
        .await
        .expect_err("no match");
    assert_eq!(code(&err), "PreconditionFailed");
    assert_eq!(status(&err), 412);
    let err = c
        .head_object()
        .bucket("cond")
        .key("k")
        .if_match("\"0000\"")
        .send()
        .await
        .expect_err("no match");
    assert_eq!(status(&err), 412);

    // If-None-Match: 304 that still carries ETag and Last-Modified.
    let err = c
        .get_object()
        .bucket("cond")
        .key("k")
        .if_none_match(&etag)
        .send()
        .await
        .expect_err("not modified");
    assert_eq!(status(&err), 304);
    let raw = err.raw_response().expect("raw response");
    assert_eq!(raw.headers().get("etag"), Some(etag.as_str()));
    assert!(raw.headers().get("last-modified").is_some());
    let err = c
        .head_object()
        .bucket("cond")
        .key("k")
        .if_none_match(&etag)
        .send()
        .await
        .expect_err("not modified");
    assert_eq!(status(&err), 304);
    assert_eq!(
        err.raw_response().and_then(|r| r.headers().get("etag")),
        Some(etag.as_str())
    );
    c.get_object()
        .bucket("cond")
        .key("k")
        .if_none_match("\"0000\"")
        .send()
        .await
        .expect("modified");

    // If-Modified-Since
    c.get_object()
        .bucket("cond")
        .key("k")
        .if_modified_since(past)
        .send()
        .await
        .expect("modified since");
    let err = c
        .get_object()
        .bucket("cond")
        .key("k")
        .if_modified_since(*modified)
        .send()
        .await
        .expect_err("same second");
    assert_eq!(status(&err), 304);
    let err = c
        .get_object()
        .bucket("cond")
        .key("k")
        .if_modified_since(future)
        .send()
        .await
        .expect_err("future");
    assert_eq!(status(&err), 304);

    // If-Unmodified-Since
    c.get_object()
        .bucket("cond")
        .key("k")
        .if_unmodified_since(*modified)
        .send()
        .await
        .expect("unmodified");
    let err = c
        .get_object()
        .bucket("cond")
        .key("k")
        .if_unmodified_since(past)
        .send()
        .await
        .expect_err("modified");
    assert_eq!(status(&err), 412);

    // Precedence: If-Match true wins over If-Unmodified-Since false; If-None-Match false
    // (the ETag differs) wins over If-Modified-Since.
    c.get_object()
        .bucket("cond")
        .key("k")
        .if_match(&etag)
        .if_unmodified_since(past)
        .send()
        .await
        .expect("if-match wins");
    c.get_object()
        .bucket("cond")
        .key("k")
        .if_none_match("\"0000\"")
        .if_modified_since(future)
        .send()
        .await
        .expect("if-none-match wins");
}

#[tokio::test]
async fn conditional_writes() {
    let env = Env::with_bucket("condwrite").await;
    let c = &env.client;
    c.put_object()
        .bucket("condwrite")
        .key("k")
        .if_none_match("*")
        .body(ByteStream::from_static(b"1"))
        .send()
        .await
        .expect("create");
    let err = c
        .put_object()
        .bucket("condwrite")
        .key("k")
        .if_none_match("*")
        .body(ByteStream::from_static(b"2"))
        .send()
        .await
        .expect_err("exists");
    assert_eq!(code(&err), "PreconditionFailed");
    let etag = c
        .head_object()
        .bucket("condwrite")
        .key("k")
        .send()
        .await
        .expect("head")
        .e_tag
        .expect("etag");
    let err = c
        .put_object()
        .bucket("condwrite")
        .key("k")
        .if_match("\"00000000000000000000000000000000\"")
        .body(ByteStream::from_static(b"3"))
        .send()
        .await
        .expect_err("mismatch");
    assert_eq!(code(&err), "PreconditionFailed");
    c.put_object()
        .bucket("condwrite")
        .key("k")
        .if_match(&etag)
        .body(ByteStream::from_static(b"4"))
        .send()
        .await
        .expect("cas");
    assert_eq!(env.get("condwrite", "k").await, b"4");
    assert_eq!(
        env.files_under("blobs").len(),
        1,
        "failed writes leave nothing behind"
    );
}
