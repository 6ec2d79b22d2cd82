//! `nexus {policy,store,streamlet,swarmlet} {list,get,delete}`: the verbs every resource kind has.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nexus_core::meta::{Batch, Change, Outcome, Record, ResourceKind};

use super::apply::{self, Files, Only};
use super::output::{print_json, print_table};
use super::{Ctx, Output, diff, files};

/// What can be done with one kind of resource.
#[derive(Debug, clap::Subcommand)]
pub enum Verb {
    /// Validate and apply resources of this kind from files, atomically.
    Apply(apply::Args),
    /// Check files without changing anything (exit code 3 on errors).
    Validate(Files),
    /// Show what applying the files would change.
    Diff(Files),
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
        match self {
            Verb::Apply(args) => return args.run(ctx, Only::Kind(kind)).await,
            Verb::Validate(f) => {
                let loaded = apply::validate(ctx, &f, Only::Kind(kind)).await?;
                let n: usize = loaded.iter().map(|l| l.resources.len()).sum();
                println!("{n} {} resource(s) valid", kind.as_str());
                return Ok(());
            }
            Verb::Diff(f) => {
                let loaded = apply::validate(ctx, &f, Only::Kind(kind)).await?;
                let store = ctx.store().await?;
                let (_, stored) = files::stored(store.as_ref()).await?;
                diff::show(ctx, &loaded, &stored)?;
                return Ok(());
            }
            _ => {}
        }
        let store = ctx.store().await?;
        match self {
            Verb::Apply(_) | Verb::Validate(_) | Verb::Diff(_) => Ok(()),
            Verb::List if kind == ResourceKind::Swarmlet => {
                let records = store.list(kind).await?;
                let view = super::members::view(ctx).await?;
                match ctx.output {
                    Output::Table => {
                        // The resources first (what was applied), then who is live.
                        print_records(ctx.output, &records)?;
                        println!();
                        super::members::print(view.as_ref());
                        Ok(())
                    }
                    Output::Json | Output::Yaml => super::output::print_json(&serde_json::json!({
                        "workers": view.as_ref().map(super::members::json),
                        "swarmlets": records.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
                    })),
                }
            }
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
        Output::Table
            if records.iter().all(|r| r.kind == ResourceKind::Policy) && !records.is_empty() =>
        {
            let rows: Vec<Vec<String>> = records
                .iter()
                .map(|r| {
                    let mut row = vec![r.name.clone(), r.version.to_string()];
                    row.extend(policy_columns(r));
                    row.push(age(r.updated_ms));
                    row
                })
                .collect();
            print_table(
                &[
                    "NAME", "VERSION", "SYSTEM", "BUCKET", "STREAMS", "PIPELINE", "AGE",
                ],
                &rows,
            );
        }
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
        Output::Json => {
            let v: Vec<serde_json::Value> = records
                .iter()
                .map(|r| {
                    let mut v = serde_json::json!({
                        "kind": r.kind, "name": r.name, "version": r.version,
                        "revision": r.revision, "digest": r.digest.to_string(), "updatedMs": r.updated_ms,
                    });
                    if let Some(res) = parse(r) {
                        v["resource"] = serde_json::to_value(res).unwrap_or_default();
                    }
                    v
                })
                .collect();
            print_json(&v)?;
        }
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

fn parse(r: &Record) -> Option<nexus_core::resource::Resource> {
    let parsed = nexus_core::resource::parse_str(&r.name, &r.body);
    parsed.resources.into_iter().next()
}

/// SYSTEM, BUCKET, STREAMS, PIPELINE of a stored policy.
fn policy_columns(r: &Record) -> Vec<String> {
    use nexus_core::resource::Spec;
    match parse(r).map(|res| res.spec) {
        Some(Spec::Policy { spec, .. }) => {
            let streams = if spec.target.streams.is_empty() {
                "*".to_owned()
            } else {
                spec.target
                    .streams
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let pipeline = spec
                .pipeline
                .iter()
                .map(|s| format!("{}@{}", s.streamlet.0, s.location))
                .collect::<Vec<_>>()
                .join(" > ");
            vec![
                spec.system.to_string(),
                spec.target.bucket,
                streams,
                if pipeline.is_empty() {
                    "-".into()
                } else {
                    pipeline
                },
            ]
        }
        _ => vec!["?".into(); 4],
    }
}
