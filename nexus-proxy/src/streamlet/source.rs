//! Data-source streamlets: the generated bindings of the `data-source-streamlet` world (sharing
//! the common interfaces with [`super::host`]), the `sources` import the host offers them, and
//! one pre-GET invocation ([`super::Runtime::pre_get`]).
//!
//! The streamlet reads named stores through [`Opener`], which the frontend implements over the
//! stores the policy names; reads block the streamlet's own (blocking-pool) thread, never the
//! reactor. A generated body is read from the guest on that same thread while the client
//! consumes it, under the streamlet's time limit.

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use wasmtime::component::Resource;

use super::error::StreamletError;
use super::host::{GuestError, HostState, RequestContext};

wasmtime::component::bindgen!({
    path: "../streamlets/wit",
    world: "data-source-streamlet",
    with: {
        "nexus:streamlet/types": super::host::nexus::streamlet::types,
        "nexus:streamlet/context": super::host::nexus::streamlet::context,
        "nexus:streamlet/state": super::host::nexus::streamlet::state,
        "nexus:streamlet/host-log": super::host::nexus::streamlet::host_log,
        "nexus:streamlet/config": super::host::nexus::streamlet::config,
        "nexus:streamlet/sources.reader": SourceReader,
    },
    imports: { default: trappable },
});

pub use self::exports::nexus::streamlet::data_source::GetRequest;
use self::exports::nexus::streamlet::data_source::PreGet;

/// Largest piece read from a generated body or a source at once.
pub const READ_PIECE: u32 = 256 << 10;

/// An open object of a named store, read in pieces (blocking).
pub trait BlockingRead: Send {
    /// The next bytes, `None` at the end.
    ///
    /// # Errors
    /// The store failed mid-object.
    fn read(&mut self, max: usize) -> Result<Option<Vec<u8>>, String>;
}

/// Opens objects of the stores a policy names, for `sources.open` (blocking).
pub trait Opener: Send + Sync {
    /// `key` of the named store (bytes `first..=last` if given); `None` if there is no such
    /// object.
    ///
    /// # Errors
    /// The store is not one the policy names (`rejected`), or it failed (`unavailable`).
    fn open(
        &self,
        store: &str,
        key: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Option<Box<dyn BlockingRead>>, GuestError>;
}

/// The `reader` resource.
pub struct SourceReader(Box<dyn BlockingRead>);

impl nexus::streamlet::sources::Host for HostState {
    fn open(
        &mut self,
        source: String,
        key: String,
        range: Option<(u64, u64)>,
    ) -> wasmtime::Result<Result<Option<Resource<SourceReader>>, GuestError>> {
        let Some(opener) = self.opener.clone() else {
            return Ok(Err(GuestError::Rejected(
                "no named stores are open to this streamlet".into(),
            )));
        };
        match opener.open(&source, &key, range) {
            Ok(Some(r)) => Ok(Ok(Some(self.table.push(SourceReader(r))?))),
            Ok(None) => Ok(Ok(None)),
            Err(e) => Ok(Err(e)),
        }
    }
}

impl nexus::streamlet::sources::HostReader for HostState {
    fn read(
        &mut self,
        this: Resource<SourceReader>,
        max: u32,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, GuestError>> {
        let reader = self.table.get_mut(&this)?;
        let max = max.clamp(1, READ_PIECE) as usize;
        Ok(reader.0.read(max).map_err(GuestError::Unavailable))
    }

    fn drop(&mut self, this: Resource<SourceReader>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

/// What a data-source stage decided.
pub enum Decision {
    /// Read the object store as usual.
    Pass,
    /// Serve `key` of the named store.
    Source { store: String, key: String },
    /// Serve this body (pieces arrive while the client reads; an `Err` ends it).
    Body {
        length: Option<u64>,
        pieces: mpsc::Receiver<Result<Bytes, StreamletError>>,
    },
    /// Refuse with this HTTP status.
    Deny(u16),
}

/// The first answer of an invocation, sent before a body streams.
pub(super) type DecisionSender = oneshot::Sender<Result<Decision, StreamletError>>;

/// Runs `handle-pre-get` on an instantiated data-source component and, for a generated body,
/// keeps reading it into the channel until the end, an error, or the client leaves.
pub(super) fn run(
    store: &mut wasmtime::Store<HostState>,
    instance: &DataSourceStreamlet,
    ctx: &Resource<RequestContext>,
    req: &GetRequest,
    decided: DecisionSender,
    trap: impl Fn(wasmtime::Error) -> StreamletError,
) {
    let guest = instance.nexus_streamlet_data_source();
    let borrowed = Resource::new_borrow(ctx.rep());
    let answer = match guest.call_handle_pre_get(&mut *store, borrowed, req) {
        Err(e) => Err(trap(e)),
        Ok(Err(e)) => Err(StreamletError::Guest(e)),
        Ok(Ok(a)) => Ok(a),
    };
    let (length, body) = match answer {
        Err(e) => {
            let _ = decided.send(Err(e));
            return;
        }
        Ok(PreGet::Pass) => {
            let _ = decided.send(Ok(Decision::Pass));
            return;
        }
        Ok(PreGet::ServeSource((store, key))) => {
            let _ = decided.send(Ok(Decision::Source { store, key }));
            return;
        }
        Ok(PreGet::Deny(status)) => {
            let _ = decided.send(Ok(Decision::Deny(status)));
            return;
        }
        Ok(PreGet::ServeBody((length, body))) => (length, body),
    };
    let (tx, rx) = mpsc::channel(4);
    if decided
        .send(Ok(Decision::Body { length, pieces: rx }))
        .is_err()
    {
        return;
    }
    let mut sent = 0u64;
    loop {
        let piece = match guest.body().call_read(&mut *store, body, READ_PIECE) {
            Err(e) => Err(trap(e)),
            Ok(Err(e)) => Err(StreamletError::Guest(e)),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(bytes))) => Ok(Bytes::from(bytes)),
        };
        let failed = piece.is_err();
        if let Ok(p) = &piece {
            sent += p.len() as u64;
            if length.is_some_and(|l| sent > l) {
                let _ =
                    tx.blocking_send(Err(StreamletError::Guest(GuestError::Internal(format!(
                        "the body is longer than the {} bytes announced",
                        length.unwrap_or(0)
                    )))));
                return;
            }
        }
        if tx.blocking_send(piece).is_err() || failed {
            return;
        }
    }
    if let Some(l) = length.filter(|l| sent != *l) {
        let _ = tx.blocking_send(Err(StreamletError::Guest(GuestError::Internal(format!(
            "the body ended after {sent} of the {l} bytes announced"
        )))));
    }
}
