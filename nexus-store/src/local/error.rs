//! The embedded store's error type and its one conversion to [`S3Error`].

use std::io;
use std::str::FromStr as _;

use http::StatusCode;
use s3s::{S3Error, S3ErrorCode};

/// Everything that can go wrong in [`super::LocalStore`].
///
/// The first group are answers to the client, with S3's codes; the second are failures of the
/// store itself, which reach the client as `InternalError` with the message hidden (and logged).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // === Category: answers to the client ===
    /// The bucket does not exist.
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    /// CreateBucket on a bucket that exists (this store has one owner).
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou,
    /// DeleteBucket while objects or uploads exist.
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty,
    /// The key does not exist.
    #[error("The specified key does not exist.")]
    NoSuchKey,
    /// A version id other than `null`.
    #[error("The specified version does not exist.")]
    NoSuchVersion,
    /// The upload id is unknown (never existed, completed or aborted).
    #[error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )]
    NoSuchUpload,
    /// CompleteMultipartUpload names a part that is missing or has another ETag/checksum.
    #[error("{0}")]
    InvalidPart(String),
    /// CompleteMultipartUpload parts are not in ascending order.
    #[error("The list of parts was not in ascending order. Parts must be ordered by part number.")]
    InvalidPartOrder,
    /// A part other than the last is smaller than 5 MiB.
    #[error("Your proposed upload is smaller than the minimum allowed size")]
    EntityTooSmall,
    /// A body or copy source larger than S3 allows.
    #[error("{0}")]
    EntityTooLarge(String),
    /// The Range cannot be satisfied.
    #[error("The requested range is not satisfiable")]
    InvalidRange,
    /// `partNumber` beyond the object's parts.
    #[error("The requested partnumber is not satisfiable")]
    InvalidPartNumber,
    /// A precondition (If-Match, If-Unmodified-Since, copy-source conditions…) failed.
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    /// GET/HEAD If-None-Match / If-Modified-Since: 304, still carrying ETag and Last-Modified.
    #[error("Not Modified")]
    NotModified {
        /// Unquoted ETag of the object.
        etag: String,
        /// Last-Modified, Unix seconds.
        last_modified: i64,
    },
    /// Content-MD5 or an `x-amz-checksum-*` value does not match the body.
    #[error("{0}")]
    BadDigest(String),
    /// Content-MD5 is not the base64 of 16 bytes.
    #[error("The Content-MD5 you specified was invalid.")]
    InvalidDigest,
    /// The request is not valid (message says why).
    #[error("{0}")]
    InvalidRequest(String),
    /// An argument is not valid (message says why).
    #[error("{0}")]
    InvalidArgument(String),
    /// A tag set breaks S3's limits.
    #[error("{0}")]
    InvalidTag(String),
    /// A request document is not valid.
    #[error("{0}")]
    MalformedXml(String),
    /// The storage class is unknown.
    #[error("The storage class you specified is not valid")]
    InvalidStorageClass,
    /// The body ended before Content-Length bytes, or had more.
    #[error("{0}")]
    IncompleteBody(String),
    /// Something this store does not do.
    #[error("{0}")]
    NotImplemented(String),
    /// The request body failed while streaming (s3s's own code: signature, SHA-256…).
    #[error("request body: {0}")]
    Body(S3Error),

    // === Category: failures of the store ===
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The cause.
        source: io::Error,
    },
    /// The redb index failed.
    #[error("index: {0}")]
    Index(Box<redb::Error>),
    /// A stored record does not decode.
    #[error("index record: {0}")]
    Record(#[from] serde_json::Error),
    /// A blocking task panicked or was cancelled.
    #[error("blocking task: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The index and the files disagree beyond what retrying fixes.
    #[error("inconsistent store: {0}")]
    Inconsistent(String),
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An IO error with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether this is an IO "not found" (a blob unlinked by a concurrent commit).
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Self::Index(Box::new(redb::Error::from(e)))
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

fn coded(code: S3ErrorCode, message: String) -> S3Error {
    S3Error::with_message(code, message)
}

fn custom(code: &str, status: StatusCode, message: String) -> S3Error {
    let code = S3ErrorCode::from_str(code).unwrap_or(S3ErrorCode::InternalError);
    let mut err = S3Error::with_message(code, message);
    err.set_status_code(status);
    err
}

fn not_modified(etag: &str, last_modified: i64) -> S3Error {
    crate::conditions::not_modified(etag, last_modified)
}

impl From<Error> for S3Error {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::NoSuchBucket => coded(S3ErrorCode::NoSuchBucket, message),
            Error::BucketAlreadyOwnedByYou => coded(S3ErrorCode::BucketAlreadyOwnedByYou, message),
            Error::BucketNotEmpty => coded(S3ErrorCode::BucketNotEmpty, message),
            Error::NoSuchKey => coded(S3ErrorCode::NoSuchKey, message),
            Error::NoSuchVersion => coded(S3ErrorCode::NoSuchVersion, message),
            Error::NoSuchUpload => coded(S3ErrorCode::NoSuchUpload, message),
            Error::InvalidPart(_) => coded(S3ErrorCode::InvalidPart, message),
            Error::InvalidPartOrder => coded(S3ErrorCode::InvalidPartOrder, message),
            Error::EntityTooSmall => coded(S3ErrorCode::EntityTooSmall, message),
            Error::EntityTooLarge(_) => coded(S3ErrorCode::EntityTooLarge, message),
            Error::InvalidRange => coded(S3ErrorCode::InvalidRange, message),
            Error::InvalidPartNumber => custom(
                "InvalidPartNumber",
                StatusCode::RANGE_NOT_SATISFIABLE,
                message,
            ),
            Error::PreconditionFailed => coded(S3ErrorCode::PreconditionFailed, message),
            Error::NotModified {
                etag,
                last_modified,
            } => not_modified(&etag, last_modified),
            Error::BadDigest(_) => coded(S3ErrorCode::BadDigest, message),
            Error::InvalidDigest => coded(S3ErrorCode::InvalidDigest, message),
            Error::InvalidRequest(_) => coded(S3ErrorCode::InvalidRequest, message),
            Error::InvalidArgument(_) => coded(S3ErrorCode::InvalidArgument, message),
            Error::InvalidTag(_) => coded(S3ErrorCode::InvalidTag, message),
            Error::MalformedXml(_) => coded(S3ErrorCode::MalformedXML, message),
            Error::InvalidStorageClass => coded(S3ErrorCode::InvalidStorageClass, message),
            Error::IncompleteBody(_) => coded(S3ErrorCode::IncompleteBody, message),
            Error::NotImplemented(_) => coded(S3ErrorCode::NotImplemented, message),
            Error::Body(err) => err,
            Error::Io { .. }
            | Error::Index(_)
            | Error::Record(_)
            | Error::Task(_)
            | Error::Inconsistent(_) => {
                tracing::error!(error = %message, "Embedded store failed.");
                S3Error::new(S3ErrorCode::InternalError)
            }
        }
    }
}
