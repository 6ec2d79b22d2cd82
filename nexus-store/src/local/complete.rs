//! CompleteMultipartUpload: checks the part list, concatenates the parts into one blob (file to
//! file, bounded memory) and makes the object visible atomically.

use std::cell::Cell;
use std::collections::HashMap;

use s3s::dto::{
    CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CompletedPart, ETag, ETagCondition,
};

use super::error::{Error, Result};
use super::files::{self, PendingFile};
use super::index::{self, BUCKETS, PARTS, UPLOADS};
use super::multipart::{check_upload_id, drop_parts, remove_upload_dir};
use super::props::{self, fill_checksum};
use super::put::{NewObject, commit_object};
use super::records::{ObjectRecord, PartRecord, StoredChecksum, UploadRecord};
use super::time;
use super::{Inner, LocalStore};
use crate::checksum::{BodyDigests, ChecksumAlgorithm, multipart_etag};

/// Smallest part S3 accepts, except the last.
const MIN_PART: u64 = 5 * 1024 * 1024;

/// How often completion restarts when parts change under it.
const ATTEMPTS: usize = 4;

/// The request: bucket, key, upload and the parts the client listed.
struct Request {
    bucket: String,
    key: String,
    upload_id: String,
    parts: Vec<(u32, CompletedPart)>,
    object_size: Option<i64>,
    /// Whole-object checksums the client sent with the request.
    expected: Vec<(ChecksumAlgorithm, String)>,
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
}

/// Checks the client's part list against the stored parts; returns them in order.
fn select_parts(
    requested: &[(u32, CompletedPart)],
    stored: &HashMap<u32, PartRecord>,
) -> Result<Vec<(u32, PartRecord)>> {
    let mut selected = Vec::with_capacity(requested.len());
    for (i, (number, part)) in requested.iter().enumerate() {
        let invalid = || {
            Error::InvalidPart(
                "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.".into(),
            )
        };
        let record = stored.get(number).ok_or_else(invalid)?;
        let etag = part.e_tag.as_ref().ok_or_else(invalid)?;
        if etag.value().trim_matches('"') != record.etag {
            return Err(invalid());
        }
        for (algorithm, value) in crate::read_checksums!(part).iter() {
            if let Some(ours) = record.checksum(algorithm)
                && value != ours
            {
                return Err(invalid());
            }
        }
        if i + 1 < requested.len() && record.size < MIN_PART {
            return Err(Error::EntityTooSmall);
        }
        selected.push((*number, record.clone()));
    }
    Ok(selected)
}

/// One attempt: `None` if the parts changed meanwhile (retry). Blocking.
fn attempt(inner: &Inner, req: &Request) -> Result<Option<(ObjectRecord, String)>> {
    let (upload, stored): (UploadRecord, HashMap<u32, PartRecord>) = {
        let txn = inner.db.begin_read()?;
        index::require_bucket(&txn.open_table(BUCKETS)?, &req.bucket)?;
        let upload = index::upload(
            &txn.open_table(UPLOADS)?,
            &req.bucket,
            &req.key,
            &req.upload_id,
        )?
        .ok_or(Error::NoSuchUpload)?;
        let parts = index::parts(&txn.open_table(PARTS)?, &req.upload_id)?;
        (upload, parts.into_iter().collect())
    };
    let selected = select_parts(&req.parts, &stored)?;
    let total: u64 = selected.iter().map(|(_, p)| p.size).sum();
    if let Some(expected) = req.object_size
        && u64::try_from(expected).ok() != Some(total)
    {
        return Err(Error::InvalidRequest(format!(
            "The provided 'x-amz-mp-object-size' header value {expected} does not match what was computed: {total}"
        )));
    }
    let etag = multipart_etag(selected.iter().map(|(_, p)| p.etag.as_str()))
        .ok_or_else(|| Error::Inconsistent("a part ETag is not an MD5".into()))?;

    // Concatenate into a new blob.
    let full_object = upload.full_object_checksum();
    let algorithm = upload.algorithm();
    let mut digests = BodyDigests::checksums_only(algorithm.filter(|_| full_object));
    let name = files::new_name();
    let (blob, mut out) = PendingFile::create(inner.blob_path(&name))?;
    for (_, part) in &selected {
        let src = match files::open(&inner.part_path(&req.upload_id, &part.file)) {
            Ok(f) => f,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        files::copy_range(&src, 0, part.size, &mut out, &mut digests)
            .map_err(|e| Error::io(format!("concatenating into {}", blob.path().display()), e))?;
    }
    out.sync_all()
        .map_err(|e| Error::io(format!("syncing {}", blob.path().display()), e))?;
    let digests = digests.finish();

    let checksum = match algorithm {
        Some(a) if full_object => digests.checksums.get(a).map(|v| StoredChecksum {
            algorithm: a.as_str().to_owned(),
            value: v.to_owned(),
            composite: false,
        }),
        Some(a) => a
            .composite_base64(selected.iter().filter_map(|(_, p)| p.checksum(a)))
            .filter(|_| selected.iter().all(|(_, p)| p.checksum(a).is_some()))
            .map(|value| StoredChecksum {
                algorithm: a.as_str().to_owned(),
                value,
                composite: true,
            }),
        None => None,
    };
    for (a, value) in &req.expected {
        let ours = checksum
            .as_ref()
            .filter(|c| c.algorithm() == Some(*a))
            .map(|c| c.value.as_str());
        // A composite value may be sent with or without its `-<parts>` suffix.
        if let Some(ours) = ours
            && ours != value
            && ours.split('-').next() != Some(value.as_str())
        {
            return Err(Error::BadDigest(format!(
                "The {a} you specified did not match the calculated checksum."
            )));
        }
    }
    let record = ObjectRecord {
        blob: name,
        size: total,
        etag: etag.clone(),
        last_modified: time::now_secs(),
        props: upload.props.clone(),
        checksum,
        parts: selected.iter().map(|(_, p)| p.size).collect(),
    };
    let object = NewObject {
        bucket: req.bucket.clone(),
        key: req.key.clone(),
        record: record.clone(),
        if_match: req.if_match.clone(),
        if_none_match: req.if_none_match.clone(),
    };

    // Commit, if the upload and the selected parts are still what was concatenated.
    let changed = Cell::new(false);
    let committed = commit_object(inner, object, Some(blob), |txn| {
        let mut uploads = txn.open_table(UPLOADS)?;
        if uploads
            .remove((
                req.bucket.as_str(),
                req.key.as_str(),
                req.upload_id.as_str(),
            ))?
            .is_none()
        {
            return Err(Error::NoSuchUpload);
        }
        let now = index::parts(&txn.open_table(PARTS)?, &req.upload_id)?;
        let now: HashMap<u32, PartRecord> = now.into_iter().collect();
        if selected
            .iter()
            .any(|(n, p)| now.get(n).is_none_or(|q| q.file != p.file))
        {
            changed.set(true);
            return Err(Error::Inconsistent(
                "parts changed during completion".into(),
            ));
        }
        drop_parts(txn, &req.upload_id)
    });
    match committed {
        Ok(_) => {
            remove_upload_dir(inner, &req.upload_id);
            Ok(Some((record, etag)))
        }
        Err(_) if changed.get() => Ok(None),
        Err(e) => Err(e),
    }
}

impl LocalStore {
    pub(crate) async fn complete_multipart_upload_impl(
        &self,
        input: CompleteMultipartUploadInput,
    ) -> Result<CompleteMultipartUploadOutput> {
        check_upload_id(&input.upload_id)?;
        let listed = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default();
        if listed.is_empty() {
            return Err(Error::MalformedXml(
                "The XML you provided was not well-formed or did not validate against our published schema".into(),
            ));
        }
        let mut parts = Vec::with_capacity(listed.len());
        for part in listed {
            let number = part
                .part_number
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| Error::InvalidPart("A part number is missing or invalid.".into()))?;
            if parts.last().is_some_and(|(prev, _)| *prev >= number) {
                return Err(Error::InvalidPartOrder);
            }
            parts.push((number, part));
        }
        let expected = crate::read_checksums!(input)
            .iter()
            .map(|(a, v)| (a, v.to_owned()))
            .collect();
        let req = Request {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            upload_id: input.upload_id,
            parts,
            object_size: input.mpu_object_size,
            expected,
            if_match: input.if_match,
            if_none_match: input.if_none_match,
        };
        let (record, etag) = self
            .run(move |inner| {
                for _ in 0..ATTEMPTS {
                    if let Some(done) = attempt(inner, &req)? {
                        return Ok(done);
                    }
                }
                Err(Error::Inconsistent(
                    "parts kept changing during completion".into(),
                ))
            })
            .await?;

        let mut out = CompleteMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(ETag::Strong(etag)),
            ..CompleteMultipartUploadOutput::default()
        };
        fill_checksum!(out, record.checksum.as_ref());
        out.checksum_type = record.checksum.as_ref().map(props::checksum_type);
        Ok(out)
    }
}
