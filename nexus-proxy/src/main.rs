//! `nexus-proxy`: the Nexus worker binary.

use std::process::ExitCode;

use clap::Parser;
use nexus_proxy::app::{self, StartError};
use nexus_proxy::config::{Args, Config, LogFormat};
use tracing::{error, info, warn};

/// EX_USAGE: bad flags or configuration.
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if e.use_stderr() => {
            let _ = e.print();
            return ExitCode::from(EXIT_USAGE);
        }
        Err(e) => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    let config = match args.validate() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_tracing(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: Config) -> ExitCode {
    if config.credentials.quickstart {
        warn!(
            access_key = %config.credentials.access_key,
            secret_key = %config.credentials.secret_key,
            "Using the quickstart credentials; set --access-key/--secret-key (NEXUS_ACCESS_KEY/NEXUS_SECRET_KEY) for anything but a trial."
        );
    }
    let running = match app::start(config).await {
        Ok(r) => r,
        Err(StartError::Config(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
        Err(e) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let signal = shutdown_signal().await;
    info!(signal, "Shutting down: draining in-flight requests.");
    running.shutdown().await;
    info!("Stopped.");
    ExitCode::SUCCESS
}

/// Resolves on SIGTERM or SIGINT with the signal's name.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        error!("Cannot install signal handlers; stop with SIGKILL.");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    // s3s logs every client error (e.g. NoSuchKey on a HEAD probe) at error level; the edge
    // layer logs failures itself, with the request id.
    let filter = EnvFilter::try_from_env("NEXUS_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,s3s=off,aws_smithy_runtime=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour only on a terminal: log files and collectors get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
