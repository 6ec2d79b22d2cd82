//! Kafka with Aiven's remote storage manager:
//! `<prefix><topic>-<topicId>/<partition>/<offset:20>-<segmentId>.<log|indexes|rsm-manifest>`.

use std::sync::LazyLock;

use regex::Regex;

use super::{ObjectClass, ObjectKind, System};

static KEY: LazyLock<Regex> = LazyLock::new(|| {
    // A constant, tested pattern.
    #[allow(clippy::unwrap_used)]
    Regex::new(
        r"^(?P<topic>[A-Za-z0-9._-]{1,249})-(?P<topic_id>[A-Za-z0-9_-]{22})/(?P<partition>\d+)/(?P<offset>\d{20})-(?P<segment>[A-Za-z0-9_-]{22})\.(?P<suffix>log|indexes|rsm-manifest)$",
    )
    .unwrap()
});

pub(super) fn classify(key: &str, prefix: Option<&str>) -> Option<ObjectClass> {
    let rest = match prefix {
        Some(p) => key.strip_prefix(p)?,
        // Without a configured prefix, an unknown prefix ending in '/' is skipped.
        None => strip_unknown_prefix(key),
    };
    let caps = KEY.captures(rest)?;
    let kind = match &caps["suffix"] {
        "log" => ObjectKind::Chunk,
        "indexes" => ObjectKind::Aux,
        _ => ObjectKind::Metadata,
    };
    Some(ObjectClass {
        system: System::Kafka,
        kind,
        stream: Some(caps["topic"].to_owned()),
        partition: caps["partition"].parse().ok(),
        sequence: caps["offset"].parse().ok(),
    })
}

/// The key from its third-to-last `/`-separated component on (topic-id/partition/file).
fn strip_unknown_prefix(key: &str) -> &str {
    let mut slashes = key.rmatch_indices('/').map(|(i, _)| i);
    let _file = slashes.next();
    let _partition = slashes.next();
    match slashes.next() {
        Some(i) => &key[i + 1..],
        None => key,
    }
}
