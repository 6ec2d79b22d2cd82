//! ListParts and ListMultipartUploads.

use std::ops::Bound;

use s3s::dto::{
    ChecksumAlgorithm as DtoAlgorithm, ChecksumType, Initiator, ListMultipartUploadsInput,
    ListMultipartUploadsOutput, ListPartsInput, ListPartsOutput, MultipartUpload, Part,
    StorageClass,
};

use super::LocalStore;
use super::buckets::owner;
use super::error::Result;
use super::index::{self, BUCKETS, PARTS, UPLOADS};
use super::list::{Pager, Step, enc, page_size, url_encoding};
use super::records::UploadRecord;
use super::time;
use crate::checksum::ChecksumAlgorithm;

/// Sorts after every hex upload id.
const PAST_IDS: &str = "\u{10FFFF}";

fn initiator() -> Initiator {
    let o = owner();
    Initiator {
        display_name: o.display_name,
        id: o.id,
    }
}

fn storage_class(upload: &UploadRecord) -> StorageClass {
    StorageClass::from(
        upload
            .props
            .storage_class
            .clone()
            .unwrap_or_else(|| "STANDARD".to_owned()),
    )
}

/// One page of uploads. Blocking.
fn scan_uploads(
    inner: &super::Inner,
    input: &ListMultipartUploadsInput,
    max: usize,
) -> Result<Pager<'static, (String, String, UploadRecord)>> {
    let txn = inner.db.begin_read()?;
    index::require_bucket(&txn.open_table(BUCKETS)?, &input.bucket)?;
    let table = txn.open_table(UPLOADS)?;
    let bucket = input.bucket.as_str();
    let prefix = input.prefix.as_deref().unwrap_or_default();
    let key_marker = input.key_marker.as_deref().unwrap_or_default();
    let id_marker = input
        .upload_id_marker
        .as_deref()
        .filter(|_| !key_marker.is_empty());
    let mut pager = Pager::new(prefix, input.delimiter.as_deref(), key_marker, max);
    // (key, id, inclusive)
    let mut lower: (String, String, bool) = if key_marker < prefix {
        (prefix.to_owned(), String::new(), true)
    } else {
        match id_marker {
            Some(id) => (key_marker.to_owned(), id.to_owned(), false),
            None => (key_marker.to_owned(), PAST_IDS.to_owned(), false),
        }
    };
    if max > 0 {
        'scan: loop {
            let start = (bucket, lower.0.as_str(), lower.1.as_str());
            let start = if lower.2 {
                Bound::Included(start)
            } else {
                Bound::Excluded(start)
            };
            for item in table.range::<(&str, &str, &str)>((start, Bound::Unbounded))? {
                let (k, v) = item?;
                let (b, key, id) = k.value();
                if b != bucket || !key.starts_with(prefix) {
                    break 'scan;
                }
                let step = pager.offer(key, || {
                    Ok((key.to_owned(), id.to_owned(), index::decode(v.value())?))
                })?;
                match step {
                    Step::Continue => {}
                    Step::SeekPast(past) => {
                        lower = (past, String::new(), true);
                        continue 'scan;
                    }
                    Step::Stop => break 'scan,
                }
            }
            break;
        }
    }
    Ok(pager.detach())
}

impl LocalStore {
    pub(crate) async fn list_parts_impl(&self, input: ListPartsInput) -> Result<ListPartsOutput> {
        let upload = self
            .upload_record(
                input.bucket.clone(),
                input.key.clone(),
                input.upload_id.clone(),
            )
            .await?;
        let max = page_size(input.max_parts, "max-parts")?;
        let marker = u32::try_from(input.part_number_marker.unwrap_or(0)).unwrap_or(0);
        let id = input.upload_id.clone();
        let mut parts = self
            .run(move |inner| {
                let txn = inner.db.begin_read()?;
                index::parts(&txn.open_table(PARTS)?, &id)
            })
            .await?;
        parts.retain(|(n, _)| *n > marker);
        let truncated = parts.len() > max;
        parts.truncate(max);
        let next = parts.last().map(|(n, _)| *n);
        let algorithm = upload.algorithm();
        let parts: Vec<Part> = parts
            .into_iter()
            .map(|(number, p)| {
                let value = |a: ChecksumAlgorithm| {
                    (algorithm == Some(a))
                        .then(|| p.checksum(a).map(str::to_owned))
                        .flatten()
                };
                Part {
                    checksum_crc32: value(ChecksumAlgorithm::Crc32),
                    checksum_crc32c: value(ChecksumAlgorithm::Crc32c),
                    checksum_crc64nvme: value(ChecksumAlgorithm::Crc64Nvme),
                    checksum_sha1: value(ChecksumAlgorithm::Sha1),
                    checksum_sha256: value(ChecksumAlgorithm::Sha256),
                    e_tag: Some(s3s::dto::ETag::Strong(p.etag.clone())),
                    last_modified: time::timestamp(p.last_modified),
                    part_number: i32::try_from(number).ok(),
                    size: i64::try_from(p.size).ok(),
                }
            })
            .collect();
        let o = owner();
        Ok(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            checksum_algorithm: upload.checksum_algorithm.clone().map(DtoAlgorithm::from),
            checksum_type: upload.checksum_type.clone().map(ChecksumType::from),
            initiator: Some(initiator()),
            owner: Some(o),
            storage_class: Some(storage_class(&upload)),
            is_truncated: Some(truncated),
            max_parts: i32::try_from(max).ok(),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: next.and_then(|n| i32::try_from(n).ok()),
            parts: Some(parts),
            ..ListPartsOutput::default()
        })
    }

    pub(crate) async fn list_multipart_uploads_impl(
        &self,
        input: ListMultipartUploadsInput,
    ) -> Result<ListMultipartUploadsOutput> {
        let url = url_encoding(input.encoding_type.as_ref())?;
        let max = page_size(input.max_uploads, "max-uploads")?;
        let (page, input) = self
            .run(move |inner| Ok((scan_uploads(inner, &input, max)?, input)))
            .await?;
        let last_upload = page.items.last().map(|(k, id, _)| (k.clone(), id.clone()));
        let (next_key, next_id) = if !page.truncated {
            (None, None)
        } else if page.last.as_ref() == last_upload.as_ref().map(|(k, _)| k) {
            let (k, id) = last_upload.unzip();
            (k, id)
        } else {
            (page.last.clone(), None)
        };
        let uploads: Vec<MultipartUpload> = page
            .items
            .into_iter()
            .map(|(key, id, upload)| MultipartUpload {
                checksum_algorithm: upload.checksum_algorithm.clone().map(DtoAlgorithm::from),
                checksum_type: upload.checksum_type.clone().map(ChecksumType::from),
                initiated: time::timestamp(upload.initiated),
                initiator: Some(initiator()),
                key: Some(enc(url, key)),
                owner: Some(owner()),
                storage_class: Some(storage_class(&upload)),
                upload_id: Some(id),
            })
            .collect();
        let prefixes = page.prefixes;
        Ok(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            common_prefixes: (!prefixes.is_empty()).then(|| {
                prefixes
                    .into_iter()
                    .map(|p| s3s::dto::CommonPrefix {
                        prefix: Some(enc(url, p)),
                    })
                    .collect()
            }),
            delimiter: input.delimiter.map(|d| enc(url, d)),
            encoding_type: input.encoding_type,
            is_truncated: Some(page.truncated),
            key_marker: Some(enc(url, input.key_marker.unwrap_or_default())),
            max_uploads: i32::try_from(max).ok(),
            next_key_marker: next_key.map(|k| enc(url, k)),
            next_upload_id_marker: next_id,
            prefix: Some(enc(url, input.prefix.unwrap_or_default())),
            upload_id_marker: input.upload_id_marker,
            uploads: Some(uploads),
            ..ListMultipartUploadsOutput::default()
        })
    }
}
