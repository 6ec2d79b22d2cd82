//! Streamlet state: the routing key of a partition and one request's buffered writes.

use std::collections::BTreeMap;

/// The ring key of a stream partition: `system ‖ 0x00 ‖ stream ‖ 0x00 ‖ partition`.
#[must_use]
pub fn route_key(system: &str, stream: &str, partition: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(system.len() + stream.len() + 22);
    k.extend_from_slice(system.as_bytes());
    k.push(0);
    k.extend_from_slice(stream.as_bytes());
    k.push(0);
    k.extend_from_slice(partition.to_string().as_bytes());
    k
}

/// One write of a request, buffered until the request succeeds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StateWrite {
    Set(Vec<u8>),
    Delete,
    /// Added to the stored integer (a missing field is 0).
    Incr(i64),
}

/// A request's buffered writes to one partition's state, in field order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StateWrites {
    pub writes: BTreeMap<String, StateWrite>,
}

impl StateWrites {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    pub fn set(&mut self, field: String, value: Vec<u8>) {
        self.writes.insert(field, StateWrite::Set(value));
    }

    pub fn delete(&mut self, field: String) {
        self.writes.insert(field, StateWrite::Delete);
    }

    /// Adds `delta` to a pending increment, or turns a pending set of an integer into a set of
    /// the sum; returns false if the pending value is not an integer.
    pub fn incr(&mut self, field: String, delta: i64) -> bool {
        match self.writes.get_mut(&field) {
            None => {
                self.writes.insert(field, StateWrite::Incr(delta));
                true
            }
            Some(StateWrite::Incr(d)) => {
                *d = d.saturating_add(delta);
                true
            }
            Some(StateWrite::Delete) => {
                self.writes
                    .insert(field, StateWrite::Set(delta.to_string().into_bytes()));
                true
            }
            Some(StateWrite::Set(v)) => match std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
            {
                Some(n) => {
                    *v = n.saturating_add(delta).to_string().into_bytes();
                    true
                }
                None => false,
            },
        }
    }

    /// Applies `later` on top of these writes, as if its writes had been made after them
    /// (sets and deletes replace, increments add); returns false, keeping the pending value,
    /// for an increment of a pending value that is not an integer.
    pub fn merge(&mut self, later: Self) -> bool {
        let mut ok = true;
        for (field, w) in later.writes {
            match w {
                StateWrite::Set(v) => self.set(field, v),
                StateWrite::Delete => self.delete(field),
                StateWrite::Incr(d) => ok &= self.incr(field, d),
            }
        }
        ok
    }
}
