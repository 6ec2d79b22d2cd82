//! The records the index stores (serde JSON values in redb tables).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checksum::ChecksumAlgorithm;

/// A bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BucketRecord {
    /// Creation time, Unix seconds.
    pub created: i64,
    /// `LocationConstraint` given at creation, if any.
    #[serde(default)]
    pub location: Option<String>,
}

/// What a client sets on an object besides its bytes; kept by objects and uploads alike.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ObjectProps {
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub content_encoding: Option<String>,
    #[serde(default)]
    pub cache_control: Option<String>,
    #[serde(default)]
    pub content_disposition: Option<String>,
    #[serde(default)]
    pub content_language: Option<String>,
    /// `Expires`, Unix seconds.
    #[serde(default)]
    pub expires: Option<i64>,
    #[serde(default)]
    pub website_redirect_location: Option<String>,
    /// `x-amz-meta-*` without the prefix.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Tags, in the order given.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Storage class; `None` means STANDARD.
    #[serde(default)]
    pub storage_class: Option<String>,
}

/// The checksum kept with an object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredChecksum {
    /// Algorithm name (`CRC32`…).
    pub algorithm: String,
    /// Base64 value; composite values end in `-<parts>`.
    pub value: String,
    /// Whether it is S3's composite (checksum of part checksums) form.
    #[serde(default)]
    pub composite: bool,
}

impl StoredChecksum {
    /// The parsed algorithm (`None` for an unknown name, which is never stored).
    pub fn algorithm(&self) -> Option<ChecksumAlgorithm> {
        ChecksumAlgorithm::parse(&self.algorithm)
    }
}

/// An object: where its bytes are and what it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ObjectRecord {
    /// File name of the blob under `blobs/`.
    pub blob: String,
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Unix seconds.
    pub last_modified: i64,
    #[serde(default)]
    pub props: ObjectProps,
    #[serde(default)]
    pub checksum: Option<StoredChecksum>,
    /// Part sizes of a multipart object (empty for a single PUT or copy).
    #[serde(default)]
    pub parts: Vec<u64>,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadRecord {
    /// Unix seconds.
    pub initiated: i64,
    #[serde(default)]
    pub props: ObjectProps,
    /// `x-amz-checksum-algorithm` of CreateMultipartUpload.
    #[serde(default)]
    pub checksum_algorithm: Option<String>,
    /// `x-amz-checksum-type` of CreateMultipartUpload (COMPOSITE or FULL_OBJECT).
    #[serde(default)]
    pub checksum_type: Option<String>,
}

impl UploadRecord {
    /// The parsed checksum algorithm.
    pub fn algorithm(&self) -> Option<ChecksumAlgorithm> {
        self.checksum_algorithm
            .as_deref()
            .and_then(ChecksumAlgorithm::parse)
    }

    /// Whether the object checksum is over the whole object rather than composite.
    pub fn full_object_checksum(&self) -> bool {
        self.checksum_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("FULL_OBJECT"))
    }
}

/// One uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartRecord {
    /// File name under `uploads/<upload-id>/`.
    pub file: String,
    pub size: u64,
    /// MD5 hex, without quotes.
    pub etag: String,
    /// Unix seconds.
    pub last_modified: i64,
    /// Checksums computed or verified for this part: (algorithm name, base64 value).
    #[serde(default)]
    pub checksums: Vec<(String, String)>,
}

impl PartRecord {
    /// The value of `algorithm`, if kept.
    pub fn checksum(&self, algorithm: ChecksumAlgorithm) -> Option<&str> {
        self.checksums
            .iter()
            .find(|(a, _)| ChecksumAlgorithm::parse(a) == Some(algorithm))
            .map(|(_, v)| v.as_str())
    }
}
