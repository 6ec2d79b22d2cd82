//! `nexus`: the operator's command-line tool.
//!
//! Exit codes: 0 ok, 1 error, 2 usage, 3 validation failed.

mod commands;

use std::process::ExitCode;

use clap::Parser;

use crate::commands::{Command, Ctx, Output, ValidationFailed};

/// Where the quickstart worker keeps its metadata: `nexus-proxy` on its defaults uses
/// `file:<data-dir>/meta.json` with `--data-dir ./nexus-data`.
const DEFAULT_META: &str = "file:nexus-data/meta.json";

/// Operate Nexus: the S3 interception proxy for tiered stream storage.
#[derive(Debug, Parser)]
#[command(name = "nexus", version, about, long_about = None)]
struct Cli {
    /// The metadata store: `file:PATH` (embedded, shared with a local worker) or
    /// `redis://[USER:PASSWORD@]HOST[:PORT][/DB]` / `rediss://…` (a deployment).
    #[arg(long, global = true, env = "NEXUS_META", default_value = DEFAULT_META)]
    meta: String,
    /// Output format.
    #[arg(short, long, global = true, value_enum, default_value_t = Output::Table)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let ctx = Ctx::new(cli.meta, cli.output);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.command.run(&ctx)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<ValidationFailed>() => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `nexus policy list | head -1` must not print a panic when `head` closes the pipe: the
/// standard library panics on a failed `println!`; end quietly with the shell's SIGPIPE status.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") {
            std::process::exit(141);
        }
        default(info);
    }));
}
