//! Reads: Range forms `bytes=a-b`, `a-`, `-n`, unsatisfiable (416 InvalidRange); conditional
//! GET and HEAD (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since): 304 keeps
//! the ETag, 412 PreconditionFailed.

use aws_sdk_s3::primitives::DateTime;

use crate::support::{Env, bounded, pattern_seeded, status_and_code};

pub async fn run(env: &Env) {
    ranges(env).await;
    if env.kind.conditional_reads() {
        conditionals(env).await;
    }
}

async fn ranges(env: &Env) {
    let kind = env.kind;
    let b = env.bucket("it-ranges").await;
    let data = pattern_seeded(1000, 3);
    env.put(&b, "r", &data).await;
    for (range, from, to) in [
        ("bytes=10-19", 10, 19),
        ("bytes=0-0", 0, 0),
        ("bytes=990-", 990, 999),
        ("bytes=-5", 995, 999),
        ("bytes=500-5000", 500, 999),
    ] {
        let out = env
            .client
            .get_object()
            .bucket(&b)
            .key("r")
            .range(range)
            .send()
            .await
            .unwrap_or_else(|e| panic!("[{kind:?}] {range}: {e:?}"));
        assert_eq!(
            out.content_range(),
            Some(format!("bytes {from}-{to}/1000").as_str()),
            "[{kind:?}] Content-Range of {range}"
        );
        assert_eq!(
            out.content_length(),
            Some(to as i64 - from as i64 + 1),
            "[{kind:?}] {range}"
        );
        let body = out.body.collect().await.expect("body").into_bytes();
        assert_eq!(&body[..], &data[from..=to], "[{kind:?}] bytes of {range}");
    }
    let err = env
        .client
        .get_object()
        .bucket(&b)
        .key("r")
        .range("bytes=1000-")
        .send()
        .await
        .expect_err("unsatisfiable");
    assert_eq!(
        status_and_code(&err),
        (416, "InvalidRange".to_owned()),
        "[{kind:?}] unsatisfiable range"
    );
}

async fn conditionals(env: &Env) {
    let kind = env.kind;
    let c = &env.client;
    let b = env.bucket("it-conditionals").await;
    let etag = env.put(&b, "c", b"conditional").await;
    let head = c
        .head_object()
        .bucket(&b)
        .key("c")
        .send()
        .await
        .expect("head");
    let modified = *head.last_modified().expect("Last-Modified");
    let before = DateTime::from_secs(modified.secs() - 3600);
    let after = DateTime::from_secs(modified.secs() + 3600);

    // Matching If-Match and a past If-Modified-Since read the object.
    let out = c
        .get_object()
        .bucket(&b)
        .key("c")
        .if_match(&etag)
        .send()
        .await
        .unwrap_or_else(|e| panic!("[{kind:?}] If-Match: {e:?}"));
    assert_eq!(out.e_tag(), Some(etag.as_str()));
    c.get_object()
        .bucket(&b)
        .key("c")
        .if_modified_since(before)
        .send()
        .await
        .unwrap_or_else(|e| panic!("[{kind:?}] If-Modified-Since (past): {e:?}"));
    c.get_object()
        .bucket(&b)
        .key("c")
        .if_none_match("\"00000000000000000000000000000000\"")
        .send()
        .await
        .unwrap_or_else(|e| panic!("[{kind:?}] If-None-Match (other): {e:?}"));

    // 304 Not Modified, with the ETag.
    let not_modified = [
        (
            "GET If-None-Match",
            c.get_object()
                .bucket(&b)
                .key("c")
                .if_none_match(&etag)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    e.raw_response().map(|r| {
                        (
                            r.status().as_u16(),
                            r.headers().get("etag").map(str::to_owned),
                        )
                    })
                }),
        ),
        (
            "GET If-Modified-Since",
            c.get_object()
                .bucket(&b)
                .key("c")
                .if_modified_since(after)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    e.raw_response().map(|r| {
                        (
                            r.status().as_u16(),
                            r.headers().get("etag").map(str::to_owned),
                        )
                    })
                }),
        ),
        (
            "HEAD If-None-Match",
            c.head_object()
                .bucket(&b)
                .key("c")
                .if_none_match(&etag)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    e.raw_response().map(|r| {
                        (
                            r.status().as_u16(),
                            r.headers().get("etag").map(str::to_owned),
                        )
                    })
                }),
        ),
    ];
    for (what, result) in not_modified {
        assert_eq!(
            result,
            Err(Some((304, Some(etag.clone())))),
            "[{kind:?}] {what}: 304 with the ETag"
        );
    }

    // 412 Precondition Failed.
    let err = c
        .get_object()
        .bucket(&b)
        .key("c")
        .if_match("\"00000000000000000000000000000000\"")
        .send()
        .await
        .expect_err("If-Match other");
    assert_eq!(
        status_and_code(&err),
        (412, "PreconditionFailed".to_owned()),
        "[{kind:?}] GET If-Match"
    );
    let err = c
        .get_object()
        .bucket(&b)
        .key("c")
        .if_unmodified_since(before)
        .send()
        .await
        .expect_err("If-Unmodified-Since past");
    assert_eq!(
        status_and_code(&err),
        (412, "PreconditionFailed".to_owned()),
        "[{kind:?}] GET If-Unmodified-Since"
    );
    let err = c
        .head_object()
        .bucket(&b)
        .key("c")
        .if_match("\"00000000000000000000000000000000\"")
        .send()
        .await
        .expect_err("HEAD If-Match other");
    assert_eq!(status_and_code(&err).0, 412, "[{kind:?}] HEAD If-Match");
}

#[tokio::test]
async fn embedded() {
    bounded(30, "reads::embedded", async {
        run(&Env::embedded().await).await
    })
    .await;
}

#[tokio::test]
async fn s3s_fs() {
    bounded(30, "reads::s3s_fs", async {
        run(&Env::s3s_fs().await).await
    })
    .await;
}
