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

/// Bindings of the `data-source-streamlet` world, sharing the common interfaces with
/// [`bindings`].
#[doc(hidden)]
pub mod source_bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "data-source-streamlet",
        pub_export_macro: true,
        default_bindings_module: "nexus_streamlet::source_bindings",
        with: {
            "nexus:streamlet/types@0.1.0": crate::bindings::nexus::streamlet::types,
            "nexus:streamlet/context@0.1.0": crate::bindings::nexus::streamlet::context,
            "nexus:streamlet/state@0.1.0": crate::bindings::nexus::streamlet::state,
            "nexus:streamlet/host-log@0.1.0": crate::bindings::nexus::streamlet::host_log,
            "nexus:streamlet/config@0.1.0": crate::bindings::nexus::streamlet::config,
        },
    });
}

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

    /// Routing streamlets, on a single PUT: store this object in the named output store of
    /// the policy (a `Store` listed in `spec.output`) instead of the bucket's store.
    ///
    /// # Errors
    /// As [`Self::set`].
    pub fn route_to(&self, store: &str) -> Result<(), CtxError> {
        self.0.set("nexus.store", store)
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
    //! Persistent state per streamlet × stream × partition (the paper's `@Persistent`).
    //!
    //! Reads see the partition's state as the owner worker loaded it, plus this request's own
    //! writes; writes are buffered and committed atomically by the host when the request
    //! succeeds, before the broker is answered, and dropped when it fails. On GET byte stages
    //! and for objects without a stream partition, every call fails with `Unavailable`.
    //!
    //! ```ignore
    //! use nexus_streamlet::state::Persistent;
    //! static SEEN: Persistent<u64> = Persistent::new("seen");
    //! let n = SEEN.get("segment-7")?.unwrap_or(0);
    //! SEEN.insert("segment-7", &(n + 1))?;
    //! ```

    use std::marker::PhantomData;

    use super::Error;
    pub use super::bindings::nexus::streamlet::state::{StateError, delete, get, incr, set};

    fn error(e: StateError) -> Error {
        match e {
            StateError::Unavailable => Error::Unavailable("streamlet state is unavailable".into()),
            StateError::Conflict => Error::Unavailable("streamlet state conflict; retry".into()),
            StateError::TooLarge => Error::Rejected("state key or value too large".into()),
            StateError::QuotaExceeded => {
                Error::Rejected("too many state writes in one request".into())
            }
        }
    }

    /// A typed persistent map: values are JSON in the fields `NAME/KEY` of the partition's state.
    pub struct Persistent<V> {
        name: &'static str,
        _values: PhantomData<fn() -> V>,
    }

    impl<V: serde::Serialize + serde::de::DeserializeOwned> Persistent<V> {
        #[must_use]
        pub const fn new(name: &'static str) -> Self {
            Self {
                name,
                _values: PhantomData,
            }
        }

        fn field(&self, key: &str) -> String {
            format!("{}/{key}", self.name)
        }

        /// # Errors
        /// State unavailable, or a stored value that does not decode as `V`.
        pub fn get(&self, key: &str) -> Result<Option<V>, Error> {
            match get(&self.field(key)).map_err(error)? {
                None => Ok(None),
                Some(bytes) => serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| Error::Internal(format!("state {}/{key}: {e}", self.name))),
            }
        }

        /// # Errors
        /// State unavailable or limits.
        pub fn insert(&self, key: &str, value: &V) -> Result<(), Error> {
            let bytes = serde_json::to_vec(value).map_err(|e| Error::Internal(e.to_string()))?;
            set(&self.field(key), &bytes).map_err(error)
        }

        /// # Errors
        /// State unavailable or limits.
        pub fn remove(&self, key: &str) -> Result<(), Error> {
            delete(&self.field(key)).map_err(error)
        }
    }

    /// Adds `delta` to the integer counter `name` and returns its new value.
    ///
    /// # Errors
    /// State unavailable, or the field holds something else.
    pub fn add(name: &str, delta: i64) -> Result<i64, Error> {
        incr(name, delta).map_err(error)
    }
}

/// Data-source streamlets: decide, before a GET (or HEAD) reaches the object store, where the
/// bytes come from. Implement [`DataSource`] and name the type in [`data_source_streamlet!`].
///
/// ```ignore
/// use nexus_streamlet::source::{DataSource, GetRequest, PreGet};
/// use nexus_streamlet::{Context, Error};
///
/// struct Gate;
/// impl DataSource for Gate {
///     fn pre_get(_: &Context, req: &GetRequest) -> Result<PreGet, Error> {
///         Ok(if req.object.key.ends_with(".secret") { PreGet::Deny(403) } else { PreGet::Pass })
///     }
/// }
/// nexus_streamlet::data_source_streamlet!(Gate);
/// ```
pub mod source {
    use std::cell::RefCell;
    use std::io::Read;

    pub use super::source_bindings::exports::nexus::streamlet::data_source::GetRequest;
    use super::source_bindings::exports::nexus::streamlet::data_source::{self as wit, GuestBody};
    use super::source_bindings::nexus::streamlet::sources;
    use super::{Context, Error};

    /// Where a GET's bytes come from.
    pub enum PreGet {
        /// Fall through to the object store.
        Pass,
        /// The host serves `key` from the named store (a `Store` resource the policy names).
        ServeSource { store: String, key: String },
        /// This body (the whole object), of `length` bytes if known; with a length, the host
        /// answers a client's range request with that range of it.
        ServeBody {
            length: Option<u64>,
            body: Box<dyn Read>,
        },
        /// Refuse with this HTTP status (403, 404, 503, ...).
        Deny(u16),
    }

    /// A data-source streamlet: one call per GET or HEAD.
    pub trait DataSource: 'static {
        /// Decides for one read.
        ///
        /// # Errors
        /// Fails the read (as a byte streamlet's error fails a request).
        fn pre_get(ctx: &Context, req: &GetRequest) -> Result<PreGet, Error>;
    }

    /// Adapts a reader to the WIT `body` resource.
    #[doc(hidden)]
    pub struct BodyAdapter(RefCell<Box<dyn Read>>);

    impl GuestBody for BodyAdapter {
        fn read(&self, max: u32) -> Result<Option<Vec<u8>>, Error> {
            let mut buf = vec![0; max.clamp(1, 1 << 20) as usize];
            let n = self
                .0
                .borrow_mut()
                .read(&mut buf)
                .map_err(|e| Error::Internal(format!("body: {e}")))?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some(buf))
        }
    }

    #[doc(hidden)]
    pub fn handle<T: DataSource>(
        ctx: &super::bindings::nexus::streamlet::context::RequestContext,
        req: &GetRequest,
    ) -> Result<wit::PreGet, Error> {
        Ok(match T::pre_get(&Context(ctx), req)? {
            PreGet::Pass => wit::PreGet::Pass,
            PreGet::ServeSource { store, key } => wit::PreGet::ServeSource((store, key)),
            PreGet::ServeBody { length, body } => {
                wit::PreGet::ServeBody((length, wit::Body::new(BodyAdapter(RefCell::new(body)))))
            }
            PreGet::Deny(status) => wit::PreGet::Deny(status),
        })
    }

    /// An object of a named store, read by the streamlet itself.
    pub struct Reader {
        inner: sources::Reader,
        /// What the host gave beyond the caller's buffer.
        left: Vec<u8>,
        at: usize,
    }

    impl Read for Reader {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if buf.is_empty() {
                return Ok(0);
            }
            if self.at == self.left.len() {
                let max = u32::try_from(buf.len()).unwrap_or(u32::MAX);
                match self.inner.read(max) {
                    Ok(Some(bytes)) => {
                        self.left = bytes;
                        self.at = 0;
                    }
                    Ok(None) => return Ok(0),
                    Err(e) => return Err(std::io::Error::other(format!("{e:?}"))),
                }
            }
            let n = (self.left.len() - self.at).min(buf.len());
            buf[..n].copy_from_slice(&self.left[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// Opens `key` (bytes `range` = first..=last, if given) in the named store; `None` if
    /// there is no such object.
    ///
    /// # Errors
    /// The store is not one the policy names, or it failed.
    pub fn open(
        store: &str,
        key: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Option<Reader>, Error> {
        Ok(sources::open(store, key, range)?.map(|inner| Reader {
            inner,
            left: Vec::new(),
            at: 0,
        }))
    }
}

/// Exports `$t` (a [`source::DataSource`]) as the component's `data-source`.
#[macro_export]
macro_rules! data_source_streamlet {
    ($t:ty) => {
        struct __NexusDataSource;
        impl $crate::source_bindings::exports::nexus::streamlet::data_source::Guest
            for __NexusDataSource
        {
            type Body = $crate::source::BodyAdapter;
            fn handle_pre_get(
                ctx: &$crate::bindings::nexus::streamlet::context::RequestContext,
                req: $crate::source::GetRequest,
            ) -> Result<
                $crate::source_bindings::exports::nexus::streamlet::data_source::PreGet,
                $crate::Error,
            > {
                $crate::source::handle::<$t>(ctx, &req)
            }
        }
        $crate::source_bindings::export!(__NexusDataSource with_types_in $crate::source_bindings);
    };
}

/// Exports a routing streamlet: `$t` implements both [`ByteStreamlet`] (run on writes, where
/// it may pick the output store with [`Context::route_to`]) and [`source::DataSource`] (run
/// before reads, where it may serve them from where it put them). Its descriptor says
/// `interface: routing` and `on: ALL`.
#[macro_export]
macro_rules! routing_streamlet {
    ($t:ty) => {
        $crate::byte_streamlet!($t);
        $crate::data_source_streamlet!($t);
    };
}
