//! What an [`S3Backend`](super::S3Backend) connects to, and how.

use std::fmt;
use std::time::Duration;

use super::Error;

/// Where the backend is and how to talk to it.
///
/// Only the first five fields are required; the tuning fields have defaults chosen for a proxy
/// on the tiering path (short connect timeout, pool shorter-lived than S3's idle close, one
/// retry).
#[derive(Clone)]
pub struct S3BackendConfig {
    /// `http://host:port` or `https://host`; `None` = AWS S3 (endpoint from the region).
    pub endpoint: Option<String>,
    /// Signing region (and AWS endpoint region when `endpoint` is `None`).
    pub region: String,
    /// Access key id of the backend credentials.
    pub access_key: String,
    /// Secret access key of the backend credentials (never printed by `Debug`).
    pub secret_key: String,
    /// Path-style addressing (`endpoint/bucket/key`) instead of virtual-host (`bucket.endpoint`).
    pub path_style: bool,
    /// TCP (and TLS) connect timeout. Default 5 s.
    pub connect_timeout: Duration,
    /// How long an idle keep-alive connection stays in the pool. Default 15 s: below the
    /// ~20 s after which S3 endpoints close idle connections, so a pooled socket is rarely stale.
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per backend host. Default 256.
    pub pool_max_idle_per_host: usize,
    /// Attempts per request, first one included (standard retry mode). Default 2. Streamed
    /// bodies are never retried, and the broker retries what we answer with a 5xx anyway.
    pub max_attempts: u32,
}

impl S3BackendConfig {
    /// Default connect timeout.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default idle time of a pooled connection.
    pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(15);
    /// Default number of idle connections per host.
    pub const DEFAULT_POOL_MAX_IDLE_PER_HOST: usize = 256;
    /// Default attempts per request.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 2;

    /// Checks the configuration without building anything.
    ///
    /// # Errors
    /// The endpoint is not an absolute `http`/`https` URL, the region is empty, a key is missing,
    /// or `max_attempts` is 0.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(endpoint) = &self.endpoint {
            check_endpoint(endpoint)?;
        }
        if self.region.trim().is_empty() {
            return Err(Error::EmptyRegion);
        }
        if self.access_key.is_empty() || self.secret_key.is_empty() {
            return Err(Error::MissingCredentials);
        }
        if self.max_attempts == 0 {
            return Err(Error::NoAttempts);
        }
        Ok(())
    }
}

fn check_endpoint(endpoint: &str) -> Result<(), Error> {
    let invalid = |reason: &str| Error::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(_) => return Err(invalid("the scheme must be http or https")),
        None => {
            return Err(invalid(
                "an absolute URL is required, e.g. http://127.0.0.1:9000",
            ));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if uri.query().is_some() {
        return Err(invalid("a query string is not allowed"));
    }
    Ok(())
}

impl Default for S3BackendConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: "us-east-1".to_owned(),
            access_key: String::new(),
            secret_key: String::new(),
            path_style: false,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            pool_idle_timeout: Self::DEFAULT_POOL_IDLE_TIMEOUT,
            pool_max_idle_per_host: Self::DEFAULT_POOL_MAX_IDLE_PER_HOST,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
        }
    }
}

impl fmt::Debug for S3BackendConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3BackendConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("path_style", &self.path_style)
            .field("connect_timeout", &self.connect_timeout)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_endpoint(endpoint: &str) -> S3BackendConfig {
        S3BackendConfig {
            endpoint: Some(endpoint.to_owned()),
            access_key: "ak".to_owned(),
            secret_key: "sk".to_owned(),
            ..S3BackendConfig::default()
        }
    }

    #[test]
    fn accepts_http_and_https_endpoints() {
        for ok in [
            "http://127.0.0.1:9000",
            "https://s3.example.com",
            "http://[::1]:1/",
        ] {
            assert!(with_endpoint(ok).validate().is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_endpoints_regions_and_missing_keys() {
        for bad in [
            "127.0.0.1:9000",
            "ftp://host",
            "http://",
            "not a url",
            "http://h/?x=1",
        ] {
            assert!(
                matches!(
                    with_endpoint(bad).validate(),
                    Err(Error::InvalidEndpoint { .. })
                ),
                "{bad}"
            );
        }
        let half = S3BackendConfig {
            secret_key: String::new(),
            ..with_endpoint("http://h")
        };
        assert!(matches!(half.validate(), Err(Error::MissingCredentials)));
        let no_region = S3BackendConfig {
            region: " ".to_owned(),
            ..with_endpoint("http://h")
        };
        assert!(matches!(no_region.validate(), Err(Error::EmptyRegion)));
    }

    #[test]
    fn debug_redacts_the_secret() {
        let cfg = S3BackendConfig {
            secret_key: "hunter2".to_owned(),
            ..S3BackendConfig::default()
        };
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }
}
