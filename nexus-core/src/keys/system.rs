//! The tiering systems and object kinds.

use std::fmt;
use std::str::FromStr;

/// Which system's key grammar applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum System {
    Kafka,
    Pulsar,
    Pravega,
    Redpanda,
    Generic,
}

/// What role an object plays for its system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// Stream data (a segment, ledger, chunk).
    Chunk,
    /// Auxiliary objects (indexes).
    Aux,
    /// Broker metadata (manifests, system segments).
    Metadata,
}

/// A system name that is not one of [`System::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown system {0:?}; expected one of kafka, pulsar, pravega, redpanda, generic")]
pub struct UnknownSystem(pub String);

// === impl System ===

impl System {
    pub const ALL: [System; 5] = [
        System::Kafka,
        System::Pulsar,
        System::Pravega,
        System::Redpanda,
        System::Generic,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            System::Kafka => "kafka",
            System::Pulsar => "pulsar",
            System::Pravega => "pravega",
            System::Redpanda => "redpanda",
            System::Generic => "generic",
        }
    }
}

impl FromStr for System {
    type Err = UnknownSystem;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        System::ALL
            .into_iter()
            .find(|sys| sys.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownSystem(s.to_owned()))
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl ObjectKind ===

impl ObjectKind {
    pub const ALL: [ObjectKind; 3] = [ObjectKind::Chunk, ObjectKind::Aux, ObjectKind::Metadata];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Chunk => "chunk",
            ObjectKind::Aux => "aux",
            ObjectKind::Metadata => "metadata",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
