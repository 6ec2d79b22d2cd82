//! Referential validation: a set of resources checked against each other and against what the
//! metadata store already holds. Referents that may arrive later (a streamlet not deployed yet,
//! no swarmlet yet) are warnings; what is wrong for sure (a parameter outside a known
//! streamlet's schema, two policies that tie) is an error.

use std::collections::BTreeMap;

use crate::meta::ResourceKind;

use super::catalog::StreamletSpec;
use super::diag::{Diagnostic, suggest};
use super::document::{Resource, Spec};
use super::policy::{PolicySpec, stage_path};
use super::precedence::could_tie;

/// Checks several files' resources, each against the others and `stored`.
#[must_use]
pub fn check_files(files: &[(String, Vec<Resource>)], stored: &[Resource]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for (i, (file, resources)) in files.iter().enumerate() {
        let others: Vec<Resource> = stored
            .iter()
            .chain(
                files
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, (_, o))| o),
            )
            .cloned()
            .collect();
        diags.extend(check(file, resources, &others));
    }
    diags
}

/// Checks `new` (from `file`) against itself and `existing` (what is stored; a resource in
/// `new` replaces the stored one of the same kind and name).
#[must_use]
pub fn check(file: &str, new: &[Resource], existing: &[Resource]) -> Vec<Diagnostic> {
    let mut world: BTreeMap<(ResourceKind, &str), &Resource> = BTreeMap::new();
    for r in existing.iter().chain(new) {
        world.insert((r.kind(), r.name()), r);
    }
    let swarmlets: Vec<_> = world
        .values()
        .filter_map(|r| match &r.spec {
            Spec::Swarmlet { spec, .. } => Some(spec),
            _ => None,
        })
        .collect();
    let mut diags = Vec::new();
    for r in new {
        if let Spec::Policy { spec, .. } = &r.spec {
            check_policy(&mut diags, spec, &world, &swarmlets);
        }
    }
    check_ties(&mut diags, new, &world);
    diags.into_iter().map(|d| d.in_file(file)).collect()
}

fn check_policy(
    diags: &mut Vec<Diagnostic>,
    spec: &PolicySpec,
    world: &BTreeMap<(ResourceKind, &str), &Resource>,
    swarmlets: &[&super::catalog::SwarmletSpec],
) {
    for (i, stage) in spec.pipeline.iter().enumerate() {
        let pos = stage.pos;
        let (name, version) = &stage.streamlet;
        match world.get(&(ResourceKind::Streamlet, name.as_str())) {
            None => diags.push(
                Diagnostic::warning(pos, &stage_path(i, "streamlet"), format!("streamlet `{name}` is not deployed yet"))
                    .with_help("deploy it with `nexus streamlet deploy`; objects are not transformed until it is"),
            ),
            Some(r) => {
                if let Spec::Streamlet { spec: s, .. } = &r.spec {
                    if let Some(v) = version.filter(|v| *v != s.version) {
                        diags.push(Diagnostic::warning(
                            pos,
                            &stage_path(i, "streamlet"),
                            format!("the stage asks for {name}@{v}; version {} is deployed", s.version),
                        ));
                    }
                    check_params(diags, i, stage, s);
                }
            }
        }
        if !swarmlets.is_empty()
            && !swarmlets.iter().any(|w| {
                w.location == stage.location
                    && stage.hardware.iter().all(|h| w.hardware.contains(h))
            })
        {
            let hw = if stage.hardware.is_empty() {
                String::new()
            } else {
                format!(
                    " with hardware {}",
                    stage
                        .hardware
                        .iter()
                        .map(|h| h.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            };
            diags.push(Diagnostic::warning(
                pos,
                &stage_path(i, "location"),
                format!("no swarmlet offers location `{}`{hw}", stage.location),
            ));
        }
    }
    let pos = spec.output.pos;
    for (field, store) in spec
        .output
        .store
        .iter()
        .map(|s| ("spec.output.store", s))
        .chain(
            spec.output
                .alternatives
                .iter()
                .map(|s| ("spec.output.alternatives", s)),
        )
    {
        if !world.contains_key(&(ResourceKind::Store, store.as_str())) {
            diags.push(Diagnostic::warning(
                pos,
                field,
                format!("store `{store}` does not exist yet"),
            ));
        }
    }
}

fn check_params(
    diags: &mut Vec<Diagnostic>,
    i: usize,
    stage: &super::policy::Stage,
    streamlet: &StreamletSpec,
) {
    let (params, pos) = (&stage.params, stage.pos);
    for (key, value) in params {
        let pos = stage.param_pos.get(key).copied().unwrap_or(pos);
        let path = format!("{}.{key}", stage_path(i, "params"));
        match streamlet.params.get(key) {
            None => {
                let d = Diagnostic::error(
                    pos,
                    &path,
                    format!("the streamlet takes no parameter `{key}`"),
                );
                diags.push(
                    match suggest(key, streamlet.params.keys().map(String::as_str)) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d,
                    },
                );
            }
            Some(schema) => {
                if let Err(e) = schema.check(value) {
                    diags.push(Diagnostic::error(pos, &path, format!("`{key}`: {e}")));
                }
            }
        }
    }
    for (key, schema) in &streamlet.params {
        if schema.required && schema.default.is_none() && !params.contains_key(key) {
            diags.push(Diagnostic::error(
                pos,
                &stage_path(i, "params"),
                format!("missing required parameter `{key}`"),
            ));
        }
    }
}

fn check_ties(
    diags: &mut Vec<Diagnostic>,
    new: &[Resource],
    world: &BTreeMap<(ResourceKind, &str), &Resource>,
) {
    let policies: Vec<(&str, &PolicySpec)> = world
        .values()
        .filter_map(|r| match &r.spec {
            Spec::Policy { spec, .. } => Some((r.name(), spec)),
            _ => None,
        })
        .collect();
    for r in new {
        let Spec::Policy { spec: a, .. } = &r.spec else {
            continue;
        };
        for (other, b) in &policies {
            if *other == r.name() || a.target.bucket != b.target.bucket {
                continue;
            }
            // A pair defined in the same apply is reported once, at the first name.
            if *other < r.name()
                && new
                    .iter()
                    .any(|n| n.kind() == ResourceKind::Policy && n.name() == *other)
            {
                continue;
            }
            if a.system != b.system {
                diags.push(Diagnostic::error(
                    a.target.pos,
                    "spec.system",
                    format!(
                        "bucket `{}` is read as {} by policy `{other}`; one bucket has one key grammar",
                        a.target.bucket, b.system
                    ),
                ));
            } else if a.target.key_prefix != b.target.key_prefix {
                diags.push(Diagnostic::error(
                    a.target.pos,
                    "spec.target.keyPrefix",
                    format!(
                        "policy `{other}` gives bucket `{}` another keyPrefix",
                        a.target.bucket
                    ),
                ));
            } else if could_tie(&a.target, &b.target) {
                diags.push(
                    Diagnostic::error(
                        a.target.pos,
                        "spec.target",
                        format!("policies `{}` and `{other}` can match the same object with equal specificity", r.name()),
                    )
                    .with_help("make one target more specific (an exact stream, explicit partitions or kinds)"),
                );
            }
        }
    }
}
