//! The control plane as a worker sees it: the metadata store, the policies applied at start
//! (`--policies`), and the compiled [`PolicySet`] every request reads, swapped atomically when
//! an operator applies a change (within a second, without a restart).
//!
//! When the store becomes unreachable the worker keeps serving from its last snapshot; after
//! `--meta-grace` without a successful reload `/readyz` reports not ready, so an orchestrator
//! stops sending traffic to a worker whose policies may be stale.

use std::sync::Arc;
use std::time::Duration;

use nexus_core::cluster::RedisCluster;
use nexus_core::meta::{self, Batch, CacheOptions, Change, MetaStore, Outcome, SnapshotCache};
use nexus_core::resource::{PolicySet, check_files, parse_str, read_sources, render};
use tracing::{info, warn};

use crate::app::StartError;
use crate::config::{Config, ConfigError};

/// The worker's view of the metadata store.
pub struct Control {
    store: Arc<dyn MetaStore>,
    cluster: Option<RedisCluster>,
    cache: SnapshotCache<PolicySet>,
    grace: Duration,
    describe: String,
}

impl Control {
    /// Opens the store, applies `--policies`, loads the first snapshot and follows changes.
    ///
    /// # Errors
    /// [`StartError::Config`] when the policy files are invalid, [`StartError::Meta`] when the
    /// store cannot be used.
    pub async fn start(config: &Config) -> Result<Arc<Self>, StartError> {
        let failed = |e: meta::MetaError| {
            StartError::Meta(format!("{}: {e}", meta::redact_url(&config.meta)))
        };
        // A Redis store also carries the mesh's membership and streamlet state: one
        // connection (and one schema check) for all three.
        let (store, cluster): (Arc<dyn MetaStore>, Option<RedisCluster>) =
            if config.meta.starts_with("redis://") || config.meta.starts_with("rediss://") {
                let redis = meta::RedisMeta::connect(&config.meta, meta::RedisOptions::default())
                    .await
                    .map_err(failed)?;
                let cluster = RedisCluster::from_meta(&redis);
                (Arc::new(redis), Some(cluster))
            } else {
                (meta::open(&config.meta).await.map_err(failed)?, None)
            };
        if let Some(dir) = &config.streamlets {
            deploy_streamlets(store.as_ref(), dir).await?;
        }
        if let Some(path) = &config.policies {
            apply_files(store.as_ref(), path).await?;
        }
        let cache = SnapshotCache::start(Arc::clone(&store), compile, cache_options(&config.meta))
            .await
            .map_err(|e| StartError::Meta(e.to_string()))?;
        let set = cache.current();
        info!(
            meta = %store.describe(),
            revision = set.revision,
            policies = set.len(),
            "Policies loaded."
        );
        Ok(Arc::new(Self {
            cluster,
            store: Arc::clone(&store),
            cache,
            grace: config.meta_grace,
            describe: store.describe(),
        }))
    }

    /// The metadata store's Redis connection for membership and state (`None` unless the
    /// store is Redis).
    #[must_use]
    pub fn cluster(&self) -> Option<&RedisCluster> {
        self.cluster.as_ref()
    }

    /// The metadata store (streamlet modules are read from it by digest).
    #[must_use]
    pub fn store(&self) -> Arc<dyn MetaStore> {
        Arc::clone(&self.store)
    }

    /// The policy set being served.
    #[must_use]
    pub fn policies(&self) -> Arc<PolicySet> {
        self.cache.current()
    }

    /// The metadata revision being served.
    #[must_use]
    pub fn revision(&self) -> u64 {
        self.cache.revision()
    }

    /// Whether the snapshot was confirmed recently enough to serve traffic.
    #[must_use]
    pub fn is_fresh(&self) -> bool {
        self.cache.is_fresh(self.grace)
    }

    /// The store, for logs (no secrets).
    #[must_use]
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Waits until the served revision is at least `revision` (tests, tools).
    pub async fn wait_for_revision(&self, revision: u64, timeout: Duration) -> bool {
        self.cache.wait_for_revision(revision, timeout).await
    }
}

/// How the worker follows the store. Redis pushes changes (pub/sub) and the 1 s poll is only
/// the safety net; another process's change to the embedded file is seen only by polling (a
/// `stat`), so the file is polled every 200 ms to keep apply → serving well under a second.
fn cache_options(meta_url: &str) -> CacheOptions {
    let mut options = CacheOptions::default();
    if meta_url.starts_with("file:") {
        options.poll_interval = FILE_POLL;
    }
    options
}

const FILE_POLL: Duration = Duration::from_millis(200);

fn compile(snapshot: &meta::Snapshot) -> Result<PolicySet, std::convert::Infallible> {
    let (set, problems) = PolicySet::compile(snapshot);
    for p in problems {
        warn!(revision = snapshot.revision, "Stored resource ignored: {p}");
    }
    Ok(set)
}

/// Deploys every `NAME.wasm` of `dir` with its descriptor `NAME.yaml` (the same checks as
/// `nexus streamlet deploy`). Re-deploying the same module and descriptor changes nothing.
async fn deploy_streamlets(store: &dyn MetaStore, dir: &std::path::Path) -> Result<(), StartError> {
    let bad = |msg: String| StartError::Config(ConfigError::from(msg));
    let mut modules: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| bad(format!("--streamlets {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    modules.sort();
    if modules.is_empty() {
        return Err(bad(format!(
            "--streamlets {}: no .wasm files",
            dir.display()
        )));
    }
    for module in modules {
        let descriptor = module.with_extension("yaml");
        let bytes =
            std::fs::read(&module).map_err(|e| bad(format!("{}: {e}", module.display())))?;
        let text = std::fs::read_to_string(&descriptor).map_err(|e| {
            bad(format!(
                "{}: {e} (each NAME.wasm needs its NAME.yaml)",
                descriptor.display()
            ))
        })?;
        let prepared =
            nexus_core::deploy::prepare(&bytes, &descriptor.display().to_string(), &text).map_err(
                |e| {
                    bad(format!(
                        "--streamlets: cannot deploy {}:\n{e}",
                        module.display()
                    ))
                },
            )?;
        let outcome = nexus_core::deploy::deploy(store, &bytes, &prepared)
            .await
            .map_err(|e| StartError::Meta(e.to_string()))?;
        for r in &outcome.results {
            if r.outcome != Outcome::Unchanged {
                info!(streamlet = %r.name, module = %prepared.digest, version = r.version, "Deployed from --streamlets.");
            }
        }
    }
    Ok(())
}

/// Validates the files under `path` (structurally, then against what is stored) and applies
/// them in one atomic batch. Re-applying unchanged files changes nothing.
async fn apply_files(store: &dyn MetaStore, path: &std::path::Path) -> Result<(), StartError> {
    let bad = |msg: String| StartError::Config(ConfigError::from(msg));
    let sources = read_sources(path).map_err(|e| bad(format!("--policies: {e}")))?;
    let mut files = Vec::new();
    let mut diags = Vec::new();
    for s in &sources {
        let parsed = parse_str(&s.name, &s.text);
        diags.extend(parsed.diags);
        files.push((s.name.clone(), parsed.resources));
    }
    if !diags.iter().any(|d| d.is_error()) {
        let snapshot = store
            .snapshot()
            .await
            .map_err(|e| StartError::Meta(e.to_string()))?;
        let (stored, _) = PolicySet::compile(&snapshot);
        diags.extend(check_files(&files, &stored.resources));
    }
    if diags.iter().any(|d| d.is_error()) {
        return Err(bad(format!(
            "--policies {} is invalid:\n{}",
            path.display(),
            render(&diags)
        )));
    }
    for d in &diags {
        warn!("{}", d.to_string().replace('\n', " "));
    }
    let changes: Vec<Change> = files
        .iter()
        .flat_map(|(_, rs)| rs)
        .map(|r| Change::put(r.kind(), r.name(), r.to_yaml()))
        .collect();
    let outcome = store
        .apply(Batch::new(changes))
        .await
        .map_err(|e| StartError::Meta(e.to_string()))?;
    for r in &outcome.results {
        if r.outcome != Outcome::Unchanged {
            info!(kind = r.kind.as_str(), name = %r.name, version = r.version, outcome = ?r.outcome, "Applied from --policies.");
        }
    }
    Ok(())
}
