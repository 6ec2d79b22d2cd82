//! The Redis side of the mesh: membership (one heartbeat script) and fenced streamlet state.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;

use super::member::{SwarmletView, View, WorkerRecord};
use super::state::{StateWrite, StateWrites};
use crate::meta::redis_keys::Keys;
use crate::meta::{RedisMeta, RedisOptions};

static BEAT: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/beat.lua")));
static STATE_LOAD: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/state_load.lua")));
static STATE_COMMIT: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/state_commit.lua")));

/// Why a cluster call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Redis could not be reached or answered an error (retryable).
    #[error("metadata store: {0}")]
    Store(String),
    /// Another owner holds the partition's state at a newer epoch.
    #[error("state is fenced at epoch {fence}, newer than ours ({ours})")]
    Fenced { fence: u64, ours: u64 },
    /// Redis answered something this build does not understand.
    #[error("unexpected answer from the metadata store: {0}")]
    Protocol(String),
}

impl From<redis::RedisError> for ClusterError {
    fn from(e: redis::RedisError) -> Self {
        Self::Store(e.to_string())
    }
}

/// Membership and state in the metadata store's Redis.
#[derive(Clone)]
pub struct RedisCluster {
    conn: ConnectionManager,
    keys: Keys,
    dead_after: Duration,
}

impl std::fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCluster")
            .field("prefix", &self.keys.prefix())
            .finish_non_exhaustive()
    }
}

impl RedisCluster {
    /// Connects to the metadata store at `url` (`redis://` or `rediss://`).
    ///
    /// # Errors
    /// The URL is not Redis, or Redis cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, ClusterError> {
        if !url.starts_with("redis://") && !url.starts_with("rediss://") {
            return Err(ClusterError::Store(format!(
                "the mesh needs a Redis metadata store (--meta redis://…), not {}",
                crate::meta::redact_url(url)
            )));
        }
        let meta = RedisMeta::connect(url, RedisOptions::default())
            .await
            .map_err(|e| ClusterError::Store(e.to_string()))?;
        Ok(Self::from_meta(&meta))
    }

    /// On the connection of an open metadata store (the worker's own: one connection and one
    /// schema check at start-up).
    #[must_use]
    pub fn from_meta(meta: &RedisMeta) -> Self {
        let (conn, keys) = meta.connection();
        Self {
            conn,
            keys,
            dead_after: super::DEAD_AFTER,
        }
    }

    /// Registers or refreshes `me`, prunes dead members and returns the view.
    ///
    /// # Errors
    /// Redis is unreachable.
    pub async fn beat(&self, me: &WorkerRecord) -> Result<View, ClusterError> {
        let json = serde_json::to_string(me).map_err(|e| ClusterError::Protocol(e.to_string()))?;
        self.run_beat(&me.swarmlet, &me.id, &json, "beat").await
    }

    /// Removes `me` (a graceful leave): its swarmlet's epoch is bumped at once.
    ///
    /// # Errors
    /// Redis is unreachable.
    pub async fn leave(&self, me: &WorkerRecord) -> Result<View, ClusterError> {
        self.run_beat(&me.swarmlet, &me.id, "", "leave").await
    }

    /// The current view (also prunes dead members).
    ///
    /// # Errors
    /// Redis is unreachable.
    pub async fn view(&self) -> Result<View, ClusterError> {
        self.run_beat("", "", "", "read").await
    }

    async fn run_beat(
        &self,
        swarmlet: &str,
        id: &str,
        json: &str,
        mode: &str,
    ) -> Result<View, ClusterError> {
        let mut conn = self.conn.clone();
        let value: redis::Value = BEAT
            .arg(self.keys.prefix())
            .arg(swarmlet)
            .arg(id)
            .arg(json)
            .arg(u64::try_from(self.dead_after.as_millis()).unwrap_or(u64::MAX))
            .arg(mode)
            .invoke_async(&mut conn)
            .await?;
        parse_view(value)
    }

    fn state_key(&self, streamlet: &str, stream: &str, partition: u64) -> String {
        self.keys.state(streamlet, stream, partition)
    }

    /// Loads a partition's state for an owner at `epoch`, raising the fence to it.
    ///
    /// # Errors
    /// [`ClusterError::Fenced`] when a newer owner holds it; Redis errors.
    pub async fn state_load(
        &self,
        streamlet: &str,
        stream: &str,
        partition: u64,
        epoch: u64,
    ) -> Result<BTreeMap<String, Vec<u8>>, ClusterError> {
        let mut conn = self.conn.clone();
        let value: Vec<redis::Value> = STATE_LOAD
            .key(self.state_key(streamlet, stream, partition))
            .arg(epoch)
            .invoke_async(&mut conn)
            .await?;
        let mut items = fenced(value, epoch)?.into_iter();
        let mut out = BTreeMap::new();
        while let (Some(k), Some(v)) = (items.next(), items.next()) {
            out.insert(text(k)?, bytes(v)?);
        }
        Ok(out)
    }

    /// Reads one partition's state without taking ownership (no fence is raised): what a
    /// worker outside the state's home swarmlet sees.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn state_read(
        &self,
        streamlet: &str,
        stream: &str,
        partition: u64,
    ) -> Result<BTreeMap<String, Vec<u8>>, ClusterError> {
        let mut conn = self.conn.clone();
        let all: BTreeMap<String, Vec<u8>> = redis::cmd("HGETALL")
            .arg(self.state_key(streamlet, stream, partition))
            .query_async(&mut conn)
            .await?;
        Ok(all.into_iter().filter(|(k, _)| k != "@fence").collect())
    }

    /// Commits `writes` for an owner at `epoch`; returns the new values of the increments.
    ///
    /// # Errors
    /// [`ClusterError::Fenced`] when a newer owner holds the state; Redis errors.
    pub async fn state_commit(
        &self,
        streamlet: &str,
        stream: &str,
        partition: u64,
        epoch: u64,
        writes: &StateWrites,
    ) -> Result<BTreeMap<String, i64>, ClusterError> {
        let mut conn = self.conn.clone();
        let mut script = STATE_COMMIT.key(self.state_key(streamlet, stream, partition));
        script.arg(epoch);
        for (field, w) in &writes.writes {
            match w {
                StateWrite::Set(v) => script.arg("s").arg(field).arg(v.as_slice()),
                StateWrite::Delete => script.arg("d").arg(field).arg(""),
                StateWrite::Incr(d) => script.arg("i").arg(field).arg(*d),
            };
        }
        let value: Vec<redis::Value> = script.invoke_async(&mut conn).await?;
        let mut items = fenced(value, epoch)?.into_iter();
        let mut out = BTreeMap::new();
        while let (Some(k), Some(v)) = (items.next(), items.next()) {
            let n = text(v)?
                .parse()
                .map_err(|_| ClusterError::Protocol("increment".into()))?;
            out.insert(text(k)?, n);
        }
        Ok(out)
    }
}

/// `{1, items…}` → items; `{0, fence}` → Fenced.
fn fenced(value: Vec<redis::Value>, ours: u64) -> Result<Vec<redis::Value>, ClusterError> {
    let mut it = value.into_iter();
    match it.next() {
        Some(redis::Value::Int(1)) => Ok(it.collect()),
        Some(redis::Value::Int(0)) => {
            let fence = it
                .next()
                .map(text)
                .transpose()?
                .and_then(|f| f.parse().ok())
                .unwrap_or(0);
            Err(ClusterError::Fenced { fence, ours })
        }
        other => Err(ClusterError::Protocol(format!(
            "state script answered {other:?}"
        ))),
    }
}

fn bytes(v: redis::Value) -> Result<Vec<u8>, ClusterError> {
    match v {
        redis::Value::BulkString(b) => Ok(b),
        redis::Value::SimpleString(s) => Ok(s.into_bytes()),
        redis::Value::Int(n) => Ok(n.to_string().into_bytes()),
        other => Err(ClusterError::Protocol(format!(
            "expected a string, got {other:?}"
        ))),
    }
}

fn text(v: redis::Value) -> Result<String, ClusterError> {
    String::from_utf8(bytes(v)?).map_err(|_| ClusterError::Protocol("not UTF-8".into()))
}

fn parse_view(value: redis::Value) -> Result<View, ClusterError> {
    let redis::Value::Array(items) = value else {
        return Err(ClusterError::Protocol("membership script".into()));
    };
    let mut it = items.into_iter();
    let now_ms = match it.next() {
        Some(redis::Value::Int(n)) => u64::try_from(n).unwrap_or(0),
        _ => return Err(ClusterError::Protocol("membership time".into())),
    };
    let mut view = View {
        now_ms,
        swarmlets: BTreeMap::new(),
    };
    while let (Some(name), Some(epoch), Some(redis::Value::Array(recs))) =
        (it.next(), it.next(), it.next())
    {
        let name = text(name)?;
        let epoch = text(epoch)?.parse().unwrap_or(0);
        let mut workers = Vec::new();
        let mut r = recs.into_iter();
        while let (Some(_id), Some(json), Some(beat)) = (r.next(), r.next(), r.next()) {
            // A record this build cannot read (a newer worker) is skipped, not fatal.
            if let Ok(rec) = serde_json::from_str::<WorkerRecord>(&text(json)?) {
                workers.push((rec, text(beat)?.parse().unwrap_or(0)));
            }
        }
        workers.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        view.swarmlets.insert(name, SwarmletView { epoch, workers });
    }
    Ok(view)
}
