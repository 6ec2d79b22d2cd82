//! Conditional requests: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since on
//! reads, the `x-amz-copy-source-if-*` family on copies, and conditional writes.

use s3s::dto::{ETagCondition, Timestamp};

use super::error::{Error, Result};
use super::records::ObjectRecord;
use super::time;

/// The four conditional headers of one request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

/// Whether an `If-(None-)Match` value names this ETag (`*` names any).
fn matches(condition: &ETagCondition, etag: &str) -> bool {
    match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value().trim_matches('"') == etag,
    }
}

/// What the preconditions decide, in RFC 9110 §13.2.2 order (as S3 applies them).
enum Outcome {
    Proceed,
    /// A precondition on the current state failed.
    Failed,
    /// The client's copy is current.
    NotModified,
}

fn evaluate(record: &ObjectRecord, c: Conditions<'_>) -> Outcome {
    // If-Match wins over If-Unmodified-Since.
    if let Some(cond) = c.if_match {
        if !matches(cond, &record.etag) {
            return Outcome::Failed;
        }
    } else if let Some(since) = c.if_unmodified_since
        && record.last_modified > time::secs(since)
    {
        return Outcome::Failed;
    }
    // If-None-Match wins over If-Modified-Since.
    if let Some(cond) = c.if_none_match {
        if matches(cond, &record.etag) {
            return Outcome::NotModified;
        }
    } else if let Some(since) = c.if_modified_since
        && record.last_modified <= time::secs(since)
    {
        return Outcome::NotModified;
    }
    Outcome::Proceed
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
