//! Bucket operations: create, head, list, location, delete; unknown buckets; operations outside
//! the served set.

use crate::support::{Env, Kind, bounded, status_and_code};

pub async fn run(env: &Env) {
    let c = &env.client;
    let kind = env.kind;
    let b = env.bucket("it-buckets").await;
    c.head_bucket()
        .bucket(&b)
        .send()
        .await
        .expect("head bucket");
    let listed = c.list_buckets().send().await.expect("list buckets");
    assert!(
        listed
            .buckets()
            .iter()
            .any(|x| x.name() == Some(b.as_str())),
        "[{kind:?}] {b} not listed: {:?}",
        listed.buckets()
    );
    let location = c
        .get_bucket_location()
        .bucket(&b)
        .send()
        .await
        .expect("bucket location");
    // us-east-1 is S3's empty LocationConstraint.
    assert!(
        matches!(
            location.location_constraint().map(|l| l.as_str()),
            None | Some("" | "us-east-1")
        ),
        "[{kind:?}] location {:?}",
        location.location_constraint()
    );

    // Unknown buckets are 404 NoSuchBucket for every kind of request.
    let missing = "it-no-such-bucket";
    let err = c
        .head_bucket()
        .bucket(missing)
        .send()
        .await
        .expect_err("head");
    assert_eq!(
        status_and_code(&err).0,
        404,
        "[{kind:?}] head missing bucket"
    );
    let err = c
        .get_object()
        .bucket(missing)
        .key("k")
        .send()
        .await
        .expect_err("get");
    // s3s-fs looks for the object's file only, and answers NoSuchKey (passed through).
    let want = if kind == Kind::S3sFs {
        "NoSuchKey"
    } else {
        "NoSuchBucket"
    };
    assert_eq!(
        status_and_code(&err),
        (404, want.to_owned()),
        "[{kind:?}] get in a missing bucket"
    );
    let err = c
        .list_objects_v2()
        .bucket(missing)
        .send()
        .await
        .expect_err("list");
    assert_eq!(
        status_and_code(&err),
        (404, "NoSuchBucket".to_owned()),
        "[{kind:?}] list a missing bucket"
    );
    // s3s-fs creates the bucket's directory on PUT (passed through).
    if kind != Kind::S3sFs {
        let err = c
            .put_object()
            .bucket(missing)
            .key("k")
            .body(b"x".to_vec().into())
            .send()
            .await
            .expect_err("put");
        assert_eq!(
            status_and_code(&err),
            (404, "NoSuchBucket".to_owned()),
            "[{kind:?}] put into a missing bucket"
        );
    }

    env.put(&b, "k", b"x").await;
    if kind.keeps_full_buckets() {
        let err = c.delete_bucket().bucket(&b).send().await.expect_err("full");
        assert_eq!(
            status_and_code(&err),
            (409, "BucketNotEmpty".to_owned()),
            "[{kind:?}] delete a bucket with objects"
        );
        assert_eq!(env.get(&b, "k").await, b"x", "[{kind:?}] object kept");
    }
    c.delete_object()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .expect("delete object");
    c.delete_bucket()
        .bucket(&b)
        .send()
        .await
        .expect("delete bucket");
    let err = c.head_bucket().bucket(&b).send().await.expect_err("gone");
    assert_eq!(status_and_code(&err).0, 404, "[{kind:?}] deleted bucket");
    let listed = c.list_buckets().send().await.expect("list buckets");
    assert!(
        !listed
            .buckets()
            .iter()
            .any(|x| x.name() == Some(b.as_str())),
        "[{kind:?}] deleted bucket still listed"
    );
    let err = c
        .delete_bucket()
        .bucket(&b)
        .send()
        .await
        .expect_err("twice");
    assert_eq!(
        status_and_code(&err),
        (404, "NoSuchBucket".to_owned()),
        "[{kind:?}] delete a missing bucket"
    );
}

#[tokio::test]
async fn embedded() {
    bounded(30, "buckets::embedded", async {
        run(&Env::embedded().await).await
    })
    .await;
}

#[tokio::test]
async fn s3s_fs() {
    bounded(30, "buckets::s3s_fs", async {
        run(&Env::s3s_fs().await).await
    })
    .await;
}

/// Versioning, ACLs and encryption configuration are not served (by design, for now): they
/// answer 501 NotImplemented, whatever the store could do, and are counted as `Other`.
#[tokio::test]
async fn unsupported_operations_are_501_not_implemented() {
    bounded(30, "unsupported operations", async {
        let env = Env::embedded().await;
        assert_eq!(env.kind, Kind::Embedded);
        let b = env.bucket("it-unsupported").await;
        env.put(&b, "k", b"x").await;
        let c = &env.client;
        let err = c
            .list_object_versions()
            .bucket(&b)
            .send()
            .await
            .expect_err("ListObjectVersions");
        assert_eq!(status_and_code(&err), (501, "NotImplemented".to_owned()));
        let err = c
            .get_bucket_versioning()
            .bucket(&b)
            .send()
            .await
            .expect_err("GetBucketVersioning");
        assert_eq!(status_and_code(&err), (501, "NotImplemented".to_owned()));
        let err = c
            .get_object_acl()
            .bucket(&b)
            .key("k")
            .send()
            .await
            .expect_err("GetObjectAcl");
        assert_eq!(status_and_code(&err), (501, "NotImplemented".to_owned()));
        let err = c
            .get_bucket_encryption()
            .bucket(&b)
            .send()
            .await
            .expect_err("GetBucketEncryption");
        assert_eq!(status_and_code(&err), (501, "NotImplemented".to_owned()));
        let m = crate::support::metrics::scrape(env.proxy.admin).await;
        assert_eq!(
            m.value(
                "nexus_s3_requests_total",
                &[("op", "Other"), ("status", "501")]
            ),
            4.0,
            "{}",
            m.text
        );
    })
    .await;
}
