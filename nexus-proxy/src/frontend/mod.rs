//! The S3 front end: the [`s3s::S3`] implementation behind the S3 port.
//!
//! Each operation follows the steps of `docs/request-lifecycle.md`: s3s has already
//! authenticated and parsed the request; here the object key is classified with the bucket's key
//! grammar, and the request is handed to the store. Policies, pipelines and routing plug in
//! between classification and the store in later layers.

mod assemble;
mod classify;
mod ingest;
mod located;
mod multipart;
mod ops;
mod pre_get;
mod recorded;
pub mod staging_gc;
mod transformed;
mod uploads_list;

pub use self::classify::Grammars;
pub use self::recorded::hide as hide_recorded;

use std::sync::Arc;

use nexus_core::keys::ObjectClass;
use nexus_core::resource::{CompiledPolicy, PolicySet};
use s3s::{S3, S3Error, S3Request};

use crate::metrics::Metrics;
use crate::pipeline::Pipelines;
use crate::request::RequestCtx;

/// The front end: key classification, policy, pipeline, then the store.
pub struct Frontend {
    store: Arc<dyn S3>,
    grammars: Grammars,
    metrics: Arc<Metrics>,
    pipelines: Arc<Pipelines>,
    /// Stores policies name, for data-source streamlets.
    named: Arc<crate::named_stores::NamedStores>,
    /// The largest object a staged upload's Complete writes with one PUT
    /// (`--complete-put-max`).
    complete_put_max: u64,
    /// Conditions already warned about (logged once each).
    warned: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// What classification found for one object request.
pub struct Observed {
    pub class: ObjectClass,
    /// The policy snapshot the request was classified with.
    pub set: Arc<PolicySet>,
}

impl Observed {
    /// The policy that applies to the object in `bucket` (resolved again on demand, so reads,
    /// which never need it, do not copy it).
    #[must_use]
    pub fn policy(&self, bucket: &str) -> Option<&CompiledPolicy> {
        self.set.resolve(bucket, &self.class)
    }

    /// `name@version` of the policy, as recorded with writes.
    #[must_use]
    pub fn policy_label(&self, bucket: &str) -> Option<String> {
        self.policy(bucket)
            .map(|p| format!("{}@{}", p.name, p.version))
    }
}

// === impl Frontend ===

impl Frontend {
    #[must_use]
    pub fn new(
        store: Arc<dyn S3>,
        grammars: Grammars,
        metrics: Arc<Metrics>,
        pipelines: Arc<Pipelines>,
        named: Arc<crate::named_stores::NamedStores>,
        complete_put_max: u64,
    ) -> Self {
        Self {
            store,
            grammars,
            metrics,
            pipelines,
            named,
            complete_put_max,
            warned: std::sync::Mutex::default(),
        }
    }

    /// True the first time `what` is asked about.
    fn warned_once(&self, what: &str) -> bool {
        self.warned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(what.to_owned())
    }

    /// Classifies an object request's key, resolves its policy and counts both.
    fn observe(&self, bucket: &str, key: &str, managed_ledger_name: Option<&str>) -> Observed {
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
        Observed {
            class,
            set: policies,
        }
    }
}

impl Frontend {
    /// The streamlet state of a request: in a mesh, only for requests this worker serves as
    /// the partition's owner (at the epoch it owns it); with shared state, for every object
    /// with a stream.
    fn state_scope<T>(
        &self,
        req: &S3Request<T>,
        obs: &Observed,
    ) -> Option<Arc<crate::state::StateScope>> {
        let service = self.pipelines.state.get()?;
        if service.owned() {
            let ctx = request_ctx(req)?;
            let r = ctx.route()?;
            Some(service.scope(&r.stream, r.partition, r.epoch))
        } else {
            let stream = obs.class.stream.as_deref()?;
            Some(service.scope(stream, obs.class.partition.unwrap_or(0), 0))
        }
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
