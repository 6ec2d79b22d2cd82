//! `nexus-bench load`: N concurrent workers issuing PUTs or GETs of one size, bounded by a
//! request count and a duration.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use tokio::task::JoinSet;

use crate::ops;
use crate::stats::Latencies;

/// Error messages kept per run.
const ERROR_SAMPLES: usize = 3;
/// Extra time in-flight requests get after the deadline before they are abandoned.
const GRACE: Duration = Duration::from_secs(60);

/// The request type of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Op {
    Put,
    Get,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Put => "PUT",
            Op::Get => "GET",
        })
    }
}

/// What one run does.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub op: Op,
    pub bucket: String,
    pub size: u64,
    pub concurrency: usize,
    /// Stop after this many requests...
    pub requests: u64,
    /// ...or when this much time has passed (in-flight requests finish).
    pub max_duration: Duration,
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    pub ok: u64,
    pub errors: u64,
    /// Body bytes moved by successful requests.
    pub bytes: u64,
    /// From the first request to the last completion.
    pub elapsed: Duration,
    /// Latencies of successful requests, sorted.
    pub latencies: Latencies,
    pub error_samples: Vec<String>,
    /// Requests still running `GRACE` after the deadline were abandoned.
    pub abandoned: bool,
}

impl LoadResult {
    pub fn mib_per_s(&self) -> f64 {
        per_second(self.bytes as f64 / (1u64 << 20) as f64, self.elapsed)
    }

    pub fn req_per_s(&self) -> f64 {
        per_second(self.ok as f64, self.elapsed)
    }

    pub fn gib(&self) -> f64 {
        self.bytes as f64 / (1u64 << 30) as f64
    }
}

fn per_second(x: f64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { x / s } else { 0.0 }
}

impl fmt::Display for LoadResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = |q| {
            self.latencies
                .percentile_ms(q)
                .map_or("-".to_owned(), |v| format!("{v:.2}"))
        };
        write!(
            f,
            "{} ok, {} errors, {:.1} MiB/s, {:.0} req/s, p50 {} ms, p99 {} ms, {:.2} s",
            self.ok,
            self.errors,
            self.mib_per_s(),
            self.req_per_s(),
            p(50.0),
            p(99.0),
            self.elapsed.as_secs_f64()
        )?;
        if self.abandoned {
            f.write_str(" (requests abandoned after the deadline)")?;
        }
        for e in &self.error_samples {
            write!(f, "\n  error: {e}")?;
        }
        Ok(())
    }
}

/// One worker's tally.
#[derive(Default)]
struct Tally {
    ok: u64,
    errors: u64,
    bytes: u64,
    latencies: Latencies,
    samples: Vec<String>,
    finished: Option<Instant>,
}

/// Runs `spec` against `client`.
pub async fn run(client: &Client, spec: &LoadSpec) -> LoadResult {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + spec.max_duration;
    let mut workers = JoinSet::new();
    for worker in 0..spec.concurrency.max(1) {
        let (client, spec, next) = (client.clone(), spec.clone(), Arc::clone(&next));
        workers.spawn(async move { work(&client, &spec, &next, deadline, worker).await });
    }
    let mut result = LoadResult::default();
    let mut last = start;
    let hard_stop = tokio::time::Instant::from_std(deadline + GRACE);
    loop {
        match tokio::time::timeout_at(hard_stop, workers.join_next()).await {
            Ok(None) => break,
            Ok(Some(Ok(t))) => {
                result.ok += t.ok;
                result.errors += t.errors;
                result.bytes += t.bytes;
                result.latencies.merge(t.latencies);
                for s in t.samples {
                    if result.error_samples.len() < ERROR_SAMPLES {
                        result.error_samples.push(s);
                    }
                }
                last = last.max(t.finished.unwrap_or(start));
            }
            Ok(Some(Err(e))) => {
                result.errors += 1;
                result.error_samples.push(format!("worker failed: {e}"));
            }
            Err(_) => {
                workers.abort_all();
                result.abandoned = true;
                last = Instant::now();
                break;
            }
        }
    }
    result.elapsed = last.duration_since(start);
    result.latencies.finish();
    result
}

async fn work(
    client: &Client,
    spec: &LoadSpec,
    next: &AtomicU64,
    deadline: Instant,
    worker: usize,
) -> Tally {
    let mut t = Tally::default();
    let key = match spec.op {
        Op::Put => format!("bench/put/{}/{worker}", spec.size),
        Op::Get => ops::fixed_key(spec.size),
    };
    while Instant::now() < deadline && next.fetch_add(1, Ordering::Relaxed) < spec.requests {
        let t0 = Instant::now();
        let r = match spec.op {
            Op::Put => ops::put(client, &spec.bucket, &key, spec.size)
                .await
                .map(|()| spec.size),
            Op::Get => ops::get(client, &spec.bucket, &key, None, false)
                .await
                .and_then(|(n, _)| {
                    if n == spec.size {
                        Ok(n)
                    } else {
                        Err(anyhow::anyhow!(
                            "GET {key}: {n} bytes, expected {}",
                            spec.size
                        ))
                    }
                }),
        };
        match r {
            Ok(n) => {
                t.latencies.record(t0.elapsed());
                t.ok += 1;
                t.bytes += n;
            }
            Err(e) => {
                t.errors += 1;
                if t.samples.len() < ERROR_SAMPLES {
                    t.samples.push(format!("{e:#}"));
                }
            }
        }
    }
    t.finished = Some(Instant::now());
    t
}

/// Opens up to `n` pooled connections with concurrent HEADs (not measured); returns how many
/// failed.
pub async fn warm_up(client: &Client, bucket: &str, n: usize) -> usize {
    let mut set = JoinSet::new();
    for _ in 0..n.max(1) {
        let (client, bucket) = (client.clone(), bucket.to_owned());
        set.spawn(async move { ops::head(&client, &bucket, &ops::fixed_key(1)).await });
    }
    let mut failed = 0;
    while let Some(r) = set.join_next().await {
        if !matches!(r, Ok(Ok(_))) {
            failed += 1;
        }
    }
    failed
}
