//! `nexus-bench`: command-line wiring.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use nexus_bench::backend::{self, Backend};
use nexus_bench::client::{self, ClientOptions};
use nexus_bench::load::{self, LoadSpec, Op};
use nexus_bench::matrix::{self, RunOptions};
use nexus_bench::units::{format_size, parse_size};
use nexus_bench::{check, procs, procstat};

/// Benchmarks for Nexus: an in-memory S3 backend, a load client and the proxy-vs-direct matrix.
#[derive(Debug, Parser)]
#[command(name = "nexus-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve the in-memory S3 backend until killed.
    Backend {
        #[arg(long, default_value = "127.0.0.1:9900")]
        listen: SocketAddr,
        /// Exit when the parent process goes away (used by `run`).
        #[arg(long)]
        exit_with_parent: bool,
    },
    /// Run one load (PUTs or GETs of one size) against an endpoint.
    Load(LoadArgs),
    /// Correctness checks (sizes, ranges, 404/416, aws-chunked PUT) against an endpoint.
    Check(EndpointArgs),
    /// Start backend and proxy, run the matrix direct vs proxied, write a Markdown report.
    Run(RunArgs),
    /// Policy lookup per request: the compiled matcher vs a scan of every policy.
    Policies {
        /// Policy set sizes (plus one catch-all policy each).
        #[arg(long, value_delimiter = ',', default_values = ["10", "100", "1000"])]
        policies: Vec<usize>,
        /// Distinct object keys looked up (repeated for at least 0.3 s, best of 5).
        #[arg(long, default_value_t = 10_000)]
        lookups: usize,
    },
    /// PUT throughput direct, through the proxy, and through 1, 2 and 3 noop streamlets.
    Pipeline {
        /// The proxy binary (default: `nexus-proxy` next to this executable).
        #[arg(long)]
        proxy_bin: Option<PathBuf>,
        /// Built streamlets (`scripts/build-streamlets.sh`).
        #[arg(long, default_value = "streamlets/dist")]
        streamlets: PathBuf,
        #[arg(long, value_delimiter = ',', value_parser = parse_size, default_values = ["8MiB", "64MiB"])]
        sizes: Vec<u64>,
        #[arg(long, value_delimiter = ',', default_values = ["1", "8"])]
        concurrency: Vec<usize>,
        /// Seconds per cell at most.
        #[arg(long, default_value_t = 4)]
        seconds: u64,
    },
    /// Stored bytes of loghub segments: producer codecs vs Nexus compress-gzip/compress-zstd.
    Compression {
        /// The proxy binary (default: `nexus-proxy` next to this executable).
        #[arg(long)]
        proxy_bin: Option<PathBuf>,
        /// Built streamlets (`scripts/build-streamlets.sh`).
        #[arg(long, default_value = "streamlets/dist")]
        streamlets: PathBuf,
        /// The loghub files (`*.log`).
        #[arg(long, default_value = "../shared/data/loghub")]
        loghub: PathBuf,
    },
    /// The streamlet runtime's costs: compress-zstd vs native zstd on one core, one vs two
    /// cores, a range GET at the end of a 1 GiB compressed segment, peak RSS under 16 × 1 GiB.
    Streamlets {
        /// The proxy binary (default: `nexus-proxy` next to this executable).
        #[arg(long)]
        proxy_bin: Option<PathBuf>,
        /// Built streamlets (`scripts/build-streamlets.sh`).
        #[arg(long, default_value = "streamlets/dist")]
        streamlets: PathBuf,
        /// The loghub files (`*.log`).
        #[arg(long, default_value = "../shared/data/loghub")]
        loghub: PathBuf,
        #[arg(long, value_enum, value_delimiter = ',', default_values = ["zstd", "cores", "range", "memory"])]
        parts: Vec<nexus_bench::streamlets::Part>,
        /// The `level` parameter of compress-zstd.
        #[arg(long, default_value_t = 3)]
        level: u32,
    },
    /// From `apply` to every worker process serving the new revision.
    Propagation {
        /// The proxy binary (default: `nexus-proxy` next to this executable).
        #[arg(long)]
        proxy_bin: Option<PathBuf>,
        #[arg(long, value_enum, value_delimiter = ',', default_values = ["redis", "file"])]
        meta: Vec<nexus_bench::control::MetaKind>,
        #[arg(long, default_value_t = 3)]
        workers: usize,
        #[arg(long, default_value_t = 200)]
        applies: usize,
    },
    /// Updates of Redis-held state by 1–64 concurrent updaters: optimistic (WATCH/MULTI/EXEC),
    /// lock-based (SET NX) and partitioned (one owner per key), on a private `redis-server`.
    RedisContention {
        /// The `redis-server` binary.
        #[arg(long, default_value = "redis-server")]
        redis_server: PathBuf,
        #[arg(long, value_delimiter = ',', default_values = ["1", "2", "4", "8", "16", "32", "64"])]
        updaters: Vec<usize>,
        /// Seconds per strategy and updater count.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        /// Partitions of the partitioned strategy (at least the largest updater count).
        #[arg(long, default_value_t = 64)]
        keys: usize,
    },
    /// The mesh: PUT throughput through 1, 2 and 3 swarmlets (noop stages) vs direct, and
    /// streamlet-state reads per request, partition-aware vs shared (private Redis, loopback).
    Mesh {
        /// The proxy binary (default: `nexus-proxy` next to this executable).
        #[arg(long)]
        proxy_bin: Option<PathBuf>,
        /// Built streamlets (`scripts/build-streamlets.sh`).
        #[arg(long, default_value = "streamlets/dist")]
        streamlets: PathBuf,
        /// The `redis-server` binary.
        #[arg(long, default_value = "redis-server")]
        redis_server: PathBuf,
        #[arg(long, value_delimiter = ',', value_parser = parse_size, default_values = ["8MiB", "64MiB"])]
        sizes: Vec<u64>,
        #[arg(long, value_delimiter = ',', default_values = ["1", "8"])]
        concurrency: Vec<usize>,
        /// Seconds per cell at most.
        #[arg(long, default_value_t = 4)]
        seconds: u64,
        /// PUTs of the state benchmark (64 KiB each, over 4 partitions).
        #[arg(long, default_value_t = 800)]
        state_requests: usize,
    },
}

#[derive(Debug, Args)]
struct EndpointArgs {
    /// S3 endpoint URL, e.g. http://127.0.0.1:9900.
    #[arg(long)]
    endpoint: String,
    #[arg(long, default_value = "bench")]
    bucket: String,
    #[arg(long, default_value = procs::ACCESS_KEY)]
    access_key: String,
    #[arg(long, default_value = procs::SECRET_KEY)]
    secret_key: String,
}

#[derive(Debug, Args)]
struct LoadArgs {
    #[command(flatten)]
    endpoint: EndpointArgs,
    #[arg(long, value_enum)]
    op: Op,
    /// Object size: bytes, or with KiB/MiB/GiB.
    #[arg(long, value_parser = parse_size)]
    size: u64,
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    #[arg(long)]
    requests: u64,
    /// Stop issuing requests after this many seconds.
    #[arg(long, default_value_t = 60)]
    duration_secs: u64,
    /// Let the SDK add CRC32 checksums to PUTs (aws-chunked bodies with a trailer).
    #[arg(long)]
    checksums: bool,
    /// Create the bucket first.
    #[arg(long)]
    create_bucket: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// About one minute instead of about ten (smaller cells, 256 MiB memory-scenario objects).
    #[arg(long)]
    quick: bool,
    /// The proxy binary (default: `nexus-proxy` next to this executable).
    #[arg(long)]
    proxy_bin: Option<PathBuf>,
    /// Write the Markdown report here (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Operations of the matrix.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["put", "get"])]
    ops: Vec<Op>,
    /// Object sizes of the matrix.
    #[arg(long, value_delimiter = ',', value_parser = parse_size,
          default_values = ["4KiB", "1MiB", "8MiB", "64MiB"])]
    sizes: Vec<u64>,
    /// Concurrencies of the matrix.
    #[arg(long, value_delimiter = ',', default_values = ["1", "8", "16"])]
    concurrency: Vec<usize>,
    /// Skip the 16 x 1 GiB memory scenario.
    #[arg(long)]
    skip_memory: bool,
    /// Object size of the memory scenario.
    #[arg(long, value_parser = parse_size)]
    memory_object_size: Option<u64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Backend {
            listen,
            exit_with_parent,
        } => serve_backend(listen, exit_with_parent).await,
        Cmd::Load(args) => run_load(args).await,
        Cmd::Check(args) => run_check(args).await,
        Cmd::Run(args) => {
            matrix::run(RunOptions {
                quick: args.quick,
                proxy_bin: args.proxy_bin,
                out: args.out,
                ops: args.ops,
                sizes: args.sizes,
                concurrency: args.concurrency,
                skip_memory: args.skip_memory,
                memory_object_size: args.memory_object_size,
                command_line: std::env::args().collect::<Vec<_>>().join(" "),
            })
            .await
        }
        Cmd::Policies { policies, lookups } => {
            print!("{}", nexus_bench::control::policies(&policies, lookups)?);
            Ok(())
        }
        Cmd::Pipeline {
            proxy_bin,
            streamlets,
            sizes,
            concurrency,
            seconds,
        } => {
            let bin = proxy_or_sibling(proxy_bin)?;
            let report =
                nexus_bench::control::pipeline(&bin, &streamlets, &sizes, &concurrency, seconds)
                    .await?;
            print!("{report}");
            Ok(())
        }
        Cmd::Compression {
            proxy_bin,
            streamlets,
            loghub,
        } => {
            let bin = proxy_or_sibling(proxy_bin)?;
            print!(
                "{}",
                nexus_bench::compression::run(&bin, &streamlets, &loghub).await?
            );
            Ok(())
        }
        Cmd::Streamlets {
            proxy_bin,
            streamlets,
            loghub,
            parts,
            level,
        } => {
            let bin = proxy_or_sibling(proxy_bin)?;
            print!(
                "{}",
                nexus_bench::streamlets::run(&bin, &streamlets, &loghub, &parts, level).await?
            );
            Ok(())
        }
        Cmd::Propagation {
            proxy_bin,
            meta,
            workers,
            applies,
        } => {
            let bin = proxy_or_sibling(proxy_bin)?;
            let report = nexus_bench::control::propagation(&bin, &meta, workers, applies).await?;
            print!("{report}");
            Ok(())
        }
        Cmd::RedisContention {
            redis_server,
            updaters,
            seconds,
            keys,
        } => {
            let options = nexus_bench::contention::Options {
                redis_server,
                updaters,
                seconds,
                keys,
            };
            print!("{}", nexus_bench::contention::run(&options).await?);
            Ok(())
        }
        Cmd::Mesh {
            proxy_bin,
            streamlets,
            redis_server,
            sizes,
            concurrency,
            seconds,
            state_requests,
        } => {
            let bin = proxy_or_sibling(proxy_bin)?;
            let report = nexus_bench::mesh::run(
                &bin,
                &streamlets,
                &redis_server,
                &sizes,
                &concurrency,
                seconds,
                state_requests,
            )
            .await?;
            print!("{report}");
            Ok(())
        }
    }
}

/// `--proxy-bin`, or the `nexus-proxy` next to this executable.
fn proxy_or_sibling(proxy_bin: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    proxy_bin.map_or_else(matrix::sibling_proxy, Ok)
}

async fn serve_backend(listen: SocketAddr, exit_with_parent: bool) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    // The orchestrator reads this line to learn the port.
    println!("{} {addr}", procs::LISTENING);
    if exit_with_parent {
        let me = std::process::id();
        let parent = procstat::parent_pid(me)?;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if procstat::parent_pid(me).ok() != Some(parent) {
                    std::process::exit(0);
                }
            }
        });
    }
    tokio::select! {
        () = backend::serve(listener, Arc::new(Backend::default())) => Ok(()),
        r = tokio::signal::ctrl_c() => r.context("waiting for ctrl-c"),
    }
}

fn client_for(e: &EndpointArgs, checksums: bool) -> aws_sdk_s3::Client {
    client::build(&ClientOptions {
        endpoint: e.endpoint.clone(),
        access_key: e.access_key.clone(),
        secret_key: e.secret_key.clone(),
        checksums,
    })
}

async fn run_load(args: LoadArgs) -> anyhow::Result<()> {
    let client = client_for(&args.endpoint, args.checksums);
    let bucket = args.endpoint.bucket.clone();
    if args.create_bucket {
        client
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "CreateBucket: {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                )
            })?;
    }
    load::warm_up(&client, &bucket, args.concurrency).await;
    let spec = LoadSpec {
        op: args.op,
        bucket,
        size: args.size,
        concurrency: args.concurrency,
        requests: args.requests,
        max_duration: Duration::from_secs(args.duration_secs),
    };
    let result = load::run(&client, &spec).await;
    println!(
        "{} {} x{} -> {}: {result}",
        spec.op,
        format_size(spec.size),
        spec.concurrency,
        args.endpoint.endpoint
    );
    if result.errors > 0 {
        bail!("{} requests failed", result.errors);
    }
    Ok(())
}

async fn run_check(args: EndpointArgs) -> anyhow::Result<()> {
    let plain = client_for(&args, false);
    let chunked = client_for(&args, true);
    let mut failed = 0;
    for o in check::run(&plain, &chunked, &args.bucket).await {
        match o.result {
            Ok(()) => println!("ok      {}", o.name),
            Err(e) => {
                failed += 1;
                println!("FAILED  {}: {e:#}", o.name);
            }
        }
    }
    if failed > 0 {
        bail!("{failed} checks failed");
    }
    Ok(())
}
