//! Choosing the store by URL.

use std::path::PathBuf;
use std::sync::Arc;

use super::embedded::EmbeddedMeta;
use super::error::{MetaError, Result};
use super::redis_meta::RedisMeta;
use super::redis_options::RedisOptions;
use super::store::MetaStore;

/// Opens the metadata store named by `url`:
///
/// - `memory`: empty, in this process only (tests; a worker on its own);
/// - `file:PATH` (also `file://PATH`): the embedded store persisted at `PATH`, shared safely by
///   the processes of one machine (a worker and the CLI);
/// - `redis://[USER:PASSWORD@]HOST[:PORT][/DB][?prefix=…&connect_timeout=…&response_timeout=…]`
///   and `rediss://…[&tls_ca=PEM]` (TLS): Redis, see [`RedisOptions`].
///
/// Connects (Redis), checks the schema or file format version and migrates an empty
/// namespace; fails with a clear error when the store cannot be used.
pub async fn open(url: &str) -> Result<Arc<dyn MetaStore>> {
    let url = url.trim();
    if url == "memory" {
        return Ok(Arc::new(EmbeddedMeta::memory()));
    }
    if let Some(path) = url.strip_prefix("file:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(MetaError::InvalidUrl {
                url: url.to_owned(),
                reason: "no path after `file:`".into(),
            });
        }
        return Ok(Arc::new(
            EmbeddedMeta::open_file(PathBuf::from(path)).await?,
        ));
    }
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        let store = RedisMeta::connect(url, RedisOptions::default()).await?;
        return Ok(Arc::new(store));
    }
    Err(MetaError::UnsupportedUrl {
        url: redact_url(url),
    })
}

/// `url` with any password replaced by `***`, for messages and logs.
#[must_use]
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.into()
        }
        Ok(_) => url.to_owned(),
        // Unparsable: hide whatever sits between `://` and `@`.
        Err(_) => match (url.find("://"), url.rfind('@')) {
            (Some(start), Some(at)) if at > start => {
                format!("{}***{}", &url[..start + 3], &url[at..])
            }
            _ => url.to_owned(),
        },
    }
}
