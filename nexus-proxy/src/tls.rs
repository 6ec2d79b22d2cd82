//! TLS on the S3 port: rustls (ring), certificate chain and key from PEM files.

use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::config::{ConfigError, TlsFiles};

/// Loads the certificate and key and builds the acceptor (HTTP/2 and HTTP/1.1 via ALPN).
///
/// # Errors
/// Unreadable files, no certificate, no or several keys, or a key that does not fit.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, ConfigError> {
    let fail = |what: String| ConfigError::from(what);
    let certs = rustls_pemfile::certs(&mut BufReader::new(
        File::open(&files.cert)
            .map_err(|e| fail(format!("--tls-cert {}: {e}", files.cert.display())))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .map_err(|e| fail(format!("--tls-cert {}: {e}", files.cert.display())))?;
    if certs.is_empty() {
        return Err(fail(format!(
            "--tls-cert {}: no PEM certificate found",
            files.cert.display()
        )));
    }
    let key = rustls_pemfile::private_key(&mut BufReader::new(
        File::open(&files.key)
            .map_err(|e| fail(format!("--tls-key {}: {e}", files.key.display())))?,
    ))
    .map_err(|e| fail(format!("--tls-key {}: {e}", files.key.display())))?
    .ok_or_else(|| {
        fail(format!(
            "--tls-key {}: no PEM private key found",
            files.key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| fail(format!("--tls-cert/--tls-key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
