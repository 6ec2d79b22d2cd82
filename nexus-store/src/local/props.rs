//! Object properties: from request inputs to records, and from records to response fields.

use s3s::dto::{ChecksumAlgorithm as DtoAlgorithm, ETag, StorageClass};

use super::error::{Error, Result};
use super::records::{ObjectRecord, StoredChecksum};
use crate::checksum::ChecksumAlgorithm;

/// Content-Type S3 gives an object stored without one.
pub(crate) const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// The largest single PUT, part or copy source S3 accepts: 5 GiB.
pub(crate) const MAX_OBJECT_PART: u64 = 5 * 1024 * 1024 * 1024;

/// Storage classes S3 knows.
const STORAGE_CLASSES: [&str; 11] = [
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
];

/// Validates a requested storage class; STANDARD is stored as `None` (S3 omits it).
pub(crate) fn storage_class(requested: Option<&StorageClass>) -> Result<Option<String>> {
    match requested.map(StorageClass::as_str) {
        None | Some("STANDARD") => Ok(None),
        Some(class) if STORAGE_CLASSES.contains(&class) => Ok(Some(class.to_owned())),
        Some(_) => Err(Error::InvalidStorageClass),
    }
}

/// Content-Encoding without the `aws-chunked` transfer coding (never stored, as S3 does).
pub(crate) fn content_encoding(value: Option<String>) -> Option<String> {
    let value = value?;
    let kept: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

/// A requested checksum algorithm (`x-amz-checksum-algorithm` / `x-amz-sdk-checksum-algorithm`).
pub(crate) fn algorithm(requested: Option<&DtoAlgorithm>) -> Result<Option<ChecksumAlgorithm>> {
    match requested {
        None => Ok(None),
        Some(a) => ChecksumAlgorithm::parse(a.as_str())
            .map(Some)
            .ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "Checksum algorithm {} is not supported.",
                    a.as_str()
                ))
            }),
    }
}

/// Builds [`super::records::ObjectProps`] (without tags) from an input with S3's usual fields.
macro_rules! props_from_input {
    ($input:expr, $storage_class:expr) => {
        $crate::local::records::ObjectProps {
            content_type: $input.content_type.clone(),
            content_encoding: $crate::local::props::content_encoding(
                $input.content_encoding.clone(),
            ),
            cache_control: $input.cache_control.clone(),
            content_disposition: $input.content_disposition.clone(),
            content_language: $input.content_language.clone(),
            expires: $input.expires.as_ref().map($crate::local::time::secs),
            website_redirect_location: $input.website_redirect_location.clone(),
            metadata: $input
                .metadata
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            tags: Vec::new(),
            storage_class: $storage_class,
        }
    };
}
pub(crate) use props_from_input;

/// Sets the object headers shared by GetObjectOutput and HeadObjectOutput.
macro_rules! fill_object_output {
    ($out:expr, $record:expr) => {{
        let record: &$crate::local::records::ObjectRecord = $record;
        let p = &record.props;
        $out.accept_ranges = Some("bytes".to_owned());
        $out.e_tag = Some($crate::local::props::etag(record));
        $out.last_modified = $crate::local::time::timestamp(record.last_modified);
        $out.content_type = Some(
            p.content_type
                .clone()
                .unwrap_or_else(|| $crate::local::props::DEFAULT_CONTENT_TYPE.to_owned()),
        );
        $out.content_encoding = p.content_encoding.clone();
        $out.cache_control = p.cache_control.clone();
        $out.content_disposition = p.content_disposition.clone();
        $out.content_language = p.content_language.clone();
        $out.expires = p.expires.and_then($crate::local::time::timestamp);
        $out.website_redirect_location = p.website_redirect_location.clone();
        $out.metadata = (!p.metadata.is_empty()).then(|| {
            p.metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        });
        $out.storage_class = p.storage_class.clone().map(s3s::dto::StorageClass::from);
    }};
}
pub(crate) use fill_object_output;

/// Sets `checksum_*` fields from a stored checksum.
macro_rules! fill_checksum {
    ($out:expr, $checksum:expr) => {{
        let checksum: Option<&$crate::local::records::StoredChecksum> = $checksum;
        if let Some(c) = checksum {
            let value = Some(c.value.clone());
            match c.algorithm() {
                Some($crate::checksum::ChecksumAlgorithm::Crc32) => $out.checksum_crc32 = value,
                Some($crate::checksum::ChecksumAlgorithm::Crc32c) => $out.checksum_crc32c = value,
                Some($crate::checksum::ChecksumAlgorithm::Crc64Nvme) => {
                    $out.checksum_crc64nvme = value
                }
                Some($crate::checksum::ChecksumAlgorithm::Sha1) => $out.checksum_sha1 = value,
                Some($crate::checksum::ChecksumAlgorithm::Sha256) => $out.checksum_sha256 = value,
                None => {}
            }
        }
    }};
}
pub(crate) use fill_checksum;

pub(crate) use crate::fill_checksums;

/// The object's ETag as s3s's DTO.
pub(crate) fn etag(record: &ObjectRecord) -> ETag {
    ETag::Strong(record.etag.clone())
}

/// `x-amz-checksum-type` of a stored checksum.
pub(crate) fn checksum_type(checksum: &StoredChecksum) -> s3s::dto::ChecksumType {
    s3s::dto::ChecksumType::from(if checksum.composite {
        "COMPOSITE".to_owned()
    } else {
        "FULL_OBJECT".to_owned()
    })
}

/// Objects here have no versions: only the `null` version id is accepted.
pub(crate) fn check_version(version_id: Option<&str>) -> Result<()> {
    match version_id {
        None | Some("null") => Ok(()),
        Some(_) => Err(Error::InvalidArgument(
            "Invalid version id specified".into(),
        )),
    }
}
