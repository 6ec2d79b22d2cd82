//! `nexus classify --system kafka KEY...`

use nexus_core::keys::{KeyGrammar, System};

use super::output::{print_json, print_table};
use super::{Ctx, Output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Key grammar: kafka, pulsar, pravega, redpanda or generic.
    #[arg(long, value_parser = parse_system)]
    system: System,
    /// Key prefix (Kafka `key.prefix`, Pravega `s3.prefix`).
    #[arg(long)]
    prefix: Option<String>,
    /// Pulsar's `x-amz-meta-managedledgername` value.
    #[arg(long)]
    managed_ledger_name: Option<String>,
    /// Object keys (URL-decoded, without the bucket).
    #[arg(required = true)]
    keys: Vec<String>,
}

fn parse_system(s: &str) -> Result<System, String> {
    s.parse()
        .map_err(|e: nexus_core::keys::UnknownSystem| e.to_string())
}

impl Args {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let mut grammar = KeyGrammar::new(self.system);
        if let Some(p) = self.prefix {
            grammar = grammar.with_prefix(p);
        }
        let classes: Vec<_> = self
            .keys
            .iter()
            .map(|k| (k, grammar.classify(k, self.managed_ledger_name.as_deref())))
            .collect();
        match ctx.output {
            Output::Json | Output::Yaml => {
                let rows: Vec<_> = classes
                    .iter()
                    .map(|(key, c)| {
                        serde_json::json!({
                            "key": key, "system": c.system, "kind": c.kind,
                            "stream": c.stream, "partition": c.partition, "sequence": c.sequence,
                        })
                    })
                    .collect();
                print_json(&rows)?;
            }
            Output::Table => {
                let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
                let rows: Vec<Vec<String>> = classes
                    .into_iter()
                    .map(|(key, c)| {
                        vec![
                            key.clone(),
                            c.system.to_string(),
                            c.kind.to_string(),
                            dash(c.stream),
                            dash(c.partition.map(|p| p.to_string())),
                            dash(c.sequence.map(|s| s.to_string())),
                        ]
                    })
                    .collect();
                print_table(
                    &["KEY", "SYSTEM", "KIND", "STREAM", "PARTITION", "SEQUENCE"],
                    &rows,
                );
            }
        }
        Ok(())
    }
}
