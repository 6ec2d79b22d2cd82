//! The metadata store against its implementations: one conformance suite run against the
//! in-memory store, the file store and a real `redis-server` (started per test on a free port;
//! skipped with a message when `redis-server` is missing, failed under `CI=true`), plus tests
//! of each implementation's own behaviour.

mod cluster;
mod conformance;
mod embedded;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use nexus_core::meta::{Change, Event, Feed, MetaStore, ResourceKind};

/// Runs each conformance test against every implementation.
macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = nexus_core::meta::open("memory").await.unwrap();
                    crate::conformance::$name(store).await;
                }
            )*
        }
        mod file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let url = format!("file:{}", dir.path().join("meta.json").display());
                    let store = nexus_core::meta::open(&url).await.unwrap();
                    crate::conformance::$name(store).await;
                }
            )*
        }
        mod redis_conformance {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(server) = nexus_core::meta::test_util::RedisServer::start(
                        concat!("redis_conformance::", stringify!($name)),
                    ) else {
                        return;
                    };
                    let store = nexus_core::meta::open(&server.url()).await.unwrap();
                    crate::conformance::$name(store).await;
                }
            )*
        }
    };
}

conformance_tests!(
    crud_versions_revisions,
    idempotent_reapply,
    failed_cas_changes_nothing,
    invalid_batch_changes_nothing,
    delete_and_recreate,
    concurrent_applies_lose_nothing,
    feed_delivers_puts_and_deletes,
    snapshot_is_consistent,
    modules_by_digest,
    cache_follows_changes,
    cache_keeps_value_when_compile_fails,
);

pub fn put(kind: ResourceKind, name: &str, body: &str) -> Change {
    Change::put(kind, name, body)
}

pub fn policy(name: &str, body: &str) -> Change {
    put(ResourceKind::Policy, name, body)
}

/// The next `Changed` event within `limit`, skipping `Resync`s.
pub async fn next_change(feed: &mut Feed, limit: Duration) -> nexus_core::meta::ChangeEvent {
    tokio::time::timeout(limit, async {
        loop {
            match feed.recv().await.expect("feed closed") {
                Event::Changed(change) => return change,
                _ => continue,
            }
        }
    })
    .await
    .expect("no change event in time")
}

/// Waits until `feed` is live: a Redis feed subscribes in the background and says so with its
/// first `Resync`; the embedded feed is live at once.
pub async fn feed_ready(store: &Store, feed: &mut Feed) {
    if store.describe().starts_with("redis") {
        let first = tokio::time::timeout(Duration::from_secs(5), feed.recv())
            .await
            .expect("the Redis feed subscribes")
            .expect("feed open");
        assert!(matches!(first, Event::Resync { .. }), "{first:?}");
    }
}

/// Waits (up to `limit`) until `f` holds, polling every 20 ms.
pub async fn eventually(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub type Store = Arc<dyn MetaStore>;
