//! Times as the index stores them (Unix seconds, S3's precision) and as s3s wants them.

use std::time::{SystemTime, UNIX_EPOCH};

use s3s::dto::Timestamp;
use time::OffsetDateTime;

/// Now, in whole Unix seconds (S3 keeps Last-Modified to the second).
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Unix seconds as an s3s timestamp.
pub(crate) fn timestamp(secs: i64) -> Option<Timestamp> {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .map(Timestamp::from)
}

/// An s3s timestamp as whole Unix seconds.
pub(crate) fn secs(ts: &Timestamp) -> i64 {
    OffsetDateTime::from(ts.clone()).unix_timestamp()
}
