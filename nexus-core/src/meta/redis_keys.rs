//! The Redis key layout, schema version 1: every key Nexus reads or writes, in one place.
//!
//! All keys start with a namespace prefix `P` (default `nexus:`; `?prefix=` in the URL), so
//! several Nexus clusters can share one Redis database. For Redis Cluster, use a prefix with a
//! hash tag (`{nexus}:`) so that every key lands in one slot, as the Lua scripts require.
//!
//! | key | type | what |
//! |---|---|---|
//! | `P schema` | string | layout version, `1`; checked at open, migrated by [`MIGRATIONS`] |
//! | `P revision` | string (integer) | global revision, `INCR` once per apply that changed something; absent = 0 |
//! | `P res:<kind>:<name>` | hash | one record: `version`, `revision`, `digest`, `updated_ms`, `body` |
//! | `P idx:<kind>` | set | the names of the records of a kind |
//! | `P tomb:<kind>` | hash | name → last version of a deleted record (versions never repeat) |
//! | `P module:<digest>` | string | a module blob by content digest (`sha256:<hex>`) |
//! | `P events` | pub/sub channel | one JSON message per apply that changed something (below) |
//!
//! `<kind>` is `policy`, `store`, `streamlet` or `swarmlet`. A name is the rest of the key after
//! the kind and its colon, so names need no escaping. Keys reserved for later issues (builders
//! below; the layout is fixed now so that no migration is needed for them):
//!
//! | key | type | what |
//! |---|---|---|
//! | `P workers:<swarmlet>` | hash | worker id → JSON `{address, location, hardware, started_ms, heartbeat_ms}`; members whose heartbeat is older than the timeout are pruned by any worker |
//! | `P members` | pub/sub channel | membership changes (join, leave, prune), same resync rule as `P events` |
//! | `P epoch:<swarmlet>` | string (integer) | membership epoch, `INCR` on every membership change; fences partition owners |
//! | `P state:<streamlet>:<stream>:<partition>` | hash | persistent streamlet state; field `@fence` holds the owner's epoch, checked by the commit script |
//! | `P upload:<bucket>:<upload-id>` | hash | a multipart upload record: key, policy and version, pipeline, `created_ms`; field `part:<n>` → JSON part record |
//! | `P uploads:<bucket>` | sorted set | upload ids by creation time (listing, expiry) |
//!
//! Where a key has more than one caller-chosen component, each component is escaped with
//! [`escape`] (`%` → `%25`, `:` → `%3A`) so that the key splits unambiguously.
//!
//! Change-feed message on `P events` (JSON, one per apply):
//! `{"rev": 12, "changes": [{"kind": "policy", "name": "x", "op": "put", "version": 3}]}`.

use super::digest::Digest;
use super::record::ResourceKind;

/// The layout version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The default namespace prefix.
pub const DEFAULT_PREFIX: &str = "nexus:";

/// One step of the layout's history: a Lua script that moves a namespace from `from` to `to`
/// atomically. It is called with `ARGV[1]` = prefix, `ARGV[2]` = `from`, `ARGV[3]` = `to`, must
/// check that the schema key still says `from` (an empty string: no schema key), and returns the
/// schema version it leaves behind.
#[derive(Debug, PartialEq, Eq)]
pub struct Migration {
    pub from: u32,
    pub to: u32,
    pub what: &'static str,
    pub script: &'static str,
}

/// Every migration, oldest first. Version 0 is an empty namespace (no schema key, no
/// revision); upgrading an older layout adds an entry here, never changes one.
pub const MIGRATIONS: &[Migration] = &[Migration {
    from: 0,
    to: 1,
    what: "initialise an empty namespace with the v1 layout",
    script: include_str!("lua/migrate_v1.lua"),
}];

/// What the schema key said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaState {
    /// No schema key and no data: version 0.
    Empty,
    /// No schema key but a revision exists: written by something we do not know.
    Unmarked,
    Version(u32),
    Unparsable(String),
}

/// The way from `found` to [`SCHEMA_VERSION`].
#[derive(Debug, PartialEq, Eq)]
pub enum MigrationPlan {
    UpToDate,
    Migrate(Vec<&'static Migration>),
    TooNew(u32),
    Unknown(String),
}

/// The keys of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

// === impl Keys ===

impl Keys {
    #[must_use]
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    #[must_use]
    pub fn schema(&self) -> String {
        format!("{}schema", self.prefix)
    }

    #[must_use]
    pub fn revision(&self) -> String {
        format!("{}revision", self.prefix)
    }

    #[must_use]
    pub fn resource(&self, kind: ResourceKind, name: &str) -> String {
        format!("{}res:{kind}:{name}", self.prefix)
    }

    #[must_use]
    pub fn index(&self, kind: ResourceKind) -> String {
        format!("{}idx:{kind}", self.prefix)
    }

    #[must_use]
    pub fn tombstones(&self, kind: ResourceKind) -> String {
        format!("{}tomb:{kind}", self.prefix)
    }

    #[must_use]
    pub fn module(&self, digest: &Digest) -> String {
        format!("{}module:{digest}", self.prefix)
    }

    #[must_use]
    pub fn events(&self) -> String {
        format!("{}events", self.prefix)
    }

    // Reserved for later issues (documented above).

    #[must_use]
    pub fn workers(&self, swarmlet: &str) -> String {
        format!("{}workers:{}", self.prefix, escape(swarmlet))
    }

    #[must_use]
    pub fn members(&self) -> String {
        format!("{}members", self.prefix)
    }

    #[must_use]
    pub fn epoch(&self, swarmlet: &str) -> String {
        format!("{}epoch:{}", self.prefix, escape(swarmlet))
    }

    #[must_use]
    pub fn state(&self, streamlet: &str, stream: &str, partition: u64) -> String {
        format!(
            "{}state:{}:{}:{partition}",
            self.prefix,
            escape(streamlet),
            escape(stream)
        )
    }

    #[must_use]
    pub fn upload(&self, bucket: &str, upload_id: &str) -> String {
        format!(
            "{}upload:{}:{}",
            self.prefix,
            escape(bucket),
            escape(upload_id)
        )
    }

    #[must_use]
    pub fn uploads(&self, bucket: &str) -> String {
        format!("{}uploads:{}", self.prefix, escape(bucket))
    }
}

impl Default for Keys {
    fn default() -> Self {
        Self::new(DEFAULT_PREFIX)
    }
}

/// Escapes one key component: `%` → `%25`, `:` → `%3A`.
#[must_use]
pub fn escape(component: &str) -> String {
    component.replace('%', "%25").replace(':', "%3A")
}

// === impl SchemaState ===

impl SchemaState {
    /// Reads the values of `P schema` and `P revision`.
    #[must_use]
    pub fn from_values(schema: Option<&str>, revision_exists: bool) -> Self {
        match schema {
            None if revision_exists => Self::Unmarked,
            None => Self::Empty,
            Some(s) => s
                .parse()
                .map_or_else(|_| Self::Unparsable(s.to_owned()), Self::Version),
        }
    }
}

/// Plans the migrations from `found` to [`SCHEMA_VERSION`].
#[must_use]
pub fn plan_migration(found: &SchemaState) -> MigrationPlan {
    let mut version = match found {
        SchemaState::Empty => 0,
        SchemaState::Version(v) => *v,
        SchemaState::Unmarked => {
            return MigrationPlan::Unknown("data without a schema key".to_owned());
        }
        SchemaState::Unparsable(s) => return MigrationPlan::Unknown(s.clone()),
    };
    if version == SCHEMA_VERSION {
        return MigrationPlan::UpToDate;
    }
    if version > SCHEMA_VERSION {
        return MigrationPlan::TooNew(version);
    }
    let mut steps = Vec::new();
    while version < SCHEMA_VERSION {
        let Some(step) = MIGRATIONS.iter().find(|m| m.from == version) else {
            return MigrationPlan::Unknown(version.to_string());
        };
        steps.push(step);
        version = step.to;
    }
    MigrationPlan::Migrate(steps)
}
