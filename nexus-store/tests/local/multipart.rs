//! Multipart uploads: parts out of order and re-uploaded, completion rules, ListParts,
//! partNumber reads, composite and full-object checksums.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;
use md5::Digest as _;

use crate::support::{Env, code, completed, data, status, upload_part};

const MIB: usize = 1024 * 1024;

fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut md5 = md5::Md5::new();
    for p in parts {
        md5.update(md5::Md5::digest(p));
    }
    format!("\"{}-{}\"", hex::encode(md5.finalize()), parts.len())
}

#[tokio::test]
async fn parts_out_of_order_and_reuploaded() {
    let env = Env::with_bucket("mpu").await;
    let c = &env.client;
    let key = "/pravega/seg.#epoch.0$x";
    let id = c
        .create_multipart_upload()
        .bucket("mpu")
        .key(key)
        .metadata("managedledgername", "t/n/persistent/x")
        .tagging("k=v")
        .send()
        .await
        .expect("create")
        .upload_id
        .expect("id");

    let p2 = data(100, 2);
    let p1_old = data(5 * MIB, 1);
    let p1 = data(5 * MIB, 11);
    let e2 = upload_part(&env, "mpu", key, &id, 2, &p2).await;
    let e1_old = upload_part(&env, "mpu", key, &id, 1, &p1_old).await;
    let e1 = upload_part(&env, "mpu", key, &id, 1, &p1).await;
    assert_ne!(e1, e1_old);

    // ListParts, paginated.
    let parts = c
        .list_parts()
        .bucket("mpu")
        .key(key)
        .upload_id(&id)
        .send()
        .await
        .expect("list parts");
    let numbers: Vec<i32> = parts
        .parts()
        .iter()
        .filter_map(|p| p.part_number())
        .collect();
    assert_eq!(numbers, [1, 2]);
    assert_eq!(parts.parts()[0].e_tag(), Some(e1.as_str()));
    assert_eq!(parts.parts()[0].size(), Some(5 * MIB as i64));
    let page = c
        .list_parts()
        .bucket("mpu")
        .key(key)
        .upload_id(&id)
        .max_parts(1)
        .send()
        .await
        .expect("list parts");
    assert_eq!(page.is_truncated(), Some(true));
    assert_eq!(page.next_part_number_marker(), Some("1"));
    let page = c
        .list_parts()
        .bucket("mpu")
        .key(key)
        .upload_id(&id)
        .part_number_marker("1")
        .send()
        .await
        .expect("list parts");
    let numbers: Vec<i32> = page
        .parts()
        .iter()
        .filter_map(|p| p.part_number())
        .collect();
    assert_eq!(numbers, [2]);

    // Completion rules.
    let err = c
        .complete_multipart_upload()
        .bucket("mpu")
        .key(key)
        .upload_id(&id)
        .multipart_upload(completed(&[(2, &e2), (1, &e1)]))
        .send()
        .await
        .expect_err("order");
    assert_eq!(code(&err), "InvalidPartOrder");
    let err = c
        .complete_multipart_upload()
        .bucket("mpu")
        .key(key)
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1_old), (2, &e2)]))
        .send()
        .await
        .expect_err("replaced part");
    assert_eq!(code(&err), "InvalidPart");
    let err = c
        .complete_multipart_upload()
        .bucket("mpu")
        .key(key)
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (3, &e2)]))
        .send()
        .await
        .expect_err("unknown part");
    assert_eq!(code(&err), "InvalidPart");
    // Completing with a subset is valid: the last listed part may be of any size, and the
    // parts not listed are discarded.
    c.complete_multipart_upload()
        .bucket("mpu")
        .key(key)
        .upload_id(&id)
        .multipart_upload(completed(&[(2, &e2)]))
        .send()
        .await
        .expect("only part 2");
    assert_eq!(env.get("mpu", key).await, p2);
    let err = c
        .upload_part()
        .bucket("mpu")
        .key(key)
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from_static(b"late"))
        .send()
        .await
        .expect_err("upload gone");
    assert_eq!(code(&err), "NoSuchUpload");
    assert!(
        env.files_under("uploads").is_empty(),
        "parts not listed are discarded"
    );
    let tags = c
        .get_object_tagging()
        .bucket("mpu")
        .key(key)
        .send()
        .await
        .expect("tags");
    assert_eq!(tags.tag_set().len(), 1);

    // Again, with both parts.
    let id = c
        .create_multipart_upload()
        .bucket("mpu")
        .key(key)
        .send()
        .await
        .expect("create")
        .upload_id
        .expect("id");
    let e2 = upload_part(&env, "mpu", key, &id, 2, &p2).await;
    let e1 = upload_part(&env, "mpu", key, &id, 1, &p1).await;
    let out = c
        .complete_multipart_upload()
        .bucket("mpu")
        .key(key)
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
        .send()
        .await
        .expect("complete");
    let expected_etag = multipart_etag(&[&p1, &p2]);
    assert_eq!(out.e_tag(), Some(expected_etag.as_str()));
    let mut whole = p1.clone();
    whole.extend_from_slice(&p2);
    assert_eq!(env.get("mpu", key).await, whole);
    let head = c
        .head_object()
        .bucket("mpu")
        .key(key)
        .send()
        .await
        .expect("head");
    assert_eq!(head.e_tag(), Some(expected_etag.as_str()));
    assert_eq!(head.content_type(), Some("binary/octet-stream"));
    assert_eq!(head.content_length(), Some(whole.len() as i64));

    // partNumber reads.
    let part = c
        .get_object()
        .bucket("mpu")
        .key(key)
        .part_number(2)
        .send()
        .await
        .expect("part 2");
    assert_eq!(part.parts_count(), Some(2));
    assert_eq!(
        part.content_range(),
        Some(format!("bytes {}-{}/{}", 5 * MIB, whole.len() - 1, whole.len()).as_str())
    );
    assert_eq!(
        part.body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .as_ref(),
        &p2[..]
    );
    let err = c
        .get_object()
        .bucket("mpu")
        .key(key)
        .part_number(3)
        .send()
        .await
        .expect_err("part 3");
    assert_eq!(status(&err), 416);

    let err = c
        .abort_multipart_upload()
        .bucket("mpu")
        .key(key)
        .upload_id(&id)
        .send()
        .await
        .expect_err("completed");
    assert_eq!(code(&err), "NoSuchUpload");
    assert!(env.files_under("uploads").is_empty());
    assert_eq!(env.files_under("blobs").len(), 1);
}

#[tokio::test]
async fn too_small_parts() {
    let env = Env::with_bucket("small").await;
    let c = &env.client;
    let id = c
        .create_multipart_upload()
        .bucket("small")
        .key("k")
        .send()
        .await
        .expect("create")
        .upload_id
        .expect("id");
    let e1 = upload_part(&env, "small", "k", &id, 1, &data(5 * MIB - 1, 1)).await;
    let e2 = upload_part(&env, "small", "k", &id, 2, b"tail").await;
    let err = c
        .complete_multipart_upload()
        .bucket("small")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
        .send()
        .await
        .expect_err("too small");
    assert_eq!(code(&err), "EntityTooSmall");
    let err = c
        .upload_part()
        .bucket("small")
        .key("k")
        .upload_id(&id)
        .part_number(10_001)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("part number");
    assert_eq!(code(&err), "InvalidArgument");
    let err = c
        .upload_part()
        .bucket("small")
        .key("other-key")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("wrong key");
    assert_eq!(code(&err), "NoSuchUpload");
    let err = c
        .upload_part()
        .bucket("small")
        .key("k")
        .upload_id("../../etc")
        .part_number(1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("bad id");
    assert_eq!(code(&err), "NoSuchUpload");
    let err = c
        .head_object()
        .bucket("small")
        .key("k")
        .send()
        .await
        .expect_err("not visible");
    assert_eq!(status(&err), 404);
}

#[tokio::test]
async fn composite_checksum() {
    let env = Env::with_bucket("cksum").await;
    let c = &env.client;
    let id = c
        .create_multipart_upload()
        .bucket("cksum")
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .expect("create")
        .upload_id
        .expect("id");
    let p1 = data(5 * MIB, 1);
    let p2 = data(10, 2);
    let mut parts = Vec::new();
    let mut raw = Vec::new();
    for (n, body) in [(1, &p1), (2, &p2)] {
        let out = c
            .upload_part()
            .bucket("cksum")
            .key("k")
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("part");
        let crc = out.checksum_crc32().expect("part checksum").to_owned();
        raw.extend_from_slice(&crc32fast::hash(body).to_be_bytes());
        assert_eq!(
            crc,
            base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(body).to_be_bytes())
        );
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().expect("etag"))
                .checksum_crc32(crc)
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket("cksum")
        .key("k")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .expect("complete");
    let expected = format!(
        "{}-2",
        base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(&raw).to_be_bytes())
    );
    let head = c
        .head_object()
        .bucket("cksum")
        .key("k")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("head");
    assert_eq!(head.checksum_crc32(), Some(expected.as_str()));
}

#[tokio::test]
async fn full_object_checksum() {
    use aws_sdk_s3::types::ChecksumType;
    let env = Env::with_bucket("fullck").await;
    let c = &env.client;
    let id = c
        .create_multipart_upload()
        .bucket("fullck")
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .expect("create")
        .upload_id
        .expect("id");
    let p1 = data(5 * MIB, 1);
    let p2 = data(77, 2);
    let mut parts = Vec::new();
    for (n, body) in [(1, &p1), (2, &p2)] {
        let out = c
            .upload_part()
            .bucket("fullck")
            .key("k")
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Crc32C)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("part");
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().expect("etag"))
                .set_checksum_crc32_c(out.checksum_crc32_c().map(str::to_owned))
                .build(),
        );
    }
    let mut whole = p1.clone();
    whole.extend_from_slice(&p2);
    let full =
        base64::engine::general_purpose::STANDARD.encode(crc32c::crc32c(&whole).to_be_bytes());
    let err = c
        .complete_multipart_upload()
        .bucket("fullck")
        .key("k")
        .upload_id(&id)
        .checksum_type(ChecksumType::FullObject)
        .checksum_crc32_c("AAAAAA==")
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts.clone()))
                .build(),
        )
        .send()
        .await
        .expect_err("wrong full-object checksum");
    assert_eq!(code(&err), "BadDigest");
    c.complete_multipart_upload()
        .bucket("fullck")
        .key("k")
        .upload_id(&id)
        .checksum_type(ChecksumType::FullObject)
        .checksum_crc32_c(&full)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .expect("complete");
    let head = c
        .head_object()
        .bucket("fullck")
        .key("k")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("head");
    assert_eq!(head.checksum_crc32_c(), Some(full.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::FullObject));
    let got = env.get("fullck", "k").await;
    assert_eq!(got, whole);
}
