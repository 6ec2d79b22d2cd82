//! `kind: Policy`: which streamlets run on which objects, where, and where the result goes.

use serde::Serialize;

use crate::keys::{ObjectKind, System};

use super::decode::{Cx, index, to_json};
use super::glob::Glob;
use super::names::{Name, Version, check_bucket};
use super::yaml::{Node, Pos, Value};

/// A policy's spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySpec {
    pub system: System,
    pub target: Target,
    pub pipeline: Vec<Stage>,
    /// Plaintext bytes per stored frame (`frameSize`, 64 KiB to 16 MiB); the worker's default
    /// (1 MiB) when absent. Larger frames compress better; smaller ones make range reads cheaper.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_size: Option<u64>,
    #[serde(skip_serializing_if = "Output::is_default")]
    pub output: Output,
}

/// The bounds of `frameSize`.
pub const FRAME_SIZE_RANGE: (u64, u64) = (64 << 10, 16 << 20);

/// Which objects a policy applies to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub bucket: String,
    /// The broker's key prefix (Kafka `key.prefix`, Pravega `s3.prefix`), given to the grammar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    /// Stream globs (`*` any run, `?` one character); all streams when absent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<Glob>,
    /// Partitions as inclusive ranges; all partitions when absent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<PartitionRange>,
    /// Object kinds; data chunks only when absent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<ObjectKind>,
    #[serde(skip)]
    pub pos: Pos,
}

/// An inclusive partition range (`7` is `7-7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionRange {
    pub first: u64,
    pub last: u64,
}

/// One pipeline stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// The streamlet's name, written `name` or `name@1.2.3`.
    #[serde(serialize_with = "ser_streamlet_ref", rename = "streamlet")]
    pub streamlet: (Name, Option<Version>),
    pub location: Name,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hardware: Vec<Name>,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Where the stage and each parameter are in the source (for referential diagnostics).
    #[serde(skip)]
    pub pos: Pos,
    #[serde(skip)]
    pub param_pos: std::collections::BTreeMap<String, Pos>,
}

/// Where results are stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// A `Store` resource; the worker's own backend when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<Name>,
    /// Stores a routing streamlet may choose instead.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Name>,
    #[serde(skip)]
    pub pos: Pos,
}

impl Output {
    fn is_default(&self) -> bool {
        self.store.is_none() && self.alternatives.is_empty()
    }
}

impl Target {
    /// The object kinds this target covers (data chunks by default).
    #[must_use]
    pub fn effective_kinds(&self) -> Vec<ObjectKind> {
        if self.kinds.is_empty() {
            vec![ObjectKind::Chunk]
        } else {
            self.kinds.clone()
        }
    }

    /// Whether objects of `kind` are targeted (data chunks when `kinds` is absent).
    #[must_use]
    pub fn accepts_kind(&self, kind: ObjectKind) -> bool {
        if self.kinds.is_empty() {
            kind == ObjectKind::Chunk
        } else {
            self.kinds.contains(&kind)
        }
    }

    /// Whether `partition` is covered (`None`, an object without partition, only when all are).
    #[must_use]
    pub fn covers_partition(&self, partition: Option<u64>) -> bool {
        self.partitions.is_empty()
            || partition.is_some_and(|p| {
                self.partitions
                    .iter()
                    .any(|r| (r.first..=r.last).contains(&p))
            })
    }
}

impl Serialize for PartitionRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.first == self.last {
            s.serialize_u64(self.first)
        } else {
            s.collect_str(&format_args!("{}-{}", self.first, self.last))
        }
    }
}

fn ser_streamlet_ref<S: serde::Serializer>(
    r: &(Name, Option<Version>),
    s: S,
) -> Result<S::Ok, S::Error> {
    match &r.1 {
        Some(v) => s.collect_str(&format_args!("{}@{v}", r.0)),
        None => s.serialize_str(r.0.as_str()),
    }
}

const SYSTEMS: [(&str, System); 5] = [
    ("kafka", System::Kafka),
    ("pulsar", System::Pulsar),
    ("pravega", System::Pravega),
    ("redpanda", System::Redpanda),
    ("generic", System::Generic),
];

const KINDS: [(&str, ObjectKind); 3] = [
    ("chunk", ObjectKind::Chunk),
    ("aux", ObjectKind::Aux),
    ("metadata", ObjectKind::Metadata),
];

/// Reads a policy spec.
pub fn decode(cx: &mut Cx, node: &Node, path: &str) -> Option<PolicySpec> {
    let map = cx.map(
        node,
        path,
        &["system", "target", "pipeline", "frameSize", "output"],
    )?;
    let system = cx
        .required(&map, "system")
        .and_then(|n| cx.one_of(n, &map.path_of("system"), &SYSTEMS));
    let target = cx
        .required(&map, "target")
        .and_then(|n| decode_target(cx, n, &map.path_of("target")));
    let pipeline = match cx.required(&map, "pipeline") {
        Some(n) => cx.list(n, &map.path_of("pipeline"), decode_stage),
        None => None,
    };
    let output = match map.get("output") {
        Some(n) => decode_output(cx, n, &map.path_of("output")),
        None => Some(Output::default()),
    };
    let frame_size = match map.get("frameSize") {
        None => Some(None),
        Some(n) => {
            let p = map.path_of("frameSize");
            let (lo, hi) = FRAME_SIZE_RANGE;
            match cx.size(n, &p) {
                Some(v) if (lo..=hi).contains(&v) => Some(Some(v)),
                Some(v) => {
                    cx.error(
                        n.pos,
                        &p,
                        format!("{v} is out of range: {lo} (64KiB) to {hi} (16MiB)"),
                    );
                    None
                }
                None => None,
            }
        }
    };
    Some(PolicySpec {
        system: system?,
        target: target?,
        pipeline: pipeline?,
        frame_size: frame_size?,
        output: output?,
    })
}

fn decode_target(cx: &mut Cx, node: &Node, path: &str) -> Option<Target> {
    let map = cx.map(
        node,
        path,
        &["bucket", "keyPrefix", "streams", "partitions", "kinds"],
    )?;
    let bucket = cx.required(&map, "bucket").and_then(|n| {
        let p = map.path_of("bucket");
        let b = cx.string(n, &p)?;
        match check_bucket(&b) {
            Ok(()) => Some(b),
            Err(e) => {
                cx.error(n.pos, &p, e);
                None
            }
        }
    });
    let key_prefix = match map.get("keyPrefix") {
        Some(n) => cx.string(n, &map.path_of("keyPrefix")).map(Some),
        None => Some(None),
    };
    let streams = match map.get("streams") {
        Some(n) => cx.list(n, &map.path_of("streams"), |cx, n, p| {
            let s = cx.string(n, p)?;
            match Glob::parse(&s) {
                Ok(g) => Some(g),
                Err(e) => {
                    cx.error(n.pos, p, e);
                    None
                }
            }
        }),
        None => Some(Vec::new()),
    };
    let partitions = match map.get("partitions") {
        Some(n) => cx.list(n, &map.path_of("partitions"), decode_partitions),
        None => Some(Vec::new()),
    };
    let kinds = match map.get("kinds") {
        Some(n) => cx.list(n, &map.path_of("kinds"), |cx, n, p| cx.one_of(n, p, &KINDS)),
        None => Some(Vec::new()),
    };
    Some(Target {
        bucket: bucket?,
        key_prefix: key_prefix?,
        streams: streams?,
        partitions: partitions?,
        kinds: kinds?,
        pos: node.pos,
    })
}

fn decode_partitions(cx: &mut Cx, node: &Node, path: &str) -> Option<PartitionRange> {
    let text = cx.string(node, path)?;
    let parse = |s: &str| s.trim().parse::<u64>().ok();
    let range = match text.split_once('-') {
        None => parse(&text).map(|p| PartitionRange { first: p, last: p }),
        Some((a, b)) => match (parse(a), parse(b)) {
            (Some(first), Some(last)) if first <= last => Some(PartitionRange { first, last }),
            _ => None,
        },
    };
    if range.is_none() {
        cx.error(
            node.pos,
            path,
            format!("`{text}` is not a partition: expected a number such as 3 or a range such as \"0-7\""),
        );
    }
    range
}

fn decode_stage(cx: &mut Cx, node: &Node, path: &str) -> Option<Stage> {
    let map = cx.map(node, path, &["streamlet", "location", "hardware", "params"])?;
    let streamlet = cx.required(&map, "streamlet").and_then(|n| {
        let p = map.path_of("streamlet");
        let text = cx.string(n, &p)?;
        let (name, version) = match text.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (text.as_str(), None),
        };
        let name = Name::parse(name).map_err(|e| cx.error(n.pos, &p, e)).ok();
        let version = match version.map(Version::parse) {
            Some(Ok(v)) => Some(Some(v)),
            Some(Err(e)) => {
                cx.error(n.pos, &p, e);
                None
            }
            None => Some(None),
        };
        Some((name?, version?))
    });
    let location = cx
        .required(&map, "location")
        .and_then(|n| name(cx, n, &map.path_of("location")));
    let hardware = match map.get("hardware") {
        Some(n) => cx.list(n, &map.path_of("hardware"), name),
        None => Some(Vec::new()),
    };
    let params = match map.get("params") {
        // Any keys are allowed in params; the streamlet's schema checks them.
        Some(n) => match to_json(n) {
            serde_json::Value::Object(m) => Some(m),
            serde_json::Value::Null => Some(serde_json::Map::new()),
            _ => {
                let found = n.value.type_name();
                cx.error(
                    n.pos,
                    &map.path_of("params"),
                    format!("expected a mapping, found {found}"),
                );
                None
            }
        },
        None => Some(serde_json::Map::new()),
    };
    let param_pos = match map.get("params").map(|n| &n.value) {
        Some(Value::Map(entries)) => entries
            .iter()
            .map(|(k, _)| (k.text.clone(), k.pos))
            .collect(),
        _ => std::collections::BTreeMap::new(),
    };
    Some(Stage {
        pos: node.pos,
        param_pos,
        streamlet: streamlet?,
        location: location?,
        hardware: hardware?,
        params: params?,
    })
}

fn decode_output(cx: &mut Cx, node: &Node, path: &str) -> Option<Output> {
    let map = cx.map(node, path, &["store", "alternatives"])?;
    let store = match map.get("store") {
        Some(n) => name(cx, n, &map.path_of("store")).map(Some),
        None => Some(None),
    };
    let alternatives = match map.get("alternatives") {
        Some(n) => cx.list(n, &map.path_of("alternatives"), name),
        None => Some(Vec::new()),
    };
    Some(Output {
        store: store?,
        alternatives: alternatives?,
        pos: node.pos,
    })
}

/// Reads a [`Name`].
pub fn name(cx: &mut Cx, node: &Node, path: &str) -> Option<Name> {
    let text = cx.string(node, path)?;
    Name::parse(&text)
        .map_err(|e| cx.error(node.pos, path, e))
        .ok()
}

/// The path of stage `i`'s field.
#[must_use]
pub fn stage_path(i: usize, field: &str) -> String {
    format!("{}.{field}", index("spec.pipeline", i))
}
