//! Key grammars: how each tiering system names its objects (`../shared/design/tiering-systems.md`).
//!
//! [`KeyGrammar::classify`] reads a URL-decoded object key (without the bucket) and says which
//! system wrote it, whether it is a data chunk, an auxiliary object or metadata, and which stream,
//! partition and sequence it belongs to. It never fails: a key the configured grammar does not
//! recognise is [`System::Generic`] and passes through untouched.

mod generic;
mod kafka;
mod pravega;
mod pulsar;
mod redpanda;
mod system;

#[cfg(test)]
mod tests;

pub use self::system::{ObjectKind, System, UnknownSystem};

/// What a key says about the object it names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectClass {
    /// The grammar that matched; `Generic` when the configured grammar did not match.
    pub system: System,
    pub kind: ObjectKind,
    /// kafka/redpanda: topic (`ns/topic` when the Redpanda namespace is not `kafka`);
    /// pulsar: `tenant/namespace/topic` (from metadata); pravega: `scope/stream`;
    /// generic: the first path segment.
    pub stream: Option<String>,
    /// kafka/redpanda: partition; pulsar: N of `-partition-N`; pravega: segment id
    /// (`stream_epoch << 32 | segment_number`).
    pub partition: Option<u64>,
    /// kafka: start offset; pulsar: ledger id; pravega: chunk offset in the segment;
    /// redpanda: base offset.
    pub sequence: Option<u64>,
}

/// The grammar configured for a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrammar {
    system: System,
    prefix: Option<String>,
}

// === impl KeyGrammar ===

impl KeyGrammar {
    #[must_use]
    pub fn new(system: System) -> Self {
        Self {
            system,
            prefix: None,
        }
    }

    /// Kafka's `key.prefix` (concatenated with no separator) or Pravega's `s3.prefix`.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    #[must_use]
    pub fn system(&self) -> System {
        self.system
    }

    #[must_use]
    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// Classifies `key`. `managed_ledger_name` is `x-amz-meta-managedledgername` when the
    /// request carries it (Pulsar writes).
    #[must_use]
    pub fn classify(&self, key: &str, managed_ledger_name: Option<&str>) -> ObjectClass {
        let prefix = self.prefix.as_deref();
        let matched = match self.system {
            System::Kafka => kafka::classify(key, prefix),
            System::Pulsar => pulsar::classify(key, managed_ledger_name),
            System::Pravega => pravega::classify(key, prefix),
            System::Redpanda => redpanda::classify(key),
            System::Generic => None,
        };
        matched.unwrap_or_else(|| generic::classify(key))
    }
}
