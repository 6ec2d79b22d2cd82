//! The behaviour every `MetaStore` must have.

// Test code outside #[test] fns: a panic is a failed test with a location.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nexus_core::meta::{
    Batch, CacheOptions, Change, Digest, EventOp, MetaError, Outcome, ResourceKind, Snapshot,
    SnapshotCache,
};

use crate::{Store, next_change, policy, put};

pub async fn crud_versions_revisions(store: Store) {
    assert_eq!(store.revision().await.unwrap(), 0);
    assert!(
        store
            .get(ResourceKind::Policy, "a")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.list(ResourceKind::Policy).await.unwrap().is_empty());

    let out = store
        .apply(
            vec![
                policy("b", "kind: Policy\nname: b\n"),
                policy("a", "kind: Policy\nname: a\n"),
                put(ResourceKind::Store, "a", "kind: Store\n"),
            ]
            .into(),
        )
        .await
        .unwrap();
    assert_eq!(out.revision, 1);
    assert!(out.changed);
    let outcomes: Vec<_> = out
        .results
        .iter()
        .map(|r| (r.name.as_str(), r.outcome, r.version))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("b", Outcome::Created, 1),
            ("a", Outcome::Created, 1),
            ("a", Outcome::Created, 1)
        ]
    );

    let a = store.get(ResourceKind::Policy, "a").await.unwrap().unwrap();
    assert_eq!((a.version, a.revision), (1, 1));
    assert_eq!(a.body, "kind: Policy\nname: a\n");
    assert_eq!(a.digest, Digest::of(a.body.as_bytes()));
    assert!(a.updated_ms > 0);

    let names: Vec<_> = store
        .list(ResourceKind::Policy)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["a", "b"], "list is sorted by name");
    assert_eq!(store.list(ResourceKind::Store).await.unwrap().len(), 1);
    assert!(store.list(ResourceKind::Swarmlet).await.unwrap().is_empty());

    // Update one: its version and the revision move, the other's do not.
    let out = store.apply(vec![policy("a", "v2")].into()).await.unwrap();
    assert_eq!(
        (out.revision, out.results[0].outcome, out.results[0].version),
        (2, Outcome::Updated, 2)
    );
    let a = store.get(ResourceKind::Policy, "a").await.unwrap().unwrap();
    assert_eq!((a.version, a.revision, a.body.as_str()), (2, 2, "v2"));
    let b = store.get(ResourceKind::Policy, "b").await.unwrap().unwrap();
    assert_eq!((b.version, b.revision), (1, 1));

    // Delete.
    let out = store
        .apply(vec![Change::delete(ResourceKind::Policy, "b")].into())
        .await
        .unwrap();
    assert_eq!(
        (out.revision, out.results[0].outcome, out.results[0].version),
        (3, Outcome::Deleted, 1)
    );
    assert!(
        store
            .get(ResourceKind::Policy, "b")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list(ResourceKind::Policy).await.unwrap().len(), 1);
    assert_eq!(store.revision().await.unwrap(), 3);

    // Names are free-form within the store's rules (the model is stricter).
    let odd = "team:a/b c.é";
    store.apply(vec![policy(odd, "x")].into()).await.unwrap();
    assert_eq!(
        store
            .get(ResourceKind::Policy, odd)
            .await
            .unwrap()
            .unwrap()
            .name,
        odd
    );
    assert!(
        store
            .get(ResourceKind::Policy, "team")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn idempotent_reapply(store: Store) {
    let batch: Batch = vec![policy("a", "1"), policy("b", "1")].into();
    store.apply(batch.clone()).await.unwrap();
    let again = store.apply(batch).await.unwrap();
    assert_eq!(again.revision, 1);
    assert!(!again.changed);
    assert!(
        again
            .results
            .iter()
            .all(|r| r.outcome == Outcome::Unchanged && r.version == 1)
    );

    // A mixed batch bumps the revision once and only the changed record's version.
    let mixed = store
        .apply(vec![policy("a", "1"), policy("b", "2"), policy("c", "1")].into())
        .await
        .unwrap();
    assert_eq!(mixed.revision, 2);
    let outcomes: Vec<_> = mixed
        .results
        .iter()
        .map(|r| (r.outcome, r.version))
        .collect();
    assert_eq!(
        outcomes,
        [
            (Outcome::Unchanged, 1),
            (Outcome::Updated, 2),
            (Outcome::Created, 1)
        ]
    );
    let a = store.get(ResourceKind::Policy, "a").await.unwrap().unwrap();
    assert_eq!(
        (a.version, a.revision),
        (1, 1),
        "an unchanged record keeps its revision"
    );

    // Deleting what is not there changes nothing.
    let absent = store
        .apply(vec![Change::delete(ResourceKind::Policy, "zz")].into())
        .await
        .unwrap();
    assert_eq!(
        (absent.revision, absent.changed, absent.results[0].outcome),
        (2, false, Outcome::Absent)
    );
    // An empty batch is a no-op.
    let empty = store.apply(Batch::default()).await.unwrap();
    assert_eq!((empty.revision, empty.changed), (2, false));
}

pub async fn failed_cas_changes_nothing(store: Store) {
    store.apply(vec![policy("a", "1")].into()).await.unwrap();
    let before = store.snapshot().await.unwrap();

    // A valid batch; only its compare-and-set fails.
    let stale = Batch::new(vec![
        policy("a", "2"),
        policy("b", "1"),
        put(ResourceKind::Store, "s", "1"),
    ])
    .expect_revision(0);
    let err = store.apply(stale).await.unwrap_err();
    assert!(
        matches!(
            err,
            MetaError::Conflict {
                expected: 0,
                actual: 1
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("expected revision 0"), "{err}");
    assert_eq!(
        store.snapshot().await.unwrap(),
        before,
        "a refused batch changes nothing"
    );

    // At the right revision it goes through.
    let ok = store
        .apply(Batch::new(vec![policy("a", "2"), policy("b", "1")]).expect_revision(1))
        .await
        .unwrap();
    assert_eq!(ok.revision, 2);
    // A no-op at the right revision is fine; at a wrong one it is still a conflict.
    assert!(
        !store
            .apply(Batch::new(vec![policy("a", "2")]).expect_revision(2))
            .await
            .unwrap()
            .changed
    );
    assert!(
        store
            .apply(Batch::new(vec![policy("a", "2")]).expect_revision(1))
            .await
            .is_err()
    );
}

pub async fn invalid_batch_changes_nothing(store: Store) {
    store.apply(vec![policy("a", "1")].into()).await.unwrap();
    let before = store.snapshot().await.unwrap();
    for batch in [
        vec![policy("a", "2"), policy("", "x")],
        vec![policy("a", "2"), policy("bad\u{7}name", "x")],
        vec![policy("a", "2"), Change::delete(ResourceKind::Policy, "a")],
        vec![policy("a", "2"), policy(&"n".repeat(254), "x")],
    ] {
        let err = store.apply(batch.into()).await.unwrap_err();
        assert!(
            matches!(
                err,
                MetaError::InvalidName { .. } | MetaError::InvalidBatch(_)
            ),
            "{err}"
        );
    }
    assert_eq!(store.snapshot().await.unwrap(), before);
}

pub async fn delete_and_recreate(store: Store) {
    store.apply(vec![policy("a", "1")].into()).await.unwrap();
    store.apply(vec![policy("a", "2")].into()).await.unwrap();
    store
        .apply(vec![Change::delete(ResourceKind::Policy, "a")].into())
        .await
        .unwrap();
    // Versions never repeat for a name: objects record (policy, version).
    let out = store.apply(vec![policy("a", "1")].into()).await.unwrap();
    assert_eq!(
        (out.results[0].outcome, out.results[0].version),
        (Outcome::Created, 3)
    );
    assert_eq!(out.revision, 4);
}

pub async fn concurrent_applies_lose_nothing(store: Store) {
    const TASKS: usize = 6;
    const ROUNDS: usize = 15;
    store
        .apply(vec![policy("counter", "0")].into())
        .await
        .unwrap();
    let retries = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = Arc::clone(&store);
        let retries = Arc::clone(&retries);
        tasks.push(tokio::spawn(async move {
            for i in 0..ROUNDS {
                // Each task's own record: every apply changes something.
                store
                    .apply(vec![policy(&format!("own-{t}"), &format!("{i}"))].into())
                    .await
                    .unwrap();
                // A shared counter, read-modify-write under compare-and-set.
                loop {
                    let rev = store.revision().await.unwrap();
                    let cur = store
                        .get(ResourceKind::Policy, "counter")
                        .await
                        .unwrap()
                        .unwrap();
                    let n: usize = cur.body.parse().unwrap();
                    let batch = Batch::new(vec![policy("counter", &(n + 1).to_string())])
                        .expect_revision(rev);
                    match store.apply(batch).await {
                        Ok(_) => break,
                        Err(MetaError::Conflict { .. }) => {
                            retries.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let total = TASKS * ROUNDS;
    let counter = store
        .get(ResourceKind::Policy, "counter")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counter.body, total.to_string(), "no lost update");
    assert_eq!(counter.version as usize, total + 1);
    for t in 0..TASKS {
        let own = store
            .get(ResourceKind::Policy, &format!("own-{t}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(own.version as usize, ROUNDS);
    }
    // One revision per apply that changed something.
    assert_eq!(store.revision().await.unwrap() as usize, 1 + 2 * total);
    eprintln!("cas retries: {}", retries.load(Ordering::Relaxed));
}

pub async fn feed_delivers_puts_and_deletes(store: Store) {
    let mut feed = store.watch();
    let limit = Duration::from_secs(1);
    crate::feed_ready(&store, &mut feed).await;

    let started = Instant::now();
    let out = store
        .apply(vec![policy("a", "1"), put(ResourceKind::Swarmlet, "edge", "x")].into())
        .await
        .unwrap();
    let first = next_change(&mut feed, limit).await;
    assert_eq!(
        (
            first.revision,
            first.kind,
            first.name.as_str(),
            first.op,
            first.version
        ),
        (out.revision, ResourceKind::Policy, "a", EventOp::Put, 1)
    );
    let second = next_change(&mut feed, limit).await;
    assert_eq!(
        (second.kind, second.name.as_str()),
        (ResourceKind::Swarmlet, "edge")
    );

    // Unchanged re-applies are silent.
    store.apply(vec![policy("a", "1")].into()).await.unwrap();
    let out = store
        .apply(vec![Change::delete(ResourceKind::Policy, "a")].into())
        .await
        .unwrap();
    let deleted = next_change(&mut feed, limit).await;
    assert_eq!(
        (
            deleted.revision,
            deleted.name.as_str(),
            deleted.op,
            deleted.version
        ),
        (out.revision, "a", EventOp::Delete, 1)
    );
    eprintln!("feed latency for 2 applies: {:?}", started.elapsed());
}

pub async fn snapshot_is_consistent(store: Store) {
    store
        .apply(vec![policy("p", "1"), put(ResourceKind::Streamlet, "s", "1")].into())
        .await
        .unwrap();
    store
        .apply(vec![put(ResourceKind::Store, "st", "1")].into())
        .await
        .unwrap();
    let snap = store.snapshot().await.unwrap();
    assert_eq!(snap.revision, 2);
    let keys: Vec<_> = snap
        .records
        .iter()
        .map(|r| (r.kind, r.name.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            (ResourceKind::Policy, "p"),
            (ResourceKind::Store, "st"),
            (ResourceKind::Streamlet, "s")
        ]
    );
    assert!(snap.records.iter().all(|r| r.revision <= snap.revision));
    assert_eq!(snap.get(ResourceKind::Store, "st").unwrap().revision, 2);

    // Concurrent writers: every snapshot is some whole apply, never half of one.
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            for i in 0..40 {
                let body = i.to_string();
                store
                    .apply(vec![policy("x", &body), policy("y", &body)].into())
                    .await
                    .unwrap();
            }
        })
    };
    for _ in 0..40 {
        let snap = store.snapshot().await.unwrap();
        if let (Some(x), Some(y)) = (
            snap.get(ResourceKind::Policy, "x"),
            snap.get(ResourceKind::Policy, "y"),
        ) {
            assert_eq!(
                x.body, y.body,
                "torn snapshot at revision {}",
                snap.revision
            );
            assert_eq!(x.revision, y.revision);
        }
    }
    writer.await.unwrap();
}

pub async fn modules_by_digest(store: Store) {
    let wasm = b"\0asm\x01\0\0\0 pretend this is a component".repeat(1000);
    let digest = Digest::of(&wasm);
    assert!(!store.module_exists(&digest).await.unwrap());
    assert!(store.get_module(&digest).await.unwrap().is_none());

    let wrong = Digest::of(b"something else");
    let err = store.put_module(&wrong, &wasm).await.unwrap_err();
    assert!(matches!(err, MetaError::DigestMismatch { .. }), "{err}");
    assert!(
        !store.module_exists(&wrong).await.unwrap(),
        "a mismatch stores nothing"
    );

    store.put_module(&digest, &wasm).await.unwrap();
    store.put_module(&digest, &wasm).await.unwrap(); // idempotent
    assert!(store.module_exists(&digest).await.unwrap());
    assert_eq!(store.get_module(&digest).await.unwrap().unwrap(), wasm);
    assert_eq!(
        store.revision().await.unwrap(),
        0,
        "modules are not records"
    );
}

/// What the tests compile snapshots into: the policy names, or an error for a body `bad`.
fn compile(snap: &Snapshot) -> Result<Vec<String>, String> {
    snap.of_kind(ResourceKind::Policy)
        .map(|r| {
            if r.body == "bad" {
                Err(format!("policy {} does not compile", r.name))
            } else {
                Ok(r.name.clone())
            }
        })
        .collect()
}

fn fast() -> CacheOptions {
    let mut o = CacheOptions::default();
    o.poll_interval = Duration::from_millis(200);
    o
}

pub async fn cache_follows_changes(store: Store) {
    store.apply(vec![policy("a", "1")].into()).await.unwrap();
    let cache = SnapshotCache::start(Arc::clone(&store), compile, fast())
        .await
        .unwrap();
    assert_eq!(*cache.current(), ["a"]);
    assert_eq!(cache.revision(), 1);
    assert!(cache.is_fresh(Duration::from_secs(1)));

    let started = Instant::now();
    let out = store
        .apply(vec![policy("b", "1"), Change::delete(ResourceKind::Policy, "a")].into())
        .await
        .unwrap();
    assert!(
        cache
            .wait_for_revision(out.revision, Duration::from_secs(1))
            .await,
        "within 1 s"
    );
    eprintln!("apply -> cache swap: {:?}", started.elapsed());
    assert_eq!(*cache.current(), ["b"]);
    assert_eq!(cache.snapshot().revision, out.revision);

    // A burst of applies is coalesced and ends at the last revision.
    let mut last = 0;
    for i in 0..20 {
        last = store
            .apply(vec![policy("b", &i.to_string())].into())
            .await
            .unwrap()
            .revision;
    }
    assert!(cache.wait_for_revision(last, Duration::from_secs(1)).await);
    let status = cache.status();
    assert_eq!(status.revision, last);
    assert!(status.reloads < 22, "coalesced: {status:?}");
}

pub async fn cache_keeps_value_when_compile_fails(store: Store) {
    store.apply(vec![policy("a", "1")].into()).await.unwrap();
    let cache = SnapshotCache::start(Arc::clone(&store), compile, fast())
        .await
        .unwrap();
    store.apply(vec![policy("b", "bad")].into()).await.unwrap();
    crate::eventually(Duration::from_secs(2), "a compile error", || {
        cache.status().compile_errors > 0
    })
    .await;
    assert_eq!(*cache.current(), ["a"], "the previous value keeps serving");
    assert_eq!(cache.revision(), 1);
    assert!(
        cache
            .status()
            .last_error
            .unwrap()
            .contains("does not compile")
    );
    assert!(
        cache.is_fresh(Duration::from_secs(1)),
        "a bad record is not an outage"
    );
    // Fixing it is picked up.
    let out = store.apply(vec![policy("b", "good")].into()).await.unwrap();
    assert!(
        cache
            .wait_for_revision(out.revision, Duration::from_secs(1))
            .await
    );
    assert_eq!(*cache.current(), ["a", "b"]);

    // A compile error on the first snapshot is an error at start.
    store.apply(vec![policy("c", "bad")].into()).await.unwrap();
    let err = SnapshotCache::start(Arc::clone(&store), compile, fast())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not compile"), "{err}");
}
