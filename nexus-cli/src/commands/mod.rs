//! One module per verb; each has an `Args` (or a subcommand enum) with `run(self, ctx)`.

mod apply;
mod classify;
mod completions;
mod ctx;
mod deploy;
mod diff;
mod files;
mod members;
mod output;
mod resources;
mod status;
mod version;

pub use self::ctx::Ctx;
pub use self::output::Output;

use nexus_core::meta::ResourceKind;

/// Validation found errors (exit code 3).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ValidationFailed(pub String);

/// The verbs of `nexus`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the version.
    Version(version::Args),
    /// Show how a key grammar reads object keys.
    Classify(classify::Args),
    /// Validate and apply resources of any kind from files, atomically.
    Apply(apply::Args),
    /// Policies: which streamlets run on which streams.
    #[command(subcommand)]
    Policy(resources::Verb),
    /// Output stores (S3 endpoints and buckets, or the embedded store).
    #[command(subcommand)]
    Store(resources::Verb),
    /// Streamlets (WASM functions and their descriptors).
    #[command(subcommand)]
    Streamlet(StreamletVerb),
    /// Swarmlets (groups of workers by location and hardware).
    #[command(subcommand)]
    Swarmlet(resources::Verb),
    /// The metadata store's revision and what it holds.
    Status(status::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::Args),
}

/// Streamlets have every resource verb and `deploy`.
#[derive(Debug, clap::Subcommand)]
pub enum StreamletVerb {
    /// Check a WASM component against its descriptor, store it by digest, apply the descriptor.
    Deploy(deploy::Args),
    #[command(flatten)]
    Common(resources::Verb),
}

impl Command {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Command::Version(a) => a.run(ctx),
            Command::Classify(a) => a.run(ctx),
            Command::Apply(a) => a.run(ctx, apply::Only::Any).await,
            Command::Policy(v) => v.run(ctx, ResourceKind::Policy).await,
            Command::Store(v) => v.run(ctx, ResourceKind::Store).await,
            Command::Streamlet(StreamletVerb::Deploy(a)) => a.run(ctx).await,
            Command::Streamlet(StreamletVerb::Common(v)) => {
                v.run(ctx, ResourceKind::Streamlet).await
            }
            Command::Swarmlet(v) => v.run(ctx, ResourceKind::Swarmlet).await,
            Command::Status(a) => a.run(ctx).await,
            Command::Completions(a) => a.run(),
        }
    }
}
