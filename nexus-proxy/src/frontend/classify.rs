//! Which key grammar each bucket uses (configuration now; policies later).

use std::collections::HashMap;

use nexus_core::keys::{KeyGrammar, ObjectClass, System};

/// Bucket → key grammar; buckets not listed use the generic grammar.
#[derive(Debug, Clone)]
pub struct Grammars {
    by_bucket: HashMap<String, KeyGrammar>,
    generic: KeyGrammar,
}

// === impl Grammars ===

impl Grammars {
    #[must_use]
    pub fn new(pairs: impl IntoIterator<Item = (String, KeyGrammar)>) -> Self {
        Self {
            by_bucket: pairs.into_iter().collect(),
            generic: KeyGrammar::new(System::Generic),
        }
    }

    /// The grammar of `bucket`.
    #[must_use]
    pub fn for_bucket(&self, bucket: &str) -> &KeyGrammar {
        self.by_bucket.get(bucket).unwrap_or(&self.generic)
    }

    /// Classifies `key` in `bucket`.
    #[must_use]
    pub fn classify(
        &self,
        bucket: &str,
        key: &str,
        managed_ledger_name: Option<&str>,
    ) -> ObjectClass {
        self.for_bucket(bucket).classify(key, managed_ledger_name)
    }
}
