//! Redpanda tiered storage: `<hash8|cluster-uuid>/<ns>/<topic>/<p>_<rev>/<segment>` plus manifests.

use std::sync::LazyLock;

use regex::Regex;

use super::{ObjectClass, ObjectKind, System};

static SEGMENT: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)]
    Regex::new(
        r"^(?:[0-9a-f]{8}|[0-9a-f-]{36})/(?P<ns>[^/]+)/(?P<topic>[^/]+)/(?P<partition>\d+)_\d+/(?P<base>\d+)-(?:\d+-\d+-)?\d+-v1\.log(?:\.\d+)?(?P<aux>\.index|\.tx)?$",
    )
    .unwrap()
});

static MANIFEST: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)]
    Regex::new(
        r"^[0-9a-f]{8}/meta/(?P<ns>[^/]+)/(?P<topic>[^/]+)/(?:(?P<partition>\d+)_\d+/)?[^/]*(?:manifest|lifecycle)[^/]*$",
    )
    .unwrap()
});

pub(super) fn classify(key: &str) -> Option<ObjectClass> {
    if let Some(caps) = SEGMENT.captures(key) {
        return Some(ObjectClass {
            system: System::Redpanda,
            kind: if caps.name("aux").is_some() {
                ObjectKind::Aux
            } else {
                ObjectKind::Chunk
            },
            stream: Some(stream(&caps["ns"], &caps["topic"])),
            partition: caps["partition"].parse().ok(),
            sequence: caps["base"].parse().ok(),
        });
    }
    if let Some(caps) = MANIFEST.captures(key) {
        return Some(ObjectClass {
            system: System::Redpanda,
            kind: ObjectKind::Metadata,
            stream: Some(stream(&caps["ns"], &caps["topic"])),
            partition: caps.name("partition").and_then(|p| p.as_str().parse().ok()),
            sequence: None,
        });
    }
    if key.ends_with("_lifecycle.bin") {
        return Some(ObjectClass {
            system: System::Redpanda,
            kind: ObjectKind::Metadata,
            stream: None,
            partition: None,
            sequence: None,
        });
    }
    None
}

fn stream(ns: &str, topic: &str) -> String {
    if ns == "kafka" {
        topic.to_owned()
    } else {
        format!("{ns}/{topic}")
    }
}
