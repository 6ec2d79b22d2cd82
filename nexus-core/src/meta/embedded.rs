//! The embedded store: in memory, optionally persisted to a JSON file ([`super::file`]).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::digest::Digest;
use super::error::{MetaError, Result};
use super::feed::{self, Event, FEED_CAPACITY, Feed};
use super::file::{Contents, FilePaths, Stamp, Tombstone};
use super::record::{
    ApplyOutcome, Batch, Change, ChangeResult, Outcome, Record, ResourceKind, Snapshot,
};
use super::store::MetaStore;

type Key = (ResourceKind, String);

/// The embedded metadata store. `memory` keeps everything in this process; `file:PATH` keeps
/// the file as the source of truth, so a CLI and a worker on one machine can share it: the
/// worker notices the CLI's writes (as a `Resync` on the feed) on its next read, which its
/// [`super::SnapshotCache`] does every poll interval.
#[derive(Debug, Clone)]
pub struct EmbeddedMeta {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    file: Option<FilePaths>,
    events: broadcast::Sender<Event>,
}

#[derive(Debug, Default)]
struct State {
    revision: u64,
    records: BTreeMap<Key, Record>,
    tombstones: BTreeMap<Key, u64>,
    /// Memory mode only; a file store keeps modules on disk.
    modules: HashMap<Digest, Arc<[u8]>>,
    /// The identity of the file this state was read from or written to.
    stamp: Option<Stamp>,
}

// === impl EmbeddedMeta ===

impl EmbeddedMeta {
    /// An empty store in memory.
    #[must_use]
    pub fn memory() -> Self {
        Self::with(None, State::default())
    }

    /// The store persisted at `path`: loaded now (a missing file is an empty store; a corrupt
    /// file or one from a newer format is an error), created on the first apply.
    pub async fn open_file(path: impl Into<PathBuf>) -> Result<Self> {
        let paths = FilePaths::new(path.into());
        tokio::task::spawn_blocking(move || {
            paths.prepare()?;
            let (contents, stamp) = paths.read()?;
            let mut state = State::from_contents(contents);
            state.stamp = stamp;
            Ok(Self::with(Some(paths), state))
        })
        .await
        .map_err(|e| MetaError::Internal(e.to_string()))?
    }

    fn with(file: Option<FilePaths>, state: State) -> Self {
        let (events, _) = broadcast::channel(FEED_CAPACITY);
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                file,
                events,
            }),
        }
    }

    /// Runs `f` inline in memory mode, on the blocking pool when it touches the file.
    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        if self.inner.file.is_none() {
            return f(&self.inner);
        }
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| MetaError::Internal(e.to_string()))?
    }
}

#[async_trait]
impl MetaStore for EmbeddedMeta {
    fn describe(&self) -> String {
        match &self.inner.file {
            Some(paths) => format!("file:{}", paths.data.display()),
            None => "memory".to_owned(),
        }
    }

    async fn get(&self, kind: ResourceKind, name: &str) -> Result<Option<Record>> {
        let name = name.to_owned();
        self.run(move |inner| {
            let state = inner.current()?;
            Ok(state.records.get(&(kind, name)).cloned())
        })
        .await
    }

    async fn list(&self, kind: ResourceKind) -> Result<Vec<Record>> {
        self.run(move |inner| {
            let state = inner.current()?;
            Ok(state
                .records
                .range((kind, String::new())..)
                .take_while(|((k, _), _)| *k == kind)
                .map(|(_, r)| r.clone())
                .collect())
        })
        .await
    }

    async fn apply(&self, batch: Batch) -> Result<ApplyOutcome> {
        batch.validate()?;
        self.run(move |inner| inner.apply(&batch)).await
    }

    async fn revision(&self) -> Result<u64> {
        self.run(|inner| Ok(inner.current()?.revision)).await
    }

    async fn snapshot(&self) -> Result<Snapshot> {
        self.run(|inner| {
            let state = inner.current()?;
            // BTreeMap order is (kind, name): already sorted.
            Ok(Snapshot {
                revision: state.revision,
                records: state.records.values().cloned().collect(),
            })
        })
        .await
    }

    async fn put_module(&self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        let actual = Digest::of(bytes);
        if &actual != digest {
            return Err(MetaError::DigestMismatch {
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        let bytes: Arc<[u8]> = Arc::from(bytes);
        let digest = digest.clone();
        self.run(move |inner| match &inner.file {
            Some(paths) if paths.module_exists(&digest)? => Ok(()),
            Some(paths) => paths.write_module(&digest, &bytes),
            None => {
                inner.lock().modules.entry(digest).or_insert(bytes);
                Ok(())
            }
        })
        .await
    }

    async fn get_module(&self, digest: &Digest) -> Result<Option<Vec<u8>>> {
        let digest = digest.clone();
        self.run(move |inner| {
            let bytes = match &inner.file {
                Some(paths) => paths.read_module(&digest)?,
                None => inner.lock().modules.get(&digest).map(|b| b.to_vec()),
            };
            if let Some(bytes) = &bytes {
                let actual = Digest::of(bytes);
                if actual != digest {
                    return Err(MetaError::ModuleCorrupt {
                        digest: digest.to_string(),
                        actual: actual.to_string(),
                    });
                }
            }
            Ok(bytes)
        })
        .await
    }

    async fn module_exists(&self, digest: &Digest) -> Result<bool> {
        let digest = digest.clone();
        self.run(move |inner| match &inner.file {
            Some(paths) => paths.module_exists(&digest),
            None => Ok(inner.lock().modules.contains_key(&digest)),
        })
        .await
    }

    fn watch(&self) -> Feed {
        Feed::new(self.inner.events.subscribe())
    }
}

// === impl Inner ===

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, re-read first if another process changed the file.
    fn current(&self) -> Result<MutexGuard<'_, State>> {
        let mut state = self.lock();
        self.refresh(&mut state)?;
        Ok(state)
    }

    fn refresh(&self, state: &mut State) -> Result<()> {
        let Some(paths) = &self.file else {
            return Ok(());
        };
        let stamp = paths.stamp()?;
        if stamp.is_some() && stamp == state.stamp {
            return Ok(());
        }
        let (contents, stamp) = paths.read()?;
        let fresh = State::from_contents(contents);
        let changed = fresh.revision != state.revision || fresh.records != state.records;
        state.revision = fresh.revision;
        state.records = fresh.records;
        state.tombstones = fresh.tombstones;
        state.stamp = stamp;
        if changed {
            tracing::debug!(
                revision = state.revision,
                "Metadata file changed by another process."
            );
            let _ = self.events.send(Event::Resync {
                revision: Some(state.revision),
            });
        }
        Ok(())
    }

    fn apply(&self, batch: &Batch) -> Result<ApplyOutcome> {
        let mut state = self.lock();
        // Held across read-modify-write so that two processes never lose each other's update.
        let _file_lock = self.file.as_ref().map(FilePaths::lock).transpose()?;
        self.refresh(&mut state)?;
        if let Some(expected) = batch.expected_revision
            && expected != state.revision
        {
            return Err(MetaError::Conflict {
                expected,
                actual: state.revision,
            });
        }
        let (results, changed) = plan(&state, batch);
        if !changed {
            return Ok(ApplyOutcome {
                revision: state.revision,
                changed,
                results,
            });
        }
        let revision = state.revision + 1;
        let updated_ms = now_ms();
        let mut records = state.records.clone();
        let mut tombstones = state.tombstones.clone();
        for (change, result) in batch.changes.iter().zip(&results) {
            let key = (change.kind(), change.name().to_owned());
            match (change, result.outcome) {
                (Change::Put { body, .. }, Outcome::Created | Outcome::Updated) => {
                    tombstones.remove(&key);
                    records.insert(
                        key.clone(),
                        Record {
                            kind: key.0,
                            name: key.1,
                            version: result.version,
                            revision,
                            digest: Digest::of(body.as_bytes()),
                            updated_ms,
                            body: body.clone(),
                        },
                    );
                }
                (Change::Delete { .. }, Outcome::Deleted) => {
                    records.remove(&key);
                    tombstones.insert(key, result.version);
                }
                _ => {}
            }
        }
        if let Some(paths) = &self.file {
            let contents = Contents {
                revision,
                records: records.values().cloned().collect(),
                tombstones: tombstones
                    .iter()
                    .map(|((kind, name), version)| Tombstone {
                        kind: *kind,
                        name: name.clone(),
                        version: *version,
                    })
                    .collect(),
            };
            state.stamp = paths.write(&contents)?;
        }
        state.revision = revision;
        state.records = records;
        state.tombstones = tombstones;
        let outcome = ApplyOutcome {
            revision,
            changed,
            results,
        };
        for event in feed::events_of(&outcome) {
            let _ = self.events.send(event);
        }
        Ok(outcome)
    }
}

// === impl State ===

impl State {
    fn from_contents(contents: Contents) -> Self {
        Self {
            revision: contents.revision,
            records: contents
                .records
                .into_iter()
                .map(|r| ((r.kind, r.name.clone()), r))
                .collect(),
            tombstones: contents
                .tombstones
                .into_iter()
                .map(|t| ((t.kind, t.name), t.version))
                .collect(),
            ..Self::default()
        }
    }
}

/// What `batch` would do to `state` (the embedded twin of `lua/apply.lua`).
fn plan(state: &State, batch: &Batch) -> (Vec<ChangeResult>, bool) {
    let mut changed = false;
    let results = batch
        .changes
        .iter()
        .map(|change| {
            let key = (change.kind(), change.name().to_owned());
            let current = state.records.get(&key);
            let (outcome, version) = match (change, current) {
                (Change::Put { body, .. }, Some(cur)) => {
                    if cur.digest == Digest::of(body.as_bytes()) {
                        (Outcome::Unchanged, cur.version)
                    } else {
                        (Outcome::Updated, cur.version + 1)
                    }
                }
                (Change::Put { .. }, None) => (
                    Outcome::Created,
                    state.tombstones.get(&key).copied().unwrap_or(0) + 1,
                ),
                (Change::Delete { .. }, Some(cur)) => (Outcome::Deleted, cur.version),
                (Change::Delete { .. }, None) => (Outcome::Absent, 0),
            };
            changed |= !matches!(outcome, Outcome::Unchanged | Outcome::Absent);
            ChangeResult {
                kind: key.0,
                name: key.1,
                outcome,
                version,
            }
        })
        .collect();
    (results, changed)
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
