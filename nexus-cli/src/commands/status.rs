//! `nexus status`: what the metadata store holds, and the live workers of the mesh.

use nexus_core::meta::{self, ResourceKind};

use super::output::{print_json, print_table};
use super::{Ctx, Output};

#[derive(Debug, clap::Args)]
pub struct Args {}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let store = ctx.store().await?;
        let snapshot = store.snapshot().await?;
        let counts: Vec<(ResourceKind, usize)> = ResourceKind::ALL
            .iter()
            .map(|&k| (k, snapshot.of_kind(k).count()))
            .collect();
        let view = super::members::view(ctx).await?;
        match ctx.output {
            Output::Table => {
                println!("metadata store: {}", store.describe());
                println!("revision:       {}", snapshot.revision);
                println!();
                let rows: Vec<Vec<String>> = counts
                    .iter()
                    .map(|(k, n)| vec![k.as_str().to_owned(), n.to_string()])
                    .collect();
                print_table(&["KIND", "COUNT"], &rows);
                println!();
                super::members::print(view.as_ref());
            }
            Output::Yaml | Output::Json => {
                let resources: serde_json::Map<String, serde_json::Value> = counts
                    .iter()
                    .map(|(k, n)| (k.as_str().to_owned(), (*n).into()))
                    .collect();
                print_json(&serde_json::json!({
                    "meta": meta::redact_url(&store.describe()),
                    "revision": snapshot.revision,
                    "resources": resources,
                    "workers": view.as_ref().map(super::members::json),
                }))?;
            }
        }
        Ok(())
    }
}
