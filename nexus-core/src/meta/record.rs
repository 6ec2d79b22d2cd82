//! Records, changes and snapshots: what the metadata store keeps, independent of the model.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use super::digest::Digest;
use super::error::{MetaError, Result};

/// The longest name a record may have, in bytes (as Kubernetes object names).
pub const MAX_NAME_LEN: usize = 253;

/// The kinds of versioned resources. Module blobs are not records: they are kept by content
/// digest ([`super::MetaStore::put_module`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ResourceKind {
    Policy,
    Store,
    Streamlet,
    Swarmlet,
}

/// A kind name that is not a [`ResourceKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown resource kind `{0}`: expected policy, store, streamlet or swarmlet")]
pub struct UnknownKind(pub String);

/// One versioned resource as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub kind: ResourceKind,
    pub name: String,
    /// Starts at 1 and grows by one on every change of this record, also across a delete and
    /// a re-create (the store remembers the last version of deleted names).
    pub version: u64,
    /// The global revision of the apply that wrote this version.
    pub revision: u64,
    /// `sha256:` of `body`.
    pub digest: Digest,
    /// Unix time in milliseconds of that apply (the writer's clock).
    pub updated_ms: u64,
    /// The resource's text (YAML or JSON) exactly as applied; the store does not parse it.
    pub body: String,
}

/// One change in a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Put {
        kind: ResourceKind,
        name: String,
        body: String,
    },
    Delete {
        kind: ResourceKind,
        name: String,
    },
}

/// Changes applied together: all or none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub changes: Vec<Change>,
    /// Apply only if the store is still at this revision (what `diff` showed); otherwise fail
    /// with [`MetaError::Conflict`] and change nothing.
    pub expected_revision: Option<u64>,
}

/// What an apply did to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Updated,
    /// The body was identical: no new version.
    Unchanged,
    Deleted,
    /// A delete of a record that does not exist: nothing to do.
    Absent,
}

/// The result for one change, in batch order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChangeResult {
    pub kind: ResourceKind,
    pub name: String,
    pub outcome: Outcome,
    /// The record's version after the apply (for `Deleted`, the version that was deleted; for
    /// `Absent`, 0).
    pub version: u64,
}

/// The result of [`super::MetaStore::apply`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApplyOutcome {
    /// The store's revision after the apply: bumped by exactly one when anything changed.
    pub revision: u64,
    pub changed: bool,
    pub results: Vec<ChangeResult>,
}

/// Every record at one revision.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub revision: u64,
    /// Sorted by kind, then name.
    pub records: Vec<Record>,
}

// === impl ResourceKind ===

impl ResourceKind {
    pub const ALL: [Self; 4] = [Self::Policy, Self::Store, Self::Streamlet, Self::Swarmlet];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Policy => "policy",
            Self::Store => "store",
            Self::Streamlet => "streamlet",
            Self::Swarmlet => "swarmlet",
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResourceKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

// === impl Change ===

impl Change {
    #[must_use]
    pub fn put(kind: ResourceKind, name: impl Into<String>, body: impl Into<String>) -> Self {
        Self::Put {
            kind,
            name: name.into(),
            body: body.into(),
        }
    }

    #[must_use]
    pub fn delete(kind: ResourceKind, name: impl Into<String>) -> Self {
        Self::Delete {
            kind,
            name: name.into(),
        }
    }

    #[must_use]
    pub fn kind(&self) -> ResourceKind {
        match self {
            Self::Put { kind, .. } | Self::Delete { kind, .. } => *kind,
        }
    }

    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Put { name, .. } | Self::Delete { name, .. } => name,
        }
    }
}

// === impl Batch ===

impl Batch {
    #[must_use]
    pub fn new(changes: Vec<Change>) -> Self {
        Self {
            changes,
            expected_revision: None,
        }
    }

    /// Compare-and-set: apply only at `revision`.
    #[must_use]
    pub fn expect_revision(mut self, revision: u64) -> Self {
        self.expected_revision = Some(revision);
        self
    }

    /// Checks names and that no record appears twice. Every implementation calls this before
    /// touching the store.
    pub fn validate(&self) -> Result<()> {
        let mut seen = HashSet::new();
        for change in &self.changes {
            validate_name(change.kind(), change.name())?;
            if !seen.insert((change.kind(), change.name())) {
                return Err(MetaError::InvalidBatch(format!(
                    "{} `{}` appears more than once",
                    change.kind(),
                    change.name()
                )));
            }
        }
        Ok(())
    }
}

impl From<Vec<Change>> for Batch {
    fn from(changes: Vec<Change>) -> Self {
        Self::new(changes)
    }
}

// === impl Snapshot ===

impl Snapshot {
    /// The record `kind`/`name`, if present.
    #[must_use]
    pub fn get(&self, kind: ResourceKind, name: &str) -> Option<&Record> {
        self.records
            .binary_search_by(|r| (r.kind, r.name.as_str()).cmp(&(kind, name)))
            .ok()
            .map(|i| &self.records[i])
    }

    /// The records of one kind, by name.
    pub fn of_kind(&self, kind: ResourceKind) -> impl Iterator<Item = &Record> {
        let start = self.records.partition_point(|r| r.kind < kind);
        self.records[start..]
            .iter()
            .take_while(move |r| r.kind == kind)
    }

    /// Sorts `records` into the order the accessors rely on.
    pub(crate) fn sort(&mut self) {
        self.records
            .sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    }
}

/// The store's own rule for names: 1 to 253 bytes, no control characters. The resource model
/// applies its stricter rules before anything reaches the store.
pub fn validate_name(kind: ResourceKind, name: &str) -> Result<()> {
    let bad = |reason| MetaError::InvalidName {
        kind: kind.as_str(),
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(bad("longer than 253 bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("contains a control character"));
    }
    Ok(())
}
