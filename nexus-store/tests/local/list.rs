//! ListObjects (v1) and ListObjectsV2: prefixes, delimiters, pagination, encoding.

use aws_sdk_s3::types::EncodingType;

use crate::support::{Env, code};

const KEYS: [&str; 9] = [
    "a", "a/b", "a/c/d", "b/1", "b/2", "c", "d/e/f", "e", "sp ace",
];

async fn env() -> Env {
    let env = Env::with_bucket("list").await;
    for k in KEYS {
        env.put("list", k, k.as_bytes()).await;
    }
    env
}

#[tokio::test]
async fn v2_pages_and_delimiters() {
    let env = env().await;
    let c = &env.client;

    // Without delimiter, three at a time.
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let out = c
            .list_objects_v2()
            .bucket("list")
            .max_keys(3)
            .set_continuation_token(token.clone())
            .send()
            .await
            .expect("list");
        assert_eq!(out.key_count(), Some(out.contents().len() as i32));
        all.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        assert!(
            out.contents()
                .iter()
                .all(|o| o.size().is_some() && o.e_tag().is_some() && o.last_modified().is_some())
        );
        if out.is_truncated() != Some(true) {
            break;
        }
        token = out.next_continuation_token().map(str::to_owned);
        assert!(token.is_some());
    }
    assert_eq!(all, KEYS);

    // With delimiter: objects and common prefixes interleave in key order, two per page.
    let mut pages = Vec::new();
    let mut token = None;
    loop {
        let out = c
            .list_objects_v2()
            .bucket("list")
            .delimiter("/")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .expect("list");
        let mut page: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        page.extend(
            out.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned)),
        );
        page.sort();
        assert_eq!(out.key_count(), Some(page.len() as i32));
        pages.push(page);
        if out.is_truncated() != Some(true) {
            break;
        }
        token = out.next_continuation_token().map(str::to_owned);
    }
    assert_eq!(
        pages,
        [
            vec!["a", "a/"],
            vec!["b/", "c"],
            vec!["d/", "e"],
            vec!["sp ace"]
        ]
    );

    // Prefix and delimiter.
    let out = c
        .list_objects_v2()
        .bucket("list")
        .prefix("a/")
        .delimiter("/")
        .send()
        .await
        .expect("list");
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["a/b"]);
    assert_eq!(prefixes, ["a/c/"]);
    assert_eq!(out.prefix(), Some("a/"));

    // StartAfter.
    let out = c
        .list_objects_v2()
        .bucket("list")
        .start_after("b/1")
        .send()
        .await
        .expect("list");
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["b/2", "c", "d/e/f", "e", "sp ace"]);
    assert_eq!(out.start_after(), Some("b/1"));

    // Owner only with fetch-owner.
    let out = c
        .list_objects_v2()
        .bucket("list")
        .max_keys(1)
        .send()
        .await
        .expect("list");
    assert!(out.contents()[0].owner().is_none());
    let out = c
        .list_objects_v2()
        .bucket("list")
        .max_keys(1)
        .fetch_owner(true)
        .send()
        .await
        .expect("list");
    assert!(out.contents()[0].owner().is_some());

    // max-keys=0, unknown bucket.
    let out = c
        .list_objects_v2()
        .bucket("list")
        .max_keys(0)
        .send()
        .await
        .expect("list");
    assert!(out.contents().is_empty());
    let err = c
        .list_objects_v2()
        .bucket("nobucket")
        .send()
        .await
        .expect_err("no bucket");
    assert_eq!(code(&err), "NoSuchBucket");
}

#[tokio::test]
async fn v2_url_encoding() {
    let env = env().await;
    let out = env
        .client
        .list_objects_v2()
        .bucket("list")
        .prefix("sp ")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .expect("list");
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["sp%20ace"]);
    assert_eq!(out.prefix(), Some("sp%20"));
}

#[tokio::test]
async fn v1_markers() {
    let env = env().await;
    let c = &env.client;

    // Without delimiter there is no NextMarker: the last key is the marker.
    let mut all = Vec::new();
    let mut marker = None::<String>;
    loop {
        let out = c
            .list_objects()
            .bucket("list")
            .max_keys(4)
            .set_marker(marker.clone())
            .send()
            .await
            .expect("list");
        assert!(out.next_marker().is_none());
        all.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        assert!(out.contents().iter().all(|o| o.owner().is_some()));
        if out.is_truncated() != Some(true) {
            break;
        }
        marker = all.last().cloned();
    }
    assert_eq!(all, KEYS);

    // With delimiter, NextMarker may be a common prefix.
    let out = c
        .list_objects()
        .bucket("list")
        .delimiter("/")
        .max_keys(2)
        .send()
        .await
        .expect("list");
    assert_eq!(out.is_truncated(), Some(true));
    assert_eq!(out.next_marker(), Some("a/"));
    let out = c
        .list_objects()
        .bucket("list")
        .delimiter("/")
        .marker("a/")
        .send()
        .await
        .expect("list");
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["c", "e", "sp ace"]);
    assert_eq!(prefixes, ["b/", "d/"]);
    assert_eq!(out.is_truncated(), Some(false));
}

#[tokio::test]
async fn buckets_whose_names_are_prefixes() {
    let env = Env::new();
    for b in ["pre", "pre-fix", "prf"] {
        env.client
            .create_bucket()
            .bucket(b)
            .send()
            .await
            .expect("bucket");
        for k in ["a", "z"] {
            env.put(b, &format!("{b}-{k}"), b"x").await;
        }
    }
    for b in ["pre", "pre-fix", "prf"] {
        let out = env
            .client
            .list_objects_v2()
            .bucket(b)
            .send()
            .await
            .expect("list");
        let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(keys, [format!("{b}-a"), format!("{b}-z")], "{b}");
    }
}
