//! Why an [`S3Backend`](super::S3Backend) could not be built.

/// A configuration the backend cannot work with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint is not an absolute `http`/`https` URL.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as configured.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The region is empty.
    #[error("the region must not be empty")]
    EmptyRegion,
    /// The access key or the secret key is empty.
    #[error("both an access key and a secret key are required")]
    MissingCredentials,
    /// `max_attempts` is 0.
    #[error("max_attempts must be at least 1")]
    NoAttempts,
}
