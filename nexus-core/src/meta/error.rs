//! The metadata store's error type.

use std::path::PathBuf;
use std::time::Duration;

/// `Result` with [`MetaError`].
pub type Result<T, E = MetaError> = std::result::Result<T, E>;

/// What went wrong in the metadata store. Messages name the store (with any password
/// redacted), the operation and what to do; [`MetaError::is_retryable`] says whether trying
/// again later can help.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    // Category: configuration (the URL or options are wrong; retrying cannot help).
    #[error(
        "unsupported metadata URL `{url}`: expected `memory`, `file:PATH`, `redis://[USER:PASSWORD@]HOST[:PORT][/DB]` or `rediss://…`"
    )]
    UnsupportedUrl { url: String },
    #[error("invalid metadata URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },

    // Category: the Redis server.
    #[error("cannot connect to the metadata store {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: redis::RedisError,
    },
    #[error(
        "the metadata store {target} refused our credentials ({detail}): check the user and password in the URL"
    )]
    Auth { target: String, detail: String },
    #[error("metadata store {target}: {op} failed: {source}")]
    Redis {
        target: String,
        op: &'static str,
        #[source]
        source: redis::RedisError,
    },
    #[error("metadata store {target}: {op} timed out after {after:?}")]
    Timeout {
        target: String,
        op: &'static str,
        after: Duration,
    },
    #[error("metadata store {target}: unexpected reply to {op}: {detail}")]
    Protocol {
        target: String,
        op: &'static str,
        detail: String,
    },

    // Category: schema and file format versions.
    #[error(
        "metadata store {target} uses schema version {found}, newer than this build supports ({supported}): upgrade nexus before using this store"
    )]
    SchemaTooNew {
        target: String,
        found: u32,
        supported: u32,
    },
    #[error(
        "metadata store {target} has an unrecognised schema marker `{found}` (supported: {supported}); refusing to touch it"
    )]
    SchemaUnknown {
        target: String,
        found: String,
        supported: u32,
    },
    #[error(
        "metadata file {path} was written in format version {found}, newer than this build reads ({supported}): upgrade nexus"
    )]
    FormatTooNew {
        path: PathBuf,
        found: u64,
        supported: u64,
    },
    #[error("metadata file {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("metadata file {path}: {op}: {source}")]
    File {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },

    // Category: the request (the caller's input; nothing was changed).
    #[error(
        "revision conflict: expected revision {expected} but the store is at {actual}; re-read (diff) and apply again"
    )]
    Conflict { expected: u64, actual: u64 },
    #[error("invalid batch: {0}")]
    InvalidBatch(String),
    #[error("invalid {kind} name {name:?}: {reason}")]
    InvalidName {
        kind: &'static str,
        name: String,
        reason: &'static str,
    },
    #[error("invalid digest `{digest}`: expected `sha256:` and 64 lowercase hex digits")]
    InvalidDigest { digest: String },
    #[error("module digest mismatch: expected {expected}, the bytes hash to {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("module {digest} is corrupt in the metadata store (its bytes hash to {actual})")]
    ModuleCorrupt { digest: String, actual: String },

    #[error("the metadata store's background task failed: {0}")]
    Internal(String),
}

// === impl MetaError ===

impl MetaError {
    /// Whether the same request may succeed later (the store is unreachable, slow or busy).
    /// Conflicts are not retryable as such: re-read, then decide.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Timeout { .. } => true,
            Self::Redis { source, .. } => {
                source.is_io_error()
                    || source.is_timeout()
                    || source.is_connection_dropped()
                    || source.is_connection_refusal()
                    || matches!(
                        source.kind(),
                        redis::ErrorKind::Server(
                            redis::ServerErrorKind::BusyLoading | redis::ServerErrorKind::TryAgain
                        )
                    )
            }
            Self::File { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }
}
