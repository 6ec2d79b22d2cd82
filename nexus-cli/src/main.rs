//! `nexus`: the operator's command-line tool.
//!
//! Exit codes: 0 ok, 1 error, 2 usage.

mod commands;

use std::process::ExitCode;

use clap::Parser;

use crate::commands::Command;

/// Operate Nexus: the S3 interception proxy for tiered stream storage.
#[derive(Debug, Parser)]
#[command(name = "nexus", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("Caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
