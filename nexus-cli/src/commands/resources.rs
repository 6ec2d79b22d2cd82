//! `nexus {policy,store,streamlet,swarmlet} {list,get,delete}`: the verbs every resource kind has.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nexus_core::meta::{Batch, Change, Outcome, Record, ResourceKind};

use super::output::{print_json, print_table};
use super::{Ctx, Output};

/// What can be done with one kind of resource.
#[derive(Debug, clap::Subcommand)]
pub enum Verb {
    /// List every resource of this kind.
    List,
    /// Show one resource.
    Get {
        /// Its name.
        name: String,
    },
    /// Delete resources; every worker drops them within a second.
    Delete {
        /// Their names.
        #[arg(required = true)]
        names: Vec<String>,
        /// Succeed when a name does not exist.
        #[arg(long)]
        ignore_not_found: bool,
    },
}

impl Verb {
    pub async fn run(self, ctx: &Ctx, kind: ResourceKind) -> anyhow::Result<()> {
        let store = ctx.store().await?;
        match self {
            Verb::List => {
                let records = store.list(kind).await?;
                print_records(ctx.output, &records)
            }
            Verb::Get { name } => match store.get(kind, &name).await? {
                Some(record) => print_records(ctx.output, std::slice::from_ref(&record)),
                None => anyhow::bail!("{} `{name}` not found", kind.as_str()),
            },
            Verb::Delete {
                names,
                ignore_not_found,
            } => {
                let changes = names.iter().map(|n| Change::delete(kind, n)).collect();
                let outcome = store.apply(Batch::new(changes)).await?;
                let mut missing = Vec::new();
                for r in &outcome.results {
                    match r.outcome {
                        Outcome::Absent => missing.push(r.name.clone()),
                        _ => println!("{} {} deleted", kind.as_str(), r.name),
                    }
                }
                if !missing.is_empty() && !ignore_not_found {
                    anyhow::bail!("{} not found: {}", kind.as_str(), missing.join(", "));
                }
                Ok(())
            }
        }
    }
}

/// Prints records in the chosen format: a table of names and versions, the YAML documents as
/// applied, or JSON with the record's bookkeeping.
pub fn print_records(output: Output, records: &[Record]) -> anyhow::Result<()> {
    match output {
        Output::Table => {
            let rows: Vec<Vec<String>> = records
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.version.to_string(),
                        r.revision.to_string(),
                        age(r.updated_ms),
                    ]
                })
                .collect();
            print_table(&["NAME", "VERSION", "REVISION", "AGE"], &rows);
        }
        Output::Yaml => {
            for (i, r) in records.iter().enumerate() {
                if i > 0 {
                    println!("---");
                }
                print!("{}", r.body);
                if !r.body.ends_with('\n') {
                    println!();
                }
            }
        }
        Output::Json => print_json(&records)?,
    }
    Ok(())
}

/// How long ago a Unix time in milliseconds was, as kubectl prints it (`42s`, `5m`, `3h`, `2d`).
#[must_use]
pub fn age(updated_ms: u64) -> String {
    let then = UNIX_EPOCH + Duration::from_millis(updated_ms);
    let secs = SystemTime::now()
        .duration_since(then)
        .map_or(0, |d| d.as_secs());
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
