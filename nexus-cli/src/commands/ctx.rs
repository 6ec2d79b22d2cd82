//! What every verb gets: the global options.

use std::sync::Arc;

use anyhow::Context as _;
use nexus_core::meta::{self, MetaStore};

use super::Output;

/// The global options of one invocation.
#[derive(Debug)]
pub struct Ctx {
    meta: String,
    pub output: Output,
}

impl Ctx {
    #[must_use]
    pub fn new(meta: String, output: Output) -> Self {
        Self { meta, output }
    }

    /// The `--meta` URL.
    #[must_use]
    pub fn meta_url(&self) -> &str {
        self.meta.trim()
    }

    /// Opens the metadata store named by `--meta`.
    pub async fn store(&self) -> anyhow::Result<Arc<dyn MetaStore>> {
        if self.meta.trim() == "memory" {
            anyhow::bail!(
                "--meta memory lives only inside one process; point the CLI at the worker's \
                 store (file:PATH or redis://…)"
            );
        }
        meta::open(&self.meta).await.with_context(|| {
            format!(
                "cannot open the metadata store {}",
                meta::redact_url(&self.meta)
            )
        })
    }
}
