//! Which streamlets a write runs ([`Plan`], from the policy and the deployed descriptors) and
//! what is recorded with the object so that reads reverse exactly that ([`Recorded`], in the
//! object's metadata; `docs/formats.md` §2).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nexus_core::meta::Digest;
use nexus_core::resource::{CompiledPolicy, PolicySet, Resource, Spec};
use nexus_core::resource::{Interface, Limits as DescriptorLimits, On, StreamletSpec};
use serde_json::{Map, Value};

use crate::streamlet::Limits;

/// Metadata keys of transformed objects (all under the reserved `nexus-` prefix).
pub mod keys {
    pub const FORMAT: &str = "nexus-format";
    pub const FORMAT_NXF1: &str = "nxf1";
    pub const SIZE: &str = "nexus-size";
    pub const ETAG: &str = "nexus-etag";
    pub const PIPELINE: &str = "nexus-pipeline";
    pub const PARAMS: &str = "nexus-params";
    pub const CTX: &str = "nexus-ctx";
    pub const CHECKSUM: &str = "nexus-checksum";
    pub const PLACEMENT: &str = "nexus-placement";
}

/// One stage as a write runs it.
#[derive(Debug, Clone)]
pub struct StagePlan {
    pub name: Arc<str>,
    pub digest: Digest,
    pub params: Arc<Map<String, Value>>,
    pub limits: Limits,
    /// Whether reads run it in reverse (`on: ALL`); `on: PUT` stages run on writes only.
    pub reversible: bool,
    /// Where it runs (the mesh places it; one node runs everything).
    pub placement: Placement,
    /// The streamlet keeps per-partition state (`stateful: true`): in a mesh it runs in the
    /// state's home swarmlet (`mesh-protocol.md` §5).
    pub stateful: bool,
}

/// A stage's location and the hardware labels its worker must have. An empty location (plans
/// recorded before placement was) runs anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Placement {
    #[serde(default)]
    pub location: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hardware: Vec<String>,
}

impl Placement {
    fn of(stage: &nexus_core::resource::Stage) -> Self {
        Self {
            location: stage.location.as_str().to_owned(),
            hardware: stage
                .hardware
                .iter()
                .map(|h| h.as_str().to_owned())
                .collect(),
        }
    }
}

/// The stages a write under a policy runs, in order.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `name@version` of the policy.
    pub policy: String,
    pub stages: Vec<StagePlan>,
    /// Plaintext bytes per frame.
    pub frame_size: usize,
    /// The policy's `spec.output.store`: where the object is stored (`None`: the bucket's own
    /// store). A routing stage may still pick one of the alternatives.
    pub store: Option<String>,
}

impl Plan {
    /// The plan for writes under `policy`, or why there is none (a sentence for the log).
    ///
    /// # Errors
    /// A stage's streamlet is not applied, not deployed (no module), or not a byte streamlet.
    pub fn for_policy(set: &PolicySet, policy: &CompiledPolicy) -> Result<Self, String> {
        let mut stages = Vec::new();
        for (i, stage) in policy.spec.pipeline.iter().enumerate() {
            let (name, version) = &stage.streamlet;
            let found = set.streamlets().find(|(n, s)| {
                *n == name.as_str() && version.as_ref().is_none_or(|v| *v == s.version)
            });
            let Some((_, spec)) = found else {
                return Err(format!("stage {i}: streamlet `{name}` is not applied"));
            };
            match spec.interface {
                Interface::Bytes | Interface::Routing => {}
                // Data-source stages decide reads ([`data_sources`]); writes skip them.
                Interface::DataSource => continue,
                Interface::Events => {
                    return Err(format!(
                        "stage {i}: streamlet `{name}` is an event streamlet, which this worker does not run"
                    ));
                }
            }
            if spec.on == On::Get {
                continue;
            }
            let Some(module) = &spec.module else {
                return Err(format!(
                    "stage {i}: streamlet `{name}` has no module deployed"
                ));
            };
            let digest = module
                .parse::<Digest>()
                .map_err(|e| format!("stage {i}: streamlet `{name}` module digest: {e}"))?;
            stages.push(StagePlan {
                name: Arc::from(name.as_str()),
                digest,
                params: Arc::new(with_defaults(spec, &stage.params)),
                limits: limits(&spec.limits),
                reversible: spec.on == On::All,
                placement: Placement::of(stage),
                stateful: spec.stateful,
            });
        }
        Ok(Self {
            policy: format!("{}@{}", policy.name, policy.version),
            stages,
            frame_size: policy
                .spec
                .frame_size
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(super::FRAME_SIZE),
            store: policy.spec.output.store.as_ref().map(ToString::to_string),
        })
    }

    /// The policy's name (metrics label it by name, not by version).
    #[must_use]
    pub fn policy_name(&self) -> &str {
        self.policy
            .split_once('@')
            .map_or(self.policy.as_str(), |(name, _)| name)
    }

    /// What reads need: the reversible stages.
    #[must_use]
    pub fn recorded(&self) -> Recorded {
        Recorded {
            stages: self
                .stages
                .iter()
                .filter(|s| s.reversible)
                .map(|s| RecordedStage {
                    name: s.name.to_string(),
                    digest: s.digest.clone(),
                    params: (*s.params).clone(),
                    placement: s.placement.clone(),
                })
                .collect(),
        }
    }
}

/// The data-source stages of `policy` in pipeline order: what runs before a read of an object
/// the policy now matches (reads of what is stored follow the recorded pipeline instead).
///
/// # Errors
/// A data-source stage's streamlet is not applied or has no module deployed.
pub fn data_sources(set: &PolicySet, policy: &CompiledPolicy) -> Result<Vec<StagePlan>, String> {
    let mut stages = Vec::new();
    for (i, stage) in policy.spec.pipeline.iter().enumerate() {
        let (name, version) = &stage.streamlet;
        let found = set
            .streamlets()
            .find(|(n, s)| *n == name.as_str() && version.as_ref().is_none_or(|v| *v == s.version));
        let Some((_, spec)) = found else {
            return Err(format!("stage {i}: streamlet `{name}` is not applied"));
        };
        if !spec.interface.decides_reads() {
            continue;
        }
        let digest = spec
            .module
            .as_deref()
            .ok_or_else(|| format!("stage {i}: streamlet `{name}` has no module deployed"))?
            .parse::<Digest>()
            .map_err(|e| format!("stage {i}: streamlet `{name}` module digest: {e}"))?;
        stages.push(StagePlan {
            name: Arc::from(name.as_str()),
            digest,
            params: Arc::new(with_defaults(spec, &stage.params)),
            limits: limits(&spec.limits),
            reversible: false,
            placement: Placement::of(stage),
            stateful: spec.stateful,
        });
    }
    Ok(stages)
}

/// A plan as stored in a multipart upload record (so every part follows the plan of
/// CreateMultipartUpload, whatever the policy says later).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PlanRecord {
    pub policy: String,
    pub stages: Vec<StageRecord>,
    /// Absent in records written before frame sizes were configurable: the default.
    #[serde(default)]
    pub frame_size: Option<usize>,
    /// The output store (absent: the bucket's own store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StageRecord {
    pub name: String,
    pub digest: String,
    pub params: Map<String, Value>,
    pub memory_bytes: usize,
    pub timeout_ms: u64,
    pub reversible: bool,
    #[serde(default, flatten)]
    pub placement: Placement,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stateful: bool,
}

impl From<&Plan> for PlanRecord {
    fn from(p: &Plan) -> Self {
        Self {
            policy: p.policy.clone(),
            stages: p
                .stages
                .iter()
                .map(|s| StageRecord {
                    name: s.name.to_string(),
                    digest: s.digest.to_string(),
                    params: (*s.params).clone(),
                    memory_bytes: s.limits.memory_bytes,
                    timeout_ms: u64::try_from(s.limits.timeout.as_millis()).unwrap_or(u64::MAX),
                    reversible: s.reversible,
                    placement: s.placement.clone(),
                    stateful: s.stateful,
                })
                .collect(),
            frame_size: Some(p.frame_size),
            store: p.store.clone(),
        }
    }
}

impl TryFrom<PlanRecord> for Plan {
    type Error = String;

    fn try_from(r: PlanRecord) -> Result<Self, String> {
        let stages = r
            .stages
            .into_iter()
            .map(|s| {
                Ok(StagePlan {
                    name: Arc::from(s.name.as_str()),
                    digest: s.digest.parse::<Digest>().map_err(|e| e.to_string())?,
                    params: Arc::new(s.params),
                    limits: Limits {
                        memory_bytes: s.memory_bytes,
                        timeout: Duration::from_millis(s.timeout_ms),
                    },
                    reversible: s.reversible,
                    placement: s.placement,
                    stateful: s.stateful,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            policy: r.policy,
            stages,
            frame_size: r.frame_size.unwrap_or(super::FRAME_SIZE),
            store: r.store,
        })
    }
}

/// Descriptor limits as the runtime takes them.
#[must_use]
pub fn limits(l: &DescriptorLimits) -> Limits {
    Limits {
        memory_bytes: usize::try_from(l.memory_bytes).unwrap_or(usize::MAX),
        timeout: Duration::from_millis(l.timeout_ms),
    }
}

fn with_defaults(spec: &StreamletSpec, given: &Map<String, Value>) -> Map<String, Value> {
    let mut params = Map::new();
    for (key, schema) in &spec.params {
        if let Some(d) = &schema.default {
            params.insert(key.clone(), d.clone());
        }
    }
    for (k, v) in given {
        params.insert(k.clone(), v.clone());
    }
    params
}

/// One reversible stage as recorded with an object.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedStage {
    pub name: String,
    pub digest: Digest,
    pub params: Map<String, Value>,
    /// Where it ran (`nexus-placement`; reads run it at the same place).
    pub placement: Placement,
}

/// The pipeline recorded with a transformed object (PUT order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recorded {
    pub stages: Vec<RecordedStage>,
}

impl Recorded {
    /// `nexus-pipeline` and `nexus-params` values.
    #[must_use]
    pub fn to_metadata(&self) -> (String, String) {
        let pipeline = self
            .stages
            .iter()
            .map(|s| format!("{}@{}", s.name, s.digest))
            .collect::<Vec<_>>()
            .join(",");
        let params: Vec<Value> = self
            .stages
            .iter()
            .map(|s| Value::Object(s.params.clone()))
            .collect();
        let params = URL_SAFE_NO_PAD.encode(Value::Array(params).to_string());
        (pipeline, params)
    }

    /// Reads them back.
    ///
    /// # Errors
    /// A sentence saying what is malformed.
    pub fn from_metadata(pipeline: &str, params: &str) -> Result<Self, String> {
        let json = URL_SAFE_NO_PAD
            .decode(params)
            .map_err(|e| format!("nexus-params is not base64url: {e}"))?;
        let params: Vec<Value> = serde_json::from_slice(&json)
            .map_err(|e| format!("nexus-params is not a JSON list: {e}"))?;
        let names: Vec<&str> = if pipeline.is_empty() {
            Vec::new()
        } else {
            pipeline.split(',').collect()
        };
        if names.len() != params.len() {
            return Err("nexus-pipeline and nexus-params name different numbers of stages".into());
        }
        let mut stages = Vec::new();
        for (entry, params) in names.into_iter().zip(params) {
            let (name, digest) = entry
                .split_once('@')
                .ok_or_else(|| format!("pipeline stage `{entry}` has no @digest"))?;
            let Value::Object(params) = params else {
                return Err(format!("params of `{name}` are not an object"));
            };
            stages.push(RecordedStage {
                name: name.to_owned(),
                digest: digest
                    .parse::<Digest>()
                    .map_err(|e| format!("stage `{name}`: {e}"))?,
                params,
                placement: Placement::default(),
            });
        }
        Ok(Self { stages })
    }

    /// The `nexus-placement` value: base64url of a JSON list of `{location, hardware}`, one per
    /// stage; `None` when no stage names a location.
    #[must_use]
    pub fn placement_metadata(&self) -> Option<String> {
        if self
            .stages
            .iter()
            .all(|s| s.placement == Placement::default())
        {
            return None;
        }
        let list: Vec<&Placement> = self.stages.iter().map(|s| &s.placement).collect();
        serde_json::to_string(&list)
            .ok()
            .map(|j| URL_SAFE_NO_PAD.encode(j))
    }

    /// Reads `nexus-placement` back into the stages.
    ///
    /// # Errors
    /// Malformed, or another number of stages.
    pub fn set_placement(&mut self, value: &str) -> Result<(), String> {
        let json = URL_SAFE_NO_PAD
            .decode(value)
            .map_err(|e| format!("nexus-placement is not base64url: {e}"))?;
        let list: Vec<Placement> = serde_json::from_slice(&json)
            .map_err(|e| format!("nexus-placement is not a JSON list: {e}"))?;
        if list.len() != self.stages.len() {
            return Err(
                "nexus-placement and nexus-pipeline name different numbers of stages".into(),
            );
        }
        for (s, p) in self.stages.iter_mut().zip(list) {
            s.placement = p;
        }
        Ok(())
    }
}

/// The pipeline context as stored (`nexus-ctx`): base64url of a JSON object.
#[must_use]
pub fn encode_ctx(entries: &BTreeMap<String, String>) -> Option<String> {
    if entries.is_empty() {
        return None;
    }
    serde_json::to_string(entries)
        .ok()
        .map(|j| URL_SAFE_NO_PAD.encode(j))
}

/// Reads `nexus-ctx` back (empty when absent or malformed: context is advisory for reads).
#[must_use]
pub fn decode_ctx(value: Option<&String>) -> BTreeMap<String, String> {
    value
        .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        .and_then(|j| serde_json::from_slice(&j).ok())
        .unwrap_or_default()
}

/// Limits for decoding with the module `digest`: the descriptor's, if one deployed with that
/// module is applied now, otherwise the defaults.
#[must_use]
pub fn limits_for(set: &PolicySet, digest: &Digest) -> Limits {
    set.streamlets()
        .find(|(_, s)| s.module.as_deref() == Some(digest.as_str()))
        .map_or_else(
            || limits(&DescriptorLimits::DEFAULT),
            |(_, s)| limits(&s.limits),
        )
}

/// Streamlet descriptors in a set, by name.
pub trait Streamlets {
    fn streamlets(&self) -> impl Iterator<Item = (&str, &StreamletSpec)>;
}

impl Streamlets for PolicySet {
    fn streamlets(&self) -> impl Iterator<Item = (&str, &StreamletSpec)> {
        self.of_kind(nexus_core::meta::ResourceKind::Streamlet)
            .filter_map(|r: &Resource| match &r.spec {
                Spec::Streamlet { metadata, spec } => Some((metadata.name.as_str(), spec)),
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_round_trips() {
        let d = Digest::of(b"module");
        let mut p = Map::new();
        p.insert("level".into(), Value::from(3));
        let r = Recorded {
            stages: vec![
                RecordedStage {
                    name: "compress-zstd".into(),
                    digest: d.clone(),
                    params: p,
                    placement: Placement {
                        location: "edge".into(),
                        hardware: vec!["gpu".into()],
                    },
                },
                RecordedStage {
                    name: "noop".into(),
                    digest: d,
                    params: Map::new(),
                    placement: Placement::default(),
                },
            ],
        };
        let (pipeline, params) = r.to_metadata();
        let placement = r.placement_metadata().expect("a located stage");
        let mut back = Recorded::from_metadata(&pipeline, &params).expect("back");
        back.set_placement(&placement).expect("placement");
        assert_eq!(back, r);
        assert!(back.set_placement(&URL_SAFE_NO_PAD.encode("[]")).is_err());
        assert!(pipeline.starts_with("compress-zstd@sha256:"), "{pipeline}");
        assert_eq!(
            Recorded::from_metadata(&pipeline, &params).map(|x| x.stages.len()),
            Ok(r.stages.len())
        );
        assert_eq!(
            Recorded::from_metadata("", &URL_SAFE_NO_PAD.encode("[]")),
            Ok(Recorded::default())
        );
        assert!(Recorded::from_metadata("x@sha256:00", &params).is_err());
        assert!(Recorded::from_metadata(&pipeline, "!!").is_err());
    }

    #[test]
    fn ctx_round_trips() {
        let mut e = BTreeMap::new();
        assert_eq!(encode_ctx(&e), None);
        e.insert("team".to_owned(), "storage".to_owned());
        let v = encode_ctx(&e);
        assert_eq!(decode_ctx(v.as_ref()), e);
        assert!(decode_ctx(Some(&"garbage".to_owned())).is_empty());
    }
}
