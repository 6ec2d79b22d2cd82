//! Control-plane benchmarks (a command, not a test):
//! - `policies`: the cost of resolving one object to its policy with 1,000 policies in one
//!   bucket, the compiled matcher against a scan of every policy, in the same run;
//! - `propagation`: from `apply` returning to every worker process serving the new revision,
//!   with real `nexus-proxy` processes on Redis and on the shared embedded file.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use nexus_core::keys::{KeyGrammar, ObjectClass, System};
use nexus_core::meta::{self, Batch, Change, MetaStore, ResourceKind, Snapshot};
use nexus_core::resource::{PolicySet, check_references, parse_str};

use crate::procs::{self, Child, ProxyAddrs};
use crate::redis_server::RedisServer;
use crate::stats::Latencies;

const BUCKET: &str = "kafka-tiered";
const PREFIX: &str = "tiered/";

/// The `i`-th policy of the generated set. Shapes (by `i % 10`): exact stream names (40 %),
/// prefix globs (30 %), prefix globs with partitions (20 %), suffix globs (10 %); plus one
/// policy for every stream. Literal lengths keep every pair tie-free (checked when built).
fn policy_yaml(i: usize) -> String {
    let target = match i % 10 {
        0..4 => format!("    streams: [\"orders-{i}\"]\n"),
        4..7 => format!("    streams: [\"team-{i}-*\"]\n"),
        7..9 => format!("    streams: [\"svc-{i}-*\"]\n    partitions: [\"0-3\"]\n"),
        _ => format!("    streams: [\"*-archive-{i}-sfx\"]\n"),
    };
    named_policy(&format!("p{i:04}"), &target, 3)
}

fn named_policy(name: &str, target: &str, level: u32) -> String {
    format!(
        "apiVersion: nexus/v1\nkind: Policy\nmetadata:\n  name: {name}\nspec:\n  system: kafka\n  target:\n    bucket: {BUCKET}\n    keyPrefix: {PREFIX}\n{target}  pipeline:\n    - streamlet: compress-zstd\n      location: edge\n      params: {{level: {level}}}\n"
    )
}

fn key(topic: &str, partition: u32) -> String {
    format!(
        "{PREFIX}{topic}-MWJ6FHTfRYy67jzwZdeqSQ/{partition}/00000000000000001234-tqimKeZwStOEOwRzT3L5oQ.log"
    )
}

/// Stream names of the lookups: hits of every shape and misses (the catch-all policy).
fn topic(i: usize, n: usize) -> String {
    let j = (i * 7919) % n; // spread over the set
    match i % 6 {
        0 => format!("orders-{}", j - j % 10),
        1 => format!("team-{}-app", j - j % 10 + 4),
        2 => format!("svc-{}-db", j - j % 10 + 7),
        3 => format!("x-archive-{}-sfx", j - j % 10 + 9),
        4 => format!("unknown-{j}"),
        _ => format!("orders-{j}-not-exact"),
    }
}

/// Builds the snapshot of `n` generated policies and a catch-all, checked to be tie-free.
fn generated_set(n: usize) -> anyhow::Result<(PolicySet, String)> {
    let mut bodies: Vec<(String, String)> = (0..n)
        .map(|i| (format!("p{i:04}"), policy_yaml(i)))
        .collect();
    bodies.push(("catch-all".into(), named_policy("catch-all", "", 1)));
    let mut text = String::new();
    for (_, b) in &bodies {
        text.push_str("---\n");
        text.push_str(b);
    }
    let parsed = parse_str("generated.yaml", &text);
    let diags: Vec<_> = parsed
        .diags
        .iter()
        .chain(check_references("generated.yaml", &parsed.resources, &[]).iter())
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    ensure!(
        diags.is_empty(),
        "the generated policy set is invalid: {diags:#?}"
    );
    let records = bodies
        .iter()
        .map(|(name, body)| meta::Record {
            kind: ResourceKind::Policy,
            name: name.clone(),
            version: 1,
            revision: 1,
            digest: meta::Digest::of(body.as_bytes()),
            updated_ms: 0,
            body: body.clone(),
        })
        .collect();
    let (set, problems) = PolicySet::compile(&Snapshot {
        revision: 1,
        records,
    });
    ensure!(problems.is_empty(), "{problems:?}");
    Ok((set, text))
}

/// Nanoseconds per call of `f` over `classes`, repeated until `min_time` passed (best of 5).
fn ns_per_lookup(
    classes: &[ObjectClass],
    min_time: Duration,
    f: impl Fn(&ObjectClass) -> bool,
) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        let mut calls = 0u64;
        while start.elapsed() < min_time {
            for c in classes {
                black_box(f(black_box(c)));
            }
            calls += classes.len() as u64;
        }
        best = best.min(start.elapsed().as_nanos() as f64 / calls as f64);
    }
    best
}

/// `nexus-bench policies`: the Markdown report.
///
/// # Errors
/// The generated set is invalid or the matcher disagrees with the scan.
pub fn policies(counts: &[usize], lookups: usize) -> anyhow::Result<String> {
    let grammar = KeyGrammar::new(System::Kafka).with_prefix(PREFIX.to_owned());
    let mut out = String::from(
        "| policies | lookups | matcher ns/lookup | scan ns/lookup | scan / matcher | classify + matcher ns | matched |\n|---|---|---|---|---|---|---|\n",
    );
    for &n in counts {
        let (set, _) = generated_set(n)?;
        let keys: Vec<String> = (0..lookups)
            .map(|i| key(&topic(i, n), (i % 5) as u32))
            .collect();
        let classes: Vec<ObjectClass> = keys.iter().map(|k| grammar.classify(k, None)).collect();
        let mut matched = 0usize;
        for c in &classes {
            let a = set.resolve(BUCKET, c).map(|p| p.name.clone());
            let b = set.resolve_by_scan(BUCKET, c).map(|p| p.name.clone());
            if a != b {
                bail!("matcher and scan disagree on {c:?}: {a:?} vs {b:?}");
            }
            matched += usize::from(a.as_ref().is_some_and(|p| p.as_str() != "catch-all"));
        }
        let t = Duration::from_millis(300);
        let fast = ns_per_lookup(&classes, t, |c| set.resolve(BUCKET, c).is_some());
        let scan = ns_per_lookup(&classes, t, |c| set.resolve_by_scan(BUCKET, c).is_some());
        let with_classify = {
            let start = Instant::now();
            let mut calls = 0u64;
            while start.elapsed() < t {
                for k in &keys {
                    let c = grammar.classify(black_box(k), None);
                    black_box(set.resolve(BUCKET, &c).is_some());
                }
                calls += keys.len() as u64;
            }
            start.elapsed().as_nanos() as f64 / calls as f64
        };
        writeln!(
            out,
            "| {} | {lookups} | {fast:.0} | {scan:.0} | {:.1} | {with_classify:.0} | {:.0} % |",
            n + 1,
            scan / fast,
            100.0 * matched as f64 / classes.len() as f64
        )?;
    }
    Ok(out)
}

/// Which metadata store the workers of `propagation` share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetaKind {
    Redis,
    File,
}

/// `nexus-bench propagation`: the Markdown report.
///
/// # Errors
/// A worker or Redis does not start, or a revision is not served within 10 s.
pub async fn propagation(
    proxy_bin: &Path,
    kinds: &[MetaKind],
    workers: usize,
    applies: usize,
) -> anyhow::Result<String> {
    let mut out = String::from(
        "| metadata | workers | applies | apply p50 ms | all serving p50 ms | p99 ms | max ms | one worker p50 ms |\n|---|---|---|---|---|---|---|---|\n",
    );
    for &kind in kinds {
        let dir = tempdir()?;
        let redis;
        let url = match kind {
            MetaKind::Redis => {
                redis = RedisServer::start(std::path::Path::new("redis-server"))
                    .context("redis-server is not on PATH (scripts/setup.sh installs it)")?;
                redis.url()
            }
            MetaKind::File => format!("file:{}", dir.join("meta.json").display()),
        };
        let store: Arc<dyn MetaStore> = meta::open(&url).await.context("opening the store")?;
        put_policy(store.as_ref(), 1).await?;
        let mut procs: Vec<(Child, ProxyAddrs)> = Vec::new();
        for w in 0..workers {
            let data = dir.join(format!("worker-{w}"));
            std::fs::create_dir_all(&data)?;
            let data = data.display().to_string();
            let log = dir.join(format!("worker-{w}.log"));
            procs.push(procs::spawn_worker(
                proxy_bin,
                &["--data-dir", &data, "--meta", &url],
                &log,
            )?);
        }
        for (child, addrs) in &mut procs {
            procs::wait_ready(addrs.admin, child, Duration::from_secs(20)).await?;
        }
        let admins: Vec<_> = procs.iter().map(|(_, a)| a.admin).collect();
        let (mut apply, mut all, mut one) = (
            Latencies::default(),
            Latencies::default(),
            Latencies::default(),
        );
        for k in 0..applies {
            let started = Instant::now();
            let revision = put_policy(store.as_ref(), 2 + (k % 7) as u32).await?;
            apply.record(started.elapsed());
            let waits = admins.iter().map(|a| serving(*a, revision, started));
            let each = futures::future::try_join_all(waits).await?;
            for d in &each {
                one.record(*d);
            }
            all.record(each.into_iter().max().unwrap_or_default());
        }
        drop(procs);
        for l in [&mut apply, &mut all, &mut one] {
            l.finish();
        }
        let p = |l: &Latencies, q: f64| l.percentile_ms(q).unwrap_or(f64::NAN);
        writeln!(
            out,
            "| {} | {workers} | {applies} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            match kind {
                MetaKind::Redis => "redis",
                MetaKind::File => "file",
            },
            p(&apply, 50.0),
            p(&all, 50.0),
            p(&all, 99.0),
            p(&all, 100.0),
            p(&one, 50.0),
        )?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(out)
}

/// Applies the `orders` policy with compression `level`; returns the new revision.
async fn put_policy(store: &dyn MetaStore, level: u32) -> anyhow::Result<u64> {
    let body = named_policy("orders", "    streams: [\"orders\"]\n", level);
    let parsed = parse_str("orders.yaml", &body);
    ensure!(parsed.diags.is_empty(), "{:?}", parsed.diags);
    let change = Change::put(
        ResourceKind::Policy,
        "orders",
        parsed.resources[0].to_yaml(),
    );
    Ok(store.apply(Batch::new(vec![change])).await?.revision)
}

/// Polls the worker's `/metrics` every 2 ms until it serves `revision`; time since `started`.
async fn serving(
    admin: std::net::SocketAddr,
    revision: u64,
    started: Instant,
) -> anyhow::Result<Duration> {
    loop {
        let (status, body) = procs::admin_get(admin, "/metrics").await?;
        ensure!(status == 200, "{admin}/metrics answered {status}");
        let served = body
            .lines()
            .find_map(|l| l.strip_prefix("nexus_policy_revision "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .context("no nexus_policy_revision in /metrics")?;
        if served >= revision as f64 {
            return Ok(started.elapsed());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(10),
            "{admin} not serving revision {revision} after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn tempdir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("nexus-bench-{}-{}", std::process::id(), now_ns()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// A `nexus-proxy` on generated policies and the built streamlets (`--meta memory`), in a
/// temporary directory removed on drop (the process is killed on drop too).
pub struct PolicyWorker {
    pub addrs: ProxyAddrs,
    child: Child,
    dir: PathBuf,
}

impl PolicyWorker {
    /// Writes `policies` (YAML), starts the worker with `args` added, waits until ready.
    ///
    /// # Errors
    /// The worker does not start or become ready.
    pub async fn start(
        proxy_bin: &Path,
        streamlets: &Path,
        policies: &str,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        Self::start_env(proxy_bin, streamlets, policies, args, &[]).await
    }

    /// As [`Self::start`], with extra environment variables for the worker.
    ///
    /// # Errors
    /// As [`Self::start`].
    pub async fn start_env(
        proxy_bin: &Path,
        streamlets: &Path,
        policies: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let dir = tempdir()?;
        std::fs::write(dir.join("policies.yaml"), policies)?;
        let (data, pol, sl) = (
            dir.join("data").display().to_string(),
            dir.display().to_string(),
            streamlets.display().to_string(),
        );
        let mut all = vec!["--data-dir", &data, "--policies", &pol, "--streamlets", &sl];
        if !args.contains(&"--meta") {
            all.extend_from_slice(&["--meta", "memory"]);
        }
        all.extend_from_slice(args);
        let (mut child, addrs) =
            procs::spawn_worker_env(proxy_bin, &all, &dir.join("proxy.log"), env)?;
        procs::wait_ready(addrs.admin, &mut child, Duration::from_secs(30)).await?;
        Ok(Self { addrs, child, dir })
    }

    /// The worker's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// A client of the worker's S3 port.
    #[must_use]
    pub fn client(&self) -> aws_sdk_s3::Client {
        bench_client(format!("http://{}", self.addrs.s3))
    }

    /// The sum of a metric's series whose labels contain `label` (all series when empty).
    ///
    /// # Errors
    /// The admin port does not answer.
    pub async fn metric_sum(&self, name: &str, label: &str) -> anyhow::Result<f64> {
        let text = procs::admin_get(self.addrs.admin, "/metrics").await?.1;
        Ok(text
            .lines()
            .filter(|l| {
                (l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
                    && l.contains(label)
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }
}

impl Drop for PolicyWorker {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The worker flags that put the bench backend at `url` behind it.
#[must_use]
pub fn backend_args(url: &str) -> [&str; 9] {
    [
        "--backend-endpoint",
        url,
        "--backend-region",
        "us-east-1",
        "--backend-access-key",
        procs::ACCESS_KEY,
        "--backend-secret-key",
        procs::SECRET_KEY,
        "--backend-path-style",
    ]
}

/// A client with the bench credentials, payload signing and checksums off.
#[must_use]
pub fn bench_client(endpoint: String) -> aws_sdk_s3::Client {
    crate::client::build(&crate::client::ClientOptions {
        endpoint,
        access_key: procs::ACCESS_KEY.into(),
        secret_key: procs::SECRET_KEY.into(),
        checksums: false,
    })
}

/// A generic policy named `name` on `bucket` running `stages` (streamlet names) at the edge.
#[must_use]
pub fn generic_policy(name: &str, bucket: &str, stages: &[&str]) -> String {
    let stages: String = stages
        .iter()
        .map(|s| format!("    - streamlet: {s}\n      location: edge\n"))
        .collect();
    format!(
        "---\napiVersion: nexus/v1\nkind: Policy\nmetadata:\n  name: {name}\nspec:\n  system: generic\n  target:\n    bucket: {bucket}\n  pipeline:\n{stages}"
    )
}

/// PUT MiB/s of one cell: direct to bucket `bench`, then through `through` to each of
/// `buckets` (4 GiB or `seconds` at most each, after a warm-up of both clients).
///
/// # Errors
/// A load had errors.
pub async fn put_row(
    direct: &aws_sdk_s3::Client,
    through: &aws_sdk_s3::Client,
    buckets: &[&str],
    size: u64,
    conc: usize,
    seconds: u64,
) -> anyhow::Result<Vec<f64>> {
    use crate::load::{self, LoadSpec, Op};
    let spec = |bucket: &str| LoadSpec {
        op: Op::Put,
        bucket: bucket.to_owned(),
        size,
        concurrency: conc,
        requests: (4u64 << 30) / size.max(1),
        max_duration: Duration::from_secs(seconds),
    };
    load::warm_up(direct, "bench", conc).await;
    load::warm_up(through, buckets.first().copied().unwrap_or("bench"), conc).await;
    let d = load::run(direct, &spec("bench")).await;
    ensure!(d.errors == 0, "direct errors: {:?}", d.error_samples);
    let mut row = vec![d.mib_per_s()];
    for b in buckets {
        let r = load::run(through, &spec(b)).await;
        ensure!(r.errors == 0, "{b} errors: {:?}", r.error_samples);
        row.push(r.mib_per_s());
    }
    Ok(row)
}

/// `nexus-bench pipeline`: PUT throughput direct to the in-memory backend, through the proxy
/// without a policy (pass-through), and through policies running 1, 2 and 3 `noop` streamlets
/// (paper Fig. 44), in one run. The backend drains PUT bodies and keeps none, so only the PUT
/// side can be measured with it.
///
/// # Errors
/// A process does not start or a load fails.
pub async fn pipeline(
    proxy_bin: &Path,
    streamlets: &Path,
    sizes: &[u64],
    concurrency: &[usize],
    seconds: u64,
) -> anyhow::Result<String> {
    let policies: String = (1..=3)
        .map(|n| {
            generic_policy(
                &format!("noop-{n}"),
                &format!("bench-n{n}"),
                &vec!["noop"; n],
            )
        })
        .collect();
    let exe = std::env::current_exe().context("locating nexus-bench")?;
    let (_backend, backend_addr) = procs::spawn_backend(&exe)?;
    let backend_url = format!("http://{backend_addr}");
    let worker = PolicyWorker::start(
        proxy_bin,
        streamlets,
        &policies,
        &backend_args(&backend_url),
    )
    .await?;
    let direct = bench_client(backend_url.clone());
    let through = worker.client();
    let buckets = ["bench", "bench-n1", "bench-n2", "bench-n3"];
    crate::ops::create_buckets(&through, &buckets).await?;
    let mut out = String::from(
        "| size | conc | direct MiB/s | pass-through MiB/s | 1 noop | 2 noop | 3 noop | 3 noop / direct | 3 noop / pass-through |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for &size in sizes {
        for &conc in concurrency {
            let row = put_row(&direct, &through, &buckets, size, conc, seconds).await?;
            writeln!(
                out,
                "| {} | {conc} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} |",
                crate::units::format_size(size),
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[4] / row[0],
                row[4] / row[1],
            )?;
        }
    }
    let ran = worker
        .metric_sum("nexus_pipeline_logical_bytes_total", "")
        .await?;
    ensure!(
        ran > 0.0,
        "no bytes went through a pipeline: the policies did not apply"
    );
    Ok(out)
}
