//! The S3 front end: the [`s3s::S3`] implementation behind the S3 port.
//!
//! Each operation follows the steps of `docs/request-lifecycle.md`: s3s has already
//! authenticated and parsed the request; here the object key is classified with the bucket's key
//! grammar, and the request is handed to the store. Policies, pipelines and routing plug in
//! between classification and the store in later layers.

mod classify;
mod ingest;
mod ops;
mod recorded;

pub use self::classify::Grammars;

use std::sync::Arc;

use s3s::{S3, S3Error, S3Request};

use crate::metrics::Metrics;
use crate::request::RequestCtx;

/// The front end: key classification, then the store.
pub struct Frontend {
    store: Arc<dyn S3>,
    grammars: Grammars,
    metrics: Arc<Metrics>,
}

// === impl Frontend ===

impl Frontend {
    #[must_use]
    pub fn new(store: Arc<dyn S3>, grammars: Grammars, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            grammars,
            metrics,
        }
    }

    /// Classifies an object request's key, resolves its policy and counts both. Returns the
    /// policy as `name@version` (what writes record with the object).
    fn observe(
        &self,
        bucket: &str,
        key: &str,
        managed_ledger_name: Option<&str>,
    ) -> Option<String> {
        let (class, policies) = self.grammars.classify(bucket, key, managed_ledger_name);
        self.metrics.classified(class.system, class.kind);
        let policy = policies.resolve(bucket, &class);
        if let Some(p) = policy {
            self.metrics.policy_matched(p.name.as_str());
        }
        tracing::debug!(
            %bucket,
            %key,
            system = class.system.as_str(),
            kind = class.kind.as_str(),
            stream = class.stream.as_deref().unwrap_or("-"),
            partition = ?class.partition,
            policy = policy.map_or("-", |p| p.name.as_str()),
            "Classified object key."
        );
        policy.map(|p| format!("{}@{}", p.name, p.version))
    }
}

/// The request's context (absent only when the front end is driven without the edge layer).
fn request_ctx<T>(req: &S3Request<T>) -> Option<Arc<RequestCtx>> {
    req.extensions.get::<Arc<RequestCtx>>().cloned()
}

/// Stamps the request id on an error so it appears in the XML body too.
fn stamp(ctx: Option<&RequestCtx>, mut err: S3Error) -> S3Error {
    if let Some(ctx) = ctx {
        err.set_request_id(ctx.id.as_str());
    }
    err
}
