//! Builds the `aws_sdk_s3::Client` an [`S3Backend`](super::S3Backend) forwards through.
//!
//! - HTTP: `aws-smithy-http-client` (hyper 1) with rustls on ring; `http://` and `https://`
//!   endpoints; keep-alive pool; TCP_NODELAY on every socket (the connector builder's default,
//!   set on hyper-util's `HttpConnector` under the TLS wrapper); connect timeout.
//! - Credentials: static keys, no credential chain and no `aws-config`.
//! - Checksums: computed or validated only when the operation requires it
//!   (`WhenRequired`); values the client supplied are forwarded as they are.
//! - Stalled-stream protection off for uploads: the proxy's upload speed is the broker's.
//! - Retries: standard mode with few attempts; streamed bodies are never replayed.

use aws_credential_types::Credentials;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    StalledStreamProtectionConfig,
};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use super::{Error, S3BackendConfig};

/// Name under which the static credentials show up in SDK logs.
const CREDENTIALS_PROVIDER: &str = "nexus-static";

/// Builds the client for `cfg` (validated first). Needs no async runtime; the first request
/// does.
pub(crate) fn build_client(cfg: &S3BackendConfig) -> Result<aws_sdk_s3::Client, Error> {
    cfg.validate()?;

    let http_client = aws_smithy_http_client::Builder::new()
        .pool_idle_timeout(cfg.pool_idle_timeout)
        .pool_max_idle_per_host(cfg.pool_max_idle_per_host)
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();

    let credentials = Credentials::new(
        cfg.access_key.clone(),
        cfg.secret_key.clone(),
        None,
        None,
        CREDENTIALS_PROVIDER,
    );

    let mut builder = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client)
        .credentials_provider(credentials)
        .region(Region::new(cfg.region.clone()))
        .force_path_style(cfg.path_style)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(cfg.connect_timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(cfg.max_attempts))
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .stalled_stream_protection(
            StalledStreamProtectionConfig::enabled()
                .upload_enabled(false)
                .download_enabled(true)
                .build(),
        );
    if let Some(endpoint) = &cfg.endpoint {
        builder = builder.endpoint_url(endpoint.trim_end_matches('/'));
    }
    Ok(aws_sdk_s3::Client::from_conf(builder.build()))
}
