//! `nexus-bench run`: starts the backend and the proxy, then measures every cell of the matrix
//! once direct and once through the proxy (interleaved), then the memory scenario.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;

use crate::check;
use crate::client::{self, ClientOptions};
use crate::load::{self, LoadResult, LoadSpec, Op};
use crate::machine::Machine;
use crate::procs::{self, ACCESS_KEY, Child, SECRET_KEY};
use crate::procstat;
use crate::report::{self, CheckLine, Report};
use crate::units::format_size;

/// Bucket the matrix uses.
pub const BUCKET: &str = "bench";
const CHECK_BUCKET: &str = "bench-check";
const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// What `run` measures.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub quick: bool,
    pub proxy_bin: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub ops: Vec<Op>,
    pub sizes: Vec<u64>,
    pub concurrency: Vec<usize>,
    pub skip_memory: bool,
    /// Object size of the memory scenario (default 1 GiB; 256 MiB with --quick).
    pub memory_object_size: Option<u64>,
    pub command_line: String,
}

/// Default sizes and concurrencies of the matrix.
pub const SIZES: [u64; 4] = [4 * KIB, MIB, 8 * MIB, 64 * MIB];
pub const CONCURRENCY: [usize; 3] = [1, 8, 16];
/// Objects and concurrency of the memory scenario.
const MEMORY_OBJECTS: usize = 16;

/// Request count and time cap of one measurement.
fn budget(size: u64, quick: bool) -> (u64, Duration) {
    // Full: about 16 GiB (or 10 s) per measurement; quick: 1 GiB (or 1.5 s).
    let (bytes, cap) = if quick {
        (GIB, Duration::from_millis(1500))
    } else {
        (16 * GIB, Duration::from_secs(10))
    };
    let requests = if size <= 64 * KIB {
        if quick { 10_000 } else { 60_000 }
    } else {
        (bytes / size).max(16)
    };
    (requests, cap)
}

/// CPU seconds of the three processes during one measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSplit {
    pub client: f64,
    pub backend: f64,
    pub proxy: Option<f64>,
}

/// One measurement (direct or proxied).
#[derive(Debug, Clone)]
pub struct Measured {
    pub load: LoadResult,
    pub cpu: CpuSplit,
    /// Proxy VmHWM during the measurement (proxied only).
    pub proxy_peak_kib: Option<u64>,
}

/// One cell: the same load direct and through the proxy.
#[derive(Debug, Clone)]
pub struct Cell {
    pub op: Op,
    pub size: u64,
    pub concurrency: usize,
    pub direct: Measured,
    pub proxy: Measured,
}

/// One run of the memory scenario.
#[derive(Debug, Clone)]
pub struct MemoryRun {
    pub op: Op,
    pub size: u64,
    pub concurrency: usize,
    pub measured: Measured,
}

struct Procs {
    backend: Child,
    proxy: Child,
}

impl Procs {
    fn cpu(&self) -> anyhow::Result<(f64, f64, f64)> {
        Ok((
            procstat::cpu_seconds(std::process::id())?,
            procstat::cpu_seconds(self.backend.pid())?,
            procstat::cpu_seconds(self.proxy.pid())?,
        ))
    }

    fn ensure_running(&mut self) -> anyhow::Result<()> {
        self.backend.ensure_running()?;
        self.proxy.ensure_running()
    }
}

/// The `nexus-proxy` binary next to this executable.
///
/// # Errors
/// The running executable cannot be located.
pub fn sibling_proxy() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating nexus-bench")?;
    Ok(exe.with_file_name("nexus-proxy"))
}

/// Runs everything and writes the report.
pub async fn run(opts: RunOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let load_before = crate::machine::load_avg();
    let proxy_bin = match &opts.proxy_bin {
        Some(p) => p.clone(),
        None => sibling_proxy()?,
    };
    procs::check_proxy_flags(&proxy_bin)?;
    let work = std::env::temp_dir().join(format!("nexus-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let proxy_log = work.join("proxy.log");

    let exe = std::env::current_exe().context("locating nexus-bench")?;
    let (backend, backend_addr) = procs::spawn_backend(&exe)?;
    let (mut proxy, addrs) = procs::spawn_proxy(&proxy_bin, backend_addr, &proxy_log)?;
    eprintln!(
        "backend {backend_addr} (pid {}), proxy {} admin {} (pid {}), log {}",
        backend.pid(),
        addrs.s3,
        addrs.admin,
        proxy.pid(),
        proxy_log.display()
    );
    procs::wait_ready(addrs.admin, &mut proxy, Duration::from_secs(30))
        .await
        .with_context(|| format!("proxy not ready; see {}", proxy_log.display()))?;
    let mut procs = Procs { backend, proxy };
    let proxy_idle_rss_kib = procstat::rss_kib(procs.proxy.pid()).ok();

    let opts_for = |endpoint: String, checksums| ClientOptions {
        endpoint,
        access_key: ACCESS_KEY.to_owned(),
        secret_key: SECRET_KEY.to_owned(),
        checksums,
    };
    let direct_url = format!("http://{backend_addr}");
    let proxy_url = format!("http://{}", addrs.s3);
    let direct = client::build(&opts_for(direct_url.clone(), false));
    let proxied = client::build(&opts_for(proxy_url.clone(), false));

    proxied
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!("CreateBucket through the proxy: {}", DisplayErrorContext(e))
        })?;

    let mut checks = Vec::new();
    for (path, url) in [("direct", &direct_url), ("proxy", &proxy_url)] {
        let plain = client::build(&opts_for(url.clone(), false));
        let chunked = client::build(&opts_for(url.clone(), true));
        for o in check::run(&plain, &chunked, CHECK_BUCKET).await {
            eprintln!("check {path}: {}: {}", o.name, status_of(&o.result));
            checks.push(CheckLine {
                path,
                name: o.name,
                result: o.result.map_err(|e| format!("{e:#}")),
            });
        }
    }
    if checks
        .iter()
        .any(|c| c.path == "direct" && c.result.is_err())
    {
        bail!("the in-memory backend failed its own checks; not measuring");
    }

    let mut cells = Vec::new();
    for &op in &opts.ops {
        for &size in &opts.sizes {
            for &conc in &opts.concurrency {
                let (requests, cap) = budget(size, opts.quick);
                let spec = LoadSpec {
                    op,
                    bucket: BUCKET.to_owned(),
                    size,
                    concurrency: conc,
                    requests,
                    max_duration: cap,
                };
                let d = measure(&direct, &spec, &mut procs, false).await?;
                let p = measure(&proxied, &spec, &mut procs, true).await?;
                eprintln!(
                    "{op} {} x{conc}: direct {:.1} MiB/s {:.0} req/s | proxy {:.1} MiB/s {:.0} req/s ({:.2}) err {}/{}",
                    format_size(size),
                    d.load.mib_per_s(),
                    d.load.req_per_s(),
                    p.load.mib_per_s(),
                    p.load.req_per_s(),
                    ratio(p.load.mib_per_s(), d.load.mib_per_s()),
                    d.load.errors,
                    p.load.errors,
                );
                for e in d.load.error_samples.iter().chain(&p.load.error_samples) {
                    eprintln!("  error: {e}");
                }
                cells.push(Cell {
                    op,
                    size,
                    concurrency: conc,
                    direct: d,
                    proxy: p,
                });
            }
        }
    }

    let mut memory = Vec::new();
    if !opts.skip_memory {
        let size = opts
            .memory_object_size
            .unwrap_or(if opts.quick { 256 * MIB } else { GIB });
        for op in [Op::Put, Op::Get] {
            let spec = LoadSpec {
                op,
                bucket: BUCKET.to_owned(),
                size,
                concurrency: MEMORY_OBJECTS,
                requests: MEMORY_OBJECTS as u64,
                max_duration: Duration::from_secs(300),
            };
            let m = measure(&proxied, &spec, &mut procs, true).await?;
            eprintln!(
                "memory {op} {MEMORY_OBJECTS} x {}: {}, proxy peak RSS {:.1} MiB",
                format_size(size),
                m.load,
                m.proxy_peak_kib.unwrap_or(0) as f64 / 1024.0
            );
            memory.push(MemoryRun {
                op,
                size,
                concurrency: MEMORY_OBJECTS,
                measured: m,
            });
        }
    }
    procs.ensure_running()?;

    let text = report::render(&Report {
        command: opts.command_line.clone(),
        quick: opts.quick,
        machine: Machine::probe(),
        load_before,
        proxy_bin: proxy_bin.display().to_string(),
        proxy_idle_rss_kib,
        checks,
        cells,
        memory,
        elapsed: started.elapsed(),
    });
    match &opts.out {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("report written to {}", path.display());
        }
        None => print!("{text}"),
    }
    drop(procs);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

fn status_of(r: &anyhow::Result<()>) -> String {
    match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("FAILED: {e:#}"),
    }
}

/// `num / den`, or 0 when `den` is 0.
pub fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 { num / den } else { 0.0 }
}

/// Warms the connections up, then runs `spec`, sampling CPU (and proxy peak RSS if proxied).
async fn measure(
    client: &Client,
    spec: &LoadSpec,
    procs: &mut Procs,
    proxied: bool,
) -> anyhow::Result<Measured> {
    procs.ensure_running()?;
    let failed = load::warm_up(client, &spec.bucket, spec.concurrency).await;
    if failed > 0 {
        eprintln!("warning: {failed} warm-up requests failed");
    }
    let proxy_pid = procs.proxy.pid();
    if proxied {
        procstat::reset_peak_rss(proxy_pid)?;
    }
    let before = procs.cpu()?;
    let result = load::run(client, spec).await;
    let after = procs.cpu()?;
    let proxy_peak_kib = if proxied {
        Some(procstat::peak_rss_kib(proxy_pid)?)
    } else {
        None
    };
    procs.ensure_running()?;
    Ok(Measured {
        load: result,
        cpu: CpuSplit {
            client: after.0 - before.0,
            backend: after.1 - before.1,
            proxy: proxied.then_some(after.2 - before.2),
        },
        proxy_peak_kib,
    })
}
