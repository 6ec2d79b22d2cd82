//! `nexus-streamlet`: write Nexus streamlets in plain Rust, compiled to `wasm32-wasip2`.
//!
//! A byte streamlet (compression, encryption) implements [`ByteStreamlet`] and names its type
//! in [`byte_streamlet!`]. The host cuts every object into independent *frames* and runs one
//! fresh value of your type per frame: `new`, then `push` for each slice of the frame, then
//! `finish`. Whatever `push` and `finish` return, in order, is the frame's output.
//!
//! ```ignore
//! use nexus_streamlet::{ByteStreamlet, Context, Direction, Error, FrameInfo, ChunkInfo};
//!
//! struct Upper;
//! impl ByteStreamlet for Upper {
//!     fn new(_: Direction, _: &ChunkInfo, _: &FrameInfo) -> Result<Self, Error> { Ok(Upper) }
//!     fn push(&mut self, _: &Context, chunk: Vec<u8>) -> Result<Vec<u8>, Error> {
//!         Ok(chunk.to_ascii_uppercase())
//!     }
//!     fn finish(self, _: &Context) -> Result<Vec<u8>, Error> { Ok(Vec::new()) }
//! }
//! nexus_streamlet::byte_streamlet!(Upper);
//! ```
//!
//! Around that: [`Context`] (per-request key/values stored with the object), [`params`] (the
//! policy stage's parameters, typed), [`log`] (the worker's log, tagged with the streamlet),
//! [`state`] (persistent per-partition values, for stateful streamlets).

use std::cell::RefCell;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "byte-streamlet",
        pub_export_macro: true,
        default_bindings_module: "nexus_streamlet::bindings",
    });
}

pub use bindings::exports::nexus::streamlet::byte_transform::Direction;
use bindings::exports::nexus::streamlet::byte_transform::{GuestTransformer, RequestContext};
pub use bindings::nexus::streamlet::context::CtxError;
pub use bindings::nexus::streamlet::types::{ChunkInfo, Error, FrameInfo, ObjectRef};

/// The request's context: key/values shared along the pipeline, stored with the object and
/// given back to GET pipelines. Keys and values follow S3's tag rules (the host checks them).
pub struct Context<'a>(&'a RequestContext);

impl Context<'_> {
    #[must_use]
    pub fn get(&self, key: &str) -> Option<String> {
        self.0.get(key)
    }

    /// # Errors
    /// The key or value breaks S3's tag rules, too many entries, or a read-only (GET) context.
    pub fn set(&self, key: &str, value: &str) -> Result<(), CtxError> {
        self.0.set(key, value)
    }

    pub fn remove(&self, key: &str) {
        self.0.remove(key);
    }

    #[must_use]
    pub fn entries(&self) -> Vec<(String, String)> {
        self.0.entries()
    }
}

/// A byte streamlet: one value per frame and direction.
pub trait ByteStreamlet: Sized + 'static {
    /// Starts a frame.
    ///
    /// # Errors
    /// Reported to the client when the frame's first slice arrives (bad parameters, ...).
    fn new(dir: Direction, info: &ChunkInfo, frame: &FrameInfo) -> Result<Self, Error>;

    /// Transforms one slice of the frame; may return nothing and emit later.
    ///
    /// # Errors
    /// Fails the request.
    fn push(&mut self, ctx: &Context, chunk: Vec<u8>) -> Result<Vec<u8>, Error>;

    /// Ends the frame: the rest of the output.
    ///
    /// # Errors
    /// Fails the request.
    fn finish(self, ctx: &Context) -> Result<Vec<u8>, Error>;
}

/// Adapts a [`ByteStreamlet`] to the WIT `transformer` resource (whose constructor cannot
/// fail, so a failed `new` is reported by the first call).
#[doc(hidden)]
pub struct ByteAdapter<T>(RefCell<Stage<T>>);

enum Stage<T> {
    Running(T),
    Failed(Error),
    Finished,
}

impl<T: ByteStreamlet> GuestTransformer for ByteAdapter<T> {
    fn new(dir: Direction, info: ChunkInfo, frame: FrameInfo) -> Self {
        Self(RefCell::new(match T::new(dir, &info, &frame) {
            Ok(t) => Stage::Running(t),
            Err(e) => Stage::Failed(e),
        }))
    }

    fn push(&self, ctx: &RequestContext, chunk: Vec<u8>) -> Result<Vec<u8>, Error> {
        match &mut *self.0.borrow_mut() {
            Stage::Running(t) => t.push(&Context(ctx), chunk),
            Stage::Failed(e) => Err(e.clone()),
            Stage::Finished => Err(Error::Internal("push after finish".into())),
        }
    }

    fn finish(&self, ctx: &RequestContext) -> Result<Vec<u8>, Error> {
        match std::mem::replace(&mut *self.0.borrow_mut(), Stage::Finished) {
            Stage::Running(t) => t.finish(&Context(ctx)),
            Stage::Failed(e) => Err(e),
            Stage::Finished => Err(Error::Internal("finish called twice".into())),
        }
    }
}

/// Exports `$t` (a [`ByteStreamlet`]) as the component's `byte-transform`.
#[macro_export]
macro_rules! byte_streamlet {
    ($t:ty) => {
        struct __NexusByteStreamlet;
        impl $crate::bindings::exports::nexus::streamlet::byte_transform::Guest
            for __NexusByteStreamlet
        {
            type Transformer = $crate::ByteAdapter<$t>;
        }
        $crate::bindings::export!(__NexusByteStreamlet with_types_in $crate::bindings);
    };
}

/// The policy stage's parameters (defaults from the descriptor filled in by the host).
pub mod params {
    use super::Error;
    use super::bindings::nexus::streamlet::config;
    pub use serde_json::Value;

    /// One parameter, typed; `None` when not set.
    ///
    /// # Errors
    /// `Rejected` when the value does not have the expected type.
    pub fn get<T: serde::de::DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
        config::get(key)
            .map(|json| {
                serde_json::from_str(&json)
                    .map_err(|e| Error::Rejected(format!("parameter `{key}`: {e}")))
            })
            .transpose()
    }

    /// One parameter with a default.
    ///
    /// # Errors
    /// As [`get`].
    pub fn get_or<T: serde::de::DeserializeOwned>(key: &str, default: T) -> Result<T, Error> {
        Ok(get(key)?.unwrap_or(default))
    }

    /// Every parameter as a JSON object.
    #[must_use]
    pub fn all() -> serde_json::Map<String, Value> {
        serde_json::from_str(&config::params()).unwrap_or_default()
    }
}

/// The worker's log; lines carry the streamlet's name and the request id.
pub mod log {
    use super::bindings::nexus::streamlet::host_log::{Level, log};

    pub fn debug(msg: &str) {
        log(Level::Debug, msg);
    }
    pub fn info(msg: &str) {
        log(Level::Info, msg);
    }
    pub fn warn(msg: &str) {
        log(Level::Warn, msg);
    }
    pub fn error(msg: &str) {
        log(Level::Error, msg);
    }
}

/// Persistent per (streamlet, stream, partition) values, committed only when the request
/// succeeds. (The host side arrives with the mesh; until then every call answers
/// `unavailable`.)
pub mod state {
    pub use super::bindings::nexus::streamlet::state::{StateError, delete, get, incr, set};
}
