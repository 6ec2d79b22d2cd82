//! The compiled matcher of one bucket's policies: resolving an object to its policy without
//! scanning every policy of the bucket.
//!
//! A policy is reachable from the parts of its target that can match a stream name:
//! - each **exact** stream name, in a hash map;
//! - each **wildcard** glob with a literal prefix (the characters before its first `*` or `?`),
//!   in a byte trie under that prefix, so walking the stream name once through the trie yields
//!   every such glob that could match it;
//! - each wildcard glob without a literal prefix but with a literal suffix (`*-prod`), in a
//!   second trie under the reversed suffix, walked from the end of the stream name;
//! - globs with neither (`*`, `*a*`), in the first trie's root: always candidates;
//! - policies without `streams` (every stream), in a list.
//!
//! Resolution looks at exact candidates first (an exact name beats every glob, see
//! [`precedence`](super::precedence)), and only when none of them matches at the glob and
//! all-stream candidates. Each candidate is checked with [`precedence::matches`], the one
//! definition of a match, so the matcher can only narrow the search, never change its answer
//! (a property test compares it with a scan of every policy).

use std::collections::HashMap;

use crate::keys::ObjectClass;

use super::precedence::{self, Specificity};
use super::set::CompiledPolicy;

/// One bucket's policies, indexed.
#[derive(Debug, Clone, Default)]
pub struct BucketMatcher {
    /// Sorted by name: among candidates of equal specificity (a tie validation refused, but a
    /// hand-edited store may hold) the first by name wins, deterministically.
    policies: Vec<CompiledPolicy>,
    exact: HashMap<String, Vec<u32>>,
    by_prefix: Trie,
    /// Keyed by the reversed literal suffix.
    by_suffix: Trie,
    every_stream: Vec<u32>,
}

// === impl BucketMatcher ===

impl BucketMatcher {
    /// Indexes `policies` (all of one bucket).
    #[must_use]
    pub fn new(mut policies: Vec<CompiledPolicy>) -> Self {
        policies.sort_by(|a, b| a.name.cmp(&b.name));
        let mut m = Self::default();
        for (i, p) in policies.iter().enumerate() {
            let id = u32::try_from(i).unwrap_or(u32::MAX);
            let streams = &p.spec.target.streams;
            if streams.is_empty() {
                m.every_stream.push(id);
            }
            for g in streams {
                if g.is_exact() {
                    m.exact.entry(g.as_str().to_owned()).or_default().push(id);
                } else if g.literal_prefix().is_empty() && !g.literal_suffix().is_empty() {
                    let reversed: Vec<u8> = g.literal_suffix().bytes().rev().collect();
                    m.by_suffix.insert(&reversed, id);
                } else {
                    m.by_prefix.insert(g.literal_prefix().as_bytes(), id);
                }
            }
        }
        m.policies = policies;
        m
    }

    /// The policies, sorted by name.
    #[must_use]
    pub fn policies(&self) -> &[CompiledPolicy] {
        &self.policies
    }

    /// The most specific policy that matches `class` in `bucket`.
    #[must_use]
    pub fn resolve(&self, bucket: &str, class: &ObjectClass) -> Option<&CompiledPolicy> {
        let mut best = Best::default();
        let stream = class.stream.as_deref();
        if let Some(ids) = stream.and_then(|s| self.exact.get(s)) {
            for &id in ids {
                best.offer(&self.policies, id, bucket, class);
            }
            if best.found.is_some() {
                return best.policy(&self.policies);
            }
        }
        if let Some(s) = stream {
            self.by_prefix
                .for_each_prefix(s.as_bytes().iter().copied(), |id| {
                    best.offer(&self.policies, id, bucket, class);
                });
            self.by_suffix
                .for_each_prefix(s.as_bytes().iter().rev().copied(), |id| {
                    best.offer(&self.policies, id, bucket, class);
                });
        }
        for &id in &self.every_stream {
            best.offer(&self.policies, id, bucket, class);
        }
        best.policy(&self.policies)
    }
}

/// The best match so far.
#[derive(Default)]
struct Best {
    found: Option<(Specificity, u32)>,
}

impl Best {
    fn offer(&mut self, policies: &[CompiledPolicy], id: u32, bucket: &str, class: &ObjectClass) {
        let Some(p) = policies.get(id as usize) else {
            return;
        };
        if let Some(s) = precedence::matches(&p.spec, bucket, class) {
            let better = match self.found {
                None => true,
                Some((b, bid)) => s > b || (s == b && id < bid),
            };
            if better {
                self.found = Some((s, id));
            }
        }
    }

    fn policy<'a>(&self, policies: &'a [CompiledPolicy]) -> Option<&'a CompiledPolicy> {
        self.found.and_then(|(_, id)| policies.get(id as usize))
    }
}

/// A byte trie of policy ids under literal prefixes.
#[derive(Debug, Clone)]
struct Trie {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    /// Sorted by byte.
    children: Vec<(u8, u32)>,
    ids: Vec<u32>,
}

impl Default for Trie {
    fn default() -> Self {
        Self {
            nodes: vec![Node::default()],
        }
    }
}

impl Trie {
    fn insert(&mut self, prefix: &[u8], id: u32) {
        let mut at = 0usize;
        for &b in prefix {
            at = match self.nodes[at].children.binary_search_by_key(&b, |c| c.0) {
                Ok(i) => self.nodes[at].children[i].1 as usize,
                Err(i) => {
                    let next = self.nodes.len();
                    self.nodes.push(Node::default());
                    let next_id = u32::try_from(next).unwrap_or(u32::MAX);
                    self.nodes[at].children.insert(i, (b, next_id));
                    next
                }
            };
        }
        self.nodes[at].ids.push(id);
    }

    /// Calls `f` with every id stored under a prefix of `text` (including the empty prefix).
    fn for_each_prefix(&self, text: impl Iterator<Item = u8>, mut f: impl FnMut(u32)) {
        let mut at = 0usize;
        let mut text = text;
        loop {
            let node = &self.nodes[at];
            node.ids.iter().copied().for_each(&mut f);
            let Some(b) = text.next() else {
                return;
            };
            match node.children.binary_search_by_key(&b, |c| c.0) {
                Ok(i) => at = node.children[i].1 as usize,
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trie_yields_ids_under_every_prefix() {
        let mut t = Trie::default();
        t.insert(b"", 0);
        t.insert(b"logs-", 1);
        t.insert(b"logs-app", 2);
        t.insert(b"metrics", 3);
        t.insert(b"logs-", 4);
        let mut seen = Vec::new();
        t.for_each_prefix(b"logs-app-1".iter().copied(), |id| seen.push(id));
        assert_eq!(seen, vec![0, 1, 4, 2]);
        seen.clear();
        t.for_each_prefix(b"log".iter().copied(), |id| seen.push(id));
        assert_eq!(seen, vec![0]);
        seen.clear();
        t.for_each_prefix(std::iter::empty(), |id| seen.push(id));
        assert_eq!(seen, vec![0]);
    }
}
