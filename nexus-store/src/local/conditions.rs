//! Conditional requests: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since on
//! reads, the `x-amz-copy-source-if-*` family on copies, and conditional writes.

use s3s::dto::ETagCondition;

pub(crate) use crate::conditions::Conditions;
use crate::conditions::{Outcome, matches};

use super::error::{Error, Result};
use super::records::ObjectRecord;

fn evaluate(record: &ObjectRecord, c: Conditions<'_>) -> Outcome {
    crate::conditions::evaluate(&record.etag, record.last_modified, c)
}

/// GET and HEAD: 412 PreconditionFailed, or 304 NotModified carrying ETag and Last-Modified.
pub(crate) fn check_read(record: &ObjectRecord, c: Conditions<'_>) -> Result<()> {
    match evaluate(record, c) {
        Outcome::Proceed => Ok(()),
        Outcome::Failed => Err(Error::PreconditionFailed),
        Outcome::NotModified => Err(Error::NotModified {
            etag: record.etag.clone(),
            last_modified: record.last_modified,
        }),
    }
}

/// CopyObject and UploadPartCopy source conditions: every failure is 412.
pub(crate) fn check_copy_source(record: &ObjectRecord, c: Conditions<'_>) -> Result<()> {
    match evaluate(record, c) {
        Outcome::Proceed => Ok(()),
        Outcome::Failed | Outcome::NotModified => Err(Error::PreconditionFailed),
    }
}

/// Conditional writes (PutObject, CompleteMultipartUpload, DeleteObject) against the object the
/// write would replace. Checked inside the committing transaction, so it is atomic.
pub(crate) fn check_write(
    current: Option<&ObjectRecord>,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> Result<()> {
    if let Some(cond) = if_none_match
        && let Some(record) = current
        && matches(cond, &record.etag)
    {
        return Err(Error::PreconditionFailed);
    }
    if let Some(cond) = if_match {
        match current {
            None => return Err(Error::NoSuchKey),
            Some(record) if !matches(cond, &record.etag) => return Err(Error::PreconditionFailed),
            Some(_) => {}
        }
    }
    Ok(())
}
