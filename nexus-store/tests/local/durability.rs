//! Reopening the store, crash leftovers, concurrent writers.

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::support::{Env, data};

#[tokio::test]
async fn data_survives_reopen_and_leftovers_are_cleaned() {
    let env = Env::with_bucket("dur").await;
    env.put("dur", "a//b", b"first").await;
    env.put("dur", "big", &data(3 * 1024 * 1024, 9)).await;
    let c = &env.client;
    let id = c
        .create_multipart_upload()
        .bucket("dur")
        .key("mp")
        .send()
        .await
        .expect("create")
        .upload_id
        .expect("id");
    let part = data(1000, 4);
    let etag = c
        .upload_part()
        .bucket("dur")
        .key("mp")
        .upload_id(&id)
        .part_number(1)
        .body(part.clone().into())
        .send()
        .await
        .expect("part")
        .e_tag
        .expect("etag");

    // What a crash between writing a file and committing its record leaves behind.
    let root = env.path().to_path_buf();
    std::fs::write(
        root.join("blobs").join("0123456789abcdef0123456789abcdef"),
        b"orphan",
    )
    .expect("plant");
    std::fs::create_dir_all(root.join("uploads").join("feedface")).expect("plant dir");
    std::fs::write(root.join("uploads").join("feedface").join("x"), b"orphan").expect("plant");
    std::fs::write(root.join("uploads").join(&id).join("stray"), b"orphan").expect("plant");
    let blobs_before = env.files_under("blobs").len();

    let env = env.reopen();
    assert_eq!(env.files_under("blobs").len(), blobs_before - 1);
    assert!(!root.join("uploads").join("feedface").exists());
    assert!(!root.join("uploads").join(&id).join("stray").exists());
    assert_eq!(env.files_under("uploads").len(), 1, "the real part stays");

    assert_eq!(env.get("dur", "a//b").await, b"first");
    assert_eq!(env.get("dur", "big").await, data(3 * 1024 * 1024, 9));
    let c = &env.client;
    let uploads = c
        .list_multipart_uploads()
        .bucket("dur")
        .send()
        .await
        .expect("list");
    assert_eq!(uploads.uploads().len(), 1);
    c.complete_multipart_upload()
        .bucket("dur")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
                .build(),
        )
        .send()
        .await
        .expect("complete after reopen");
    assert_eq!(env.get("dur", "mp").await, part);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_last_commit_wins() {
    let env = Env::with_bucket("race").await;
    let bodies: Vec<Vec<u8>> = (0..8).map(|i| data(512 * 1024 + i, i as u64)).collect();
    let mut tasks = Vec::new();
    for body in bodies.clone() {
        let client = env.client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .put_object()
                .bucket("race")
                .key("same")
                .body(body.into())
                .send()
                .await
                .expect("put");
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let got = env.get("race", "same").await;
    assert!(bodies.contains(&got), "one whole body, never a torn one");
    assert_eq!(
        env.files_under("blobs").len(),
        1,
        "replaced blobs are unlinked"
    );
}
