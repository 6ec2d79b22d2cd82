//! `nexus-bench mesh`: the mesh's costs, in one run on loopback with a private Redis.
//!
//! - **Routing hops** (paper Fig. 45): PUT throughput direct to the in-memory backend and
//!   through an edge worker whose policy places `noop` stages on 1, 2 and 3 swarmlets
//!   (edge; edge → cloud; edge → edge-gpu → cloud), by size and concurrency.
//! - **Metadata reads per request** of a stateful streamlet (`route-by-key`, which reads and
//!   updates its partition's state on every write): partition-aware (two mesh workers, the
//!   owner caches) against a shared-state baseline (two workers without `--swarmlet`, any
//!   worker serves any partition, so each request reads the state), counted by the workers'
//!   `nexus_state_loads_total`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use aws_sdk_s3::primitives::ByteStream;

use crate::control::{PolicyWorker, backend_args, bench_client, put_row};
use crate::procs;
use crate::redis_server::RedisServer;

const SECRET: &str = "nexus-bench-cluster-secret";

fn policy(name: &str, bucket: &str, stages: &[(&str, &str, &str)]) -> String {
    let stages: String = stages
        .iter()
        .map(|(s, loc, hw)| {
            let hw = if hw.is_empty() {
                String::new()
            } else {
                format!("      hardware: [{hw}]\n")
            };
            format!("    - streamlet: {s}\n      location: {loc}\n{hw}")
        })
        .collect();
    format!(
        "---\napiVersion: nexus/v1\nkind: Policy\nmetadata:\n  name: {name}\nspec:\n  system: generic\n  target:\n    bucket: {bucket}\n  pipeline:\n{stages}"
    )
}

fn mesh_args<'a>(
    meta: &'a str,
    swarmlet: &'a str,
    location: &'a str,
    hardware: &'a str,
) -> Vec<&'a str> {
    let mut a = vec![
        "--meta",
        meta,
        "--swarmlet",
        swarmlet,
        "--location",
        location,
        "--cluster-secret",
        SECRET,
    ];
    if !hardware.is_empty() {
        a.extend_from_slice(&["--hardware", hardware]);
    }
    a
}

async fn start(
    proxy_bin: &Path,
    streamlets: &Path,
    policies: &str,
    backend: &[&str],
    extra: &[&str],
) -> anyhow::Result<PolicyWorker> {
    let mut args: Vec<&str> = backend.to_vec();
    args.extend_from_slice(extra);
    // The `cold` store of the state benchmark names these variables, never the keys.
    let env = [
        ("NEXUS_BENCH_COLD_KEY", procs::ACCESS_KEY),
        ("NEXUS_BENCH_COLD_SECRET", procs::SECRET_KEY),
    ];
    PolicyWorker::start_env(proxy_bin, streamlets, policies, &args, &env).await
}

/// Runs both parts and returns the Markdown tables.
///
/// # Errors
/// A process does not start or a load fails.
pub async fn run(
    proxy_bin: &Path,
    streamlets: &Path,
    redis_bin: &Path,
    sizes: &[u64],
    concurrency: &[usize],
    seconds: u64,
    state_requests: usize,
) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("locating nexus-bench")?;
    let (_backend, backend_addr) = procs::spawn_backend(&exe)?;
    let backend_url = format!("http://{backend_addr}");
    let backend = backend_args(&backend_url);
    let mut out = String::new();
    out.push_str(
        &hops(
            proxy_bin,
            streamlets,
            redis_bin,
            &backend,
            &backend_url,
            sizes,
            concurrency,
            seconds,
        )
        .await?,
    );
    out.push('\n');
    out.push_str(
        &state_reads(
            proxy_bin,
            streamlets,
            redis_bin,
            &backend,
            &backend_url,
            state_requests,
        )
        .await?,
    );
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn hops(
    proxy_bin: &Path,
    streamlets: &Path,
    redis_bin: &Path,
    backend: &[&str],
    backend_url: &str,
    sizes: &[u64],
    concurrency: &[usize],
    seconds: u64,
) -> anyhow::Result<String> {
    let redis = RedisServer::start(redis_bin)?;
    let meta = redis.url();
    let policies = [
        policy("h1", "bench-h1", &[("noop", "edge", "")]),
        policy(
            "h2",
            "bench-h2",
            &[("noop", "edge", ""), ("noop", "cloud", "")],
        ),
        policy(
            "h3",
            "bench-h3",
            &[
                ("noop", "edge", ""),
                ("noop", "edge", "gpu"),
                ("noop", "cloud", ""),
            ],
        ),
    ]
    .concat();
    let edge = start(
        proxy_bin,
        streamlets,
        &policies,
        backend,
        &mesh_args(&meta, "edge", "edge", ""),
    )
    .await?;
    let _gpu = start(
        proxy_bin,
        streamlets,
        &policies,
        backend,
        &mesh_args(&meta, "edge-gpu", "edge", "gpu"),
    )
    .await?;
    let _cloud = start(
        proxy_bin,
        streamlets,
        &policies,
        backend,
        &mesh_args(&meta, "cloud", "cloud", ""),
    )
    .await?;
    // Every worker must see the other two before the stages can be placed.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let direct = bench_client(backend_url.to_owned());
    let through = edge.client();
    crate::ops::create_buckets(&through, &["bench", "bench-h1", "bench-h2", "bench-h3"]).await?;
    let mut out = String::from(
        "| size | conc | direct MiB/s | 1 hop | 2 hops | 3 hops | 1 hop / direct | 2 hops / direct | 3 hops / direct | 2 hops / 1 hop | 3 hops / 1 hop |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for &size in sizes {
        for &conc in concurrency {
            let buckets = ["bench-h1", "bench-h2", "bench-h3"];
            let row = put_row(&direct, &through, &buckets, size, conc, seconds).await?;
            writeln!(
                out,
                "| {} | {conc} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                crate::units::format_size(size),
                row[0],
                row[1],
                row[2],
                row[3],
                row[1] / row[0],
                row[2] / row[0],
                row[3] / row[0],
                row[2] / row[1],
                row[3] / row[1],
            )?;
        }
    }
    // The placed stages really ran elsewhere.
    let forwarded = edge
        .metric_sum("nexus_mesh_forwarded_total", "status=\"200\"")
        .await?;
    ensure!(forwarded > 0.0, "no stage call left the edge worker");
    Ok(out)
}

async fn state_reads(
    proxy_bin: &Path,
    streamlets: &Path,
    redis_bin: &Path,
    backend: &[&str],
    backend_url: &str,
    requests: usize,
) -> anyhow::Result<String> {
    let policies = format!(
        "---\napiVersion: nexus/v1\nkind: Store\nmetadata: {{name: cold}}\nspec:\n  s3:\n    endpoint: {backend_url}\n    bucket: bench-cold\n    region: us-east-1\n    pathStyle: true\n    credentials: {{env: {{accessKeyId: NEXUS_BENCH_COLD_KEY, secretAccessKey: NEXUS_BENCH_COLD_SECRET}}}}\n---\napiVersion: nexus/v1\nkind: Policy\nmetadata: {{name: routed}}\nspec:\n  system: kafka\n  target: {{bucket: kafka-tiered, keyPrefix: tiered/}}\n  pipeline:\n    - {{streamlet: route-by-key, location: edge, params: {{match: \"tiered/\", store: cold}}}}\n  output: {{alternatives: [cold]}}\n"
    );
    let mut out = String::from(
        "| mode | workers | requests | partitions | state reads | reads / request | PUT/s |\n|---|---|---|---|---|---|---|\n",
    );
    let mut per_request = Vec::new();
    for owned in [false, true] {
        let redis = RedisServer::start(redis_bin)?;
        let meta = redis.url();
        let extra = |sw: &'static str| {
            if owned {
                mesh_args(&meta, sw, "edge", "")
            } else {
                vec!["--meta", meta.as_str()]
            }
        };
        let a = start(proxy_bin, streamlets, &policies, backend, &extra("edge")).await?;
        let b = start(proxy_bin, streamlets, &policies, backend, &extra("edge")).await?;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let clients = [a.client(), b.client()];
        for bucket in ["kafka-tiered", "bench-cold"] {
            let _ = clients[0].create_bucket().bucket(bucket).send().await;
        }
        let partitions = 4;
        let body = vec![7u8; 64 << 10];
        let started = Instant::now();
        for i in 0..requests {
            let key = format!(
                "tiered/logs-MWJ6FHTfRYy67jzwZdeqSQ/{}/{:020}-tqimKeZwStOEOwRzT3L5oQ.log",
                i % partitions,
                i
            );
            clients[i % 2]
                .put_object()
                .bucket("kafka-tiered")
                .key(key)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("put {i}: {e:?}"))?;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let reads = a.metric_sum("nexus_state_loads_total", "").await?
            + b.metric_sum("nexus_state_loads_total", "").await?;
        let commits = a.metric_sum("nexus_state_commits_total", "ok").await?
            + b.metric_sum("nexus_state_commits_total", "ok").await?;
        ensure!(
            commits as usize == requests,
            "{commits} state commits for {requests} requests"
        );
        let r = reads / requests as f64;
        per_request.push(r);
        writeln!(
            out,
            "| {} | 2 | {requests} | {partitions} | {reads:.0} | {r:.4} | {:.0} |",
            if owned {
                "partition-aware (mesh)"
            } else {
                "shared state"
            },
            requests as f64 / elapsed
        )?;
    }
    writeln!(
        out,
        "\nPartition-aware reads per request vs shared: {:+.1} %",
        (per_request[1] / per_request[0] - 1.0) * 100.0
    )?;
    Ok(out)
}
