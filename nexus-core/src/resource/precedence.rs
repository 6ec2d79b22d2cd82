//! Which policy applies to an object, and which pairs of policies could tie.
//!
//! A policy matches an object when the bucket is its target bucket, the key grammar recognised
//! the key as the policy's system, the stream matches one of its globs, the partition is among
//! its partitions and the kind among its kinds. Among matching policies the most specific wins,
//! compared in this order:
//!
//! 1. the stream glob that matched: an exact name beats any glob; between globs, more literal
//!    characters win (`logs-app-*` beats `logs-*` beats `*`); no `streams` counts as `*`;
//! 2. explicit `partitions` beat all partitions;
//! 3. explicit `kinds` beat the default.
//!
//! Two policies that could match one object with equal specificity are a validation error,
//! so resolution never depends on names or order.

use crate::keys::ObjectClass;

use super::glob::Glob;
use super::policy::{PolicySpec, Target};

/// Specificity of one match; greater is more specific.
pub type Specificity = ((bool, usize), bool, bool);

const ANY: (bool, usize) = (false, 0);

/// How specifically `spec` matches `class` in `bucket`, or `None` when it does not match.
#[must_use]
pub fn matches(spec: &PolicySpec, bucket: &str, class: &ObjectClass) -> Option<Specificity> {
    let t = &spec.target;
    if t.bucket != bucket || class.system != spec.system {
        return None;
    }
    if !t.accepts_kind(class.kind) || !t.covers_partition(class.partition) {
        return None;
    }
    let stream = if t.streams.is_empty() {
        ANY
    } else {
        let s = class.stream.as_deref()?;
        t.streams
            .iter()
            .filter(|g| g.matches(s))
            .map(Glob::specificity)
            .max()?
    };
    Some((stream, !t.partitions.is_empty(), !t.kinds.is_empty()))
}

/// Whether two targets (of one bucket and system) could match one object with equal
/// specificity. Conservative only where globs are concerned: it says yes exactly when some
/// stream name matches a pattern of each with equal specificity.
#[must_use]
pub fn could_tie(a: &Target, b: &Target) -> bool {
    if a.bucket != b.bucket {
        return false;
    }
    if a.partitions.is_empty() != b.partitions.is_empty()
        || a.kinds.is_empty() != b.kinds.is_empty()
    {
        return false;
    }
    let kinds_meet = a
        .effective_kinds()
        .iter()
        .any(|k| b.effective_kinds().contains(k));
    let parts_meet = a.partitions.is_empty()
        || a.partitions.iter().any(|x| {
            b.partitions
                .iter()
                .any(|y| x.first <= y.last && y.first <= x.last)
        });
    if !kinds_meet || !parts_meet {
        return false;
    }
    let star = [Glob::any()];
    let sa: &[Glob] = if a.streams.is_empty() {
        &star
    } else {
        &a.streams
    };
    let sb: &[Glob] = if b.streams.is_empty() {
        &star
    } else {
        &b.streams
    };
    sa.iter().any(|x| {
        sb.iter()
            .any(|y| x.specificity() == y.specificity() && x.overlaps(y))
    })
}
