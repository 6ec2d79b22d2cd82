//! [`SnapshotCache`]: a compiled snapshot of the store, swapped atomically on change, that
//! keeps serving while the store is unreachable.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::error::{MetaError, Result};
use super::feed::{Event, Feed};
use super::record::Snapshot;
use super::store::MetaStore;

/// Timing of a [`SnapshotCache`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheOptions {
    /// After a feed event, wait this long for more before reloading (default 20 ms): a burst
    /// of events costs one reload.
    pub debounce: Duration,
    /// Ask the store for its revision this often (default 1 s). It is the safety net when
    /// feed events are lost, the way another process's change to the embedded file is
    /// noticed, and what keeps [`SnapshotCache::is_fresh`] true while nothing changes.
    pub poll_interval: Duration,
    /// First delay between failed reloads (default 100 ms), doubled up to `retry_max`.
    pub retry_min: Duration,
    /// Longest delay between failed reloads (default 2 s).
    pub retry_max: Duration,
    /// Give up on one store call after this long (default 10 s).
    pub call_timeout: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(20),
            poll_interval: Duration::from_secs(1),
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_secs(2),
            call_timeout: Duration::from_secs(10),
        }
    }
}

/// A snapshot and what was compiled from it.
struct Loaded<T> {
    snapshot: Arc<Snapshot>,
    value: Arc<T>,
}

/// Counters and state for `/metrics` and `nexus status`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStatus {
    /// The revision being served.
    pub revision: u64,
    /// The newest revision seen (greater than `revision` while a newer one fails to compile).
    pub seen_revision: u64,
    pub since_success: Duration,
    pub reloads: u64,
    pub load_errors: u64,
    pub compile_errors: u64,
    pub last_error: Option<String>,
}

/// Holds `Arc<T>` compiled from the store's snapshot and follows the store.
///
/// The background task subscribes to the feed, reloads the snapshot on every event (debounced
/// and coalesced) and on every poll that finds a new revision, compiles it and swaps it in.
/// If compiling fails, the previous value stays and the error is logged and counted (the
/// revision is not retried until the next change). If the store is unreachable, the last
/// value keeps serving, reloads retry with exponential backoff, and [`Self::is_fresh`] turns
/// false after the caller's grace period: the worker reports not-ready then.
pub struct SnapshotCache<T> {
    shared: Arc<Shared<T>>,
    task: JoinHandle<()>,
}

struct Shared<T> {
    loaded: ArcSwap<Loaded<T>>,
    last_success: Mutex<Instant>,
    seen_revision: AtomicU64,
    reloads: AtomicU64,
    load_errors: AtomicU64,
    compile_errors: AtomicU64,
    last_error: Mutex<Option<String>>,
    revision_tx: watch::Sender<u64>,
}

struct Follower<T, F> {
    store: Arc<dyn MetaStore>,
    compile: F,
    options: CacheOptions,
    shared: Arc<Shared<T>>,
}

// === impl SnapshotCache ===

impl<T: Send + Sync + 'static> SnapshotCache<T> {
    /// Loads and compiles the first snapshot (an error if the store cannot be read or the first
    /// compile fails), then follows the store in a background task until dropped.
    ///
    /// `compile` should skip (and log) single bad records rather than fail, so that one bad
    /// record never blocks every other change.
    pub async fn start<F, E>(
        store: Arc<dyn MetaStore>,
        compile: F,
        options: CacheOptions,
    ) -> Result<Self>
    where
        F: Fn(&Snapshot) -> std::result::Result<T, E> + Send + Sync + 'static,
        E: fmt::Display + 'static,
    {
        // Subscribe before the first read, so no change falls between the two.
        let feed = store.watch();
        let snapshot = timed(options.call_timeout, store.snapshot()).await?;
        let value = compile(&snapshot).map_err(|e| {
            MetaError::Internal(format!(
                "compiling the snapshot at revision {} failed: {e}",
                snapshot.revision
            ))
        })?;
        let revision = snapshot.revision;
        let shared = Arc::new(Shared {
            loaded: ArcSwap::from_pointee(Loaded {
                snapshot: Arc::new(snapshot),
                value: Arc::new(value),
            }),
            last_success: Mutex::new(Instant::now()),
            seen_revision: AtomicU64::new(revision),
            reloads: AtomicU64::new(1),
            load_errors: AtomicU64::new(0),
            compile_errors: AtomicU64::new(0),
            last_error: Mutex::new(None),
            revision_tx: watch::Sender::new(revision),
        });
        let follower = Follower {
            store,
            compile,
            options,
            shared: Arc::clone(&shared),
        };
        let task = tokio::spawn(follower.run(feed));
        Ok(Self { shared, task })
    }

    /// The compiled value being served. Cheap (an atomic load and a reference count).
    #[must_use]
    pub fn current(&self) -> Arc<T> {
        Arc::clone(&self.shared.loaded.load().value)
    }

    /// The snapshot `current()` was compiled from.
    #[must_use]
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.shared.loaded.load().snapshot)
    }

    /// The revision being served.
    #[must_use]
    pub fn revision(&self) -> u64 {
        self.shared.loaded.load().snapshot.revision
    }

    /// When the store last confirmed the served revision (a reload, or a poll that found
    /// nothing new).
    #[must_use]
    pub fn last_success(&self) -> Instant {
        *self
            .shared
            .last_success
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the store confirmed the served revision within `grace`.
    #[must_use]
    pub fn is_fresh(&self, grace: Duration) -> bool {
        self.last_success().elapsed() <= grace
    }

    /// Notified with the served revision after every swap.
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.revision_tx.subscribe()
    }

    /// Waits until the served revision is at least `revision`; false on timeout.
    pub async fn wait_for_revision(&self, revision: u64, timeout: Duration) -> bool {
        let mut rx = self.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|r| *r >= revision))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    #[must_use]
    pub fn status(&self) -> CacheStatus {
        let s = &self.shared;
        CacheStatus {
            revision: self.revision(),
            seen_revision: s.seen_revision.load(Ordering::Relaxed),
            since_success: self.last_success().elapsed(),
            reloads: s.reloads.load(Ordering::Relaxed),
            load_errors: s.load_errors.load(Ordering::Relaxed),
            compile_errors: s.compile_errors.load(Ordering::Relaxed),
            last_error: s
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

impl<T> Drop for SnapshotCache<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<T> fmt::Debug for SnapshotCache<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotCache")
            .field("revision", &self.shared.loaded.load().snapshot.revision)
            .finish_non_exhaustive()
    }
}

// === impl Shared ===

impl<T> Shared<T> {
    fn succeeded(&self) {
        *self
            .last_success
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    fn failed(&self, counter: &AtomicU64, error: String) {
        counter.fetch_add(1, Ordering::Relaxed);
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error);
    }
}

// === impl Follower ===

impl<T, F, E> Follower<T, F>
where
    T: Send + Sync + 'static,
    F: Fn(&Snapshot) -> std::result::Result<T, E> + Send + Sync + 'static,
    E: fmt::Display + 'static,
{
    async fn run(self, mut feed: Feed) {
        let mut feed_open = true;
        let mut next_poll = Instant::now() + self.options.poll_interval;
        loop {
            let dirty = tokio::select! {
                event = feed.recv(), if feed_open => match event {
                    Some(Event::Changed(change)) => {
                        change.revision != self.shared.seen_revision.load(Ordering::Relaxed)
                    }
                    Some(_) => true,
                    None => {
                        feed_open = false;
                        false
                    }
                },
                () = tokio::time::sleep_until(next_poll) => {
                    next_poll = Instant::now() + self.options.poll_interval;
                    self.poll().await
                }
            };
            if dirty {
                tokio::time::sleep(self.options.debounce).await;
                while feed.try_recv().is_some() {}
                self.reload().await;
                next_poll = Instant::now() + self.options.poll_interval;
            }
        }
    }

    /// Asks for the revision: true if a reload is due.
    async fn poll(&self) -> bool {
        match timed(self.options.call_timeout, self.store.revision()).await {
            Ok(revision) if revision == self.shared.seen_revision.load(Ordering::Relaxed) => {
                self.shared.succeeded();
                false
            }
            Ok(_) => true,
            Err(e) => {
                tracing::debug!(error = %e, "Metadata poll failed.");
                self.shared.failed(&self.shared.load_errors, e.to_string());
                false
            }
        }
    }

    /// Reloads until it succeeds, backing off between failures.
    async fn reload(&self) {
        let mut delay = self.options.retry_min;
        loop {
            match timed(self.options.call_timeout, self.store.snapshot()).await {
                Ok(snapshot) => return self.install(snapshot),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?delay, "Metadata reload failed; serving the last snapshot.");
                    self.shared.failed(&self.shared.load_errors, e.to_string());
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.options.retry_max);
                }
            }
        }
    }

    fn install(&self, snapshot: Snapshot) {
        let shared = &self.shared;
        shared.succeeded();
        shared
            .seen_revision
            .store(snapshot.revision, Ordering::Relaxed);
        let current = shared.loaded.load();
        if *current.snapshot == snapshot {
            return;
        }
        if snapshot.revision < current.snapshot.revision {
            tracing::warn!(
                from = current.snapshot.revision,
                to = snapshot.revision,
                "The metadata store's revision went back (restored or flushed); following it."
            );
        }
        match (self.compile)(&snapshot) {
            Ok(value) => {
                let revision = snapshot.revision;
                shared.loaded.store(Arc::new(Loaded {
                    snapshot: Arc::new(snapshot),
                    value: Arc::new(value),
                }));
                shared.reloads.fetch_add(1, Ordering::Relaxed);
                shared.revision_tx.send_replace(revision);
                tracing::debug!(revision, "Metadata snapshot swapped in.");
            }
            Err(e) => {
                tracing::error!(
                    revision = snapshot.revision,
                    serving = current.snapshot.revision,
                    error = %e,
                    "Compiling the metadata snapshot failed; keeping the previous one."
                );
                shared.failed(
                    &shared.compile_errors,
                    format!("revision {}: {e}", snapshot.revision),
                );
            }
        }
    }
}

async fn timed<T>(limit: Duration, f: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| MetaError::Timeout {
            target: "metadata store".to_owned(),
            op: "snapshot cache call",
            after: limit,
        })?
}
