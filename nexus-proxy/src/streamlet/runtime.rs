//! The streamlet runtime: one process-wide wasmtime [`Engine`], components compiled once per
//! content digest (precompiled artifacts cached on disk, keyed by the engine's compatibility
//! hash), and a fresh instance per frame and stage from a cached [`InstancePre`].
//!
//! Isolation per invocation: a memory cap ([`StoreLimits`], from the descriptor), a time cap
//! (epoch deadline; a ticker thread advances the epoch every [`TICK`]), a cap on the bytes one
//! call may hand to the host (hostcall fuel) and an empty WASI context. WASM runs on blocking
//! threads, at most [`Runtime::parallelism`] at once, never on the async reactor. A trap, a
//! timeout or a limit breach fails that invocation with a [`StreamletError`]; the instance is
//! dropped, nothing else is affected.

use std::collections::HashMap;
use std::hash::{Hash as _, Hasher as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use nexus_core::meta::Digest;
use tokio::sync::Semaphore;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

use super::error::StreamletError;
use super::host::{
    ByteStreamlet, ByteStreamletPre, ChunkInfo, Direction, FrameInfo, HostState, SharedContext,
};
use super::source::{self, DataSourceStreamletPre, Decision, GetRequest, Opener};

/// How often the epoch advances: the granularity of time limits.
pub const TICK: Duration = Duration::from_millis(10);

/// Largest slice handed to `push` in one call.
pub const SLICE: usize = 1 << 20;

/// Bytes of each pooled linear memory kept resident between instances (one frame in, one out,
/// and the allocator's slack).
const KEEP_RESIDENT: usize = 4 << 20;

/// Concurrent instances the pooling allocator is sized for.
const POOL_INSTANCES: u32 = 128;

/// A compiled, linked streamlet, ready to instantiate.
pub struct Loaded {
    pub digest: Digest,
    world: World,
}

/// Which streamlet worlds a component implements (a routing streamlet: both).
struct World {
    bytes: Option<ByteStreamletPre<HostState>>,
    source: Option<DataSourceStreamletPre<HostState>>,
}

/// What a data-source stage gets for one read.
pub struct SourceCall {
    pub streamlet: Arc<str>,
    pub request_id: Arc<str>,
    pub params: Arc<serde_json::Map<String, serde_json::Value>>,
    pub limits: Limits,
    pub ctx: SharedContext,
    pub request: GetRequest,
    pub opener: Option<Arc<dyn Opener>>,
    /// The streamlet's state in this request (`None`: the `state` interface answers
    /// `unavailable`).
    pub state: Option<Arc<crate::state::StateTxn>>,
}

/// One invocation's limits and inputs (from the descriptor and the policy stage).
#[derive(Debug, Clone)]
pub struct Limits {
    pub memory_bytes: usize,
    pub timeout: Duration,
}

/// What a stage gets to run one frame (owned: it moves onto a blocking thread).
pub struct Call {
    pub streamlet: Arc<str>,
    pub request_id: Arc<str>,
    pub params: Arc<serde_json::Map<String, serde_json::Value>>,
    pub limits: Limits,
    pub direction: Direction,
    pub info: Arc<ChunkInfo>,
    pub frame: FrameInfo,
    pub ctx: SharedContext,
    pub state: Option<Arc<crate::state::StateTxn>>,
}

/// The process-wide runtime.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    loaded: Mutex<HashMap<Digest, Arc<Loaded>>>,
    cache_dir: Option<PathBuf>,
    permits: Arc<Semaphore>,
    parallelism: usize,
}

impl Runtime {
    /// Builds the engine and starts the epoch ticker. `cache_dir` holds precompiled
    /// components (none: compile on every start).
    ///
    /// # Errors
    /// The engine cannot be configured on this machine.
    pub fn new(cache_dir: Option<PathBuf>, parallelism: usize) -> wasmtime::Result<Arc<Self>> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // Synchronous WASI-0.2 style calls only: concurrency support triples per-call cost.
        config.concurrency_support(false);
        config.max_wasm_stack(1 << 20);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 4)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 4)
            .max_memory_size(4 << 30)
            // Reset reused memories with memset up to a few frames' worth instead of madvise:
            // a fresh instance per frame would otherwise page-fault its whole working set.
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(64 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = match Engine::new(&config) {
            Ok(e) => e,
            Err(e) => {
                // Some sandboxes refuse the pooling allocator's address-space reservation.
                tracing::warn!(error = %e, "Pooling allocator unavailable; allocating instances on demand.");
                config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
                Engine::new(&config)?
            }
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        ByteStreamlet::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |s| s)?;
        source::nexus::streamlet::sources::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |s| s,
        )?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("nexus-wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .map_err(wasmtime::Error::from)?;
        let parallelism = parallelism.max(1);
        Ok(Arc::new(Self {
            engine,
            linker,
            loaded: Mutex::default(),
            cache_dir,
            permits: Arc::new(Semaphore::new(parallelism)),
            parallelism,
        }))
    }

    /// How many invocations run at once.
    #[must_use]
    pub fn parallelism(&self) -> usize {
        self.parallelism
    }

    /// The compiled streamlet with `digest`, if it was loaded before.
    #[must_use]
    pub fn cached(&self, digest: &Digest) -> Option<Arc<Loaded>> {
        self.loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(digest)
            .cloned()
    }

    /// Compiles `wasm` (or reads its precompiled artifact) and links it; blocking (Cranelift
    /// takes ~150 ms per module), so call it from a blocking thread.
    ///
    /// # Errors
    /// The bytes do not match the digest, are not a component, or do not implement the
    /// `byte-streamlet` world with the imports this host offers.
    pub fn compile(&self, digest: &Digest, wasm: &[u8]) -> Result<Arc<Loaded>, StreamletError> {
        if let Some(l) = self.cached(digest) {
            return Ok(l);
        }
        if Digest::of(wasm) != *digest {
            return Err(StreamletError::Module(format!(
                "module bytes do not match digest {digest}"
            )));
        }
        let started = Instant::now();
        let component = match self.read_cached(digest) {
            Some(c) => c,
            None => {
                let component = Component::new(&self.engine, wasm)
                    .map_err(|e| StreamletError::Module(format!("not a valid component: {e:#}")))?;
                if let Ok(compiled) = component.serialize() {
                    self.write_cached(digest, &compiled);
                }
                component
            }
        };
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| StreamletError::Module(format!("does not fit the host: {e:#}")))?;
        let world = match (
            ByteStreamletPre::new(pre.clone()),
            DataSourceStreamletPre::new(pre),
        ) {
            (Err(bytes), Err(source)) => {
                return Err(StreamletError::Module(format!(
                    "implements neither the byte-streamlet world ({bytes:#}) nor the data-source-streamlet world ({source:#})"
                )));
            }
            (bytes, source) => World {
                bytes: bytes.ok(),
                source: source.ok(),
            },
        };
        let loaded = Arc::new(Loaded {
            digest: digest.clone(),
            world,
        });
        tracing::info!(%digest, took = ?started.elapsed(), "Streamlet module loaded.");
        self.loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(digest.clone(), Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Path of the precompiled artifact for `digest` on this engine.
    fn cache_path(&self, digest: &Digest) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        Some(dir.join(format!("{}-{:016x}.cwasm", digest.hex(), h.finish())))
    }

    fn read_cached(&self, digest: &Digest) -> Option<Component> {
        let path = self.cache_path(digest)?;
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: the file is ours: written by `write_cached` from a component this engine
        // compiled, under a name carrying the engine's compatibility hash, renamed into place
        // only once complete. (A file someone else put there could run arbitrary native code;
        // the cache directory lives in the worker's own data directory.)
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(&self.engine, &bytes) };
        match component {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "Ignoring a bad precompiled streamlet.");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    fn write_cached(&self, digest: &Digest, compiled: &[u8]) {
        let Some(path) = self.cache_path(digest) else {
            return;
        };
        let tmp = path.with_extension("tmp");
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&tmp, compiled))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "Cannot cache a precompiled streamlet.");
        }
    }

    /// Runs one frame through one streamlet on a blocking thread (bounded by the pool); the
    /// result and how long the invocation ran (not counting the wait for a pool slot).
    pub async fn run(
        self: &Arc<Self>,
        loaded: Arc<Loaded>,
        call: Call,
        input: bytes::Bytes,
    ) -> (Result<Vec<u8>, StreamletError>, Duration) {
        let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await else {
            return (
                Err(StreamletError::Internal("streamlet pool closed".into())),
                Duration::ZERO,
            );
        };
        let this = Arc::clone(self);
        let ran = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let started = Instant::now();
            let out = this.run_blocking(&loaded, &call, &input);
            (out, started.elapsed())
        })
        .await;
        match ran {
            Ok(r) => r,
            Err(e) => (
                Err(StreamletError::Internal(format!(
                    "streamlet task failed: {e}"
                ))),
                Duration::ZERO,
            ),
        }
    }

    /// Runs one frame through one streamlet on this thread.
    ///
    /// # Errors
    /// As [`Self::run`].
    pub fn run_blocking(
        &self,
        loaded: &Loaded,
        call: &Call,
        input: &[u8],
    ) -> Result<Vec<u8>, StreamletError> {
        let Some(pre) = &loaded.world.bytes else {
            return Err(StreamletError::Module(
                "a data-source streamlet cannot transform bytes".into(),
            ));
        };
        let mut state = HostState::new(
            call.limits.memory_bytes,
            (*call.params).clone(),
            Arc::clone(&call.streamlet),
            Arc::clone(&call.request_id),
        );
        state.state = call.state.clone();
        let mut store = self.store(state, &call.limits);
        let trap = |e: wasmtime::Error| StreamletError::from_trap(e, &call.limits);
        let instance = pre.instantiate(&mut store).map_err(trap)?;
        let ctx = store.data_mut().attach(&call.ctx).map_err(trap)?;
        let guest = instance.nexus_streamlet_byte_transform();
        let transformer = guest
            .transformer()
            .call_constructor(&mut store, call.direction, &call.info, call.frame)
            .map_err(trap)?;
        let mut out = Vec::new();
        for slice in input.chunks(SLICE) {
            let piece = guest
                .transformer()
                .call_push(&mut store, transformer, ctx_borrow(&ctx), slice)
                .map_err(trap)?
                .map_err(StreamletError::Guest)?;
            if out.is_empty() {
                out = piece;
            } else {
                out.extend_from_slice(&piece);
            }
        }
        let last = guest
            .transformer()
            .call_finish(&mut store, transformer, ctx_borrow(&ctx))
            .map_err(trap)?
            .map_err(StreamletError::Guest)?;
        if out.is_empty() {
            return Ok(last);
        }
        out.extend_from_slice(&last);
        Ok(out)
    }
}

impl Runtime {
    /// A store for one invocation, with its limits set.
    fn store(&self, state: HostState, limits: &Limits) -> Store<HostState> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let ticks = limits.timeout.as_millis().div_ceil(TICK.as_millis()).max(1) + 1;
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        store.set_hostcall_fuel(2 * SLICE + (64 << 10));
        store
    }

    /// Runs a data-source stage's `handle-pre-get` on a blocking thread (bounded by the pool).
    /// A generated body keeps its thread (and its pool slot) while the client reads it, under
    /// the streamlet's time limit.
    ///
    /// # Errors
    /// The streamlet failed, trapped or broke a limit, or is not a data-source streamlet.
    pub async fn pre_get(
        self: &Arc<Self>,
        loaded: Arc<Loaded>,
        call: SourceCall,
    ) -> Result<Decision, StreamletError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StreamletError::Internal("streamlet pool closed".into()))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let Some(pre) = &loaded.world.source else {
                let _ = tx.send(Err(StreamletError::Module(
                    "a byte streamlet cannot decide reads (it is not a data-source streamlet)"
                        .into(),
                )));
                return;
            };
            let mut state = HostState::new(
                call.limits.memory_bytes,
                (*call.params).clone(),
                Arc::clone(&call.streamlet),
                Arc::clone(&call.request_id),
            );
            state.opener = call.opener.clone();
            state.state = call.state.clone();
            let mut store = this.store(state, &call.limits);
            let trap = |e: wasmtime::Error| StreamletError::from_trap(e, &call.limits);
            let instance = match pre.instantiate(&mut store) {
                Ok(i) => i,
                Err(e) => {
                    let _ = tx.send(Err(trap(e)));
                    return;
                }
            };
            let ctx = match store.data_mut().attach(&call.ctx) {
                Ok(c) => c,
                Err(e) => {
                    let _ = tx.send(Err(trap(e)));
                    return;
                }
            };
            source::run(&mut store, &instance, &ctx, &call.request, tx, trap);
        });
        rx.await.map_err(|_| {
            StreamletError::Internal("the streamlet task ended without an answer".into())
        })?
    }
}

fn ctx_borrow(
    ctx: &wasmtime::component::Resource<super::host::RequestContext>,
) -> wasmtime::component::Resource<super::host::RequestContext> {
    wasmtime::component::Resource::new_borrow(ctx.rep())
}
