//! CopyObject and multipart uploads (UploadPartCopy with a range included) through
//! `S3Backend` into s3s-fs.

mod s3_backend_support;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, MetadataDirective};
use s3_backend_support::s3s_fs_env::{Env, pattern};
use s3_backend_support::status_and_code;

#[tokio::test]
async fn copy_object_keeps_or_replaces_metadata() {
    let env = Env::start().await;
    let bucket = env.bucket("copies").await;
    let body = pattern(70_000);
    let src = "src/chunk #1 ü";
    env.client
        .put_object()
        .bucket(&bucket)
        .key(src)
        .metadata("origin", "broker")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("put source");

    let source = format!("{bucket}/{}", urlencode(src));
    env.client
        .copy_object()
        .bucket(&bucket)
        .key("dst/kept")
        .copy_source(&source)
        .send()
        .await
        .expect("copy");
    assert_eq!(env.get(&bucket, "dst/kept").await, body);
    let head = env
        .client
        .head_object()
        .bucket(&bucket)
        .key("dst/kept")
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("broker")
    );

    env.client
        .copy_object()
        .bucket(&bucket)
        .key("dst/replaced")
        .copy_source(&source)
        .metadata_directive(MetadataDirective::Replace)
        .metadata("origin", "nexus")
        .send()
        .await
        .expect("copy replace");
    let head = env
        .client
        .head_object()
        .bucket(&bucket)
        .key("dst/replaced")
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("nexus")
    );

    let err = env
        .client
        .copy_object()
        .bucket(&bucket)
        .key("x")
        .copy_source(format!("{bucket}/missing"))
        .send()
        .await;
    assert_eq!(status_and_code(&err.expect_err("missing source")).0, 404);
}

/// Percent-encodes a key for `x-amz-copy-source`, keeping `/`.
fn urlencode(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn multipart_upload_with_part_copy_list_complete_and_abort() {
    let env = Env::start().await;
    let bucket = env.bucket("multipart").await;
    let part1 = pattern(5 * 1024 * 1024);
    let source = pattern(300_000);
    env.put(&bucket, "copy-source", &source).await;
    let key = "stream/segment#7 ü";

    let created = env
        .client
        .create_multipart_upload()
        .bucket(&bucket)
        .key(key)
        .metadata("kind", "chunk")
        .content_type("application/octet-stream")
        .send()
        .await
        .expect("create");
    let upload_id = created.upload_id().expect("upload id").to_owned();

    // s3s-fs has no ListMultipartUploads: its 501 passes through (moto test lists for real).
    let err = env
        .client
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .expect_err("501");
    assert_eq!(status_and_code(&err), (501, "NotImplemented".to_owned()));

    let p1 = env
        .client
        .upload_part()
        .bucket(&bucket)
        .key(key)
        .upload_id(&upload_id)
        .part_number(1)
        .body(ByteStream::from(part1.clone()))
        .send()
        .await
        .expect("part 1");
    let p2 = env
        .client
        .upload_part_copy()
        .bucket(&bucket)
        .key(key)
        .upload_id(&upload_id)
        .part_number(2)
        .copy_source(format!("{bucket}/copy-source"))
        .copy_source_range("bytes=1000-200999")
        .send()
        .await
        .expect("part 2 (copy)");
    let p2_etag = p2
        .copy_part_result()
        .and_then(|r| r.e_tag())
        .expect("copy etag")
        .to_owned();

    let parts = env
        .client
        .list_parts()
        .bucket(&bucket)
        .key(key)
        .upload_id(&upload_id)
        .send()
        .await;
    let parts = parts.expect("list parts");
    // s3s-fs lists parts in directory order.
    let mut sizes: Vec<(i32, i64)> = parts
        .parts()
        .iter()
        .filter_map(|p| Some((p.part_number()?, p.size()?)))
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [(1, 5 * 1024 * 1024), (2, 200_000)]);

    let completed = CompletedMultipartUpload::builder()
        .parts(
            CompletedPart::builder()
                .part_number(1)
                .e_tag(p1.e_tag().expect("etag"))
                .build(),
        )
        .parts(
            CompletedPart::builder()
                .part_number(2)
                .e_tag(p2_etag)
                .build(),
        )
        .build();
    let done = env
        .client
        .complete_multipart_upload()
        .bucket(&bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(completed)
        .send()
        .await
        .expect("complete");
    assert!(
        done.e_tag().is_some_and(|e| e.ends_with("-2\"")),
        "multipart etag: {:?}",
        done.e_tag()
    );

    let mut want = part1;
    want.extend_from_slice(&source[1000..201_000]);
    assert!(
        env.get(&bucket, key).await == want,
        "assembled object differs"
    );

    let other = env
        .client
        .create_multipart_upload()
        .bucket(&bucket)
        .key("aborted")
        .send()
        .await
        .expect("create");
    let other_id = other.upload_id().expect("id");
    env.client
        .abort_multipart_upload()
        .bucket(&bucket)
        .key("aborted")
        .upload_id(other_id)
        .send()
        .await
        .expect("abort");
    // s3s-fs refuses parts for an upload it no longer knows with 403 AccessDenied.
    let part = env
        .client
        .upload_part()
        .bucket(&bucket)
        .key("aborted")
        .upload_id(other_id)
        .part_number(1);
    let err = part
        .body(ByteStream::from_static(b"late"))
        .send()
        .await
        .expect_err("aborted");
    assert_eq!(status_and_code(&err), (403, "AccessDenied".to_owned()));
}
