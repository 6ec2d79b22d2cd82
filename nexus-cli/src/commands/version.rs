//! `nexus version`

use super::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

impl Args {
    pub fn run(self) -> anyhow::Result<()> {
        let version = env!("CARGO_PKG_VERSION");
        match self.output {
            Output::Table => println!("nexus {version}"),
            Output::Json => println!("{}", serde_json::json!({ "version": version })),
        }
        Ok(())
    }
}
