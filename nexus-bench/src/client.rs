//! The aws-sdk-s3 client every measurement uses, direct or through the proxy.
//!
//! HTTP goes through `aws_smithy_http_client`'s hyper 1 client with rustls/ring. Its connector
//! sets TCP_NODELAY by default (`ConnectorBuilder::default` has `enable_tcp_nodelay: true`,
//! applied with `HttpConnector::set_nodelay`), so no custom connector is needed.
//! Retries are off (an error is counted, not hidden) and stalled-stream protection is off (its
//! per-poll bookkeeping is client overhead that is not the proxy's). Checksums are only computed
//! when an operation requires one, unless `checksums` asks for the SDK's default (CRC32 on every
//! PUT, which over plain HTTP with unsigned payloads makes aws-chunked bodies with a trailer).

use aws_credential_types::Credentials;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{
    Region, RequestChecksumCalculation, ResponseChecksumValidation, StalledStreamProtectionConfig,
};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Where and how the client connects.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    /// Let the SDK compute CRC32 checksums on PUTs (the default of recent SDKs).
    pub checksums: bool,
}

/// Builds a path-style client for `us-east-1` with static credentials.
pub fn build(opts: &ClientOptions) -> Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let creds = Credentials::new(
        opts.access_key.clone(),
        opts.secret_key.clone(),
        None,
        None,
        "nexus-bench",
    );
    let (calc, validate) = if opts.checksums {
        (
            RequestChecksumCalculation::WhenSupported,
            ResponseChecksumValidation::WhenSupported,
        )
    } else {
        (
            RequestChecksumCalculation::WhenRequired,
            ResponseChecksumValidation::WhenRequired,
        )
    };
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(opts.endpoint.clone())
        .force_path_style(true)
        .credentials_provider(creds)
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .request_checksum_calculation(calc)
        .response_checksum_validation(validate)
        .build();
    Client::from_conf(conf)
}
