//! The compiled policy set a worker serves from: policies by bucket, the key grammar of each
//! bucket, and resolution of an object to its policy.

use std::collections::HashMap;

use crate::keys::{KeyGrammar, ObjectClass};
use crate::meta::{ResourceKind, Snapshot};

use super::document::{Resource, Spec, parse_str};
use super::matcher::BucketMatcher;
use super::names::Name;
use super::policy::PolicySpec;
use super::precedence;

/// One applied policy as a worker uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledPolicy {
    pub name: Name,
    /// The record version (recorded with every object written under the policy).
    pub version: u64,
    pub spec: PolicySpec,
}

/// Every applied policy, indexed by bucket (see [`BucketMatcher`]).
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// The metadata revision this set was compiled from.
    pub revision: u64,
    by_bucket: HashMap<String, BucketMatcher>,
    grammars: HashMap<String, KeyGrammar>,
    /// Every resource of the snapshot that parsed (stores, streamlets, swarmlets too).
    pub resources: Vec<Resource>,
    /// Positions in `resources` by kind, so a lookup of one kind (streamlets on every
    /// request) does not walk a thousand policies.
    by_kind: HashMap<ResourceKind, Vec<usize>>,
}

impl PolicySet {
    /// Compiles a snapshot. A record that does not parse is skipped and named in the returned
    /// problems (the CLI validated it on the way in, so this means a hand-edited store or a
    /// newer writer), never a reason to stop serving the rest.
    #[must_use]
    pub fn compile(snapshot: &Snapshot) -> (Self, Vec<String>) {
        let mut set = Self {
            revision: snapshot.revision,
            ..Self::default()
        };
        let mut problems = Vec::new();
        let mut by_bucket: HashMap<String, Vec<CompiledPolicy>> = HashMap::new();
        for record in &snapshot.records {
            let file = format!("{}/{}", record.kind.as_str(), record.name);
            let parsed = parse_str(&file, &record.body);
            let errors: Vec<String> = parsed
                .diags
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.to_string())
                .collect();
            if !errors.is_empty() {
                problems.push(format!("{file} skipped: {}", errors.join("; ")));
                continue;
            }
            for r in parsed.resources {
                if r.kind() != record.kind || r.name() != record.name {
                    problems.push(format!(
                        "{file} skipped: its body names {} `{}`",
                        r.kind().as_str(),
                        r.name()
                    ));
                    continue;
                }
                if let Spec::Policy { metadata, spec } = &r.spec {
                    by_bucket
                        .entry(spec.target.bucket.clone())
                        .or_default()
                        .push(CompiledPolicy {
                            name: metadata.name.clone(),
                            version: record.version,
                            spec: spec.clone(),
                        });
                }
                set.by_kind
                    .entry(r.kind())
                    .or_default()
                    .push(set.resources.len());
                set.resources.push(r);
            }
        }
        for (bucket, policies) in by_bucket {
            let matcher = BucketMatcher::new(policies);
            // Validation keeps one system and prefix per bucket; if a store holds conflicting
            // ones anyway, the first policy by name decides, deterministically.
            if let Some(first) = matcher.policies().first() {
                let mut grammar = KeyGrammar::new(first.spec.system);
                if let Some(prefix) = &first.spec.target.key_prefix {
                    grammar = grammar.with_prefix(prefix.clone());
                }
                set.grammars.insert(bucket.clone(), grammar);
            }
            set.by_bucket.insert(bucket, matcher);
        }
        (set, problems)
    }

    /// The key grammar that policies give `bucket`, if any policy targets it.
    #[must_use]
    pub fn grammar_for(&self, bucket: &str) -> Option<&KeyGrammar> {
        self.grammars.get(bucket)
    }

    /// The policy that applies to an object: the most specific match (see [`precedence`]).
    #[must_use]
    pub fn resolve(&self, bucket: &str, class: &ObjectClass) -> Option<&CompiledPolicy> {
        self.by_bucket.get(bucket)?.resolve(bucket, class)
    }

    /// The same answer as [`resolve`](Self::resolve), by checking every policy: the reference
    /// the matcher is tested against, and the baseline of `nexus-bench policies`.
    #[must_use]
    pub fn resolve_by_scan(&self, bucket: &str, class: &ObjectClass) -> Option<&CompiledPolicy> {
        let mut best: Option<(precedence::Specificity, &CompiledPolicy)> = None;
        for p in self.policies() {
            if let Some(s) = precedence::matches(&p.spec, bucket, class)
                && best
                    .as_ref()
                    .is_none_or(|(b, bp)| s > *b || (s == *b && p.name < bp.name))
            {
                best = Some((s, p));
            }
        }
        best.map(|(_, p)| p)
    }

    /// Every policy, by bucket then name.
    pub fn policies(&self) -> impl Iterator<Item = &CompiledPolicy> {
        let mut buckets: Vec<&String> = self.by_bucket.keys().collect();
        buckets.sort();
        buckets
            .into_iter()
            .flat_map(|b| self.by_bucket[b].policies())
    }

    /// Number of policies.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_bucket.values().map(|m| m.policies().len()).sum()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The resources of one kind.
    pub fn of_kind(&self, kind: ResourceKind) -> impl Iterator<Item = &Resource> {
        self.by_kind
            .get(&kind)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.resources.get(i))
    }
}
