//! Streamlet state (`docs/mesh-protocol.md` §5): per streamlet × stream × partition, read
//! lazily, written into a per-request buffer, committed atomically before the write is
//! acknowledged, fenced by the owner's membership epoch.
//!
//! - **Owned** (a mesh worker): the partition's owner caches the state it loaded (at its
//!   epoch) and keeps it current with its own commits, so a stream of writes to one partition
//!   reads the metadata store once. The cache is dropped for a partition when the epoch moves
//!   or a commit is fenced.
//! - **Shared** (workers on a Redis metadata store without `--swarmlet`): any worker may serve
//!   any partition, so nothing can be cached: every request loads the state it reads. This is
//!   the baseline of the metadata-reads benchmark.
//! - A stateful stage placed on the partition owner of another swarmlet (its state's home)
//!   loads **fresh** there for every call (fenced, not cached: the serving worker merges what
//!   the calls wrote and commits it, fenced with that owner's epoch, after the object is
//!   stored); a data-source stage outside the home reads a **snapshot** (no fence raised, no
//!   writes).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use nexus_core::cluster::{ClusterError, RedisCluster, StateWrite, StateWrites};
use s3s::{S3Error, S3ErrorCode};

use crate::metrics::Metrics;

/// Longest field name a streamlet may use.
pub const MAX_FIELD: usize = 1024;
/// Largest value.
pub const MAX_VALUE: usize = 256 << 10;
/// Most buffered writes of one request and streamlet.
pub const MAX_WRITES: usize = 4096;

/// Why a state call failed, as the guest sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFailure {
    TooLarge,
    QuotaExceeded,
    Unavailable,
    Conflict,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct StateKey {
    streamlet: String,
    stream: String,
    partition: u64,
}

/// One partition's state as loaded (fields without `@fence`).
type Values = Arc<BTreeMap<String, Vec<u8>>>;

/// How a scope reads the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    /// As the partition's owner (cached when the service is owned).
    Owner,
    /// As the owner, without the cache (a placed stage; its writes are committed elsewhere).
    Fresh,
    /// Read-only, unfenced (outside the state's home swarmlet).
    Snapshot,
}

struct Cached {
    epoch: u64,
    values: Values,
}

/// The worker's state service.
pub struct StateService {
    cluster: RedisCluster,
    /// `Some` when this worker owns partitions (mesh); `None`: shared mode.
    cache: Option<Mutex<HashMap<StateKey, Cached>>>,
    metrics: Arc<Metrics>,
    runtime: tokio::runtime::Handle,
}

impl StateService {
    /// `owned`: this worker is a partition owner in a mesh (cache and fence by epoch).
    #[must_use]
    pub fn new(cluster: RedisCluster, owned: bool, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            cluster,
            cache: owned.then(Mutex::default),
            metrics,
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// Whether this worker owns partitions (mesh) rather than sharing them.
    #[must_use]
    pub fn owned(&self) -> bool {
        self.cache.is_some()
    }

    /// The scope of one request on `stream`/`partition`, owned at `epoch` (0 in shared mode).
    #[must_use]
    pub fn scope(self: &Arc<Self>, stream: &str, partition: u64, epoch: u64) -> Arc<StateScope> {
        self.scope_with(stream, partition, epoch, Load::Owner)
    }

    /// The scope of a stage placed here by another worker, as the partition's owner at
    /// `epoch`: loaded fresh, its writes exported to the caller ([`StateTxn::take_writes`]).
    #[must_use]
    pub fn placed_scope(
        self: &Arc<Self>,
        stream: &str,
        partition: u64,
        epoch: u64,
    ) -> Arc<StateScope> {
        self.scope_with(stream, partition, epoch, Load::Fresh)
    }

    /// A read-only scope outside the state's home swarmlet.
    #[must_use]
    pub fn snapshot_scope(self: &Arc<Self>, stream: &str, partition: u64) -> Arc<StateScope> {
        self.scope_with(stream, partition, 0, Load::Snapshot)
    }

    fn scope_with(
        self: &Arc<Self>,
        stream: &str,
        partition: u64,
        epoch: u64,
        load: Load,
    ) -> Arc<StateScope> {
        Arc::new(StateScope {
            service: Arc::clone(self),
            stream: stream.to_owned(),
            partition,
            epoch,
            load,
            txns: Mutex::default(),
            placed: Mutex::default(),
        })
    }

    fn cache(&self) -> Option<std::sync::MutexGuard<'_, HashMap<StateKey, Cached>>> {
        self.cache
            .as_ref()
            .map(|c| c.lock().unwrap_or_else(PoisonError::into_inner))
    }

    async fn load(
        &self,
        key: &StateKey,
        epoch: u64,
        load: Load,
    ) -> Result<Arc<BTreeMap<String, Vec<u8>>>, StateFailure> {
        if load == Load::Owner
            && let Some(cache) = self.cache()
            && let Some(c) = cache.get(key)
            && c.epoch == epoch
        {
            return Ok(Arc::clone(&c.values));
        }
        self.metrics.state_loaded();
        let loaded = if load == Load::Snapshot {
            self.cluster
                .state_read(&key.streamlet, &key.stream, key.partition)
                .await
        } else {
            self.cluster
                .state_load(&key.streamlet, &key.stream, key.partition, epoch)
                .await
        };
        let values = loaded
            .map_err(|e| {
                tracing::warn!(streamlet = %key.streamlet, stream = %key.stream, partition = key.partition, error = %e, "Loading streamlet state failed.");
                match e {
                    ClusterError::Fenced { .. } => StateFailure::Conflict,
                    _ => StateFailure::Unavailable,
                }
            })?;
        let values = Arc::new(values);
        if load == Load::Owner
            && let Some(mut cache) = self.cache()
        {
            cache.insert(
                key.clone(),
                Cached {
                    epoch,
                    values: Arc::clone(&values),
                },
            );
        }
        Ok(values)
    }

    async fn commit(
        &self,
        key: &StateKey,
        epoch: u64,
        writes: &StateWrites,
    ) -> Result<(), S3Error> {
        match self
            .cluster
            .state_commit(&key.streamlet, &key.stream, key.partition, epoch, writes)
            .await
        {
            Ok(incrs) => {
                self.metrics.state_committed("ok");
                if let Some(mut cache) = self.cache()
                    && let Some(c) = cache.get_mut(key)
                    && c.epoch == epoch
                {
                    let mut values = (*c.values).clone();
                    for (field, w) in &writes.writes {
                        match w {
                            StateWrite::Set(v) => {
                                values.insert(field.clone(), v.clone());
                            }
                            StateWrite::Delete => {
                                values.remove(field);
                            }
                            StateWrite::Incr(_) => {
                                if let Some(n) = incrs.get(field) {
                                    values.insert(field.clone(), n.to_string().into_bytes());
                                }
                            }
                        }
                    }
                    c.values = Arc::new(values);
                }
                Ok(())
            }
            Err(e) => {
                if let Some(mut cache) = self.cache() {
                    cache.remove(key);
                }
                let (outcome, code) = match e {
                    ClusterError::Fenced { .. } => ("fenced", S3ErrorCode::SlowDown),
                    _ => ("error", S3ErrorCode::ServiceUnavailable),
                };
                self.metrics.state_committed(outcome);
                tracing::warn!(streamlet = %key.streamlet, stream = %key.stream, partition = key.partition, error = %e, "Streamlet state not committed; the request fails so the client retries.");
                Err(S3Error::with_message(
                    code,
                    format!(
                        "streamlet {} state not committed: {e}; retry",
                        key.streamlet
                    ),
                ))
            }
        }
    }
}

/// The state of one request: one transaction per streamlet, and the writes of stages placed
/// on other swarmlets (with the epoch of the owner there).
pub struct StateScope {
    service: Arc<StateService>,
    stream: String,
    partition: u64,
    epoch: u64,
    load: Load,
    txns: Mutex<BTreeMap<String, Arc<StateTxn>>>,
    placed: Mutex<BTreeMap<String, (u64, StateWrites)>>,
}

impl StateScope {
    /// The transaction of `streamlet` in this request.
    #[must_use]
    pub fn txn(&self, streamlet: &str) -> Arc<StateTxn> {
        let mut txns = self.txns.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(txns.entry(streamlet.to_owned()).or_insert_with(|| {
            Arc::new(StateTxn {
                service: Arc::clone(&self.service),
                key: StateKey {
                    streamlet: streamlet.to_owned(),
                    stream: self.stream.clone(),
                    partition: self.partition,
                },
                epoch: self.epoch,
                load: self.load,
                snapshot: OnceLock::new(),
                writes: Mutex::default(),
            })
        }))
    }

    /// Adds the writes one call of a placed stage of `streamlet` answered with (frames run
    /// concurrently, so each call's writes are merged in the order the answers arrive), to
    /// commit fenced by `epoch`, the epoch of the owner that ran it.
    ///
    /// # Errors
    /// The owner's epoch changed between two calls of the request, or an increment met a
    /// value that is not an integer: the request fails (503) and is retried.
    pub fn add_placed_writes(
        &self,
        streamlet: &str,
        epoch: u64,
        writes: StateWrites,
    ) -> Result<(), String> {
        let mut placed = self.placed.lock().unwrap_or_else(PoisonError::into_inner);
        let (at, pending) = placed
            .entry(streamlet.to_owned())
            .or_insert_with(|| (epoch, StateWrites::default()));
        if *at != epoch {
            return Err(format!(
                "the owner of {streamlet}'s state changed during the request (epoch {at} -> {epoch})"
            ));
        }
        if !pending.merge(writes) {
            return Err(format!(
                "{streamlet}: an increment of a value that is not an integer"
            ));
        }
        Ok(())
    }

    /// Commits every streamlet's buffered writes (call when the request succeeded, before
    /// acknowledging it).
    ///
    /// # Errors
    /// `503 SlowDown` when a newer owner fenced the state, `503 ServiceUnavailable` when the
    /// metadata store is unreachable.
    pub async fn commit(&self) -> Result<(), S3Error> {
        let txns: Vec<Arc<StateTxn>> = self
            .txns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for txn in txns {
            let writes =
                std::mem::take(&mut *txn.writes.lock().unwrap_or_else(PoisonError::into_inner));
            if !writes.is_empty() {
                self.service.commit(&txn.key, txn.epoch, &writes).await?;
            }
        }
        let placed =
            std::mem::take(&mut *self.placed.lock().unwrap_or_else(PoisonError::into_inner));
        for (streamlet, (epoch, writes)) in placed {
            if !writes.is_empty() {
                let key = StateKey {
                    streamlet,
                    stream: self.stream.clone(),
                    partition: self.partition,
                };
                self.service.commit(&key, epoch, &writes).await?;
            }
        }
        Ok(())
    }
}

/// One streamlet's view of its state during one request: the snapshot loaded at the first
/// read, overlaid with the request's own buffered writes. Blocking: called from WASM threads.
pub struct StateTxn {
    service: Arc<StateService>,
    key: StateKey,
    epoch: u64,
    load: Load,
    snapshot: OnceLock<Result<Values, StateFailure>>,
    writes: Mutex<StateWrites>,
}

impl StateTxn {
    fn snapshot(&self) -> Result<Values, StateFailure> {
        self.snapshot
            .get_or_init(|| {
                self.service
                    .runtime
                    .block_on(self.service.load(&self.key, self.epoch, self.load))
            })
            .clone()
    }

    fn writes(&self) -> std::sync::MutexGuard<'_, StateWrites> {
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything this call wrote (a placed stage's answer); none is left to commit here.
    #[must_use]
    pub fn take_writes(&self) -> StateWrites {
        std::mem::take(&mut *self.writes())
    }

    fn check(
        &self,
        field: &str,
        value_len: usize,
        writes: &StateWrites,
    ) -> Result<(), StateFailure> {
        // Outside the state's home nothing may be written (it would bypass the owner's fence).
        if self.load == Load::Snapshot {
            return Err(StateFailure::Unavailable);
        }
        if field.len() > MAX_FIELD || value_len > MAX_VALUE || field.starts_with('@') {
            return Err(StateFailure::TooLarge);
        }
        if writes.writes.len() >= MAX_WRITES && !writes.writes.contains_key(field) {
            return Err(StateFailure::QuotaExceeded);
        }
        Ok(())
    }

    /// # Errors
    /// The state could not be loaded.
    pub fn get(&self, field: &str) -> Result<Option<Vec<u8>>, StateFailure> {
        let pending = self.writes().writes.get(field).cloned();
        match pending {
            Some(StateWrite::Set(v)) => Ok(Some(v)),
            Some(StateWrite::Delete) => Ok(None),
            Some(StateWrite::Incr(d)) => {
                let base = parse_int(self.snapshot()?.get(field)).unwrap_or(0);
                Ok(Some(base.saturating_add(d).to_string().into_bytes()))
            }
            None => Ok(self.snapshot()?.get(field).cloned()),
        }
    }

    /// # Errors
    /// Too large, or too many writes in one request.
    pub fn set(&self, field: &str, value: Vec<u8>) -> Result<(), StateFailure> {
        let mut w = self.writes();
        self.check(field, value.len(), &w)?;
        w.set(field.to_owned(), value);
        Ok(())
    }

    /// # Errors
    /// Too many writes in one request.
    pub fn delete(&self, field: &str) -> Result<(), StateFailure> {
        let mut w = self.writes();
        self.check(field, 0, &w)?;
        w.delete(field.to_owned());
        Ok(())
    }

    /// Adds `delta`; returns the value this request now sees.
    ///
    /// # Errors
    /// The stored value is not an integer (`conflict`), or limits.
    pub fn incr(&self, field: &str, delta: i64) -> Result<i64, StateFailure> {
        let stored = self.snapshot()?.get(field).cloned();
        if stored.is_some() && parse_int(stored.as_ref()).is_none() {
            return Err(StateFailure::Conflict);
        }
        {
            let mut w = self.writes();
            self.check(field, 0, &w)?;
            if !w.incr(field.to_owned(), delta) {
                return Err(StateFailure::Conflict);
            }
        }
        let now = self.get(field)?;
        parse_int(now.as_ref()).ok_or(StateFailure::Conflict)
    }
}

fn parse_int(v: Option<&Vec<u8>>) -> Option<i64> {
    std::str::from_utf8(v?).ok()?.parse().ok()
}
