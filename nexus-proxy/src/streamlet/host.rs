//! What a streamlet instance sees of the host: the generated bindings of the `byte-streamlet`
//! world and the per-instance [`HostState`] that implements its imports.
//!
//! WASI is linked with an empty context (no preopened directories, no environment, no
//! arguments, no network): a `wasm32-wasip2` guest built with `std` imports WASI interfaces,
//! and they answer as on a machine with nothing on it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use wasmtime::component::{Resource, ResourceTable};
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    path: "../streamlets/wit",
    world: "byte-streamlet",
    with: {
        "nexus:streamlet/context.request-context": RequestContext,
    },
    imports: { default: trappable },
});

pub use self::exports::nexus::streamlet::byte_transform::Direction;
use self::nexus::streamlet::context::CtxError;
use self::nexus::streamlet::host_log::Level;
use self::nexus::streamlet::state::StateError;
pub use self::nexus::streamlet::types::{ChunkInfo, Error as GuestError, FrameInfo, ObjectRef};

/// S3 allows 10 tags per object; the context is stored as tags or metadata within that.
pub const MAX_CONTEXT_ENTRIES: usize = 10;

/// The per-request context every stage and frame shares.
#[derive(Debug, Clone, Default)]
pub struct SharedContext {
    entries: Arc<Mutex<BTreeMap<String, String>>>,
    read_only: bool,
}

impl SharedContext {
    /// A writable context (PUT pipelines) starting with `entries`.
    #[must_use]
    pub fn writable(entries: BTreeMap<String, String>) -> Self {
        Self {
            entries: Arc::new(Mutex::new(entries)),
            read_only: false,
        }
    }

    /// A read-only context (GET pipelines see what PUT stored).
    #[must_use]
    pub fn read_only(entries: BTreeMap<String, String>) -> Self {
        Self {
            entries: Arc::new(Mutex::new(entries)),
            read_only: true,
        }
    }

    /// Applies what a stage run on another worker changed: it was sent `sent` and left
    /// `left`; only the entries it set or removed change here, so the answers of frames run
    /// concurrently do not undo each other (read-only: ignored).
    pub fn apply_changes(&self, sent: &BTreeMap<String, String>, left: BTreeMap<String, String>) {
        if self.read_only {
            return;
        }
        let mut entries = self.lock();
        for k in sent.keys().filter(|k| !left.contains_key(*k)) {
            entries.remove(k);
        }
        for (k, v) in left {
            if sent.get(&k) != Some(&v) {
                entries.insert(k, v);
            }
        }
    }

    /// Whether stages may not change it (GET pipelines).
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The entries now.
    #[must_use]
    pub fn entries(&self) -> BTreeMap<String, String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `request-context` resource: a handle on the request's [`SharedContext`].
pub struct RequestContext(SharedContext);

/// Whether `s` uses only the characters S3 allows in tags: letters, numbers, spaces and
/// `_ . : / = + - @`.
fn tag_chars(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

fn check_entry(key: &str, value: &str) -> Result<(), CtxError> {
    let len16 = |s: &str| s.encode_utf16().count();
    if key.is_empty() || len16(key) > 128 || !tag_chars(key) || key.starts_with("aws:") {
        return Err(CtxError::InvalidKey);
    }
    if len16(value) > 256 || !tag_chars(value) {
        return Err(CtxError::InvalidValue);
    }
    Ok(())
}

/// What one instance's imports work with.
pub struct HostState {
    wasi: WasiCtx,
    pub(super) table: ResourceTable,
    /// The named stores a data-source streamlet may read (`sources.open`).
    pub(super) opener: Option<Arc<dyn super::source::Opener>>,
    /// This streamlet's state in the request (`None`: `unavailable`).
    pub(super) state: Option<Arc<crate::state::StateTxn>>,
    pub limits: StoreLimits,
    params: serde_json::Map<String, serde_json::Value>,
    params_json: String,
    streamlet: Arc<str>,
    request_id: Arc<str>,
}

impl HostState {
    #[must_use]
    pub fn new(
        memory_bytes: usize,
        params: serde_json::Map<String, serde_json::Value>,
        streamlet: Arc<str>,
        request_id: Arc<str>,
    ) -> Self {
        let params_json = serde_json::Value::Object(params.clone()).to_string();
        Self {
            wasi: WasiCtx::builder().allow_ip_name_lookup(false).build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .instances(64)
                .tables(64)
                .memories(16)
                .trap_on_grow_failure(true)
                .build(),
            params,
            params_json,
            streamlet,
            request_id,
            opener: None,
            state: None,
        }
    }

    /// Puts the request's context into this instance's table.
    ///
    /// # Errors
    /// The table is full (cannot happen for one entry).
    pub fn attach(&mut self, ctx: &SharedContext) -> wasmtime::Result<Resource<RequestContext>> {
        Ok(self.table.push(RequestContext(ctx.clone()))?)
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl nexus::streamlet::types::Host for HostState {}

impl nexus::streamlet::context::Host for HostState {}

impl nexus::streamlet::context::HostRequestContext for HostState {
    fn get(
        &mut self,
        this: Resource<RequestContext>,
        key: String,
    ) -> wasmtime::Result<Option<String>> {
        Ok(self.table.get(&this)?.0.lock().get(&key).cloned())
    }

    fn set(
        &mut self,
        this: Resource<RequestContext>,
        key: String,
        value: String,
    ) -> wasmtime::Result<Result<(), CtxError>> {
        let ctx = &self.table.get(&this)?.0;
        if ctx.read_only {
            return Ok(Err(CtxError::ReadOnly));
        }
        if let Err(e) = check_entry(&key, &value) {
            return Ok(Err(e));
        }
        let mut entries = ctx.lock();
        if !entries.contains_key(&key) && entries.len() >= MAX_CONTEXT_ENTRIES {
            return Ok(Err(CtxError::TooManyEntries));
        }
        entries.insert(key, value);
        Ok(Ok(()))
    }

    fn remove(&mut self, this: Resource<RequestContext>, key: String) -> wasmtime::Result<()> {
        let ctx = &self.table.get(&this)?.0;
        if !ctx.read_only {
            ctx.lock().remove(&key);
        }
        Ok(())
    }

    fn entries(
        &mut self,
        this: Resource<RequestContext>,
    ) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self
            .table
            .get(&this)?
            .0
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn drop(&mut self, this: Resource<RequestContext>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

/// Persistent state (`crate::state`): present when the request was routed to this worker as
/// the partition's owner (mesh) or the worker shares state through Redis; otherwise every call
/// answers `unavailable`, which fails the request with a retryable 503.
impl nexus::streamlet::state::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, StateError>> {
        Ok(self.txn().and_then(|t| t.get(&key).map_err(state_error)))
    }
    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), StateError>> {
        Ok(self
            .txn()
            .and_then(|t| t.set(&key, value).map_err(state_error)))
    }
    fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), StateError>> {
        Ok(self.txn().and_then(|t| t.delete(&key).map_err(state_error)))
    }
    fn incr(&mut self, key: String, delta: i64) -> wasmtime::Result<Result<i64, StateError>> {
        Ok(self
            .txn()
            .and_then(|t| t.incr(&key, delta).map_err(state_error)))
    }
}

impl HostState {
    fn txn(&self) -> Result<&Arc<crate::state::StateTxn>, StateError> {
        self.state.as_ref().ok_or(StateError::Unavailable)
    }
}

fn state_error(f: crate::state::StateFailure) -> StateError {
    use crate::state::StateFailure as F;
    match f {
        F::TooLarge => StateError::TooLarge,
        F::QuotaExceeded => StateError::QuotaExceeded,
        F::Unavailable => StateError::Unavailable,
        F::Conflict => StateError::Conflict,
    }
}

impl nexus::streamlet::host_log::Host for HostState {
    fn log(&mut self, level: Level, msg: String) -> wasmtime::Result<()> {
        // Bounded: a guest cannot flood the log with megabyte lines.
        let msg: String = msg.chars().take(1024).collect();
        let (streamlet, id) = (&*self.streamlet, &*self.request_id);
        match level {
            Level::Debug => tracing::debug!(%streamlet, %id, "{msg}"),
            Level::Info => tracing::info!(%streamlet, %id, "{msg}"),
            Level::Warn => tracing::warn!(%streamlet, %id, "{msg}"),
            Level::Error => tracing::error!(%streamlet, %id, "{msg}"),
        }
        Ok(())
    }
}

impl nexus::streamlet::config::Host for HostState {
    fn params(&mut self) -> wasmtime::Result<String> {
        Ok(self.params_json.clone())
    }

    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.params.get(&key).map(ToString::to_string))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_entries_follow_s3_tag_rules() {
        assert!(check_entry("team", "storage").is_ok());
        assert!(check_entry("a:b/c=d+e-f@g_h.i", "x y").is_ok());
        assert!(check_entry("", "v").is_err());
        assert!(check_entry("aws:reserved", "v").is_err());
        assert!(check_entry("bad#key", "v").is_err());
        assert!(check_entry("k", "bad;value").is_err());
        assert!(check_entry(&"k".repeat(129), "v").is_err());
        assert!(check_entry("k", &"v".repeat(257)).is_err());
        assert!(check_entry("k", &"v".repeat(256)).is_ok());
    }
}
