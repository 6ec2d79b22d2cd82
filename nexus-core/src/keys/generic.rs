//! The generic grammar: any key; the stream is its first path segment.

use super::{ObjectClass, ObjectKind, System};

pub(super) fn classify(key: &str) -> ObjectClass {
    let trimmed = key.trim_start_matches('/');
    let stream = trimmed
        .split_once('/')
        .map(|(first, _)| first)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    ObjectClass {
        system: System::Generic,
        kind: ObjectKind::Chunk,
        stream,
        partition: None,
        sequence: None,
    }
}
