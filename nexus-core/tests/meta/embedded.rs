//! The embedded store's own behaviour: the file.

use std::sync::Arc;
use std::time::Duration;

use nexus_core::meta::{
    Batch, CacheOptions, EmbeddedMeta, MetaError, MetaStore, ResourceKind, SnapshotCache, open,
};

use crate::policy;

#[tokio::test]
async fn file_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/meta.json");
    let url = format!("file:{}", path.display());
    {
        let store = open(&url).await.unwrap();
        assert!(!path.exists(), "nothing is written before the first apply");
        store
            .apply(vec![policy("a", "1"), policy("b", "1")].into())
            .await
            .unwrap();
        store
            .apply(vec![nexus_core::meta::Change::delete(ResourceKind::Policy, "b")].into())
            .await
            .unwrap();
        let wasm = b"module".to_vec();
        store
            .put_module(&nexus_core::meta::Digest::of(&wasm), &wasm)
            .await
            .unwrap();
    }
    let store = open(&url).await.unwrap();
    assert_eq!(store.revision().await.unwrap(), 2);
    let a = store.get(ResourceKind::Policy, "a").await.unwrap().unwrap();
    assert_eq!((a.version, a.revision, a.body.as_str()), (1, 1, "1"));
    assert!(
        store
            .get(ResourceKind::Policy, "b")
            .await
            .unwrap()
            .is_none()
    );
    // The tombstone survived: a re-created b continues its versions.
    let out = store.apply(vec![policy("b", "x")].into()).await.unwrap();
    assert_eq!(out.results[0].version, 2);
    assert!(
        store
            .module_exists(&nexus_core::meta::Digest::of(b"module"))
            .await
            .unwrap()
    );
    assert_eq!(store.describe(), url);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"format\": 1"), "{text}");
    // No temp file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn corrupt_or_newer_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.json");
    let url = format!("file:{}", path.display());

    std::fs::write(&path, "{\"format\": 1, \"revision\": 3, \"records\": [").unwrap();
    let err = open(&url).await.unwrap_err();
    assert!(matches!(err, MetaError::Corrupt { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("meta.json") && msg.contains("corrupt") && msg.contains("line"),
        "{msg}"
    );

    std::fs::write(&path, "not json").unwrap();
    assert!(
        open(&url)
            .await
            .unwrap_err()
            .to_string()
            .contains("not a Nexus metadata file")
    );

    std::fs::write(&path, "{\"revision\": 1, \"records\": []}").unwrap();
    assert!(
        open(&url)
            .await
            .unwrap_err()
            .to_string()
            .contains("no `format` field")
    );

    std::fs::write(
        &path,
        "{\"format\": 2, \"revision\": 1, \"records\": [], \"new\": {}}",
    )
    .unwrap();
    let err = open(&url).await.unwrap_err();
    assert!(
        matches!(
            err,
            MetaError::FormatTooNew {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade nexus"), "{err}");

    // A body edited by hand no longer matches its digest.
    let store = open(&format!("file:{}", dir.path().join("ok.json").display()))
        .await
        .unwrap();
    store
        .apply(vec![policy("a", "original")].into())
        .await
        .unwrap();
    drop(store);
    let ok = dir.path().join("ok.json");
    let text = std::fs::read_to_string(&ok)
        .unwrap()
        .replace("original", "edited!!");
    std::fs::write(&ok, text).unwrap();
    let err = open(&format!("file:{}", ok.display())).await.unwrap_err();
    assert!(
        err.to_string().contains("does not match its digest"),
        "{err}"
    );
}

/// A worker and the CLI on one machine: two stores on one file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.json");
    let worker: Arc<dyn MetaStore> = Arc::new(EmbeddedMeta::open_file(&path).await.unwrap());
    let cli: Arc<dyn MetaStore> = Arc::new(EmbeddedMeta::open_file(&path).await.unwrap());

    let mut options = CacheOptions::default();
    options.poll_interval = Duration::from_millis(100);
    let cache = SnapshotCache::start(
        Arc::clone(&worker),
        |s| Ok::<_, String>(s.of_kind(ResourceKind::Policy).count()),
        options,
    )
    .await
    .unwrap();
    let mut feed = worker.watch();

    let out = cli.apply(vec![policy("a", "1")].into()).await.unwrap();
    assert!(
        cache
            .wait_for_revision(out.revision, Duration::from_secs(1))
            .await
    );
    assert_eq!(*cache.current(), 1);
    // The worker learnt of it as a resync (the file changed under it).
    let event = tokio::time::timeout(Duration::from_secs(1), feed.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(event, nexus_core::meta::Event::Resync { revision: Some(1) }),
        "{event:?}"
    );

    // Interleaved writers through both stores lose nothing (the file lock).
    let mut tasks = Vec::new();
    for (i, store) in [worker.clone(), cli.clone(), worker.clone(), cli.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            for j in 0..10 {
                store
                    .apply(vec![policy(&format!("w{i}"), &j.to_string())].into())
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(worker.revision().await.unwrap(), 41);
    assert_eq!(cli.revision().await.unwrap(), 41);
    let snap = worker.snapshot().await.unwrap();
    assert_eq!(snap.of_kind(ResourceKind::Policy).count(), 5);
    assert!(
        snap.of_kind(ResourceKind::Policy)
            .filter(|r| r.name != "a")
            .all(|r| r.version == 10)
    );

    // Compare-and-set sees the other process's writes.
    let err = worker
        .apply(Batch::new(vec![policy("a", "2")]).expect_revision(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MetaError::Conflict { actual: 41, .. }),
        "{err}"
    );
}
