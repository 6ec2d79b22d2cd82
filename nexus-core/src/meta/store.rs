//! The one interface both implementations provide.

use async_trait::async_trait;

use super::digest::Digest;
use super::error::Result;
use super::feed::Feed;
use super::record::{ApplyOutcome, Batch, Record, ResourceKind, Snapshot};

/// A metadata store: versioned resource records, module blobs and a change feed.
///
/// Object safe; share it as `Arc<dyn MetaStore>` ([`super::open`]). Every method may be called
/// concurrently. Reads see only whole applies.
#[async_trait]
pub trait MetaStore: Send + Sync + std::fmt::Debug {
    /// Where the store is, for logs and `nexus status`, without secrets
    /// (`redis://127.0.0.1:6379/0 prefix nexus:`, `file:/var/lib/nexus/meta.json`, `memory`).
    fn describe(&self) -> String;

    /// One record.
    async fn get(&self, kind: ResourceKind, name: &str) -> Result<Option<Record>>;

    /// All records of a kind, sorted by name, read at one revision.
    async fn list(&self, kind: ResourceKind) -> Result<Vec<Record>>;

    /// Applies a batch atomically: every change or none (a failed compare-and-set, an invalid
    /// name or a duplicate changes nothing). A put whose body is identical to the stored one is
    /// `Unchanged` and keeps its version; the global revision is bumped once if anything
    /// changed. Watchers are notified after the change is durable.
    async fn apply(&self, batch: Batch) -> Result<ApplyOutcome>;

    /// The global revision: 0 for an empty store, +1 per apply that changed something.
    async fn revision(&self) -> Result<u64>;

    /// Every record, consistent at one revision.
    async fn snapshot(&self) -> Result<Snapshot>;

    /// Stores a module blob under its digest, after checking that `bytes` hash to `digest`
    /// ([`super::MetaError::DigestMismatch`] otherwise). Storing the same blob again is a no-op.
    async fn put_module(&self, digest: &Digest, bytes: &[u8]) -> Result<()>;

    /// A module blob, checked against its digest on the way out.
    async fn get_module(&self, digest: &Digest) -> Result<Option<Vec<u8>>>;

    async fn module_exists(&self, digest: &Digest) -> Result<bool>;

    /// Subscribes to the change feed (see [`super::Event`] for the protocol). Subscribe
    /// first, then read a snapshot.
    fn watch(&self) -> Feed;
}
