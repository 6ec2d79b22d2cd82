//! Resource documents: `apiVersion: nexus/v1`, `kind`, `metadata`, `spec`; several per file.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::meta::ResourceKind;

use super::catalog::{self, StoreSpec, StreamletSpec, SwarmletSpec};
use super::decode::Cx;
use super::diag::Diagnostic;
use super::names::Name;
use super::policy::{self, PolicySpec};
use super::yaml::{self, Node, Pos};

/// The only API version.
pub const API_VERSION: &str = "nexus/v1";

/// A parsed, structurally valid resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub api_version: &'static str,
    #[serde(flatten)]
    pub spec: Spec,
    #[serde(skip)]
    pub pos: Pos,
}

/// `kind` and `spec` together (serialized as `kind: X` plus `metadata` and `spec`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind")]
pub enum Spec {
    Policy {
        metadata: Metadata,
        spec: PolicySpec,
    },
    Store {
        metadata: Metadata,
        spec: StoreSpec,
    },
    Streamlet {
        metadata: Metadata,
        spec: StreamletSpec,
    },
    Swarmlet {
        metadata: Metadata,
        spec: SwarmletSpec,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metadata {
    pub name: Name,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// What reading a file gave: the valid resources and every diagnostic.
#[derive(Debug, Default)]
pub struct Parsed {
    pub resources: Vec<Resource>,
    pub diags: Vec<Diagnostic>,
}

impl Resource {
    #[must_use]
    pub fn kind(&self) -> ResourceKind {
        match &self.spec {
            Spec::Policy { .. } => ResourceKind::Policy,
            Spec::Store { .. } => ResourceKind::Store,
            Spec::Streamlet { .. } => ResourceKind::Streamlet,
            Spec::Swarmlet { .. } => ResourceKind::Swarmlet,
        }
    }

    #[must_use]
    pub fn metadata(&self) -> &Metadata {
        match &self.spec {
            Spec::Policy { metadata, .. }
            | Spec::Store { metadata, .. }
            | Spec::Streamlet { metadata, .. }
            | Spec::Swarmlet { metadata, .. } => metadata,
        }
    }

    #[must_use]
    pub fn name(&self) -> &str {
        self.metadata().name.as_str()
    }

    /// The canonical text stored in the metadata store (and printed by `-o yaml`): YAML with
    /// fields in a fixed order and defaults left out, so equal resources have equal bodies.
    #[must_use]
    pub fn to_yaml(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or_default();
        super::emit::yaml(&value)
    }
}

/// Reads every document of `src`, reporting every problem with `file` and position.
#[must_use]
pub fn parse_str(file: &str, src: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let docs = match yaml::parse(src) {
        Ok(d) => d,
        Err(e) => {
            parsed.diags.push(
                Diagnostic::error(e.pos, "", format!("not valid YAML: {}", e.message))
                    .in_file(file),
            );
            return parsed;
        }
    };
    if docs.is_empty() {
        parsed.diags.push(
            Diagnostic::error(Pos { line: 1, col: 1 }, "", "no resources in this file")
                .in_file(file),
        );
    }
    let mut cx = Cx::default();
    for doc in &docs {
        if let Some(r) = decode(&mut cx, &doc.root) {
            parsed.resources.push(r);
        }
    }
    parsed
        .diags
        .extend(cx.diags.into_iter().map(|d| d.in_file(file)));
    check_duplicates(file, &mut parsed);
    parsed
}

fn check_duplicates(file: &str, parsed: &mut Parsed) {
    let mut seen: BTreeMap<(ResourceKind, &str), Pos> = BTreeMap::new();
    for r in &parsed.resources {
        if let Some(first) = seen.insert((r.kind(), r.name()), r.pos) {
            parsed.diags.push(
                Diagnostic::error(
                    r.pos,
                    "metadata.name",
                    format!(
                        "{} `{}` is defined twice (first at line {})",
                        r.kind().as_str(),
                        r.name(),
                        first.line
                    ),
                )
                .in_file(file),
            );
        }
    }
}

const KINDS: [(&str, ResourceKind); 4] = [
    ("Policy", ResourceKind::Policy),
    ("Store", ResourceKind::Store),
    ("Streamlet", ResourceKind::Streamlet),
    ("Swarmlet", ResourceKind::Swarmlet),
];

fn decode(cx: &mut Cx, root: &Node) -> Option<Resource> {
    let map = cx.map(root, "", &["apiVersion", "kind", "metadata", "spec"])?;
    let api = cx.required(&map, "apiVersion").and_then(|n| {
        let v = cx.string(n, "apiVersion")?;
        if v == API_VERSION {
            Some(())
        } else {
            cx.push(
                Diagnostic::error(n.pos, "apiVersion", format!("unsupported apiVersion `{v}`"))
                    .with_help(format!("this Nexus reads `{API_VERSION}`")),
            );
            None
        }
    });
    let kind = cx
        .required(&map, "kind")
        .and_then(|n| cx.one_of(n, "kind", &KINDS));
    let metadata = cx
        .required(&map, "metadata")
        .and_then(|n| decode_metadata(cx, n));
    let spec_node = cx.required(&map, "spec");
    let spec = match (kind, spec_node) {
        (Some(kind), Some(n)) => decode_spec(cx, kind, n),
        _ => None,
    };
    api?;
    let metadata = metadata?;
    let spec = match spec? {
        Partial::Policy(spec) => Spec::Policy { metadata, spec },
        Partial::Store(spec) => Spec::Store { metadata, spec },
        Partial::Streamlet(spec) => Spec::Streamlet { metadata, spec },
        Partial::Swarmlet(spec) => Spec::Swarmlet { metadata, spec },
    };
    Some(Resource {
        api_version: API_VERSION,
        spec,
        pos: root.pos,
    })
}

enum Partial {
    Policy(PolicySpec),
    Store(StoreSpec),
    Streamlet(StreamletSpec),
    Swarmlet(SwarmletSpec),
}

fn decode_spec(cx: &mut Cx, kind: ResourceKind, n: &Node) -> Option<Partial> {
    match kind {
        ResourceKind::Policy => policy::decode(cx, n, "spec").map(Partial::Policy),
        ResourceKind::Store => catalog::decode_store(cx, n, "spec").map(Partial::Store),
        ResourceKind::Streamlet => catalog::decode_streamlet(cx, n, "spec").map(Partial::Streamlet),
        ResourceKind::Swarmlet => catalog::decode_swarmlet(cx, n, "spec").map(Partial::Swarmlet),
    }
}

fn decode_metadata(cx: &mut Cx, node: &Node) -> Option<Metadata> {
    let map = cx.map(node, "metadata", &["name", "labels"])?;
    let name = cx
        .required(&map, "name")
        .and_then(|n| policy::name(cx, n, "metadata.name"));
    let labels = match map.get("labels") {
        None => Some(BTreeMap::new()),
        Some(n) => {
            let labels = cx.any_map(n, "metadata.labels")?;
            let mut out = BTreeMap::new();
            for (k, v) in labels.entries() {
                if let Some(v) = cx.string(v, &labels.path_of(&k.text)) {
                    out.insert(k.text.clone(), v);
                }
            }
            Some(out)
        }
    };
    Some(Metadata {
        name: name?,
        labels: labels?,
    })
}
