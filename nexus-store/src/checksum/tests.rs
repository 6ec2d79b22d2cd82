//! Known-answer tests of the digests and names.

use super::*;

#[test]
fn known_values() {
    let mut d = BodyDigests::with_md5(ChecksumAlgorithm::ALL);
    d.update(b"hello ");
    d.update(b"world");
    let d = d.finish();
    assert_eq!(d.len, 11);
    assert_eq!(d.md5_hex(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert_eq!(d.md5_base64(), "XrY7u+Ae7tCTyyK7j1rNww==");
    assert!(d.md5_matches("XrY7u+Ae7tCTyyK7j1rNww=="));
    assert_eq!(d.checksums.get(ChecksumAlgorithm::Crc32), Some("DUoRhQ=="));
    assert_eq!(d.checksums.get(ChecksumAlgorithm::Crc32c), Some("yZRlqg=="));
    assert_eq!(
        d.checksums.get(ChecksumAlgorithm::Sha1),
        Some("Kq5sNclPz7QV2+lfQIuc6R7oRu0=")
    );
    assert_eq!(
        d.checksums.get(ChecksumAlgorithm::Sha256),
        Some("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=")
    );
    for a in ChecksumAlgorithm::ALL {
        let v = d.checksums.get(a).unwrap_or_default();
        assert!(a.is_valid_value(v), "{a}");
        assert_eq!(a.digest_base64(b"hello world"), v);
    }
}

#[test]
fn names() {
    assert_eq!(
        ChecksumAlgorithm::parse("crc32c"),
        Some(ChecksumAlgorithm::Crc32c)
    );
    assert_eq!(
        ChecksumAlgorithm::from_header_name("X-Amz-Checksum-Sha256"),
        Some(ChecksumAlgorithm::Sha256)
    );
    assert_eq!(ChecksumAlgorithm::parse("md5"), None);
}

#[test]
fn header_values() {
    let mut h = HeaderMap::new();
    h.insert("x-amz-checksum-crc32", "DUoRhQ==".parse().unwrap());
    let found = checksums_in_headers(&h).unwrap();
    assert_eq!(found.get(ChecksumAlgorithm::Crc32), Some("DUoRhQ=="));
    h.insert("x-amz-checksum-sha1", "bad".parse().unwrap());
    assert_eq!(
        checksums_in_headers(&h),
        Err(ChecksumHeaderError::Invalid("x-amz-checksum-sha1"))
    );
    h.insert(
        "x-amz-checksum-sha1",
        "Kq5sNclPz7QV2+lfQIuc6R7oRu0=".parse().unwrap(),
    );
    assert_eq!(checksums_in_headers(&h), Err(ChecksumHeaderError::Multiple));
}

#[test]
fn multipart_etag_form() {
    let a = hex::encode([0_u8; 16]);
    let etag = multipart_etag([a.as_str(), a.as_str()]).unwrap();
    assert!(etag.ends_with("-2"));
    assert_eq!(etag.len(), 34);
    assert_eq!(multipart_etag(["zz"]), None);
}

#[test]
fn combined_crcs_equal_the_crc_of_the_concatenation() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for algorithm in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c] {
        for cuts in [
            vec![0, 100_000],
            vec![0, 1, 99_999, 100_000],
            vec![0, 5_000, 5_000, 60_001, 100_000],
        ] {
            let pieces: Vec<(String, u64)> = cuts
                .windows(2)
                .map(|w| {
                    (
                        algorithm.digest_base64(&data[w[0]..w[1]]),
                        (w[1] - w[0]) as u64,
                    )
                })
                .collect();
            let combined = algorithm
                .combine_base64(pieces.iter().map(|(v, l)| (v.as_str(), *l)))
                .unwrap();
            assert_eq!(
                combined,
                algorithm.digest_base64(&data),
                "{algorithm} {cuts:?}"
            );
        }
    }
    assert_eq!(
        ChecksumAlgorithm::Sha256.combine_base64([("AAAAAA==", 1)]),
        None
    );
    assert_eq!(ChecksumAlgorithm::Crc32.combine_base64([("bad", 1)]), None);
}
