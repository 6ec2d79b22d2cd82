//! `nexus streamlet deploy --module x.wasm [--descriptor x.yaml]`: checks the component
//! against its descriptor (`nexus_core::deploy`), stores the module by digest and applies the
//! descriptor with `spec.module` set. Workers load the module on first use.

use std::path::PathBuf;

use anyhow::Context as _;
use nexus_core::deploy;

use super::{Ctx, ValidationFailed};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The streamlet component (`cargo build --target wasm32-wasip2`).
    #[arg(long)]
    module: PathBuf,
    /// Its descriptor (a `kind: Streamlet` resource); default: the module's path with `.yaml`.
    #[arg(long)]
    descriptor: Option<PathBuf>,
    /// Check everything, store nothing.
    #[arg(long)]
    dry_run: bool,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let module = std::fs::read(&self.module)
            .with_context(|| format!("cannot read {}", self.module.display()))?;
        let descriptor = self
            .descriptor
            .unwrap_or_else(|| self.module.with_extension("yaml"));
        let text = std::fs::read_to_string(&descriptor)
            .with_context(|| format!("cannot read the descriptor {}", descriptor.display()))?;
        let prepared =
            deploy::prepare(&module, &descriptor.display().to_string(), &text).map_err(|e| {
                ValidationFailed(format!("{}: cannot deploy:\n{e}", self.module.display()))
            })?;
        if self.dry_run {
            println!(
                "streamlet/{} valid (module {}, {} bytes; dry run)",
                prepared.name,
                prepared.digest,
                module.len()
            );
            return Ok(());
        }
        let store = ctx.store().await?;
        let outcome = deploy::deploy(store.as_ref(), &module, &prepared).await?;
        for r in &outcome.results {
            println!(
                "streamlet/{} deployed (module {}, version {}, {:?})",
                r.name, prepared.digest, r.version, r.outcome
            );
        }
        println!("revision {}", outcome.revision);
        Ok(())
    }
}
