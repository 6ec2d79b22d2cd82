//! TLS with rustls (ring): the S3 port's certificate chain and key from PEM files, and the
//! client side of worker-to-worker HTTPS.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::config::{ConfigError, TlsFiles};

/// Loads the certificate and key and builds the acceptor (HTTP/2 and HTTP/1.1 via ALPN).
///
/// # Errors
/// Unreadable files, no certificate, no or several keys, or a key that does not fit.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, ConfigError> {
    let fail = |what: String| ConfigError::from(what);
    let certs = certificates("--tls-cert", &files.cert)?;
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
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| fail(format!("--tls-cert/--tls-key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The client configuration workers dial `https://` peers with: every certificate of the PEM
/// file in `roots` (`(flag, path)`) is a trust anchor and nothing else is (no system roots;
/// `None`: no anchors, every handshake fails with an unknown issuer); the peer's certificate
/// must name the host of its advertised address.
///
/// # Errors
/// An unreadable file, no certificate in it, or a certificate rustls cannot use as an anchor.
pub fn peer_client(roots: Option<(&str, &Path)>) -> Result<Arc<ClientConfig>, ConfigError> {
    let mut anchors = RootCertStore::empty();
    if let Some((flag, path)) = roots {
        for cert in certificates(flag, path)? {
            anchors.add(cert).map_err(|e| {
                ConfigError::from(format!(
                    "{flag} {}: not usable as a trust anchor: {e}",
                    path.display()
                ))
            })?;
        }
    }
    // No ALPN here: the connector offers the protocols it enables (HTTP/1.1).
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::from(format!("TLS: {e}")))?
        .with_root_certificates(anchors)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Every certificate of the PEM file `path` (given as `flag`); at least one.
fn certificates(flag: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let fail = |what: String| ConfigError::from(what);
    let certs = rustls_pemfile::certs(&mut BufReader::new(
        File::open(path).map_err(|e| fail(format!("{flag} {}: {e}", path.display())))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .map_err(|e| fail(format!("{flag} {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(fail(format!(
            "{flag} {}: no PEM certificate found",
            path.display()
        )));
    }
    Ok(certs)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
