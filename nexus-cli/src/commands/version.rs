//! `nexus version`

use super::{Ctx, Output};

#[derive(Debug, clap::Args)]
pub struct Args {}

impl Args {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let version = env!("CARGO_PKG_VERSION");
        match ctx.output {
            Output::Table => println!("nexus {version}"),
            Output::Yaml => println!("version: {version}"),
            Output::Json => println!("{}", serde_json::json!({ "version": version })),
        }
        Ok(())
    }
}
