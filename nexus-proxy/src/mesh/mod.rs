//! The mesh (`docs/mesh-protocol.md`): this worker's membership, the partition-aware routing of
//! every object request, and the signed worker-to-worker hop.
//!
//! [`Mesh::admit`] runs in the edge layer before s3s sees a request:
//! - a request from another worker must carry a valid signature ([`sign`]); its body is checked
//!   on the way in ([`forward::VerifiedBody`]) and it is never forwarded again;
//! - an object request whose key names a stream partition goes to the partition's owner on the
//!   ring of this worker's swarmlet; the owner serves it, any other worker forwards it once;
//! - everything else (bucket and service requests, keys without a stream) is served here.
//!
//! The owner checks ownership at its current epoch; a request that reaches a worker that no
//! longer owns the partition (a join or death moved it) gets `503 SlowDown`, which brokers'
//! SDKs retry, and lands on the new owner.

pub mod forward;
pub mod sign;
pub mod stage;
pub mod target;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use nexus_core::cluster::{self, RedisCluster, Ring, View, WorkerRecord, route_key};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use self::forward::{CrcBody, Peers, VerifiedBody};
use self::sign::{HopInfo, Refusal};
use crate::config::MeshConfig;
use crate::control::Control;
use crate::edge::error_response;
use crate::frontend::Grammars;
use crate::host::VirtualHosts;
use crate::metrics::Metrics;
use crate::request::{RequestCtx, Route};

/// What the edge does with a request.
pub enum Admission {
    /// Serve it here (s3s), with the route when this worker owns the object's partition.
    Local {
        req: Request<s3s::Body>,
        route: Option<Route>,
        /// Set when another worker forwarded it (its request id is kept).
        hop: Option<HopInfo>,
    },
    /// Send it to this worker.
    Forward {
        req: Request<Incoming>,
        to: WorkerRecord,
    },
    /// Answer with an S3 error.
    Refuse {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
}

/// The swarmlets as this worker last saw them, with one ring per swarmlet.
pub struct Routing {
    pub view: View,
    rings: BTreeMap<String, Ring>,
    /// When the view was read.
    pub at: Instant,
}

impl Routing {
    fn new(view: View) -> Self {
        let rings = view
            .swarmlets
            .iter()
            .map(|(name, s)| {
                (
                    name.clone(),
                    Ring::new(s.workers.iter().map(|(w, _)| w.id.as_str())),
                )
            })
            .collect();
        Self {
            view,
            rings,
            at: Instant::now(),
        }
    }

    /// The ring of `swarmlet` (empty when it has no live worker).
    #[must_use]
    pub fn ring(&self, swarmlet: &str) -> Option<&Ring> {
        self.rings.get(swarmlet)
    }

    #[must_use]
    pub fn epoch(&self, swarmlet: &str) -> u64 {
        self.view.swarmlets.get(swarmlet).map_or(0, |s| s.epoch)
    }
}

/// This worker in the mesh.
pub struct Mesh {
    config: MeshConfig,
    me: Mutex<WorkerRecord>,
    id: String,
    cluster: RedisCluster,
    routing: ArcSwap<Routing>,
    peers: Peers,
    control: Arc<Control>,
    grammars: Grammars,
    hosts: VirtualHosts,
    metrics: Arc<Metrics>,
    /// Runs the stages other workers place here.
    pipelines: Arc<crate::pipeline::Pipelines>,
    /// When our own heartbeat last succeeded: past [`cluster::DEAD_AFTER`] the others count us
    /// dead, so we stop claiming partitions.
    last_beat: Mutex<Option<Instant>>,
    /// Wakes the heartbeat loop for an immediate refresh.
    refresh: Notify,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Admission {
    Admission::Refuse {
        status,
        code,
        message: message.into(),
    }
}

impl Mesh {
    /// Connects to the metadata store's Redis and registers this worker (call after the S3
    /// port is bound, so that peers can reach it as soon as they see it).
    ///
    /// # Errors
    /// Redis cannot be reached.
    pub async fn join(
        config: MeshConfig,
        meta_url: &str,
        control: Arc<Control>,
        grammars: Grammars,
        hosts: VirtualHosts,
        metrics: Arc<Metrics>,
        pipelines: Arc<crate::pipeline::Pipelines>,
    ) -> Result<Arc<Self>, String> {
        let cluster = control.cluster().cloned().ok_or_else(|| {
            format!(
                "the mesh needs a Redis metadata store, not {}",
                nexus_core::meta::redact_url(meta_url)
            )
        })?;
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let me = WorkerRecord {
            id: id.clone(),
            swarmlet: config.swarmlet.clone(),
            location: config.location.clone(),
            hardware: config.hardware.clone(),
            advertise: config.advertise.clone(),
            started_ms: now_ms(),
            policy_revision: control.revision(),
        };
        let view = cluster.beat(&me).await.map_err(|e| e.to_string())?;
        info!(worker = %id, swarmlet = %me.swarmlet, location = %me.location, hardware = ?me.hardware, advertise = %me.advertise, epoch = view.swarmlets.get(&me.swarmlet).map_or(0, |s| s.epoch), "Joined the mesh.");
        Ok(Arc::new(Self {
            peers: Peers::new(&config.peer_tls),
            config,
            me: Mutex::new(me),
            id,
            cluster,
            routing: ArcSwap::from_pointee(Routing::new(view)),
            control,
            grammars,
            hosts,
            metrics,
            pipelines,
            last_beat: Mutex::new(Some(Instant::now())),
            refresh: Notify::new(),
        }))
    }

    /// This worker's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The routing state now.
    #[must_use]
    pub fn routing(&self) -> Arc<Routing> {
        self.routing.load_full()
    }

    /// The membership connection (streamlet state shares it).
    #[must_use]
    pub fn cluster(&self) -> &RedisCluster {
        &self.cluster
    }

    fn record(&self) -> WorkerRecord {
        let mut me = self.me.lock().unwrap_or_else(PoisonError::into_inner);
        me.policy_revision = self.control.revision();
        me.clone()
    }

    async fn beat(&self) {
        let me = self.record();
        match self.cluster.beat(&me).await {
            Ok(view) => {
                let old = self.routing.load();
                for (name, s) in &view.swarmlets {
                    let before = old.view.swarmlets.get(name).map(|o| o.epoch);
                    if before != Some(s.epoch) {
                        info!(swarmlet = %name, epoch = s.epoch, workers = s.workers.len(), "Membership changed.");
                    }
                }
                self.routing.store(Arc::new(Routing::new(view)));
                *self
                    .last_beat
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
                self.metrics
                    .mesh_epoch(self.routing.load().epoch(&self.config.swarmlet));
            }
            Err(e) => warn!(error = %e, "Heartbeat failed; serving from the last membership view."),
        }
    }

    /// Heartbeats every [`cluster::HEARTBEAT`] until `stop` resolves, then leaves the mesh
    /// (peers stop routing here at once; requests already here finish).
    pub async fn run(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                () = tokio::time::sleep(cluster::HEARTBEAT) => {}
                () = self.refresh.notified() => {}
            }
            self.beat().await;
        }
        match self.cluster.leave(&self.record()).await {
            Ok(_) => info!(worker = %self.id, "Left the mesh."),
            Err(e) => {
                warn!(error = %e, "Could not leave the mesh cleanly; peers will prune this worker.")
            }
        }
    }

    fn in_contact(&self) -> bool {
        self.last_beat
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|t| t.elapsed() < cluster::DEAD_AFTER)
    }

    /// Asks for a fresh view now and waits (bounded) until it arrived.
    async fn refreshed(&self) -> Arc<Routing> {
        let before = self.routing.load().at;
        self.refresh.notify_one();
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            let r = self.routing.load_full();
            if r.at > before {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.routing.load_full()
    }

    /// Decides where `req` is served (see the module docs).
    pub async fn admit(&self, req: Request<Incoming>) -> Admission {
        let hop = if sign::is_internal(req.headers()) {
            let uri = req.uri().path_and_query().map_or("/", |p| p.as_str());
            match sign::verify(
                &self.config.secret,
                req.method().as_str(),
                uri,
                req.headers(),
                &self.id,
            ) {
                Ok(h) => Some(h),
                Err(r) => {
                    self.metrics.mesh_refused(match r {
                        Refusal::Signature(_) | Refusal::Stale(_) => "signature",
                        Refusal::HopLimit | Refusal::Loop(_) => "loop",
                    });
                    warn!(refusal = %r, "Refused an internal request.");
                    return match r {
                        Refusal::Signature(_) | Refusal::Stale(_) => {
                            refuse(StatusCode::FORBIDDEN, "AccessDenied", r.to_string())
                        }
                        Refusal::HopLimit | Refusal::Loop(_) => {
                            refuse(StatusCode::LOOP_DETECTED, "LoopDetected", r.to_string())
                        }
                    };
                }
            }
        } else {
            None
        };
        if let Some(h) = &hop
            && h.policy_revision > self.control.revision()
            && !self
                .control
                .wait_for_revision(h.policy_revision, Duration::from_secs(1))
                .await
        {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "SlowDown",
                format!(
                    "this worker serves policy revision {}, the request was routed at {}; retry",
                    self.control.revision(),
                    h.policy_revision
                ),
            );
        }

        let Some(route) = self.route_of(&req) else {
            return Admission::Local {
                req: local(req, hop.is_some()),
                route: None,
                hop,
            };
        };
        if !self.in_contact() {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "SlowDown",
                "this worker lost contact with the metadata store and cannot tell partition owners; retry",
            );
        }
        let swarmlet = &self.config.swarmlet;
        let mut routing = self.routing.load_full();
        if hop
            .as_ref()
            .is_some_and(|h| h.epoch > routing.epoch(swarmlet))
        {
            // The sender saw a newer membership: catch up before judging ownership.
            routing = self.refreshed().await;
        }
        let epoch = routing.epoch(swarmlet);
        let owner = routing
            .ring(swarmlet)
            .and_then(|r| r.owner(&route.key))
            .map(str::to_owned);
        let route = Route { epoch, ..route };
        match owner {
            Some(o) if o == self.id => Admission::Local {
                req: local(req, hop.is_some()),
                route: Some(route),
                hop,
            },
            Some(_) if hop.is_some() => {
                self.metrics.mesh_refused("moved");
                debug!(stream = %route.stream, partition = route.partition, epoch, "Forwarded request for a partition this worker does not own at its epoch.");
                refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SlowDown",
                    "partition ownership moved; retry",
                )
            }
            Some(o) => match routing.view.worker(&o) {
                Some(to) => Admission::Forward {
                    req,
                    to: to.clone(),
                },
                None => refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SlowDown",
                    "partition owner unknown; retry",
                ),
            },
            None => {
                // Our own record is missing from the view (pruned while we were cut off).
                self.refresh.notify_one();
                refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SlowDown",
                    format!("no live worker in swarmlet {swarmlet}; retry"),
                )
            }
        }
    }

    fn route_of(&self, req: &Request<Incoming>) -> Option<Route> {
        let (bucket, key) = target::object_of(req, &self.hosts)?;
        let ledger = req
            .headers()
            .get("x-amz-meta-managedledgername")
            .and_then(|v| v.to_str().ok());
        let (class, _) = self.grammars.classify(&bucket, &key, ledger);
        let stream = class.stream?;
        let partition = class.partition.unwrap_or(0);
        Some(Route {
            key: route_key(class.system.as_str(), &stream, partition),
            stream,
            partition,
            epoch: 0,
        })
    }

    /// The route headers of a request this worker sends to `to` (forwards and stage calls are
    /// never sent on again, so every hop is the first).
    fn first_hop(&self, to: &WorkerRecord, request_id: String) -> HopInfo {
        HopInfo {
            hop: 1,
            path: vec![self.id.clone()],
            epoch: self.routing.load().epoch(&to.swarmlet),
            policy_revision: self.control.revision(),
            request_id,
            date: 0,
        }
    }

    /// Sends `req` to `to` and streams its answer back.
    pub async fn forward(
        &self,
        req: Request<Incoming>,
        to: &WorkerRecord,
        ctx: &RequestCtx,
    ) -> Response<s3s::Body> {
        let (mut parts, body) = req.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let uri: Uri = match format!("{}{path}", to.advertise).parse() {
            Ok(u) => u,
            Err(e) => {
                return error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    &format!("bad peer address {}: {e}", to.advertise),
                );
            }
        };
        if !parts.headers.contains_key(http::header::HOST)
            && let Some(a) = parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            parts.headers.insert(http::header::HOST, a);
        }
        forward::prepare_head(
            &mut parts.headers,
            http_body::Body::size_hint(&body).exact(),
        );
        sign::sign(
            &self.config.secret,
            parts.method.as_str(),
            &path,
            &mut parts.headers,
            self.first_hop(to, ctx.id.to_string()),
        );
        parts.uri = uri;
        // The hop is HTTP/1.1 whatever the broker spoke to us (HTTP/2 over TLS, via ALPN).
        parts.version = http::Version::HTTP_11;
        let res = self
            .peers
            .send(Request::from_parts(parts, CrcBody::new(body)))
            .await;
        match res {
            Ok(res) => {
                self.metrics
                    .mesh_forwarded(&to.swarmlet, res.status().as_u16());
                res.map(s3s::Body::http_body)
            }
            Err(e) => {
                self.metrics.mesh_forwarded(&to.swarmlet, 503);
                warn!(to = %to.id, advertise = %to.advertise, error = %e, "Forwarding failed; answering 503 so the client retries.");
                self.refresh.notify_one();
                error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SlowDown",
                    "the partition owner could not be reached; retry",
                )
            }
        }
    }
}

/// The request as s3s gets it; a forwarded one has its head restored and its body checked.
fn local(req: Request<Incoming>, forwarded: bool) -> Request<s3s::Body> {
    if !forwarded {
        return req.map(s3s::Body::http_body);
    }
    let (mut parts, body) = req.into_parts();
    let length = forward::restore_head(&mut parts.headers);
    Request::from_parts(parts, s3s::Body::http_body(VerifiedBody::new(body, length)))
}
