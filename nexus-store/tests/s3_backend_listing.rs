//! Keys, listings and deletes through `S3Backend` into s3s-fs.

mod s3_backend_support;

use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use s3_backend_support::s3s_fs_env::Env;

/// s3s-fs stores keys as file paths, so keys with a leading `/` or `//` are exercised against
/// moto (`s3_backend_moto.rs`).
const ODD_KEYS: [&str; 6] = [
    "plain/segment.log",
    "with space/and+plus.log",
    "hash#and$dollar/x",
    "ünïcødé/キー/ключ.bin",
    "percent%20literal",
    "q?uery&amp=1",
];

#[tokio::test]
async fn keys_with_special_characters_are_kept_exactly() {
    let env = Env::start().await;
    let bucket = env.bucket("keys").await;
    for key in ODD_KEYS {
        let body = format!("body of {key}");
        env.put(&bucket, key, body.as_bytes()).await;
        assert_eq!(env.get(&bucket, key).await, body.as_bytes(), "{key}");
        let head = env
            .direct
            .head_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await;
        assert!(
            head.is_ok(),
            "{key}: not stored under its own name in the backend"
        );
    }
    let listed = env
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .expect("list");
    let mut keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    keys.sort_unstable();
    let mut want = ODD_KEYS.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want);
}

#[tokio::test]
async fn listings_v1_and_v2_with_prefix_delimiter_and_pages() {
    let env = Env::start().await;
    let bucket = env.bucket("listings").await;
    for key in ["t/0/a", "t/0/b", "t/1/a", "t/2/a", "u/x"] {
        env.put(&bucket, key, key.as_bytes()).await;
    }
    let v2 = env
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("t/")
        .delimiter("/")
        .send()
        .await;
    let v2 = v2.expect("v2");
    let prefixes: Vec<&str> = v2
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["t/0/", "t/1/", "t/2/"]);

    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = env
            .client
            .list_objects_v2()
            .bucket(&bucket)
            .max_keys(2)
            .set_continuation_token(token)
            .send();
        let page = page.await.expect("page");
        seen.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["t/0/a", "t/0/b", "t/1/a", "t/2/a", "u/x"]);
    let after = env
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .start_after("t/1/a")
        .send()
        .await
        .expect("after");
    assert_eq!(after.key_count(), Some(2));

    let v1 = env
        .client
        .list_objects()
        .bucket(&bucket)
        .prefix("t/0/")
        .send()
        .await
        .expect("v1");
    let keys: Vec<&str> = v1.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["t/0/a", "t/0/b"]);
    assert_eq!(v1.contents()[0].size(), Some(5));
}

#[tokio::test]
async fn deletes_single_and_batch() {
    let env = Env::start().await;
    let bucket = env.bucket("deletes").await;
    for key in ["d/1", "d/2", "d/3"] {
        env.put(&bucket, key, b"x").await;
    }
    env.client
        .delete_object()
        .bucket(&bucket)
        .key("d/1")
        .send()
        .await
        .expect("delete");
    let ids = ["d/2", "d/3", "d/never-existed"]
        .into_iter()
        .map(|k| ObjectIdentifier::builder().key(k).build().expect("id"))
        .collect();
    let delete = Delete::builder()
        .set_objects(Some(ids))
        .build()
        .expect("delete");
    let out = env
        .client
        .delete_objects()
        .bucket(&bucket)
        .delete(delete)
        .send()
        .await
        .expect("delete objects");
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    let left = env
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .expect("list");
    assert_eq!(left.key_count(), Some(0));
}
