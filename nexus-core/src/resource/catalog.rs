//! `kind: Store`, `kind: Streamlet` and `kind: Swarmlet`: what policies refer to.

use std::collections::BTreeMap;

use serde::Serialize;

use super::decode::{Cx, to_json};
use super::names::{Name, Version, check_bucket, check_digest};
use super::policy::name;
use super::yaml::Node;

/// An output store.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StoreSpec {
    /// The worker's embedded local-directory store.
    Embedded {},
    /// An S3 endpoint and bucket.
    S3(S3Store),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Store {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub path_style: bool,
    pub credentials: Credentials,
}

/// Where a store's keys come from; the keys themselves are never written in a resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Credentials {
    /// Environment variables of the worker.
    #[serde(rename_all = "camelCase")]
    Env {
        access_key_id: String,
        secret_access_key: String,
    },
    /// A named secret (a Kubernetes secret mounted on the worker).
    Secret(Name),
}

/// A streamlet descriptor.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamletSpec {
    pub version: Version,
    pub on: On,
    #[serde(rename = "type")]
    pub kind: StreamletType,
    pub interface: Interface,
    pub stateful: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hardware: Vec<Name>,
    pub limits: Limits,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, ParamSchema>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum On {
    #[serde(rename = "PUT")]
    Put,
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "ALL")]
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamletType {
    Transformer,
    Performance,
    Routing,
    Semantic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Interface {
    Bytes,
    DataSource,
    Events,
    /// Both a byte stage (writes: it may pick the output store) and a data-source stage
    /// (reads: it may serve them from where it put them).
    Routing,
}

impl Interface {
    /// The descriptor's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bytes => "bytes",
            Self::DataSource => "data-source",
            Self::Events => "events",
            Self::Routing => "routing",
        }
    }

    /// Whether writes run it as a byte stage.
    #[must_use]
    pub fn transforms_bytes(self) -> bool {
        matches!(self, Self::Bytes | Self::Routing)
    }

    /// Whether reads run it before the store (pre-GET).
    #[must_use]
    pub fn decides_reads(self) -> bool {
        matches!(self, Self::DataSource | Self::Routing)
    }
}

/// Resource limits of one streamlet invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    pub memory_bytes: u64,
    pub timeout_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
}

impl Limits {
    pub const DEFAULT: Self = Self {
        memory_bytes: 64 << 20,
        timeout_ms: 10_000,
        fuel: None,
    };
    /// Memory a streamlet may ask for: 1 MiB to 4 GiB.
    pub const MEMORY: (u64, u64) = (1 << 20, 4 << 30);
    /// Time a streamlet may take per call: 1 ms to 10 minutes.
    pub const TIMEOUT_MS: (u64, u64) = (1, 600_000);
}

/// One parameter a streamlet takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParamSchema {
    #[serde(rename = "type")]
    pub kind: ParamType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<serde_json::Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<serde_json::Number>,
    #[serde(rename = "enum", skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    Integer,
    Number,
    String,
    Boolean,
}

/// A swarmlet: a group of identical workers at one location.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SwarmletSpec {
    pub location: Name,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hardware: Vec<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

pub fn decode_store(cx: &mut Cx, node: &Node, path: &str) -> Option<StoreSpec> {
    let map = cx.map(node, path, &["embedded", "s3"])?;
    match (map.get("embedded"), map.get("s3")) {
        (Some(n), None) => {
            cx.map(n, &map.path_of("embedded"), &[])?;
            Some(StoreSpec::Embedded {})
        }
        (None, Some(n)) => decode_s3(cx, n, &map.path_of("s3")).map(StoreSpec::S3),
        _ => {
            cx.error(
                map.pos,
                path,
                "a store is exactly one of `embedded: {}` or `s3: {...}`",
            );
            None
        }
    }
}

fn decode_s3(cx: &mut Cx, node: &Node, path: &str) -> Option<S3Store> {
    let map = cx.map(
        node,
        path,
        &["endpoint", "bucket", "region", "pathStyle", "credentials"],
    )?;
    let endpoint = cx.required(&map, "endpoint").and_then(|n| {
        let p = map.path_of("endpoint");
        let e = cx.string(n, &p)?;
        if e.starts_with("http://") || e.starts_with("https://") {
            Some(e)
        } else {
            cx.error(
                n.pos,
                &p,
                format!("`{e}` is not an http:// or https:// URL"),
            );
            None
        }
    });
    let bucket = cx.required(&map, "bucket").and_then(|n| {
        let p = map.path_of("bucket");
        let b = cx.string(n, &p)?;
        check_bucket(&b).map_err(|e| cx.error(n.pos, &p, e)).ok()?;
        Some(b)
    });
    let region = match map.get("region") {
        Some(n) => cx.string(n, &map.path_of("region")),
        None => Some("us-east-1".to_owned()),
    };
    let path_style = match map.get("pathStyle") {
        Some(n) => cx.boolean(n, &map.path_of("pathStyle")),
        None => Some(false),
    };
    let credentials = cx
        .required(&map, "credentials")
        .and_then(|n| decode_credentials(cx, n, &map.path_of("credentials")));
    Some(S3Store {
        endpoint: endpoint?,
        bucket: bucket?,
        region: region?,
        path_style: path_style?,
        credentials: credentials?,
    })
}

fn decode_credentials(cx: &mut Cx, node: &Node, path: &str) -> Option<Credentials> {
    if let super::yaml::Value::Map(entries) = &node.value {
        for (k, _) in entries {
            if matches!(
                k.text.as_str(),
                "accessKeyId" | "secretAccessKey" | "accessKey" | "secretKey"
            ) {
                cx.push(
                    super::diag::Diagnostic::error(
                        k.pos,
                        &super::decode::join(path, &k.text),
                        "credentials are never written into a resource",
                    )
                    .with_help("name environment variables (`env: {accessKeyId: VAR, secretAccessKey: VAR}`) or a secret (`secret: NAME`)"),
                );
                return None;
            }
        }
    }
    let map = cx.map(node, path, &["env", "secret"])?;
    match (map.get("env"), map.get("secret")) {
        (Some(n), None) => {
            let p = map.path_of("env");
            let env = cx.map(n, &p, &["accessKeyId", "secretAccessKey"])?;
            let var = |cx: &mut Cx, field: &str| {
                let node = cx.required(&env, field)?;
                let p = env.path_of(field);
                let v = cx.string(node, &p)?;
                if !v.is_empty()
                    && v.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                {
                    Some(v)
                } else {
                    cx.error(
                        node.pos,
                        &p,
                        format!("`{v}` is not an environment variable name (A-Z, 0-9, _)"),
                    );
                    None
                }
            };
            let a = var(cx, "accessKeyId");
            let s = var(cx, "secretAccessKey");
            Some(Credentials::Env {
                access_key_id: a?,
                secret_access_key: s?,
            })
        }
        (None, Some(n)) => name(cx, n, &map.path_of("secret")).map(Credentials::Secret),
        _ => {
            cx.error(
                map.pos,
                path,
                "credentials are exactly one of `env: {...}` or `secret: NAME`",
            );
            None
        }
    }
}

pub fn decode_streamlet(cx: &mut Cx, node: &Node, path: &str) -> Option<StreamletSpec> {
    let map = cx.map(
        node,
        path,
        &[
            "version",
            "on",
            "type",
            "interface",
            "stateful",
            "hardware",
            "limits",
            "params",
            "module",
        ],
    )?;
    let version = cx.required(&map, "version").and_then(|n| {
        let p = map.path_of("version");
        let v = cx.string(n, &p)?;
        Version::parse(&v).map_err(|e| cx.error(n.pos, &p, e)).ok()
    });
    let on = cx.required(&map, "on").and_then(|n| {
        cx.one_of(
            n,
            &map.path_of("on"),
            &[("PUT", On::Put), ("GET", On::Get), ("ALL", On::All)],
        )
    });
    let kind = cx.required(&map, "type").and_then(|n| {
        cx.one_of(
            n,
            &map.path_of("type"),
            &[
                ("transformer", StreamletType::Transformer),
                ("performance", StreamletType::Performance),
                ("routing", StreamletType::Routing),
                ("semantic", StreamletType::Semantic),
            ],
        )
    });
    let interface = cx.required(&map, "interface").and_then(|n| {
        cx.one_of(
            n,
            &map.path_of("interface"),
            &[
                ("bytes", Interface::Bytes),
                ("data-source", Interface::DataSource),
                ("events", Interface::Events),
                ("routing", Interface::Routing),
            ],
        )
    });
    let stateful = match map.get("stateful") {
        Some(n) => cx.boolean(n, &map.path_of("stateful")),
        None => Some(false),
    };
    let hardware = match map.get("hardware") {
        Some(n) => cx.list(n, &map.path_of("hardware"), name),
        None => Some(Vec::new()),
    };
    let limits = match map.get("limits") {
        Some(n) => decode_limits(cx, n, &map.path_of("limits")),
        None => Some(Limits::DEFAULT),
    };
    let params = match map.get("params") {
        Some(n) => decode_params(cx, n, &map.path_of("params")),
        None => Some(BTreeMap::new()),
    };
    let module = match map.get("module") {
        Some(n) => {
            let p = map.path_of("module");
            cx.string(n, &p)
                .and_then(|d| {
                    check_digest(&d)
                        .map_err(|e| cx.error(n.pos, &p, e))
                        .ok()
                        .map(|()| d)
                })
                .map(Some)
        }
        None => Some(None),
    };
    Some(StreamletSpec {
        version: version?,
        on: on?,
        kind: kind?,
        interface: interface?,
        stateful: stateful?,
        hardware: hardware?,
        limits: limits?,
        params: params?,
        module: module?,
    })
}

fn decode_limits(cx: &mut Cx, node: &Node, path: &str) -> Option<Limits> {
    let map = cx.map(node, path, &["memoryBytes", "timeoutMs", "fuel"])?;
    let bounded =
        |cx: &mut Cx, field: &str, default: u64, (lo, hi): (u64, u64)| match map.get(field) {
            None => Some(default),
            Some(n) => {
                let p = map.path_of(field);
                let v = cx.size(n, &p)?;
                if (lo..=hi).contains(&v) {
                    Some(v)
                } else {
                    cx.error(n.pos, &p, format!("{v} is out of range: {lo} to {hi}"));
                    None
                }
            }
        };
    let memory_bytes = bounded(
        cx,
        "memoryBytes",
        Limits::DEFAULT.memory_bytes,
        Limits::MEMORY,
    );
    let timeout_ms = bounded(
        cx,
        "timeoutMs",
        Limits::DEFAULT.timeout_ms,
        Limits::TIMEOUT_MS,
    );
    let fuel = match map.get("fuel") {
        Some(_) => bounded(cx, "fuel", 0, (1, u64::MAX)).map(Some),
        None => Some(None),
    };
    Some(Limits {
        memory_bytes: memory_bytes?,
        timeout_ms: timeout_ms?,
        fuel: fuel?,
    })
}

fn decode_params(cx: &mut Cx, node: &Node, path: &str) -> Option<BTreeMap<String, ParamSchema>> {
    // Parameter names are the streamlet author's choice.
    let map = cx.any_map(node, path)?;
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (key, value) in map.entries() {
        let p = super::decode::join(path, &key.text);
        match decode_param(cx, value, &p) {
            Some(s) => {
                out.insert(key.text.clone(), s);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn decode_param(cx: &mut Cx, node: &Node, path: &str) -> Option<ParamSchema> {
    let map = cx.map(
        node,
        path,
        &["type", "min", "max", "enum", "default", "required"],
    )?;
    let kind = cx.required(&map, "type").and_then(|n| {
        cx.one_of(
            n,
            &map.path_of("type"),
            &[
                ("integer", ParamType::Integer),
                ("number", ParamType::Number),
                ("string", ParamType::String),
                ("boolean", ParamType::Boolean),
            ],
        )
    });
    let number = |cx: &mut Cx, field: &str| match map.get(field) {
        None => Some(None),
        Some(n) => match to_json(n) {
            serde_json::Value::Number(f) => Some(Some(f)),
            _ => {
                cx.error(n.pos, &map.path_of(field), "expected a number");
                None
            }
        },
    };
    let min = number(cx, "min");
    let max = number(cx, "max");
    let one_of = match map.get("enum") {
        Some(n) => cx.list(n, &map.path_of("enum"), |_, n, _| Some(to_json(n))),
        None => Some(Vec::new()),
    };
    let required = match map.get("required") {
        Some(n) => cx.boolean(n, &map.path_of("required")),
        None => Some(false),
    };
    let schema = ParamSchema {
        kind: kind?,
        min: min?,
        max: max?,
        one_of: one_of?,
        default: map.get("default").map(to_json),
        required: required?,
    };
    if let (Some(lo), Some(hi)) = (&schema.min, &schema.max)
        && lo.as_f64() > hi.as_f64()
    {
        cx.error(map.pos, path, format!("min {lo} is greater than max {hi}"));
        return None;
    }
    if let (Some(d), Some(n)) = (&schema.default, map.get("default"))
        && let Err(e) = schema.check(d)
    {
        cx.error(n.pos, &map.path_of("default"), format!("the default {e}"));
        return None;
    }
    Some(schema)
}

impl ParamSchema {
    /// Checks a value against the schema.
    ///
    /// # Errors
    /// A phrase saying what is wrong (`is not an integer`, `3 is above the maximum 2`).
    pub fn check(&self, v: &serde_json::Value) -> Result<(), String> {
        let type_ok = match self.kind {
            ParamType::Integer => v.is_i64() || v.is_u64(),
            ParamType::Number => v.is_number(),
            ParamType::String => v.is_string(),
            ParamType::Boolean => v.is_boolean(),
        };
        if !type_ok {
            let t = format!("{:?}", self.kind).to_lowercase();
            return Err(format!(
                "{v} is not {} {t}",
                if t == "integer" { "an" } else { "a" }
            ));
        }
        if let Some(f) = v.as_f64() {
            if let Some(lo) = self
                .min
                .as_ref()
                .filter(|lo| lo.as_f64().is_some_and(|lo| f < lo))
            {
                return Err(format!("{v} is below the minimum {lo}"));
            }
            if let Some(hi) = self
                .max
                .as_ref()
                .filter(|hi| hi.as_f64().is_some_and(|hi| f > hi))
            {
                return Err(format!("{v} is above the maximum {hi}"));
            }
        }
        if !self.one_of.is_empty() && !self.one_of.contains(v) {
            return Err(format!(
                "{v} is not one of {}",
                serde_json::Value::from(self.one_of.clone())
            ));
        }
        Ok(())
    }
}

pub fn decode_swarmlet(cx: &mut Cx, node: &Node, path: &str) -> Option<SwarmletSpec> {
    let map = cx.map(node, path, &["location", "hardware", "endpoint"])?;
    let location = cx
        .required(&map, "location")
        .and_then(|n| name(cx, n, &map.path_of("location")));
    let hardware = match map.get("hardware") {
        Some(n) => cx.list(n, &map.path_of("hardware"), name),
        None => Some(Vec::new()),
    };
    let endpoint = match map.get("endpoint") {
        Some(n) => cx.string(n, &map.path_of("endpoint")).map(Some),
        None => Some(None),
    };
    Some(SwarmletSpec {
        location: location?,
        hardware: hardware?,
        endpoint: endpoint?,
    })
}
