//! Worker records and the membership view.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a worker says about itself (`P workers:<swarmlet>` field `<id>`, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRecord {
    /// Unique per process start.
    pub id: String,
    pub swarmlet: String,
    pub location: String,
    #[serde(default)]
    pub hardware: Vec<String>,
    /// What other workers dial: `http://host:port` (`https://` when its S3 port serves TLS).
    pub advertise: String,
    pub started_ms: u64,
    /// The policy revision the worker serves.
    #[serde(default)]
    pub policy_revision: u64,
}

/// One swarmlet at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmletView {
    /// Bumped by every join, leave and prune.
    pub epoch: u64,
    /// Live workers, sorted by id, with their last heartbeat (Redis clock, ms).
    pub workers: Vec<(WorkerRecord, u64)>,
}

/// Every swarmlet, as one heartbeat script saw them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// Redis's clock when the view was read (ms).
    pub now_ms: u64,
    pub swarmlets: BTreeMap<String, SwarmletView>,
}

impl View {
    /// Every live worker, by swarmlet then id.
    pub fn workers(&self) -> impl Iterator<Item = &WorkerRecord> {
        self.swarmlets
            .values()
            .flat_map(|s| s.workers.iter().map(|(w, _)| w))
    }

    /// A worker by id.
    #[must_use]
    pub fn worker(&self, id: &str) -> Option<&WorkerRecord> {
        self.workers().find(|w| w.id == id)
    }
}

/// Checks a swarmlet, location or hardware label: 1–63 of `a-z 0-9 -`, starting with a letter
/// or digit (they appear in Redis keys, headers and policies unescaped).
///
/// # Errors
/// A message naming what is wrong.
pub fn validate_label(what: &str, s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} {s:?} must be 1-63 characters of a-z, 0-9 and '-', not starting with '-'"
        ))
    }
}
