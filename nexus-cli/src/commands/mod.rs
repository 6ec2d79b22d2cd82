//! One module per verb; each has an `Args` struct with `run(self)`.

mod classify;
mod output;
mod version;

pub use self::output::Output;

/// The verbs of `nexus`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the version.
    Version(version::Args),
    /// Show how a key grammar reads object keys.
    Classify(classify::Args),
}

impl Command {
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Version(a) => a.run(),
            Command::Classify(a) => a.run(),
        }
    }
}
