//! Streamlets: WASM components that policies run on chunks (the only module that links
//! wasmtime). [`host`] is what an instance sees of the worker, [`runtime`] compiles, caches,
//! instantiates and bounds them, [`error`] says how an invocation fails.

pub mod error;
pub mod host;
pub mod runtime;
pub mod source;

pub use self::error::StreamletError;
pub use self::host::{ChunkInfo, Direction, FrameInfo, ObjectRef, SharedContext};
pub use self::runtime::{Call, Limits, Loaded, Runtime, SourceCall};
pub use self::source::{BlockingRead, Decision, GetRequest, Opener};
