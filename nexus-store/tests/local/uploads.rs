//! UploadPartCopy, ListMultipartUploads and AbortMultipartUpload.

use md5::Digest as _;

use crate::support::{Env, code, completed, data, status, upload_part};

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn upload_part_copy_with_ranges() {
    let env = Env::with_bucket("upc").await;
    let c = &env.client;
    let source = data(6 * MIB + 123, 5);
    env.put("upc", "src key#1", &source).await;
    let id = c
        .create_multipart_upload()
        .bucket("upc")
        .key("dst")
        .send()
        .await
        .expect("create")
        .upload_id
        .expect("id");
    let split = 5 * MIB;
    let first = c
        .upload_part_copy()
        .bucket("upc")
        .key("dst")
        .upload_id(&id)
        .part_number(1)
        .copy_source("upc/src%20key%231")
        .copy_source_range(format!("bytes=0-{}", split - 1))
        .send()
        .await
        .expect("copy part 1");
    let e1 = first
        .copy_part_result()
        .and_then(|r| r.e_tag())
        .expect("etag")
        .to_owned();
    assert_eq!(
        e1,
        format!("\"{}\"", hex::encode(md5::Md5::digest(&source[..split])))
    );
    let second = c
        .upload_part_copy()
        .bucket("upc")
        .key("dst")
        .upload_id(&id)
        .part_number(2)
        .copy_source("upc/src%20key%231")
        .copy_source_range(format!("bytes={split}-{}", source.len() - 1))
        .send()
        .await
        .expect("copy part 2");
    let e2 = second
        .copy_part_result()
        .and_then(|r| r.e_tag())
        .expect("etag")
        .to_owned();

    let err = c
        .upload_part_copy()
        .bucket("upc")
        .key("dst")
        .upload_id(&id)
        .part_number(3)
        .copy_source("upc/src%20key%231")
        .copy_source_range(format!("bytes=0-{}", source.len()))
        .send()
        .await
        .expect_err("beyond the end");
    assert_eq!(code(&err), "InvalidArgument");
    let err = c
        .upload_part_copy()
        .bucket("upc")
        .key("dst")
        .upload_id(&id)
        .part_number(3)
        .copy_source("upc/src%20key%231")
        .copy_source_range("bytes=5")
        .send()
        .await
        .expect_err("malformed");
    assert_eq!(code(&err), "InvalidArgument");
    let err = c
        .upload_part_copy()
        .bucket("upc")
        .key("dst")
        .upload_id(&id)
        .part_number(3)
        .copy_source("upc/src%20key%231")
        .copy_source_if_match("\"0000\"")
        .send()
        .await
        .expect_err("condition");
    assert_eq!(status(&err), 412);

    c.complete_multipart_upload()
        .bucket("upc")
        .key("dst")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
        .send()
        .await
        .expect("complete");
    assert_eq!(env.get("upc", "dst").await, source);
}

#[tokio::test]
async fn list_uploads_and_abort() {
    let env = Env::with_bucket("lmu").await;
    let c = &env.client;
    let mut ids = Vec::new();
    for key in ["x/1", "x/2", "y", "y", "z"] {
        let id = c
            .create_multipart_upload()
            .bucket("lmu")
            .key(key)
            .send()
            .await
            .expect("create")
            .upload_id
            .expect("id");
        ids.push((key.to_owned(), id));
    }
    upload_part(&env, "lmu", "y", &ids[2].1, 1, b"part").await;

    let out = c
        .list_multipart_uploads()
        .bucket("lmu")
        .send()
        .await
        .expect("list");
    let listed: Vec<(String, String)> = out
        .uploads()
        .iter()
        .map(|u| {
            (
                u.key().unwrap_or_default().to_owned(),
                u.upload_id().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(listed, ids, "by key, then by initiation");
    assert!(out.uploads().iter().all(|u| u.initiated().is_some()));

    let out = c
        .list_multipart_uploads()
        .bucket("lmu")
        .delimiter("/")
        .send()
        .await
        .expect("list");
    let prefixes: Vec<&str> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    let keys: Vec<&str> = out.uploads().iter().filter_map(|u| u.key()).collect();
    assert_eq!(prefixes, ["x/"]);
    assert_eq!(keys, ["y", "y", "z"]);

    let out = c
        .list_multipart_uploads()
        .bucket("lmu")
        .prefix("x/")
        .send()
        .await
        .expect("list");
    assert_eq!(out.uploads().len(), 2);

    // Two at a time, with key and upload-id markers.
    let mut paged = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let out = c
            .list_multipart_uploads()
            .bucket("lmu")
            .max_uploads(2)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .expect("list");
        paged.extend(out.uploads().iter().map(|u| {
            (
                u.key().unwrap_or_default().to_owned(),
                u.upload_id().unwrap_or_default().to_owned(),
            )
        }));
        if out.is_truncated() != Some(true) {
            break;
        }
        key_marker = out.next_key_marker().map(str::to_owned);
        id_marker = out.next_upload_id_marker().map(str::to_owned);
    }
    assert_eq!(paged, ids);

    let err = c
        .delete_bucket()
        .bucket("lmu")
        .send()
        .await
        .expect_err("uploads in progress");
    assert_eq!(code(&err), "BucketNotEmpty");

    for (key, id) in &ids {
        c.abort_multipart_upload()
            .bucket("lmu")
            .key(key)
            .upload_id(id)
            .send()
            .await
            .expect("abort");
    }
    let err = c
        .abort_multipart_upload()
        .bucket("lmu")
        .key("y")
        .upload_id(&ids[2].1)
        .send()
        .await
        .expect_err("again");
    assert_eq!(code(&err), "NoSuchUpload");
    assert_eq!(status(&err), 404);
    let err = c
        .list_parts()
        .bucket("lmu")
        .key("y")
        .upload_id(&ids[2].1)
        .send()
        .await
        .expect_err("gone");
    assert_eq!(code(&err), "NoSuchUpload");
    assert!(env.files_under("uploads").is_empty());
    let out = c
        .list_multipart_uploads()
        .bucket("lmu")
        .send()
        .await
        .expect("list");
    assert!(out.uploads().is_empty());
    c.delete_bucket()
        .bucket("lmu")
        .send()
        .await
        .expect("empty now");
}
