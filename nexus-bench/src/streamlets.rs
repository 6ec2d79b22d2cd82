//! `nexus-bench streamlets`: what the streamlet runtime costs, in one run (issue 4 targets).
//!
//! - **zstd**: the `compress-zstd` streamlet's throughput on one core (the worker pinned to one
//!   CPU with one streamlet thread; WASM seconds from `nexus_streamlet_call_duration_seconds`)
//!   against native libzstd
//!   (the `zstd` crate) compressing the same 1 MiB frames on this thread, at level 1 (the
//!   strategy the pure-Rust encoder implements) and at the level the policy asks for;
//! - **cores**: PUT throughput through `compress-zstd` with the worker on one CPU and one
//!   streamlet thread, and on two CPUs with two (frames of one object run in parallel);
//! - **range**: GET of the last 1 MiB of a 1 GiB segment stored compressed vs stored plain
//!   (both in the embedded store), first read and median of repeated reads;
//! - **memory**: the worker's peak RSS while 16 clients PUT 1 GiB each through `compress-zstd`
//!   (backend: the in-memory bench backend).
//!
//! The data is the loghub logs repeated (real text, compressible as logs are).

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use crate::control::{PolicyWorker, backend_args, generic_policy};
use crate::pattern::PatternBody;
use crate::{procs, procstat};

const MIB: u64 = 1 << 20;
const FRAME: usize = 1 << 20;

/// Which parts to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    Zstd,
    Cores,
    Range,
    Memory,
    /// CompleteMultipartUpload of staged uploads ([`crate::complete`]).
    Complete,
}

/// The loghub `.log` files, concatenated with a marker between rounds, to at least 8 MiB.
fn text(loghub: &Path) -> anyhow::Result<Bytes> {
    let mut all = Vec::new();
    for f in &crate::compression::log_files(loghub)? {
        all.extend(std::fs::read(f)?);
    }
    let mut out = Vec::new();
    let mut round = 0u32;
    while out.len() < 8 << 20 {
        out.extend_from_slice(format!("round {round}\n").as_bytes());
        out.extend_from_slice(&all);
        round += 1;
    }
    Ok(Bytes::from(out))
}

fn body(text: &Bytes, len: u64) -> ByteStream {
    ByteStream::from_body_1_x(PatternBody::over(text.clone(), 0, len))
}

fn policy(level: u32) -> String {
    let mut p = generic_policy("seg-zstd", "seg", &["compress-zstd"]);
    write!(p, "      params:\n        level: {level}\n").ok();
    p
}

/// A policy running `noop` on bucket `seg`.
fn noop_policy() -> String {
    generic_policy("seg-noop", "seg", &["noop"])
}

async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    text: &Bytes,
    len: u64,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_length(i64::try_from(len)?)
        .body(body(text, len))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("PUT {bucket}/{key}: {e:?}"))?;
    Ok(started.elapsed())
}

/// Pins every thread of `pid` to `cpus` (a taskset list, e.g. `0` or `0,1`).
fn pin(pid: u32, cpus: &str) -> anyhow::Result<()> {
    let out = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .output()
        .context("running taskset (util-linux)")?;
    ensure!(
        out.status.success(),
        "taskset: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn mibs(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / MIB as f64 / d.as_secs_f64()
}

/// Runs the chosen parts; the Markdown report.
///
/// # Errors
/// A process does not start, a request fails, or a pipeline did not run.
pub async fn run(
    proxy_bin: &Path,
    streamlets: &Path,
    loghub: &Path,
    parts: &[Part],
    level: u32,
) -> anyhow::Result<String> {
    let text = text(loghub)?;
    let mut out = String::new();
    if parts.contains(&Part::Zstd) || parts.contains(&Part::Cores) {
        zstd_and_cores(proxy_bin, streamlets, &text, parts, level, &mut out).await?;
    }
    if parts.contains(&Part::Range) {
        range(proxy_bin, streamlets, &text, level, &mut out).await?;
    }
    if parts.contains(&Part::Memory) {
        memory(proxy_bin, streamlets, &text, level, &mut out).await?;
    }
    if parts.contains(&Part::Complete) {
        crate::complete::run(proxy_bin, streamlets, &text, &mut out).await?;
    }
    Ok(out)
}

async fn zstd_and_cores(
    proxy_bin: &Path,
    streamlets: &Path,
    text: &Bytes,
    parts: &[Part],
    level: u32,
    out: &mut String,
) -> anyhow::Result<()> {
    const SIZE: u64 = 256 * MIB;
    let secs = "nexus_streamlet_call_duration_seconds_sum";
    let stored = "nexus_pipeline_stored_bytes_total";
    // One PUT through `streamlet` with `threads` streamlet threads, the worker pinned to `cpus`:
    // (wall time, WASM seconds, stored bytes).
    let measure = |streamlet: &'static str, threads: &'static str, cpus: &'static str| async move {
        let label = format!("streamlet=\"{streamlet}\"");
        let policies = if streamlet == "noop" {
            noop_policy()
        } else {
            policy(level)
        };
        let worker = PolicyWorker::start(
            proxy_bin,
            streamlets,
            &policies,
            &["--streamlet-threads", threads],
        )
        .await?;
        pin(worker.pid(), cpus)?;
        let s3 = worker.client();
        crate::ops::create_buckets(&s3, &["seg"]).await?;
        // Warm: the module compiled, the pool's memories touched.
        put(&s3, "seg", "warm", text, 16 * MIB).await?;
        let (s0, b0) = (
            worker.metric_sum(secs, &label).await?,
            worker.metric_sum(stored, "").await?,
        );
        let took = put(&s3, "seg", "segment", text, SIZE).await?;
        let (s1, b1) = (
            worker.metric_sum(secs, &label).await?,
            worker.metric_sum(stored, "").await?,
        );
        ensure!(b1 > b0, "the PUT did not go through {streamlet}");
        anyhow::Ok((took, s1 - s0, b1 - b0))
    };
    let (one, wasm_secs, stored_bytes) = measure("compress-zstd", "1", "0").await?;
    let wasm_ratio = SIZE as f64 / stored_bytes;

    if parts.contains(&Part::Zstd) {
        // Native zstd on the same frames, on this thread.
        let mut frames = Vec::new();
        let mut at = 0u64;
        while at < SIZE {
            let off = (at % text.len() as u64) as usize;
            let n = FRAME.min(text.len() - off).min((SIZE - at) as usize);
            frames.push(text.slice(off..off + n));
            at += n as u64;
        }
        writeln!(
            out,
            "### compress-zstd vs native zstd, one core ({} MiB of loghub text in 1 MiB frames)\n\nWASM: the sum of compress-zstd invocation times (instantiation, copies in and out, compression) with one streamlet thread; native: `zstd::bulk::compress` per frame on one thread.\n\n| codec | MiB/s on one core | ratio (logical / stored) | compress-zstd / this |\n|---|---|---|---|",
            SIZE / MIB
        )?;
        let wasm_mibs = SIZE as f64 / MIB as f64 / wasm_secs;
        writeln!(
            out,
            "| compress-zstd (WASM, level {level}) | {wasm_mibs:.0} | {wasm_ratio:.2} | 1.00 |"
        )?;
        let (_, noop_secs, _) = measure("noop", "1", "0").await?;
        let noop_mibs = SIZE as f64 / MIB as f64 / noop_secs;
        writeln!(
            out,
            "| noop (WASM: instantiation and copies only) | {noop_mibs:.0} | 1.00 | {:.2} |",
            wasm_mibs / noop_mibs
        )?;
        for native_level in [1, i32::try_from(level)?] {
            let started = Instant::now();
            let mut stored_bytes = 0usize;
            for f in &frames {
                stored_bytes += zstd::bulk::compress(f, native_level)?.len();
            }
            let took = started.elapsed();
            let m = mibs(SIZE, took);
            writeln!(
                out,
                "| native libzstd level {native_level} | {m:.0} | {:.2} | {:.2} |",
                SIZE as f64 / stored_bytes as f64,
                wasm_mibs / m
            )?;
        }
        out.push('\n');
    }
    if parts.contains(&Part::Cores) {
        let (two, _, _) = measure("compress-zstd", "2", "0,1").await?;
        writeln!(
            out,
            "### Frame-parallel PUT through compress-zstd ({} MiB, one PUT)\n\nThe worker pinned to one CPU with one streamlet thread, then to both CPUs with two (the load client is not pinned: on this 2-core machine it shares the second CPU with the worker).\n\n| worker CPUs and streamlet threads | MiB/s | vs one |\n|---|---|---|\n| 1 | {:.0} | 1.00 |\n| 2 | {:.0} | {:.2} |\n",
            SIZE / MIB,
            mibs(SIZE, one),
            mibs(SIZE, two),
            one.as_secs_f64() / two.as_secs_f64()
        )?;
    }
    Ok(())
}

async fn range(
    proxy_bin: &Path,
    streamlets: &Path,
    text: &Bytes,
    level: u32,
    out: &mut String,
) -> anyhow::Result<()> {
    const SIZE: u64 = 1 << 30;
    const READS: usize = 100;
    let worker = PolicyWorker::start(proxy_bin, streamlets, &policy(level), &[]).await?;
    let s3 = worker.client();
    crate::ops::create_buckets(&s3, &["seg", "plain"]).await?;
    put(&s3, "seg", "segment.log", text, SIZE).await?;
    put(&s3, "plain", "segment.log", text, SIZE).await?;
    let stored = worker
        .metric_sum("nexus_pipeline_stored_bytes_total", "")
        .await?;
    ensure!(stored > 0.0, "the segment did not go through compress-zstd");
    let want: Vec<u8> = (SIZE - MIB..SIZE)
        .map(|o| text[(o % text.len() as u64) as usize])
        .collect();
    let range = format!("bytes={}-{}", SIZE - MIB, SIZE - 1);
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..=READS {
        for (j, bucket) in ["seg", "plain"].into_iter().enumerate() {
            let started = Instant::now();
            let got = s3
                .get_object()
                .bucket(bucket)
                .key("segment.log")
                .range(&range)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("GET {bucket}: {e:?}"))?
                .body
                .collect()
                .await?
                .into_bytes();
            let took = started.elapsed();
            ensure!(
                got.as_ref() == want.as_slice(),
                "{bucket}: wrong bytes at the end"
            );
            times[j].push(took);
        }
    }
    let first = [times[0][0], times[1][0]];
    let median = |v: &[Duration]| {
        let mut rest = v[1..].to_vec();
        rest.sort();
        rest[rest.len() / 2]
    };
    let (mc, mp) = (median(&times[0]), median(&times[1]));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    writeln!(
        out,
        "### GET of the last 1 MiB of a 1 GiB segment (stored {:.0} MiB compressed)\n\n| stored | first read ms | median of {READS} ms |\n|---|---|---|\n| compressed (compress-zstd) | {:.2} | {:.2} |\n| plain | {:.2} | {:.2} |\n| **compressed / plain** | {:.2} | {:.2} |\n",
        stored / MIB as f64,
        ms(first[0]),
        ms(mc),
        ms(first[1]),
        ms(mp),
        ms(first[0]) / ms(first[1]),
        ms(mc) / ms(mp),
    )?;
    Ok(())
}

async fn memory(
    proxy_bin: &Path,
    streamlets: &Path,
    text: &Bytes,
    level: u32,
    out: &mut String,
) -> anyhow::Result<()> {
    const SIZE: u64 = 1 << 30;
    const CLIENTS: usize = 16;
    let exe = std::env::current_exe().context("locating nexus-bench")?;
    let (_backend, backend_addr) = procs::spawn_backend(&exe)?;
    let backend_url = format!("http://{backend_addr}");
    let worker = PolicyWorker::start(
        proxy_bin,
        streamlets,
        &policy(level),
        &backend_args(&backend_url),
    )
    .await?;
    let s3 = worker.client();
    crate::ops::create_buckets(&s3, &["seg"]).await?;
    put(&s3, "seg", "warm", text, 16 * MIB).await?;
    procstat::reset_peak_rss(worker.pid())?;
    let before = procstat::rss_kib(worker.pid())?;
    let started = Instant::now();
    let puts = (0..CLIENTS).map(|i| {
        let (s3, text) = (s3.clone(), text.clone());
        async move { put(&s3, "seg", &format!("big-{i}"), &text, SIZE).await }
    });
    for r in futures::future::join_all(puts).await {
        r?;
    }
    let took = started.elapsed();
    let peak = procstat::peak_rss_kib(worker.pid())?;
    let logical = worker
        .metric_sum("nexus_pipeline_logical_bytes_total", "")
        .await?;
    ensure!(
        logical >= (CLIENTS as u64 * SIZE) as f64,
        "not every PUT went through compress-zstd"
    );
    writeln!(
        out,
        "### Worker memory, {CLIENTS} concurrent 1 GiB PUTs through compress-zstd\n\n| RSS before MiB | peak RSS MiB | took s | MiB/s |\n|---|---|---|---|\n| {:.1} | {:.1} | {:.1} | {:.0} |\n",
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
        took.as_secs_f64(),
        mibs(CLIENTS as u64 * SIZE, took)
    )?;
    Ok(())
}
