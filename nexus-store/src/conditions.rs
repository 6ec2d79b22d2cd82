//! Read preconditions (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since) in
//! RFC 9110 §13.2.2 order, as S3 applies them. One implementation for every place that
//! answers them itself: the embedded store, and the worker for transformed objects (whose
//! logical ETag the backend does not know).

use http::{HeaderMap, HeaderValue};
use s3s::dto::{ETagCondition, Timestamp, TimestampFormat};
use s3s::{S3Error, S3ErrorCode};
use time::OffsetDateTime;

/// The four conditional headers of one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

/// The read preconditions of a GetObject or HeadObject input (any value with the four
/// `if_*` fields).
#[macro_export]
macro_rules! read_conditions {
    ($input:expr) => {
        $crate::conditions::Conditions {
            if_match: $input.if_match.as_ref(),
            if_none_match: $input.if_none_match.as_ref(),
            if_modified_since: $input.if_modified_since.as_ref(),
            if_unmodified_since: $input.if_unmodified_since.as_ref(),
        }
    };
}

/// What the preconditions decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Proceed,
    /// A precondition on the current state failed (412).
    Failed,
    /// The client's copy is current (304).
    NotModified,
}

/// Whether an `If-(None-)Match` value names this (unquoted) ETag (`*` names any).
#[must_use]
pub fn matches(condition: &ETagCondition, etag: &str) -> bool {
    match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value().trim_matches('"') == etag,
    }
}

/// An s3s timestamp as whole Unix seconds (S3 keeps Last-Modified to the second).
#[must_use]
pub fn secs(ts: &Timestamp) -> i64 {
    OffsetDateTime::from(ts.clone()).unix_timestamp()
}

/// Evaluates `c` against an object with `etag` (unquoted) and `last_modified` (Unix seconds).
#[must_use]
pub fn evaluate(etag: &str, last_modified: i64, c: Conditions<'_>) -> Outcome {
    // If-Match wins over If-Unmodified-Since.
    if let Some(cond) = c.if_match {
        if !matches(cond, etag) {
            return Outcome::Failed;
        }
    } else if let Some(since) = c.if_unmodified_since
        && last_modified > secs(since)
    {
        return Outcome::Failed;
    }
    // If-None-Match wins over If-Modified-Since.
    if let Some(cond) = c.if_none_match {
        if matches(cond, etag) {
            return Outcome::NotModified;
        }
    } else if let Some(since) = c.if_modified_since
        && last_modified <= secs(since)
    {
        return Outcome::NotModified;
    }
    Outcome::Proceed
}

/// GET and HEAD: `Err` with 412 PreconditionFailed, or 304 NotModified carrying ETag and
/// Last-Modified (s3s-aws drops them; clients revalidating caches need them).
///
/// # Errors
/// As described.
pub fn check_read(etag: &str, last_modified: i64, c: Conditions<'_>) -> Result<(), S3Error> {
    match evaluate(etag, last_modified, c) {
        Outcome::Proceed => Ok(()),
        Outcome::Failed => Err(S3Error::new(S3ErrorCode::PreconditionFailed)),
        Outcome::NotModified => Err(not_modified(etag, last_modified)),
    }
}

/// A 304 with the object's ETag and Last-Modified.
#[must_use]
pub fn not_modified(etag: &str, last_modified: i64) -> S3Error {
    let mut err = S3Error::new(S3ErrorCode::NotModified);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        headers.insert(http::header::ETAG, v);
    }
    if let Ok(ts) = OffsetDateTime::from_unix_timestamp(last_modified) {
        let mut buf = Vec::new();
        if Timestamp::format(&Timestamp::from(ts), TimestampFormat::HttpDate, &mut buf).is_ok()
            && let Ok(v) = HeaderValue::from_bytes(&buf)
        {
            headers.insert(http::header::LAST_MODIFIED, v);
        }
    }
    err.set_headers(headers);
    err
}
