//! The metadata store: versioned resource records in Redis or embedded (`docs/metadata.md`).
//!
//! One interface, [`MetaStore`], used as `Arc<dyn MetaStore>` by the worker and the CLI, with two
//! implementations chosen by URL through [`open`]:
//!
//! - [`RedisMeta`] (`redis://…`, `rediss://…`): a deployment. Every write is one Lua script (atomic),
//!   which also publishes the change on our own pub/sub channel; no keyspace-notification
//!   settings are needed. The key layout and its schema migrations live in [`redis_keys`].
//! - [`EmbeddedMeta`] (`memory`, `file:PATH`): one node, tests and the quickstart. The file is the
//!   source of truth: replaced atomically, locked while written, and re-read when another process
//!   (the CLI) changed it.
//!
//! The store knows nothing of policies: it keeps opaque text bodies ([`Record`]) per
//! [`ResourceKind`] and name, with a per-record version and a global revision. Module blobs
//! (WASM) are kept by content digest. A change feed ([`MetaStore::watch`]) tells watchers what
//! changed; [`SnapshotCache`] turns it into an atomically swapped, compiled snapshot that keeps
//! serving while the store is unreachable.
//!
//! Security: passwords in URLs are never printed ([`redact_url`]); the embedded file is created
//! with mode 0600. Bodies may name secrets (an env variable, a Kubernetes secret) but the store
//! itself never interprets them.

mod cache;
mod digest;
mod embedded;
mod error;
mod feed;
mod file;
mod open;
mod record;
mod redis_client;
mod redis_feed;
pub mod redis_keys;
mod redis_meta;
mod redis_options;
mod store;
#[cfg(any(test, feature = "test-util"))]
pub mod test_util;

#[cfg(test)]
mod tests;

pub use self::cache::{CacheOptions, CacheStatus, SnapshotCache};
pub use self::digest::Digest;
pub use self::embedded::EmbeddedMeta;
pub use self::error::{MetaError, Result};
pub use self::feed::{ChangeEvent, Event, EventOp, Feed};
pub use self::open::{open, redact_url};
pub use self::record::{
    ApplyOutcome, Batch, Change, ChangeResult, Outcome, Record, ResourceKind, Snapshot,
    UnknownKind, validate_name,
};
pub use self::redis_meta::{RedisMeta, RedisOptions};
pub use self::store::MetaStore;
