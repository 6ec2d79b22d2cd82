//! `redis-contention` (paper Fig. 40): what it costs N concurrent updaters to keep state in one
//! Redis, by the way they coordinate. Each update is a read-modify-write of a JSON-ish counter
//! field (`{"count":N}` in a hash field), the shape of Nexus's per-stream state:
//! - optimistic: every updater updates one shared hash with WATCH, HGET, MULTI/HSET/EXEC; a nil
//!   EXEC (another updater committed first) is a conflict and the update is retried;
//! - locked: `SET lock NX PX 1000` with a random token (on failure: a retry, a 100–500 µs back-off
//!   — tokio's timer has 1 ms resolution, so in practice up to ~1 ms); then HGET, HSET and a
//!   compare-and-delete Lua script that releases the lock;
//! - partitioned: each updater owns its partitions' keys (as Nexus's partition owners do) and
//!   updates them with HGET and HSET, with no coordination, so no retries are possible.
//!
//! Why: partitioned state ownership removes contention; the other two pay for it in retries (and
//! wasted round trips) as updaters are added. Each updater is a tokio task with its own
//! connection to a private `redis-server` on loopback. After every run the stored counters must
//! equal the committed updates, or the command fails.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{BuildHasher as _, RandomState};
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

use crate::redis_server::RedisServer;

const SHARED: &str = "shared";
const LOCK: &str = "lock";
const FIELD: &str = "state";
const LOCK_TTL_MS: u64 = 1000;

/// Deletes the lock only if it still holds our token.
static RELEASE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) \
         else return 0 end",
    )
});

/// What `nexus-bench redis-contention` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `redis-server` binary.
    pub redis_server: PathBuf,
    /// Updater counts, one row each.
    pub updaters: Vec<usize>,
    /// Seconds per strategy and updater count.
    pub seconds: f64,
    /// Partitions of the partitioned strategy (at least the largest updater count).
    pub keys: usize,
}

#[derive(Debug, Clone, Copy)]
enum Strategy {
    Optimistic,
    Locked,
    Partitioned,
}

/// One updater's work: committed updates, retries, and its committed updates per key.
#[derive(Debug, Default)]
struct Tally {
    committed: u64,
    retries: u64,
    per_key: BTreeMap<String, u64>,
}

/// Runs every strategy for every updater count and returns the Markdown table.
pub async fn run(options: &Options) -> anyhow::Result<String> {
    let max = options.updaters.iter().copied().max().unwrap_or(0);
    ensure!(
        options.updaters.iter().all(|&n| n > 0),
        "updater counts must be positive"
    );
    ensure!(
        options.keys >= max,
        "--keys {} is fewer than {max} updaters: every updater must own a partition",
        options.keys
    );
    let seconds = Duration::try_from_secs_f64(options.seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .context("--seconds must be a positive number")?;
    let server = RedisServer::start(&options.redis_server)?;
    let client = redis::Client::open(server.url())?;

    let mut out = format!(
        "Redis contention: {} (loopback), {} s per cell, {} partitions\n\n",
        server.version(),
        options.seconds,
        options.keys
    );
    out.push_str(
        "| updaters | optimistic upd/s | optimistic retries/upd | locked upd/s \
         | locked retries/upd | partitioned upd/s |\n|---:|---:|---:|---:|---:|---:|\n",
    );
    for &n in &options.updaters {
        let mut row = Vec::new();
        for strategy in [
            Strategy::Optimistic,
            Strategy::Locked,
            Strategy::Partitioned,
        ] {
            row.push(measure(&client, strategy, n, options.keys, seconds).await?);
        }
        let [(o_rate, o_retries), (l_rate, l_retries), (p_rate, _)] = row[..] else {
            bail!("three strategies per row");
        };
        writeln!(
            out,
            "| {n} | {o_rate:.0} | {o_retries:.2} | {l_rate:.0} | {l_retries:.2} | {p_rate:.0} |"
        )?;
    }
    Ok(out)
}

/// One cell: N updaters run `strategy` for `time`; returns (updates/s, retries per update)
/// after checking the stored counters against the committed updates.
async fn measure(
    client: &redis::Client,
    strategy: Strategy,
    n: usize,
    keys: usize,
    time: Duration,
) -> anyhow::Result<(f64, f64)> {
    let config = AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(10)));
    let mut control = client.get_multiplexed_async_connection().await?;
    redis::cmd("FLUSHALL").exec_async(&mut control).await?;
    let mut connections = Vec::with_capacity(n);
    for _ in 0..n {
        connections.push(
            client
                .get_multiplexed_async_connection_with_config(&config)
                .await?,
        );
    }

    let start = Instant::now();
    let deadline = start + time;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in connections.into_iter().enumerate() {
        match strategy {
            Strategy::Optimistic => tasks.spawn(optimistic(c, deadline)),
            Strategy::Locked => tasks.spawn(locked(c, deadline)),
            Strategy::Partitioned => {
                let owned = (i..keys).step_by(n).map(|p| format!("partition:{p}"));
                tasks.spawn(partitioned(c, deadline, owned.collect()))
            }
        };
    }
    let mut total = Tally::default();
    while let Some(tally) = tasks.join_next().await {
        let tally = tally.context("updater task")??;
        total.committed += tally.committed;
        total.retries += tally.retries;
        for (key, count) in tally.per_key {
            *total.per_key.entry(key).or_default() += count;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();

    for (key, &expected) in &total.per_key {
        let stored = read(&mut control, key).await?;
        ensure!(
            stored == expected,
            "{strategy:?} x{n}: {key} holds {stored}, but {expected} updates committed to it"
        );
    }
    ensure!(
        total.per_key.values().sum::<u64>() == total.committed,
        "{strategy:?} x{n}: per-key counts do not add up to the committed updates"
    );
    eprintln!(
        "{strategy:?} x{n}: {} updates, {} retries in {elapsed:.2} s",
        total.committed, total.retries
    );
    let retries_per_update = if total.committed == 0 {
        f64::NAN
    } else {
        total.retries as f64 / total.committed as f64
    };
    Ok((total.committed as f64 / elapsed, retries_per_update))
}

async fn optimistic(mut c: MultiplexedConnection, deadline: Instant) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        redis::cmd("WATCH").arg(SHARED).exec_async(&mut c).await?;
        let count = read(&mut c, SHARED).await?;
        let exec: Option<(i64,)> = redis::pipe()
            .atomic()
            .cmd("HSET")
            .arg(SHARED)
            .arg(FIELD)
            .arg(state(count + 1))
            .query_async(&mut c)
            .await?;
        match exec {
            Some(_) => tally.committed += 1,
            None => tally.retries += 1,
        }
    }
    tally.per_key.insert(SHARED.to_owned(), tally.committed);
    Ok(tally)
}

async fn locked(mut c: MultiplexedConnection, deadline: Instant) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut rng = Rng::new();
    while Instant::now() < deadline {
        let token = format!("{:016x}", rng.next());
        let acquired: Option<String> = redis::cmd("SET")
            .arg(LOCK)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(LOCK_TTL_MS)
            .query_async(&mut c)
            .await?;
        if acquired.is_none() {
            tally.retries += 1;
            tokio::time::sleep(Duration::from_micros(100 + rng.next() % 401)).await;
            continue;
        }
        let count = read(&mut c, SHARED).await?;
        write(&mut c, SHARED, count + 1).await?;
        let released: i64 = RELEASE.key(LOCK).arg(&token).invoke_async(&mut c).await?;
        ensure!(
            released == 1,
            "the lock expired while held ({LOCK_TTL_MS} ms)"
        );
        tally.committed += 1;
    }
    tally.per_key.insert(SHARED.to_owned(), tally.committed);
    Ok(tally)
}

async fn partitioned(
    mut c: MultiplexedConnection,
    deadline: Instant,
    owned: Vec<String>,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    for key in owned.iter().cycle() {
        if Instant::now() >= deadline {
            break;
        }
        let count = read(&mut c, key).await?;
        write(&mut c, key, count + 1).await?;
        tally.committed += 1;
        *tally.per_key.entry(key.clone()).or_default() += 1;
    }
    Ok(tally)
}

/// The counter in `key` (0 when the field is absent).
async fn read(c: &mut MultiplexedConnection, key: &str) -> anyhow::Result<u64> {
    let value: Option<String> = redis::cmd("HGET")
        .arg(key)
        .arg(FIELD)
        .query_async(c)
        .await?;
    let Some(value) = value else { return Ok(0) };
    value
        .strip_prefix("{\"count\":")
        .and_then(|v| v.strip_suffix('}'))
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("{key}: not a counter: {value}"))
}

async fn write(c: &mut MultiplexedConnection, key: &str, count: u64) -> anyhow::Result<()> {
    redis::cmd("HSET")
        .arg(key)
        .arg(FIELD)
        .arg(state(count))
        .exec_async(c)
        .await?;
    Ok(())
}

fn state(count: u64) -> String {
    format!("{{\"count\":{count}}}")
}

/// xorshift64*, seeded from the standard library's random hasher keys.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        Self(RandomState::new().hash_one(std::process::id()) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}
