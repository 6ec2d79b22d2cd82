//! Object tagging.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Tag, Tagging};

use crate::support::{Env, code};

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

#[tokio::test]
async fn tags_round_trip_and_limits() {
    let env = Env::with_bucket("tags").await;
    let c = &env.client;
    let etag = env.put("tags", "k", b"x").await;
    let tags = c
        .get_object_tagging()
        .bucket("tags")
        .key("k")
        .send()
        .await
        .expect("get");
    assert!(tags.tag_set().is_empty());

    c.put_object_tagging()
        .bucket("tags")
        .key("k")
        .tagging(tagging(&[("team", "storage"), ("tier", "hot")]))
        .send()
        .await
        .expect("put tags");
    let tags = c
        .get_object_tagging()
        .bucket("tags")
        .key("k")
        .send()
        .await
        .expect("get");
    let got: Vec<(&str, &str)> = tags
        .tag_set()
        .iter()
        .map(|t| (t.key(), t.value()))
        .collect();
    assert_eq!(got, [("team", "storage"), ("tier", "hot")]);
    let head = c
        .head_object()
        .bucket("tags")
        .key("k")
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.e_tag(),
        Some(etag.as_str()),
        "tagging does not change the object"
    );

    c.delete_object_tagging()
        .bucket("tags")
        .key("k")
        .send()
        .await
        .expect("delete tags");
    let tags = c
        .get_object_tagging()
        .bucket("tags")
        .key("k")
        .send()
        .await
        .expect("get");
    assert!(tags.tag_set().is_empty());

    let eleven: Vec<(String, String)> =
        (0..11).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let eleven: Vec<(&str, &str)> = eleven
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    for (what, set) in [
        ("too many", eleven),
        ("key too long", vec![(long_key.as_str(), "v")]),
        ("value too long", vec![("k", long_value.as_str())]),
        ("duplicate", vec![("k", "1"), ("k", "2")]),
    ] {
        let err = c
            .put_object_tagging()
            .bucket("tags")
            .key("k")
            .tagging(tagging(&set))
            .send()
            .await
            .expect_err(what);
        assert_eq!(code(&err), "InvalidTag", "{what}");
    }
    let max_key = "ü".repeat(128);
    c.put_object_tagging()
        .bucket("tags")
        .key("k")
        .tagging(tagging(&[(max_key.as_str(), &"v".repeat(256))]))
        .send()
        .await
        .expect("limits are in characters");

    let err = c
        .put_object()
        .bucket("tags")
        .key("bad")
        .tagging("a=1&a=2")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("dup header");
    assert_eq!(code(&err), "InvalidTag");
    let err = c
        .get_object_tagging()
        .bucket("tags")
        .key("nope")
        .send()
        .await
        .expect_err("missing");
    assert_eq!(code(&err), "NoSuchKey");
}
