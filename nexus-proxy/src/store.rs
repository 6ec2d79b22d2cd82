//! Opens the configured object store.

use std::sync::Arc;

use nexus_store::local::LocalStore;
use nexus_store::s3::{S3Backend, S3BackendConfig};
use s3s::S3;

use crate::config::{BackendConfig, ConfigError};

/// The store every request ends in.
///
/// # Errors
/// The embedded store's directory cannot be opened, or the S3 client cannot be built.
pub async fn open(backend: &BackendConfig) -> Result<Arc<dyn S3>, ConfigError> {
    match backend {
        BackendConfig::Embedded { data_dir } => {
            let dir = data_dir.clone();
            let opened = tokio::task::spawn_blocking(move || LocalStore::open(dir))
                .await
                .map_err(|e| ConfigError::from(format!("opening the embedded store: {e}")))?;
            let store = opened.map_err(|e| {
                ConfigError::from(format!(
                    "--data-dir {}: cannot open the embedded store: {e}",
                    data_dir.display()
                ))
            })?;
            Ok(Arc::new(store))
        }
        BackendConfig::S3 {
            endpoint,
            region,
            access_key,
            secret_key,
            path_style,
        } => {
            let backend = S3Backend::new(S3BackendConfig {
                endpoint: Some(endpoint.clone()),
                region: region.clone(),
                access_key: access_key.clone(),
                secret_key: secret_key.clone(),
                path_style: *path_style,
                ..S3BackendConfig::default()
            })
            .map_err(|e| ConfigError::from(format!("--backend-endpoint {endpoint}: {e}")))?;
            Ok(Arc::new(backend))
        }
    }
}
