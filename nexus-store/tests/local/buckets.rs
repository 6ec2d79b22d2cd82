//! Buckets.

use crate::support::{Env, code, status};

#[tokio::test]
async fn bucket_lifecycle() {
    let env = Env::new();
    let c = &env.client;
    c.create_bucket()
        .bucket("alpha")
        .send()
        .await
        .expect("create");
    c.create_bucket()
        .bucket("beta")
        .send()
        .await
        .expect("create");
    let err = c
        .create_bucket()
        .bucket("alpha")
        .send()
        .await
        .expect_err("exists");
    assert_eq!(code(&err), "BucketAlreadyOwnedByYou");
    assert_eq!(status(&err), 409);

    c.head_bucket().bucket("alpha").send().await.expect("head");
    let err = c
        .head_bucket()
        .bucket("nope")
        .send()
        .await
        .expect_err("missing");
    assert_eq!(status(&err), 404);

    let names: Vec<String> = c
        .list_buckets()
        .send()
        .await
        .expect("list")
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert_eq!(names, ["alpha", "beta"]);

    let loc = c
        .get_bucket_location()
        .bucket("alpha")
        .send()
        .await
        .expect("location");
    assert!(matches!(
        loc.location_constraint().map(|l| l.as_str()),
        None | Some("")
    ));

    env.put("alpha", "k", b"x").await;
    let err = c
        .delete_bucket()
        .bucket("alpha")
        .send()
        .await
        .expect_err("not empty");
    assert_eq!(code(&err), "BucketNotEmpty");
    c.delete_object()
        .bucket("alpha")
        .key("k")
        .send()
        .await
        .expect("delete");
    c.delete_bucket()
        .bucket("alpha")
        .send()
        .await
        .expect("delete bucket");
    let err = c
        .delete_bucket()
        .bucket("alpha")
        .send()
        .await
        .expect_err("gone");
    assert_eq!(code(&err), "NoSuchBucket");
}
