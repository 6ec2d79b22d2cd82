//! Object tagging: the Tagging header on PUT, Put/Get/DeleteObjectTagging; a backend without
//! tagging (s3s-fs) answers 501, passed through.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Tag, Tagging};

use crate::support::{Env, bounded, status_and_code};

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    Tagging::builder()
        .set_tag_set(Some(
            pairs
                .iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("tag"))
                .collect(),
        ))
        .build()
        .expect("tagging")
}

fn sorted(tags: &[Tag]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = tags
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    out.sort();
    out
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub async fn run(env: &Env) {
    let kind = env.kind;
    let c = &env.client;
    let b = env.bucket("it-tagging").await;
    env.put(&b, "t", b"tagged").await;

    if !kind.tagging() {
        let err = c
            .put_object_tagging()
            .bucket(&b)
            .key("t")
            .tagging(tagging(&[("k", "v")]))
            .send()
            .await
            .expect_err("no tagging");
        assert_eq!(
            status_and_code(&err),
            (501, "NotImplemented".to_owned()),
            "[{kind:?}]"
        );
        let err = c
            .get_object_tagging()
            .bucket(&b)
            .key("t")
            .send()
            .await
            .expect_err("no tagging");
        assert_eq!(
            status_and_code(&err),
            (501, "NotImplemented".to_owned()),
            "[{kind:?}]"
        );
        let err = c
            .delete_object_tagging()
            .bucket(&b)
            .key("t")
            .send()
            .await
            .expect_err("no tagging");
        assert_eq!(
            status_and_code(&err),
            (501, "NotImplemented".to_owned()),
            "[{kind:?}]"
        );
        return;
    }

    c.put_object()
        .bucket(&b)
        .key("with-header")
        .tagging("tier=cold&owner=kafka")
        .body(ByteStream::from_static(b"segment"))
        .send()
        .await
        .expect("put with a Tagging header");
    let got = c
        .get_object_tagging()
        .bucket(&b)
        .key("with-header")
        .send()
        .await
        .expect("get tags");
    assert_eq!(
        sorted(got.tag_set()),
        pairs(&[("owner", "kafka"), ("tier", "cold")]),
        "[{kind:?}] tags from the PUT header"
    );

    c.put_object_tagging()
        .bucket(&b)
        .key("t")
        .tagging(tagging(&[("tier", "archive"), ("x y", "ü/1")]))
        .send()
        .await
        .expect("put tags");
    let got = c
        .get_object_tagging()
        .bucket(&b)
        .key("t")
        .send()
        .await
        .expect("get tags");
    assert_eq!(
        sorted(got.tag_set()),
        pairs(&[("tier", "archive"), ("x y", "ü/1")]),
        "[{kind:?}] tags put"
    );
    c.delete_object_tagging()
        .bucket(&b)
        .key("t")
        .send()
        .await
        .expect("delete tags");
    let got = c
        .get_object_tagging()
        .bucket(&b)
        .key("t")
        .send()
        .await
        .expect("get tags");
    assert!(
        got.tag_set().is_empty(),
        "[{kind:?}] tags left: {:?}",
        got.tag_set()
    );
    assert_eq!(
        env.get(&b, "t").await,
        b"tagged",
        "[{kind:?}] object untouched"
    );

    let err = c
        .get_object_tagging()
        .bucket(&b)
        .key("missing")
        .send()
        .await
        .expect_err("missing key");
    assert_eq!(
        status_and_code(&err),
        (404, "NoSuchKey".to_owned()),
        "[{kind:?}]"
    );
}

#[tokio::test]
async fn embedded() {
    bounded(30, "tagging::embedded", async {
        run(&Env::embedded().await).await
    })
    .await;
}

#[tokio::test]
async fn s3s_fs() {
    bounded(30, "tagging::s3s_fs", async {
        run(&Env::s3s_fs().await).await
    })
    .await;
}
