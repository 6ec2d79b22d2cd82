//! `nexus apply -f FILE|DIR` (any kinds) and `nexus policy {apply,validate,diff} -f …`.

use std::path::PathBuf;

use nexus_core::meta::{Batch, Change, MetaError, Outcome, ResourceKind};
use nexus_core::resource::Resource;

use super::files::{self, Loaded};
use super::output::print_json;
use super::{Ctx, Output, diff};

/// The files to read.
#[derive(Debug, Clone, clap::Args)]
pub struct Files {
    /// A YAML file, a directory of them, or `-` for stdin (repeatable).
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub files: Files,
    /// Validate and show what would change, but change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Which kinds a verb accepts (`nexus apply`: all; `nexus policy apply`: policies).
#[derive(Debug, Clone, Copy)]
pub enum Only {
    Any,
    Kind(ResourceKind),
}

impl Args {
    pub async fn run(self, ctx: &Ctx, only: Only) -> anyhow::Result<()> {
        let loaded = validate(ctx, &self.files, only).await?;
        let store = ctx.store().await?;
        let (revision, stored) = files::stored(store.as_ref()).await?;
        if self.dry_run {
            return diff::show(ctx, &loaded, &stored).map(|_| ());
        }
        let changes: Vec<Change> = all(&loaded)
            .map(|r| Change::put(r.kind(), r.name(), r.to_yaml()))
            .collect();
        let outcome = match store
            .apply(Batch::new(changes).expect_revision(revision))
            .await
        {
            Err(MetaError::Conflict { .. }) => anyhow::bail!(
                "the metadata store changed while this apply was validated; nothing was applied, run it again"
            ),
            other => other?,
        };
        match ctx.output {
            Output::Json | Output::Yaml => print_json(&outcome)?,
            Output::Table => {
                for r in &outcome.results {
                    let what = match r.outcome {
                        Outcome::Created => "created",
                        Outcome::Updated => "configured",
                        Outcome::Unchanged => "unchanged",
                        Outcome::Deleted => "deleted",
                        Outcome::Absent => "absent",
                    };
                    println!(
                        "{}/{} {what} (version {})",
                        r.kind.as_str(),
                        r.name,
                        r.version
                    );
                }
                println!("revision {}", outcome.revision);
            }
        }
        Ok(())
    }
}

/// Structural and referential validation; fails with exit code 3 on any error.
pub async fn validate(ctx: &Ctx, files: &Files, only: Only) -> anyhow::Result<Vec<Loaded>> {
    let (loaded, mut diags) = files::load(&files.files)?;
    if let Only::Kind(kind) = only {
        for l in &loaded {
            for r in l.resources.iter().filter(|r| r.kind() != kind) {
                diags.push(
                    nexus_core::resource::Diagnostic::error(
                        r.pos,
                        "kind",
                        format!(
                            "this command takes {} resources, not {}",
                            kind.as_str(),
                            r.kind().as_str()
                        ),
                    )
                    .with_help("use `nexus apply -f` for files with several kinds")
                    .in_file(&l.file),
                );
            }
        }
    }
    if diags.iter().any(nexus_core::resource::Diagnostic::is_error) {
        files::report(&diags)?;
    }
    let store = ctx.store().await?;
    let (_, stored) = files::stored(store.as_ref()).await?;
    diags.extend(files::check_all(&loaded, &stored));
    files::report(&diags)?;
    Ok(loaded)
}

/// Every resource of every loaded file.
pub fn all(loaded: &[Loaded]) -> impl Iterator<Item = &Resource> {
    loaded.iter().flat_map(|l| &l.resources)
}
