//! Prometheus metrics, served as text on the admin port.
//!
//! Every metric is registered here, once; the request path records through the typed methods.

use std::sync::Arc;

use nexus_core::keys::{ObjectKind, System};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label set of per-operation metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabels {
    pub op: &'static str,
}

/// Label set of request counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub op: &'static str,
    pub status: u16,
}

/// Label set of classification counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClassLabels {
    pub system: &'static str,
    pub kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabels {
    pub policy: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamletLabels {
    pub streamlet: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub streamlet: String,
    pub stage: u32,
    pub reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ForwardLabels {
    pub swarmlet: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PathLabels {
    pub path: &'static str,
}

/// All metrics of one worker.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<OutcomeLabels, Counter>,
    duration: Family<OpLabels, Histogram>,
    bytes_in: Family<OpLabels, Counter>,
    bytes_out: Family<OpLabels, Counter>,
    in_flight: Gauge,
    classified: Family<ClassLabels, Counter>,
    matched: Family<PolicyLabels, Counter>,
    revision: Gauge,
    policies: Gauge,
    meta_fresh: Gauge,
    streamlet_seconds: Family<StreamletLabels, Histogram>,
    streamlet_failures: Family<FailureLabels, Counter>,
    pipeline_skipped: Family<PolicyLabels, Counter>,
    logical_bytes: Family<PolicyLabels, Counter>,
    stored_bytes: Family<PolicyLabels, Counter>,
    mesh_forwarded: Family<ForwardLabels, Counter>,
    mesh_refused: Family<ReasonLabels, Counter>,
    mesh_epoch: Gauge,
    state_loads: Counter,
    state_commits: Family<ReasonLabels, Counter>,
    transformed_reads: Family<PathLabels, Counter>,
}

// === impl Metrics ===

impl Metrics {
    /// Registers every metric.
    #[must_use]
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("nexus");
        let requests = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "s3_requests",
            "S3 requests by operation and HTTP status",
            requests.clone(),
        );
        let duration = Family::<OpLabels, Histogram>::new_with_constructor(|| {
            // 100 µs … ~52 s, doubling.
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.0001, 2.0, 20,
            ))
        });
        registry.register(
            "s3_request_duration_seconds",
            "Time from request head to response head, by operation",
            duration.clone(),
        );
        let bytes_in = Family::<OpLabels, Counter>::default();
        registry.register(
            "s3_received_bytes",
            "Request body bytes received from clients, by operation",
            bytes_in.clone(),
        );
        let bytes_out = Family::<OpLabels, Counter>::default();
        registry.register(
            "s3_sent_bytes",
            "Response body bytes sent to clients, by operation",
            bytes_out.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "s3_in_flight_requests",
            "Requests being served",
            in_flight.clone(),
        );
        let classified = Family::<ClassLabels, Counter>::default();
        registry.register(
            "objects_classified",
            "Object requests by key grammar (system) and object kind",
            classified.clone(),
        );
        let matched = Family::<PolicyLabels, Counter>::default();
        registry.register(
            "objects_matched",
            "Object requests that a policy applies to, by policy",
            matched.clone(),
        );
        let revision = Gauge::default();
        registry.register(
            "policy_revision",
            "Metadata revision of the policy set this worker serves",
            revision.clone(),
        );
        let policies = Gauge::default();
        registry.register("policies", "Policies in the served set", policies.clone());
        let meta_fresh = Gauge::default();
        registry.register(
            "metadata_fresh",
            "1 while the metadata store was reached within --meta-grace, else 0",
            meta_fresh.clone(),
        );
        let streamlet_seconds = Family::<StreamletLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.0001, 4.0, 10,
            ))
        });
        registry.register(
            "streamlet_call_duration_seconds",
            "Time of one streamlet invocation (one frame, one stage)",
            streamlet_seconds.clone(),
        );
        let streamlet_failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "streamlet_failures",
            "Streamlet invocations that failed, by streamlet, pipeline stage and reason (error, trap, timeout, memory, module, internal)",
            streamlet_failures.clone(),
        );
        let pipeline_skipped = Family::<PolicyLabels, Counter>::default();
        registry.register(
            "pipeline_skipped",
            "Writes stored as sent because the policy's streamlets are not deployed",
            pipeline_skipped.clone(),
        );
        let logical_bytes = Family::<PolicyLabels, Counter>::default();
        registry.register(
            "pipeline_logical_bytes",
            "Plaintext bytes written through each policy's pipeline",
            logical_bytes.clone(),
        );
        let stored_bytes = Family::<PolicyLabels, Counter>::default();
        registry.register(
            "pipeline_stored_bytes",
            "Bytes stored for them (the compression ratio is logical / stored)",
            stored_bytes.clone(),
        );
        let mesh_forwarded = Family::<ForwardLabels, Counter>::default();
        registry.register(
            "mesh_forwarded",
            "Requests forwarded to another worker, by its swarmlet and the answer's status",
            mesh_forwarded.clone(),
        );
        let mesh_refused = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "mesh_refused",
            "Internal requests refused, by reason (signature, loop, moved)",
            mesh_refused.clone(),
        );
        let mesh_epoch = Gauge::default();
        registry.register(
            "mesh_epoch",
            "Membership epoch of this worker's swarmlet in its current view",
            mesh_epoch.clone(),
        );
        let state_loads = Counter::default();
        registry.register(
            "state_loads",
            "Streamlet state reads from the metadata store (one per partition load)",
            state_loads.clone(),
        );
        let state_commits = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "state_commits",
            "Streamlet state commits, by outcome (ok, fenced, error)",
            state_commits.clone(),
        );
        let transformed_reads = Family::<PathLabels, Counter>::default();
        registry.register(
            "transformed_reads",
            "GETs of transformed objects, by path (known: the cached index's ETag, no HEAD; \
             changed: that ETag no longer matched; head: read through a HEAD)",
            transformed_reads.clone(),
        );
        let build = Family::<Vec<(String, String)>, Gauge>::default();
        build
            .get_or_create(&vec![(
                "version".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            )])
            .set(1);
        registry.register("build_info", "Version of this worker", build);
        Arc::new(Self {
            registry,
            requests,
            duration,
            bytes_in,
            bytes_out,
            in_flight,
            classified,
            matched,
            revision,
            policies,
            meta_fresh,
            streamlet_seconds,
            streamlet_failures,
            pipeline_skipped,
            logical_bytes,
            stored_bytes,
            mesh_forwarded,
            mesh_refused,
            mesh_epoch,
            state_loads,
            state_commits,
            transformed_reads,
        })
    }

    pub fn mesh_forwarded(&self, swarmlet: &str, status: u16) {
        self.mesh_forwarded
            .get_or_create(&ForwardLabels {
                swarmlet: swarmlet.to_owned(),
                status,
            })
            .inc();
    }

    pub fn mesh_refused(&self, reason: &'static str) {
        self.mesh_refused
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn mesh_epoch(&self, epoch: u64) {
        self.mesh_epoch
            .set(i64::try_from(epoch).unwrap_or(i64::MAX));
    }

    pub fn state_loaded(&self) {
        self.state_loads.inc();
    }

    pub fn state_committed(&self, outcome: &'static str) {
        self.state_commits
            .get_or_create(&ReasonLabels { reason: outcome })
            .inc();
    }

    pub fn transformed_read(&self, path: &'static str) {
        self.transformed_reads
            .get_or_create(&PathLabels { path })
            .inc();
    }

    /// A request started.
    pub fn request_started(&self) {
        self.in_flight.inc();
    }

    /// A response head was produced.
    pub fn request_finished(&self, op: &'static str, status: u16, seconds: f64) {
        self.in_flight.dec();
        self.requests
            .get_or_create(&OutcomeLabels { op, status })
            .inc();
        self.duration
            .get_or_create(&OpLabels { op })
            .observe(seconds);
    }

    /// Request body bytes arrived.
    pub fn bytes_received(&self, op: &'static str, n: u64) {
        self.bytes_in.get_or_create(&OpLabels { op }).inc_by(n);
    }

    /// Response body bytes left.
    pub fn bytes_sent(&self, op: &'static str, n: u64) {
        self.bytes_out.get_or_create(&OpLabels { op }).inc_by(n);
    }

    /// An object key was classified.
    pub fn classified(&self, system: System, kind: ObjectKind) {
        self.classified
            .get_or_create(&ClassLabels {
                system: system.as_str(),
                kind: kind.as_str(),
            })
            .inc();
    }

    /// A policy applies to an object request.
    pub fn policy_matched(&self, policy: &str) {
        self.matched
            .get_or_create(&PolicyLabels {
                policy: policy.to_owned(),
            })
            .inc();
    }

    /// One streamlet invocation took `seconds`.
    pub fn streamlet_call(&self, streamlet: &str, seconds: f64) {
        self.streamlet_seconds
            .get_or_create(&StreamletLabels {
                streamlet: streamlet.to_owned(),
            })
            .observe(seconds);
    }

    /// A streamlet invocation failed.
    pub fn streamlet_failure(&self, streamlet: &str, stage: usize, reason: &'static str) {
        self.streamlet_failures
            .get_or_create(&FailureLabels {
                streamlet: streamlet.to_owned(),
                stage: u32::try_from(stage).unwrap_or(u32::MAX),
                reason,
            })
            .inc();
    }

    /// A write under `policy` was stored as sent (its streamlets are not deployed).
    pub fn pipeline_skipped(&self, policy: &str) {
        self.pipeline_skipped
            .get_or_create(&PolicyLabels {
                policy: policy.to_owned(),
            })
            .inc();
    }

    /// A write through `policy`'s pipeline stored `stored` bytes for `logical`.
    pub fn pipeline_bytes(&self, policy: &str, logical: u64, stored: u64) {
        let labels = PolicyLabels {
            policy: policy.to_owned(),
        };
        self.logical_bytes.get_or_create(&labels).inc_by(logical);
        self.stored_bytes.get_or_create(&labels).inc_by(stored);
    }

    /// The control plane's state, set before each scrape.
    pub fn control_state(&self, revision: u64, policies: usize, fresh: bool) {
        self.revision
            .set(i64::try_from(revision).unwrap_or(i64::MAX));
        self.policies
            .set(i64::try_from(policies).unwrap_or(i64::MAX));
        self.meta_fresh.set(i64::from(fresh));
    }

    /// The Prometheus text exposition of every metric.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
