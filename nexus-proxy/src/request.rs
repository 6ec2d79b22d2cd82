//! Per-request state shared between the edge layer and the S3 front end.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Operation name used before s3s has resolved the request to an operation.
pub const UNKNOWN_OP: &str = "Unknown";

/// Operation label for operations outside [`SERVED_OPS`] (bounds metric cardinality).
pub const OTHER_OP: &str = "Other";

/// The S3 operations the front end serves, by their s3s names.
pub const SERVED_OPS: &[&str] = &[
    "AbortMultipartUpload",
    "CompleteMultipartUpload",
    "CopyObject",
    "CreateBucket",
    "CreateMultipartUpload",
    "DeleteBucket",
    "DeleteObject",
    "DeleteObjectTagging",
    "DeleteObjects",
    "GetBucketLocation",
    "GetObject",
    "GetObjectTagging",
    "HeadBucket",
    "HeadObject",
    "ListBuckets",
    "ListMultipartUploads",
    "ListObjects",
    "ListObjectsV2",
    "ListParts",
    "PutObject",
    "PutObjectTagging",
    "UploadPart",
    "UploadPartCopy",
];

/// The static label of an s3s operation name.
#[must_use]
pub fn op_label(name: &str) -> &'static str {
    SERVED_OPS
        .iter()
        .find(|op| **op == name)
        .copied()
        .unwrap_or(OTHER_OP)
}

/// The stream partition a request was routed by, and the membership epoch this worker owned
/// it at (the fence of its streamlet state commits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The ring key (`nexus_core::cluster::route_key`).
    pub key: Vec<u8>,
    pub stream: String,
    pub partition: u64,
    pub epoch: u64,
}

/// State of one client request, carried in the request's extensions as `Arc<RequestCtx>`.
#[derive(Debug)]
pub struct RequestCtx {
    /// The id returned as `x-amz-request-id` and logged in every line of this request.
    pub id: RequestId,
    op: OnceLock<&'static str>,
    route: OnceLock<Route>,
}

// === impl RequestCtx ===

impl RequestCtx {
    #[must_use]
    pub fn new() -> Self {
        Self::with_id(RequestId::next())
    }

    /// A context with a given id (a request forwarded by another worker keeps its id).
    #[must_use]
    pub fn with_id(id: RequestId) -> Self {
        Self {
            id,
            op: OnceLock::new(),
            route: OnceLock::new(),
        }
    }

    /// Records the partition route (first call wins).
    pub fn set_route(&self, route: Route) {
        let _ = self.route.set(route);
    }

    /// The partition this worker serves the request as owner of, if routed.
    #[must_use]
    pub fn route(&self) -> Option<&Route> {
        self.route.get()
    }

    /// Records the S3 operation (first call wins).
    pub fn set_op(&self, op: &'static str) {
        let _ = self.op.set(op);
    }

    /// The S3 operation, or [`UNKNOWN_OP`] when the request never resolved to one.
    #[must_use]
    pub fn op(&self) -> &'static str {
        self.op.get().copied().unwrap_or(UNKNOWN_OP)
    }
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}

/// A request id: 16 upper-case hex digits, unique per process run, cheap to make.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestId([u8; 16]);

static SEED: OnceLock<u64> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

// === impl RequestId ===

impl RequestId {
    /// The next id: a per-process random-ish seed mixed with a counter (not a secret).
    #[must_use]
    pub fn next() -> Self {
        let seed = *SEED.get_or_init(|| {
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            t ^ (u64::from(std::process::id()) << 40)
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // splitmix64 of seed+n: distinct for distinct n, looks random in logs.
        let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let mut out = [0u8; 16];
        for (i, b) in out.iter_mut().enumerate() {
            let nibble = ((z >> (60 - 4 * i)) & 0xF) as u8;
            *b = b"0123456789ABCDEF"[nibble as usize];
        }
        Self(out)
    }

    /// An id received from another worker: 16 hex digits, else `None`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let bytes: [u8; 16] = s.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
            .then_some(Self(bytes))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("0000000000000000")
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_hex() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| RequestId::next().to_string()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|s| {
            s.len() == 16
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        }));
    }

    #[test]
    fn op_defaults_to_unknown_and_first_set_wins() {
        let ctx = RequestCtx::new();
        assert_eq!(ctx.op(), UNKNOWN_OP);
        ctx.set_op("GetObject");
        ctx.set_op("PutObject");
        assert_eq!(ctx.op(), "GetObject");
    }
}
