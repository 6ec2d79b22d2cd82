//! Objects: sizes (verified by SHA-256, ETag = MD5), keys that are not file paths, user
//! metadata, delete, batch delete, copy.

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, MetadataDirective, ObjectIdentifier};

use crate::support::{
    Env, MIB, bounded, copy_source, pattern_seeded, quoted_md5, sha256_hex, status_and_code,
};

/// Keys every store keeps exactly.
const KEYS: &[&str] = &[
    "plain/segment.log",
    "with space/and+plus.log",
    "hash#and$dollar/x",
    "ünïcødé/キー/ключ.bin",
    "percent%20literal",
    "q?uery&amp=1;semi,comma@at",
];
/// Pravega's keys: a leading `/`, and `//` (s3s-fs cannot store these: they are file paths).
const PATH_LIKE_KEYS: &[&str] = &[
    "/scope/stream//segment#1$2",
    "odd//double",
    "/leading only",
    "//",
];

pub async fn run(env: &Env) {
    sizes(env).await;
    keys(env).await;
    metadata(env).await;
    deletes(env).await;
    copies(env).await;
}

/// PUT, HEAD and GET of `data`: ETag = MD5, same length, same SHA-256.
pub async fn round_trip(env: &Env, bucket: &str, key: &str, data: &[u8]) {
    let kind = env.kind;
    let etag = env.put(bucket, key, data).await;
    assert_eq!(
        etag,
        quoted_md5(data),
        "[{kind:?}] ETag of {} bytes",
        data.len()
    );
    let head = env
        .client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("[{kind:?}] head {key}: {e:?}"));
    assert_eq!(head.content_length(), Some(data.len() as i64), "[{kind:?}]");
    assert_eq!(head.e_tag(), Some(etag.as_str()), "[{kind:?}]");
    let got = env
        .client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("[{kind:?}] get {key}: {e:?}"));
    assert_eq!(got.content_length(), Some(data.len() as i64), "[{kind:?}]");
    assert_eq!(got.e_tag(), Some(etag.as_str()), "[{kind:?}]");
    let body = got.body.collect().await.expect("body").into_bytes();
    assert_eq!(body.len(), data.len(), "[{kind:?}] length of {key}");
    assert_eq!(
        sha256_hex(&body),
        sha256_hex(data),
        "[{kind:?}] bytes of {key}"
    );
}

async fn sizes(env: &Env) {
    let b = env.bucket("it-sizes").await;
    for (i, len) in [0, 1, 5 * MIB + 1].into_iter().enumerate() {
        let data = pattern_seeded(len, i as u32);
        round_trip(env, &b, &format!("size-{len}"), &data).await;
    }
}

async fn keys(env: &Env) {
    let kind = env.kind;
    let b = env.bucket("it-keys").await;
    let mut keys: Vec<&str> = KEYS.to_vec();
    if kind.path_like_keys() {
        keys.extend_from_slice(PATH_LIKE_KEYS);
    }
    for key in &keys {
        let body = format!("body of {key}");
        env.put(&b, key, body.as_bytes()).await;
        assert_eq!(
            env.get(&b, key).await,
            body.as_bytes(),
            "[{kind:?}] {key:?}"
        );
        assert_eq!(
            env.head_status(&b, key).await,
            200,
            "[{kind:?}] head {key:?}"
        );
    }
    let mut listed = env.keys(&b).await;
    listed.sort();
    let mut want: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    want.sort();
    assert_eq!(listed, want, "[{kind:?}] keys listed exactly");

    // Copy sources name odd keys too (percent-encoded in x-amz-copy-source).
    for (i, key) in keys.iter().enumerate() {
        let dst = format!("copies/{i}");
        env.client
            .copy_object()
            .bucket(&b)
            .key(&dst)
            .copy_source(copy_source(&b, key))
            .send()
            .await
            .unwrap_or_else(|e| panic!("[{kind:?}] copy from {key:?}: {e:?}"));
        assert_eq!(
            env.get(&b, &dst).await,
            format!("body of {key}").as_bytes(),
            "[{kind:?}] copy of {key:?}"
        );
    }
    for key in &keys {
        env.client
            .delete_object()
            .bucket(&b)
            .key(*key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("[{kind:?}] delete {key:?}: {e:?}"));
        assert_eq!(
            env.head_status(&b, key).await,
            404,
            "[{kind:?}] deleted {key:?}"
        );
    }
}

async fn metadata(env: &Env) {
    let kind = env.kind;
    let b = env.bucket("it-metadata").await;
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
        .bucket(&b)
        .key("m")
        .content_type("application/x-kafka-segment")
        .set_metadata(Some(meta.clone()))
        .body(ByteStream::from_static(b"metadata"))
        .send()
        .await
        .expect("put with metadata");
    let head = env
        .client
        .head_object()
        .bucket(&b)
        .key("m")
        .send()
        .await
        .expect("head");
    assert_eq!(head.metadata(), Some(&meta), "[{kind:?}] user metadata");
    assert_eq!(
        head.content_type(),
        Some("application/x-kafka-segment"),
        "[{kind:?}] content type"
    );
    let got = env
        .client
        .get_object()
        .bucket(&b)
        .key("m")
        .send()
        .await
        .expect("get");
    assert_eq!(
        got.metadata(),
        Some(&meta),
        "[{kind:?}] user metadata on GET"
    );
}

async fn deletes(env: &Env) {
    let kind = env.kind;
    let c = &env.client;
    let b = env.bucket("it-deletes").await;
    for key in ["d1", "d2", "d/3", "keep"] {
        env.put(&b, key, key.as_bytes()).await;
    }
    c.delete_object()
        .bucket(&b)
        .key("keep")
        .send()
        .await
        .expect("delete");
    let err = c
        .get_object()
        .bucket(&b)
        .key("keep")
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(
        status_and_code(&err),
        (404, "NoSuchKey".to_owned()),
        "[{kind:?}] get a deleted object"
    );
    c.delete_object()
        .bucket(&b)
        .key("keep")
        .send()
        .await
        .expect("deleting twice is fine");
    env.put(&b, "keep", b"keep").await;

    let ids = ["d1", "d2", "d/3", "never-existed"]
        .into_iter()
        .map(|k| ObjectIdentifier::builder().key(k).build().expect("id"))
        .collect();
    let out = c
        .delete_objects()
        .bucket(&b)
        .delete(
            Delete::builder()
                .set_objects(Some(ids))
                .build()
                .expect("delete"),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("[{kind:?}] DeleteObjects: {e:?}"));
    assert!(out.errors().is_empty(), "[{kind:?}] {:?}", out.errors());
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort_unstable();
    assert!(
        ["d/3", "d1", "d2"].iter().all(|k| deleted.contains(k)),
        "[{kind:?}] deleted {deleted:?}"
    );
    assert_eq!(
        env.keys(&b).await,
        ["keep"],
        "[{kind:?}] after DeleteObjects"
    );
}

async fn copies(env: &Env) {
    let kind = env.kind;
    let c = &env.client;
    let b = env.bucket("it-copies").await;
    let other = env.bucket("it-copies-other").await;
    let data = pattern_seeded(100_000, 7);
    let meta: HashMap<String, String> = [("origin".to_owned(), "source".to_owned())].into();
    let etag = c
        .put_object()
        .bucket(&b)
        .key("src")
        .set_metadata(Some(meta.clone()))
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .expect("put source")
        .e_tag()
        .expect("etag")
        .to_owned();

    let copied = c
        .copy_object()
        .bucket(&other)
        .key("dst")
        .copy_source(copy_source(&b, "src"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("[{kind:?}] copy: {e:?}"));
    let copied_etag = copied
        .copy_object_result()
        .and_then(|r| r.e_tag())
        .expect("copy ETag");
    assert_eq!(
        copied_etag, etag,
        "[{kind:?}] a copy has the source's MD5 ETag"
    );
    assert_eq!(
        env.get(&other, "dst").await,
        data,
        "[{kind:?}] copied bytes"
    );
    let head = c
        .head_object()
        .bucket(&other)
        .key("dst")
        .send()
        .await
        .expect("head copy");
    assert_eq!(head.metadata(), Some(&meta), "[{kind:?}] metadata copied");

    let replaced: HashMap<String, String> = [("origin".to_owned(), "replaced".to_owned())].into();
    c.copy_object()
        .bucket(&b)
        .key("dst2")
        .copy_source(copy_source(&b, "src"))
        .metadata_directive(MetadataDirective::Replace)
        .set_metadata(Some(replaced.clone()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("[{kind:?}] copy with new metadata: {e:?}"));
    let head = c
        .head_object()
        .bucket(&b)
        .key("dst2")
        .send()
        .await
        .expect("head copy");
    assert_eq!(
        head.metadata(),
        Some(&replaced),
        "[{kind:?}] metadata replaced"
    );
    assert_eq!(head.content_length(), Some(100_000));

    let err = c
        .copy_object()
        .bucket(&b)
        .key("dst3")
        .copy_source(copy_source(&b, "no-such-source"))
        .send()
        .await
        .expect_err("missing source");
    assert_eq!(
        status_and_code(&err),
        (404, "NoSuchKey".to_owned()),
        "[{kind:?}] copy of a missing source"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded() {
    bounded(60, "objects::embedded", async {
        run(&Env::embedded().await).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_fs() {
    bounded(60, "objects::s3s_fs", async {
        run(&Env::s3s_fs().await).await
    })
    .await;
}

/// The large single PUT, once (embedded store): 64 MiB through the SDK, signed payload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mib_single_put() {
    bounded(90, "64 MiB", async {
        let env = Env::embedded().await;
        let b = env.bucket("it-large").await;
        round_trip(&env, &b, "large/segment.log", &pattern_seeded(64 * MIB, 64)).await;
    })
    .await;
}
