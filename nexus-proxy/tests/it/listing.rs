//! ListObjects v1 and v2: prefix, delimiter, pagination (max-keys with markers and continuation
//! tokens), start-after.

use crate::support::{Env, bounded};

const KEYS: &[&str] = &["t/0/a", "t/0/b", "t/1/a", "t/2/a", "t/top", "u/x", "v"];

pub async fn run(env: &Env) {
    let kind = env.kind;
    let c = &env.client;
    let b = env.bucket("it-listing").await;
    for key in KEYS {
        env.put(&b, key, key.as_bytes()).await;
    }

    // v2, prefix and delimiter.
    let out = c
        .list_objects_v2()
        .bucket(&b)
        .prefix("t/")
        .delimiter("/")
        .send()
        .await
        .expect("v2 with delimiter");
    let prefixes: Vec<&str> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(
        prefixes,
        ["t/0/", "t/1/", "t/2/"],
        "[{kind:?}] v2 common prefixes"
    );
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["t/top"], "[{kind:?}] v2 keys beside the prefixes");
    let sizes: Vec<i64> = out.contents().iter().filter_map(|o| o.size()).collect();
    assert_eq!(sizes, [5], "[{kind:?}] listed size");

    // v2 at the root with a delimiter.
    let out = c
        .list_objects_v2()
        .bucket(&b)
        .delimiter("/")
        .send()
        .await
        .expect("v2 root");
    let prefixes: Vec<&str> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["t/", "u/"], "[{kind:?}] v2 root prefixes");
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["v"], "[{kind:?}] v2 root keys");

    // v2 pages of two.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for page in 0.. {
        assert!(page < 10, "[{kind:?}] v2 pagination does not end");
        let out = c
            .list_objects_v2()
            .bucket(&b)
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .expect("v2 page");
        assert!(
            out.contents().len() <= 2,
            "[{kind:?}] page larger than max-keys"
        );
        seen.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        if out.is_truncated() == Some(true) {
            token = Some(
                out.next_continuation_token()
                    .expect("truncated page has a continuation token")
                    .to_owned(),
            );
        } else {
            break;
        }
    }
    assert_eq!(seen, KEYS, "[{kind:?}] v2 pages in order");

    // v2 start-after.
    let out = c
        .list_objects_v2()
        .bucket(&b)
        .start_after("t/2/a")
        .send()
        .await
        .expect("v2 start-after");
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["t/top", "u/x", "v"], "[{kind:?}] v2 start-after");

    // v1, prefix and delimiter.
    let out = c
        .list_objects()
        .bucket(&b)
        .prefix("t/")
        .delimiter("/")
        .send()
        .await
        .expect("v1 with delimiter");
    let prefixes: Vec<&str> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(
        prefixes,
        ["t/0/", "t/1/", "t/2/"],
        "[{kind:?}] v1 common prefixes"
    );
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["t/top"], "[{kind:?}] v1 keys");

    // v1 pages of three, with markers (the last key when no NextMarker is given).
    let mut seen: Vec<String> = Vec::new();
    let mut marker: Option<String> = None;
    for page in 0.. {
        assert!(page < 10, "[{kind:?}] v1 pagination does not end");
        let out = c
            .list_objects()
            .bucket(&b)
            .max_keys(3)
            .set_marker(marker.clone())
            .send()
            .await
            .expect("v1 page");
        assert!(
            out.contents().len() <= 3,
            "[{kind:?}] v1 page larger than max-keys"
        );
        let keys: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        seen.extend(keys.iter().cloned());
        if out.is_truncated() == Some(true) {
            marker = Some(
                out.next_marker()
                    .map(str::to_owned)
                    .or_else(|| keys.last().cloned())
                    .expect("a marker"),
            );
        } else {
            break;
        }
    }
    assert_eq!(seen, KEYS, "[{kind:?}] v1 pages in order");

    // A prefix that matches nothing.
    let out = c
        .list_objects_v2()
        .bucket(&b)
        .prefix("nothing/")
        .send()
        .await
        .expect("empty listing");
    assert!(out.contents().is_empty() && out.common_prefixes().is_empty());
    assert_eq!(out.key_count(), Some(0), "[{kind:?}] KeyCount");
}

#[tokio::test]
async fn embedded() {
    bounded(30, "listing::embedded", async {
        run(&Env::embedded().await).await
    })
    .await;
}

#[tokio::test]
async fn s3s_fs() {
    bounded(30, "listing::s3s_fs", async {
        run(&Env::s3s_fs().await).await
    })
    .await;
}
