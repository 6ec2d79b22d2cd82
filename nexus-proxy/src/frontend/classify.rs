//! Which key grammar each bucket uses and which policy applies to an object.
//!
//! The policy set decides a bucket's grammar (the system and key prefix of its policies); for
//! buckets no policy targets, `--key-grammar` may name one (classification and metrics only);
//! any other bucket is generic.

use std::collections::HashMap;
use std::sync::Arc;

use nexus_core::keys::{KeyGrammar, ObjectClass, System};
use nexus_core::resource::PolicySet;

use crate::control::Control;

/// Bucket → key grammar, from the served policy set, then `--key-grammar`.
#[derive(Clone)]
pub struct Grammars {
    by_bucket: HashMap<String, KeyGrammar>,
    generic: KeyGrammar,
    control: Arc<Control>,
}

// === impl Grammars ===

impl Grammars {
    #[must_use]
    pub fn new(
        pairs: impl IntoIterator<Item = (String, KeyGrammar)>,
        control: Arc<Control>,
    ) -> Self {
        Self {
            by_bucket: pairs.into_iter().collect(),
            generic: KeyGrammar::new(System::Generic),
            control,
        }
    }

    /// The policy set being served.
    #[must_use]
    pub fn policies(&self) -> Arc<PolicySet> {
        self.control.policies()
    }

    /// Classifies `key` in `bucket` with the bucket's grammar, and returns the policy set it
    /// was classified with (one snapshot for the whole request).
    #[must_use]
    pub fn classify(
        &self,
        bucket: &str,
        key: &str,
        managed_ledger_name: Option<&str>,
    ) -> (ObjectClass, Arc<PolicySet>) {
        let policies = self.control.policies();
        let grammar = policies
            .grammar_for(bucket)
            .or_else(|| self.by_bucket.get(bucket))
            .unwrap_or(&self.generic);
        (grammar.classify(key, managed_ledger_name), policies)
    }
}
