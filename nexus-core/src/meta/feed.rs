//! The change feed: what a watcher of the store receives.
//!
//! Protocol (both implementations): every apply that changed something emits one
//! [`Event::Changed`] per changed record, all with the apply's revision, after the change is
//! durable. Whenever events may have been lost (the Redis subscription was (re)established, the
//! receiver fell behind, another process changed the embedded file) the feed emits
//! [`Event::Resync`] instead: the watcher must reload a full snapshot. A Redis feed also starts
//! with a `Resync` once its subscription is up, so "subscribe, then snapshot" never misses a
//! change.

use futures::Stream;
use tokio::sync::broadcast;

use super::record::{ApplyOutcome, Outcome, ResourceKind};

/// Events a [`Feed`] buffers per receiver before it falls behind (then: one `Resync`).
pub(crate) const FEED_CAPACITY: usize = 1024;

/// One change-feed event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Event {
    Changed(ChangeEvent),
    /// Events may have been lost: reload a snapshot. `revision` is the store's revision when
    /// known.
    Resync {
        revision: Option<u64>,
    },
}

/// A record changed at `revision`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChangeEvent {
    pub revision: u64,
    pub kind: ResourceKind,
    pub name: String,
    pub op: EventOp,
    /// The record's new version (`Put`) or the deleted version (`Delete`).
    pub version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventOp {
    Put,
    Delete,
}

/// A receiver of the change feed ([`super::MetaStore::watch`]). Cheap; one per watcher.
#[derive(Debug)]
pub struct Feed {
    rx: broadcast::Receiver<Event>,
}

// === impl Feed ===

impl Feed {
    pub(crate) fn new(rx: broadcast::Receiver<Event>) -> Self {
        Self { rx }
    }

    /// The next event; `None` once the store is gone. A receiver that fell behind gets one
    /// `Resync` for everything it missed.
    pub async fn recv(&mut self) -> Option<Event> {
        match self.rx.recv().await {
            Ok(event) => Some(event),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Event::Resync { revision: None }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next event if one is waiting (used to coalesce bursts).
    pub fn try_recv(&mut self) -> Option<Event> {
        match self.rx.try_recv() {
            Ok(event) => Some(event),
            Err(broadcast::error::TryRecvError::Lagged(_)) => {
                Some(Event::Resync { revision: None })
            }
            Err(_) => None,
        }
    }

    /// The feed as a `Stream`.
    pub fn into_stream(self) -> impl Stream<Item = Event> + Send + Unpin {
        Box::pin(futures::stream::unfold(self, |mut feed| async move {
            feed.recv().await.map(|event| (event, feed))
        }))
    }
}

/// The events of one apply: one per changed record, in batch order.
pub(crate) fn events_of(outcome: &ApplyOutcome) -> Vec<Event> {
    outcome
        .results
        .iter()
        .filter_map(|r| {
            let op = match r.outcome {
                Outcome::Created | Outcome::Updated => EventOp::Put,
                Outcome::Deleted => EventOp::Delete,
                Outcome::Unchanged | Outcome::Absent => return None,
            };
            Some(Event::Changed(ChangeEvent {
                revision: outcome.revision,
                kind: r.kind,
                name: r.name.clone(),
                op,
                version: r.version,
            }))
        })
        .collect()
}
