//! Building the redis client (TLS) and telling its errors apart.

use super::error::{MetaError, Result};
use super::redis_options::RedisOptions;

/// The redis client for `url`, with TLS roots when asked for.
pub(crate) fn client(url: &str, options: &RedisOptions, target: &str) -> Result<redis::Client> {
    let invalid = |reason: String| MetaError::InvalidUrl {
        url: target.to_owned(),
        reason,
    };
    if url.starts_with("rediss://") {
        // The worker links rustls with two crypto providers (aws-sdk-s3 brings aws-lc-rs), so
        // rustls cannot pick one by itself: make it ring, unless the process already chose.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let result = match &options.tls_ca {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|source| MetaError::File {
                path: path.clone(),
                op: "read the TLS CA file",
                source,
            })?;
            redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                },
            )
        }
        None => redis::Client::open(url),
    };
    result.map_err(|e| invalid(e.to_string()))
}

/// Authentication failures, told apart from other errors so the message says what to fix.
pub(crate) fn auth_error(target: &str, e: &redis::RedisError) -> Option<MetaError> {
    let code = e.code().unwrap_or_default();
    // A pipeline's error carries its commands' codes only in its text.
    let text = e.to_string();
    let auth = e.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(code, "NOAUTH" | "WRONGPASS" | "NOPERM")
        || ["NOAUTH", "WRONGPASS", "NOPERM"]
            .iter()
            .any(|c| text.contains(&format!("\"{c}\"")));
    auth.then(|| MetaError::Auth {
        target: target.to_owned(),
        detail: e.detail().map_or_else(|| e.to_string(), str::to_owned),
    })
}

pub(crate) fn connect_error(target: &str, e: redis::RedisError) -> MetaError {
    auth_error(target, &e).unwrap_or_else(|| MetaError::Connect {
        target: target.to_owned(),
        source: e,
    })
}
