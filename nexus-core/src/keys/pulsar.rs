//! Pulsar's jclouds offloader: `<uuid>-ledger-<id>[-index]` (or `<uuid>[-index]` for streaming
//! offload); the stream comes from `x-amz-meta-managedledgername`.

use std::sync::LazyLock;

use regex::Regex;

use super::{ObjectClass, ObjectKind, System};

static KEY: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)]
    Regex::new(
        r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?:-ledger-(?P<ledger>\d+))?(?P<index>-index)?$",
    )
    .unwrap()
});

static LEDGER_NAME: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)]
    Regex::new(
        r"^(?P<tenant>[^/]+)/(?P<ns>[^/]+)/persistent/(?P<topic>.+?)(?:-partition-(?P<partition>\d+))?$",
    )
    .unwrap()
});

pub(super) fn classify(key: &str, managed_ledger_name: Option<&str>) -> Option<ObjectClass> {
    let caps = KEY.captures(key)?;
    let kind = if caps.name("index").is_some() {
        ObjectKind::Metadata
    } else {
        ObjectKind::Chunk
    };
    let (stream, partition) = managed_ledger_name
        .and_then(|name| LEDGER_NAME.captures(name))
        .map_or((None, None), |m| {
            (
                Some(format!("{}/{}/{}", &m["tenant"], &m["ns"], &m["topic"])),
                m.name("partition").and_then(|p| p.as_str().parse().ok()),
            )
        });
    Some(ObjectClass {
        system: System::Pulsar,
        kind,
        stream,
        partition,
        sequence: caps.name("ledger").and_then(|l| l.as_str().parse().ok()),
    })
}
