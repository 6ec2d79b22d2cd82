//! PutObject, GetObject, HeadObject, DeleteObject(s): bodies, keys, ranges, properties.

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{ChecksumMode, Delete, ObjectIdentifier, StorageClass};
use md5::Digest as _;

use crate::support::{Env, code, data, etag_of, status};

#[tokio::test]
async fn put_get_sizes() {
    let env = Env::with_bucket("sizes").await;
    for (i, len) in [0_usize, 1, 5 * 1024 * 1024 + 1].into_iter().enumerate() {
        let body = data(len, i as u64);
        let key = format!("obj-{len}");
        let etag = env.put("sizes", &key, &body).await;
        assert_eq!(etag, etag_of(&body));
        assert_eq!(env.get("sizes", &key).await, body);
        let head = env
            .client
            .head_object()
            .bucket("sizes")
            .key(&key)
            .send()
            .await
            .expect("head");
        assert_eq!(head.content_length(), Some(len as i64));
        assert_eq!(head.e_tag(), Some(etag.as_str()));
        assert_eq!(
            head.content_type(),
            Some("application/octet-stream"),
            "the SDK sends one"
        );
        assert_eq!(head.accept_ranges(), Some("bytes"));
    }
}

#[tokio::test]
async fn large_object_round_trip() {
    let env = Env::with_bucket("large").await;
    let body = data(64 * 1024 * 1024, 64);
    let expected = hex::encode(md5::Md5::digest(&body));
    env.put("large", "big", &body).await;
    let got = env.get("large", "big").await;
    assert_eq!(got.len(), body.len());
    assert_eq!(hex::encode(md5::Md5::digest(&got)), expected);
}

#[tokio::test]
async fn keys_are_kept_exactly() {
    let env = Env::with_bucket("keys").await;
    let keys = [
        "/pravega/scope/stream/0.#epoch.0.E-1-O-0.1b2c",
        "a//b",
        "//double/leading",
        "hash#and$dollar",
        "with space and %20 percent",
        "ünïcødé/日本語/😀",
        "a",
        "a/b",
        "a/b/",
        "question?mark&amp=x+y",
    ];
    for (i, key) in keys.iter().enumerate() {
        env.put("keys", key, format!("body-{i}").as_bytes()).await;
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            env.get("keys", key).await,
            format!("body-{i}").as_bytes(),
            "{key}"
        );
    }
    let listed = env
        .client
        .list_objects_v2()
        .bucket("keys")
        .send()
        .await
        .expect("list");
    let mut names: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    let mut expected = keys.to_vec();
    expected.sort_unstable();
    names.sort_unstable();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn properties_round_trip() {
    let env = Env::with_bucket("props").await;
    let c = &env.client;
    c.put_object()
        .bucket("props")
        .key("k")
        .body(ByteStream::from_static(b"hello"))
        .content_type("text/plain")
        .content_encoding("gzip")
        .cache_control("max-age=60")
        .content_disposition("attachment; filename=\"x.txt\"")
        .content_language("en")
        .expires(DateTime::from_secs(2_000_000_000))
        .metadata("ManagedLedgerName", "tenant/ns/persistent/topic")
        .metadata("role", "data")
        .storage_class(StorageClass::StandardIa)
        .tagging("a=1&b=two%20words")
        .send()
        .await
        .expect("put");
    let head = c
        .head_object()
        .bucket("props")
        .key("k")
        .send()
        .await
        .expect("head");
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(head.content_encoding(), Some("gzip"));
    assert_eq!(head.cache_control(), Some("max-age=60"));
    assert_eq!(
        head.content_disposition(),
        Some("attachment; filename=\"x.txt\"")
    );
    assert_eq!(head.content_language(), Some("en"));
    assert_eq!(head.expires_string(), Some("Wed, 18 May 2033 03:33:20 GMT"));
    let meta = head.metadata().expect("metadata");
    assert_eq!(
        meta.get("managedledgername").map(String::as_str),
        Some("tenant/ns/persistent/topic")
    );
    assert_eq!(meta.get("role").map(String::as_str), Some("data"));
    assert_eq!(head.storage_class(), Some(&StorageClass::StandardIa));
    assert!(head.last_modified().is_some());

    let get = c
        .get_object()
        .bucket("props")
        .key("k")
        .send()
        .await
        .expect("get");
    assert_eq!(get.tag_count(), Some(2));
    assert_eq!(get.content_type(), Some("text/plain"));
    assert_eq!(get.metadata().map(|m| m.len()), Some(2));

    let err = c
        .put_object()
        .bucket("props")
        .key("bad")
        .storage_class(StorageClass::from("FANCY"))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("storage class");
    assert_eq!(code(&err), "InvalidStorageClass");
}

#[tokio::test]
async fn ranges() {
    let env = Env::with_bucket("ranges").await;
    let body = data(1000, 7);
    env.put("ranges", "r", &body).await;
    for (range, from, to) in [
        ("bytes=0-0", 0, 1),
        ("bytes=10-19", 10, 20),
        ("bytes=990-5000", 990, 1000),
        ("bytes=500-", 500, 1000),
        ("bytes=-100", 900, 1000),
        ("bytes=-5000", 0, 1000),
    ] {
        let out = env
            .client
            .get_object()
            .bucket("ranges")
            .key("r")
            .range(range)
            .send()
            .await
            .expect(range);
        assert_eq!(out.content_length(), Some((to - from) as i64), "{range}");
        assert_eq!(
            out.content_range(),
            Some(format!("bytes {from}-{}/1000", to - 1).as_str()),
            "{range}"
        );
        let got = out.body.collect().await.expect("body").into_bytes();
        assert_eq!(&got[..], &body[from..to], "{range}");
    }
    for range in ["bytes=1000-", "bytes=2000-3000", "bytes=-0"] {
        let err = env
            .client
            .get_object()
            .bucket("ranges")
            .key("r")
            .range(range)
            .send()
            .await
            .expect_err(range);
        assert_eq!(code(&err), "InvalidRange", "{range}");
        assert_eq!(status(&err), 416, "{range}");
    }
    let head = env
        .client
        .head_object()
        .bucket("ranges")
        .key("r")
        .range("bytes=0-9")
        .send()
        .await
        .expect("head range");
    assert_eq!(head.content_length(), Some(10));
    assert_eq!(head.content_range(), Some("bytes 0-9/1000"));
}

#[tokio::test]
async fn checksums_returned_when_asked() {
    let env = Env::with_bucket("sums").await;
    let put = env
        .client
        .put_object()
        .bucket("sums")
        .key("k")
        .body(ByteStream::from_static(b"hello world"))
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
        .send()
        .await
        .expect("put");
    let sha = "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=";
    assert_eq!(put.checksum_sha256(), Some(sha));
    let head = env
        .client
        .head_object()
        .bucket("sums")
        .key("k")
        .send()
        .await
        .expect("head");
    assert_eq!(head.checksum_sha256(), None, "only with checksum mode");
    let head = env
        .client
        .head_object()
        .bucket("sums")
        .key("k")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("head");
    assert_eq!(head.checksum_sha256(), Some(sha));
    let get = env
        .client
        .get_object()
        .bucket("sums")
        .key("k")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("get");
    assert_eq!(get.checksum_sha256(), Some(sha));
    assert_eq!(
        get.body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .as_ref(),
        b"hello world"
    );
    // The SDK's default CRC32 is kept too.
    env.put("sums", "default", b"hello world").await;
    let head = env
        .client
        .head_object()
        .bucket("sums")
        .key("default")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("head");
    assert_eq!(head.checksum_crc32(), Some("DUoRhQ=="));
}

#[tokio::test]
async fn missing_things() {
    let env = Env::with_bucket("missing").await;
    let err = env
        .client
        .get_object()
        .bucket("missing")
        .key("nope")
        .send()
        .await
        .expect_err("no key");
    assert_eq!(code(&err), "NoSuchKey");
    assert_eq!(status(&err), 404);
    let err = env
        .client
        .get_object()
        .bucket("nobucket")
        .key("nope")
        .send()
        .await
        .expect_err("no bucket");
    assert_eq!(code(&err), "NoSuchBucket");
    let err = env
        .client
        .head_object()
        .bucket("missing")
        .key("nope")
        .send()
        .await
        .expect_err("no key");
    assert_eq!(status(&err), 404);
    let err = env
        .client
        .put_object()
        .bucket("nobucket")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("no bucket");
    assert_eq!(code(&err), "NoSuchBucket");
}

#[tokio::test]
async fn overwrite_and_delete() {
    let env = Env::with_bucket("del").await;
    env.put("del", "k", b"one").await;
    env.put("del", "k", b"two").await;
    assert_eq!(env.get("del", "k").await, b"two");
    assert_eq!(
        env.files_under("blobs").len(),
        1,
        "the replaced blob is gone"
    );
    env.client
        .delete_object()
        .bucket("del")
        .key("k")
        .send()
        .await
        .expect("delete");
    env.client
        .delete_object()
        .bucket("del")
        .key("k")
        .send()
        .await
        .expect("delete is idempotent");
    let err = env
        .client
        .get_object()
        .bucket("del")
        .key("k")
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(code(&err), "NoSuchKey");
    assert!(env.files_under("blobs").is_empty());
    let err = env
        .client
        .delete_object()
        .bucket("nobucket")
        .key("k")
        .send()
        .await
        .expect_err("no bucket");
    assert_eq!(code(&err), "NoSuchBucket");
}

#[tokio::test]
async fn delete_objects() {
    let env = Env::with_bucket("multi").await;
    for k in ["a", "b", "c"] {
        env.put("multi", k, b"x").await;
    }
    let ids = |keys: &[&str]| {
        keys.iter()
            .map(|k| ObjectIdentifier::builder().key(*k).build().expect("id"))
            .collect::<Vec<_>>()
    };
    let out = env
        .client
        .delete_objects()
        .bucket("multi")
        .delete(
            Delete::builder()
                .set_objects(Some(ids(&["a", "missing"])))
                .build()
                .expect("delete"),
        )
        .send()
        .await
        .expect("delete objects");
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["a", "missing"]);
    assert!(out.errors().is_empty());

    let long = "k".repeat(1025);
    let out = env
        .client
        .delete_objects()
        .bucket("multi")
        .delete(
            Delete::builder()
                .set_objects(Some(ids(&["b", &long])))
                .quiet(true)
                .build()
                .expect("delete"),
        )
        .send()
        .await
        .expect("delete objects");
    assert!(out.deleted().is_empty(), "quiet mode lists no successes");
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].key(), Some(long.as_str()));
    assert_eq!(out.errors()[0].code(), Some("InvalidArgument"));

    let listed = env
        .client
        .list_objects_v2()
        .bucket("multi")
        .send()
        .await
        .expect("list");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["c"]);
}

#[tokio::test]
async fn part_number_reads() {
    let env = Env::with_bucket("partnum").await;
    env.put("partnum", "single", b"0123456789").await;
    let out = env
        .client
        .get_object()
        .bucket("partnum")
        .key("single")
        .part_number(1)
        .send()
        .await
        .expect("part 1");
    assert_eq!(out.content_length(), Some(10));
    let err = env
        .client
        .get_object()
        .bucket("partnum")
        .key("single")
        .part_number(2)
        .send()
        .await
        .expect_err("part 2");
    assert_eq!(code(&err), "InvalidPartNumber");
    assert_eq!(status(&err), 416);
}
