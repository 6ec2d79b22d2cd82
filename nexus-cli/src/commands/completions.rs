//! `nexus completions SHELL`

use clap::CommandFactory as _;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to generate completions for.
    shell: clap_complete::Shell,
}

impl Args {
    pub fn run(self) -> anyhow::Result<()> {
        let mut cmd = crate::Cli::command();
        clap_complete::generate(self.shell, &mut cmd, "nexus", &mut std::io::stdout());
        Ok(())
    }
}
