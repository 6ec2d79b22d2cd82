//! Pravega SLTS on S3: `<prefix><scope>/<stream>/<n>.#epoch.<e>[#transaction.<hex>][$aux].E-<ce>-O-<offset>.<uuid>`.

use std::sync::LazyLock;

use regex::Regex;

use super::{ObjectClass, ObjectKind, System};

static CHUNK: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)]
    Regex::new(
        r"^(?P<scope>[A-Za-z0-9.\-]+)/(?P<stream>_?[A-Za-z0-9.\-]+)/(?P<number>\d+)\.#epoch\.(?P<epoch>\d+)(?:#transaction\.[0-9a-f]{32})?(?P<aux>\$attributes\.index|\$header)?\.E-\d+-O-(?P<offset>\d+)\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    )
    .unwrap()
});

pub(super) fn classify(key: &str, prefix: Option<&str>) -> Option<ObjectClass> {
    let rest = strip_prefix(key, prefix)?;
    if rest.starts_with("_system/") || rest.contains("/_tables/") {
        return Some(metadata(None));
    }
    if let Some(caps) = CHUNK.captures(rest) {
        let stream = format!("{}/{}", &caps["scope"], &caps["stream"]);
        let internal = caps["stream"].starts_with('_') || caps.name("aux").is_some();
        let number: u64 = caps["number"].parse().ok()?;
        let epoch: u64 = caps["epoch"].parse().ok()?;
        return Some(ObjectClass {
            system: System::Pravega,
            kind: if internal {
                ObjectKind::Metadata
            } else {
                ObjectKind::Chunk
            },
            stream: Some(stream),
            partition: epoch.checked_shl(32).map(|e| e | (number & 0xFFFF_FFFF)),
            sequence: caps["offset"].parse().ok(),
        });
    }
    None
}

fn metadata(stream: Option<String>) -> ObjectClass {
    ObjectClass {
        system: System::Pravega,
        kind: ObjectKind::Metadata,
        stream,
        partition: None,
        sequence: None,
    }
}

/// Strips the configured prefix (a trailing `/` is always implied, as Pravega adds one), or any
/// leading path up to the scope when none is configured.
fn strip_prefix<'a>(key: &'a str, prefix: Option<&str>) -> Option<&'a str> {
    match prefix {
        Some(p) => {
            let p = p.trim_end_matches('/');
            let rest = key.strip_prefix(p)?;
            rest.strip_prefix('/')
        }
        None => {
            let rest = key.trim_start_matches('/');
            if let Some(i) = rest.find("_system/") {
                return Some(&rest[i..]);
            }
            // scope/stream/segment-file: the last three components.
            let mut slashes = rest.rmatch_indices('/').map(|(i, _)| i);
            let _ = slashes.next();
            let _ = slashes.next();
            Some(match slashes.next() {
                Some(i) if !rest[i + 1..].contains("/_tables/") => &rest[i + 1..],
                _ => rest,
            })
        }
    }
}
