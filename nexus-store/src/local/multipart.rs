//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy, AbortMultipartUpload.

use std::time::{SystemTime, UNIX_EPOCH};

use s3s::S3Request;
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, ChecksumType, CopyPartResult,
    CreateMultipartUploadInput, CreateMultipartUploadOutput, ETag, UploadPartCopyInput,
    UploadPartCopyOutput, UploadPartInput, UploadPartOutput,
};

use super::copy::{SourceConditions, copy_to_new_file};
use super::error::{Error, Result};
use super::files::{self, PendingFile};
use super::index::{self, BUCKETS, PARTS, UPLOADS};
use super::props::{self, MAX_OBJECT_PART, fill_checksums, props_from_input};
use super::put::{body_or_empty, check_announced, check_length};
use super::records::{PartRecord, UploadRecord};
use super::tagging;
use super::time;
use super::verify::BodyCheck;
use super::{Inner, LocalStore};
use crate::checksum::{BodyDigests, ChecksumAlgorithm};

/// Length of an upload id: 16 hex digits of creation time, then a UUID's 32.
const UPLOAD_ID_LEN: usize = 48;

/// A new upload id. Ids sort by creation time, which is ListMultipartUploads' order per key.
fn new_upload_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    format!("{nanos:016x}{}", uuid::Uuid::new_v4().simple())
}

/// NoSuchUpload unless `id` has the form this store issues (it is also a directory name).
pub(crate) fn check_upload_id(id: &str) -> Result<()> {
    if id.len() == UPLOAD_ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(Error::NoSuchUpload)
    }
}

/// InvalidArgument unless 1 ≤ part number ≤ 10000.
fn part_number(n: i32) -> Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            Error::InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive".into(),
            )
        })
}

/// Validates `x-amz-checksum-type` against the algorithm, as S3 does.
fn checksum_type(
    requested: Option<&ChecksumType>,
    algorithm: Option<ChecksumAlgorithm>,
) -> Result<Option<String>> {
    let Some(t) = requested.map(|t| t.as_str().to_ascii_uppercase()) else {
        return Ok(None);
    };
    let ok = match (t.as_str(), algorithm) {
        ("COMPOSITE", Some(a)) => a != ChecksumAlgorithm::Crc64Nvme,
        ("FULL_OBJECT", Some(a)) => matches!(
            a,
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c | ChecksumAlgorithm::Crc64Nvme
        ),
        _ => false,
    };
    if ok {
        Ok(Some(t))
    } else {
        Err(Error::InvalidRequest(format!(
            "The {t} checksum type cannot be used with the {} checksum algorithm.",
            algorithm.map_or("(none)", ChecksumAlgorithm::as_str)
        )))
    }
}

/// Makes a part visible, replacing a previous upload of the same number. Blocking.
fn commit_part(
    inner: &Inner,
    (bucket, key, upload_id): (&str, &str, &str),
    number: u32,
    record: &PartRecord,
    file: PendingFile,
) -> Result<()> {
    file.sync_dir()?;
    let txn = inner.db.begin_write()?;
    let old: Option<PartRecord> = {
        if index::upload(&txn.open_table(UPLOADS)?, bucket, key, upload_id)?.is_none() {
            return Err(Error::NoSuchUpload);
        }
        let mut parts = txn.open_table(PARTS)?;
        let old = parts.insert((upload_id, number), index::encode(record)?.as_slice())?;
        old.map(|v| index::decode(v.value())).transpose()?
    };
    txn.commit()?;
    file.keep();
    if let Some(old) = old
        && old.file != record.file
    {
        files::remove_quietly(&inner.part_path(upload_id, &old.file));
    }
    Ok(())
}

impl LocalStore {
    /// The upload record; NoSuchBucket / NoSuchUpload as S3 answers.
    pub(crate) async fn upload_record(
        &self,
        bucket: String,
        key: String,
        upload_id: String,
    ) -> Result<UploadRecord> {
        check_upload_id(&upload_id)?;
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            index::require_bucket(&txn.open_table(BUCKETS)?, &bucket)?;
            index::upload(&txn.open_table(UPLOADS)?, &bucket, &key, &upload_id)?
                .ok_or(Error::NoSuchUpload)
        })
        .await
    }

    pub(crate) async fn create_multipart_upload_impl(
        &self,
        input: CreateMultipartUploadInput,
    ) -> Result<CreateMultipartUploadOutput> {
        let storage_class = props::storage_class(input.storage_class.as_ref())?;
        let mut object_props = props_from_input!(input, storage_class);
        object_props.tags = tagging::parse_header(input.tagging.as_deref())?;
        let algorithm = props::algorithm(input.checksum_algorithm.as_ref())?;
        let checksum_type = checksum_type(input.checksum_type.as_ref(), algorithm)?;
        let record = UploadRecord {
            initiated: time::now_secs(),
            props: object_props,
            checksum_algorithm: algorithm.map(|a| a.as_str().to_owned()),
            checksum_type: checksum_type.clone(),
        };
        let upload_id = new_upload_id();
        let (bucket, key, id) = (input.bucket.clone(), input.key.clone(), upload_id.clone());
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            {
                index::require_bucket(&txn.open_table(BUCKETS)?, &bucket)?;
                txn.open_table(UPLOADS)?.insert(
                    (bucket.as_str(), key.as_str(), id.as_str()),
                    index::encode(&record)?.as_slice(),
                )?;
            }
            txn.commit()?;
            Ok(())
        })
        .await?;
        Ok(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            checksum_algorithm: input.checksum_algorithm,
            checksum_type: checksum_type.map(ChecksumType::from),
            ..CreateMultipartUploadOutput::default()
        })
    }

    pub(crate) async fn upload_part_impl(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> Result<UploadPartOutput> {
        let S3Request {
            input,
            headers,
            trailing_headers,
            ..
        } = req;
        let number = part_number(input.part_number)?;
        check_announced(input.content_length)?;
        let upload = self
            .upload_record(
                input.bucket.clone(),
                input.key.clone(),
                input.upload_id.clone(),
            )
            .await?;
        let also = upload.algorithm();
        let check = BodyCheck::new(
            &headers,
            input.content_md5.as_deref(),
            input.checksum_algorithm.as_ref(),
            also,
        )?;
        let name = files::new_name();
        let (file, digests) = files::write_body(
            self.inner.part_path(&input.upload_id, &name),
            body_or_empty(input.body),
            check.digests(also),
            MAX_OBJECT_PART,
        )
        .await?;
        let verified = check_length(input.content_length, digests.len)
            .and_then(|()| check.verify(&digests, trailing_headers.as_ref()));
        let kept = match verified {
            Ok(kept) => kept,
            Err(e) => {
                files::discard(file).await;
                return Err(e);
            }
        };
        let etag = digests.md5_hex();
        let record = PartRecord {
            file: name,
            size: digests.len,
            etag: etag.clone(),
            last_modified: time::now_secs(),
            checksums: digests
                .checksums
                .iter()
                .map(|(a, v)| (a.as_str().to_owned(), v.to_owned()))
                .collect(),
        };
        let (bucket, key, id) = (input.bucket, input.key, input.upload_id);
        self.run(move |inner| commit_part(inner, (&bucket, &key, &id), number, &record, file))
            .await?;
        let mut out = UploadPartOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..UploadPartOutput::default()
        };
        fill_checksums!(out, &kept);
        Ok(out)
    }

    pub(crate) async fn upload_part_copy_impl(
        &self,
        input: UploadPartCopyInput,
    ) -> Result<UploadPartCopyOutput> {
        let number = part_number(input.part_number)?;
        let upload = self
            .upload_record(
                input.bucket.clone(),
                input.key.clone(),
                input.upload_id.clone(),
            )
            .await?;
        let conds = SourceConditions {
            if_match: input.copy_source_if_match.clone(),
            if_none_match: input.copy_source_if_none_match.clone(),
            if_modified_since: input.copy_source_if_modified_since.clone(),
            if_unmodified_since: input.copy_source_if_unmodified_since.clone(),
        };
        let (source, src) = self.open_copy_source(&input.copy_source, &conds).await?;
        let (start, len) = match input.copy_source_range.as_deref() {
            Some(range) => copy_range(range, source.size)?,
            None => (0, source.size),
        };
        if len > MAX_OBJECT_PART {
            return Err(Error::InvalidRequest(format!(
                "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_OBJECT_PART}"
            )));
        }
        let name = files::new_name();
        let algorithm = upload.algorithm();
        let (bucket, key, id) = (input.bucket, input.key, input.upload_id);
        let (etag, last_modified, checksums) = self
            .run(move |inner| {
                let (file, digests) = copy_to_new_file(
                    &src,
                    start,
                    len,
                    inner.part_path(&id, &name),
                    BodyDigests::with_md5(algorithm),
                )?;
                let record = PartRecord {
                    file: name,
                    size: digests.len,
                    etag: digests.md5_hex(),
                    last_modified: time::now_secs(),
                    checksums: digests
                        .checksums
                        .iter()
                        .map(|(a, v)| (a.as_str().to_owned(), v.to_owned()))
                        .collect(),
                };
                commit_part(inner, (&bucket, &key, &id), number, &record, file)?;
                Ok((record.etag, record.last_modified, digests.checksums))
            })
            .await?;
        let mut result = CopyPartResult {
            e_tag: Some(ETag::Strong(etag)),
            last_modified: time::timestamp(last_modified),
            ..CopyPartResult::default()
        };
        fill_checksums!(result, &checksums);
        Ok(UploadPartCopyOutput {
            copy_part_result: Some(result),
            ..UploadPartCopyOutput::default()
        })
    }

    pub(crate) async fn abort_multipart_upload_impl(
        &self,
        input: AbortMultipartUploadInput,
    ) -> Result<AbortMultipartUploadOutput> {
        check_upload_id(&input.upload_id)?;
        let (bucket, key, id) = (input.bucket, input.key, input.upload_id);
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            {
                index::require_bucket(&txn.open_table(BUCKETS)?, &bucket)?;
                let mut uploads = txn.open_table(UPLOADS)?;
                if uploads
                    .remove((bucket.as_str(), key.as_str(), id.as_str()))?
                    .is_none()
                {
                    return Err(Error::NoSuchUpload);
                }
                drop_parts(&txn, &id)?;
            }
            txn.commit()?;
            remove_upload_dir(inner, &id);
            Ok(())
        })
        .await?;
        Ok(AbortMultipartUploadOutput::default())
    }
}

/// Removes every part record of an upload inside `txn`.
pub(crate) fn drop_parts(txn: &redb::WriteTransaction, upload_id: &str) -> Result<()> {
    let mut parts = txn.open_table(PARTS)?;
    let numbers: Vec<u32> = index::parts(&parts, upload_id)?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for n in numbers {
        parts.remove((upload_id, n))?;
    }
    Ok(())
}

/// Removes an upload's directory once no record references it. Blocking; failures are logged
/// (the next open collects what is left).
pub(crate) fn remove_upload_dir(inner: &Inner, upload_id: &str) {
    let dir = inner.upload_dir(upload_id);
    if let Err(e) = std::fs::remove_dir_all(&dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(dir = %dir.display(), error = %e, "Cannot remove an upload directory.");
    }
}

/// Parses `x-amz-copy-source-range: bytes=first-last` against the source size.
fn copy_range(range: &str, size: u64) -> Result<(u64, u64)> {
    let bad = || {
        Error::InvalidArgument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy".into(),
        )
    };
    let (first, last) = range
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(bad)?;
    let first: u64 = first.parse().map_err(|_| bad())?;
    let last: u64 = last.parse().map_err(|_| bad())?;
    if first > last {
        return Err(bad());
    }
    if last >= size {
        return Err(Error::InvalidArgument(format!(
            "Range specified is not valid for source object of size: {size}"
        )));
    }
    Ok((first, last - first + 1))
}
