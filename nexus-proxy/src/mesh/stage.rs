//! Stages placed on other swarmlets (`docs/mesh-protocol.md` §3): a stage whose location or
//! hardware this worker lacks runs, frame by frame, on the partition owner of the nearest
//! matching swarmlet, over a signed `POST /_nexus/v1/stage` whose body is the frame as the
//! previous stage left it and whose answer is the frame as this stage leaves it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use nexus_core::cluster::{Ring, StateWrites, SwarmletView, WorkerRecord, route_key};
use nexus_core::meta::Digest;
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use s3s::{S3Error, S3ErrorCode};
use serde::{Deserialize, Serialize};

use super::Mesh;
use super::sign::{self, BODY_CRC32C, CONTENT_LENGTH, STAGE};
use crate::edge::error_response;
use crate::pipeline::plan::Placement;
use crate::pipeline::{PipelineRequest, StageRun};
use crate::streamlet::{ChunkInfo, Direction, FrameInfo, Limits, ObjectRef, SharedContext};

/// The internal path of remote stage calls.
pub const PATH: &str = "/_nexus/v1/stage";

/// Largest frame a stage call carries (frames are at most 16 MiB; compressed or encrypted
/// output may grow a little).
const MAX_BODY: usize = 20 << 20;

/// What the remote worker needs to run one stage on one frame.
#[derive(Debug, Serialize, Deserialize)]
struct StageCall {
    streamlet: String,
    digest: String,
    index: usize,
    params: serde_json::Map<String, serde_json::Value>,
    memory_bytes: usize,
    timeout_ms: u64,
    put: bool,
    frame: (u32, u64, u64),
    bucket: String,
    key: String,
    system: String,
    stream: Option<String>,
    partition: Option<u64>,
    size: Option<u64>,
    content_type: Option<String>,
    ctx: BTreeMap<String, String>,
    read_only: bool,
    /// A stateful stage: run it as the partition's owner here, on the committed state, and
    /// answer with what this call wrote.
    #[serde(default)]
    stateful: bool,
    /// The stage's placement (the owner of a stateful stage is chosen among the workers of
    /// this swarmlet that fit it, as the caller chose).
    #[serde(default)]
    placement: Placement,
}

/// The answer header of a stateful stage call: JSON `[epoch, writes]`, percent-encoded.
pub const STATE: &str = "x-nexus-state";

/// Largest state answer of one stage call.
const MAX_STATE: usize = 32 << 10;

fn fits(p: &Placement, location: &str, hardware: &[String]) -> bool {
    (p.location.is_empty() || location == p.location)
        && p.hardware.iter().all(|h| hardware.contains(h))
}

/// Where stages with placement `p` run when not here, and where a stateful stage's state
/// lives (its home): the first swarmlet by name with a live worker that fits (deterministic
/// for every worker), with the ring of its fitting workers.
fn home(routing: &super::Routing, p: &Placement) -> Option<(String, Ring)> {
    routing
        .view
        .swarmlets
        .iter()
        .find_map(|(name, s)| fitting_ring(s, p).map(|ring| (name.clone(), ring)))
}

/// The ring of the workers of swarmlet `s` that fit placement `p` (`None`: none fits).
fn fitting_ring(s: &SwarmletView, p: &Placement) -> Option<Ring> {
    let ids: Vec<&str> = s
        .workers
        .iter()
        .filter(|(w, _)| fits(p, &w.location, &w.hardware))
        .map(|(w, _)| w.id.as_str())
        .collect();
    (!ids.is_empty()).then(|| Ring::new(ids))
}

fn bad(status: StatusCode, msg: &str) -> Response<s3s::Body> {
    error_response(
        status,
        if status == StatusCode::FORBIDDEN {
            "AccessDenied"
        } else {
            "InvalidRequest"
        },
        msg,
    )
}

impl Mesh {
    /// Where `stage` runs for the object of `info`: `None` here, else the worker to call.
    ///
    /// # Errors
    /// No live worker has the stage's location and hardware (the message names both).
    pub fn place(
        &self,
        stage: &StageRun,
        info: &ChunkInfo,
    ) -> Result<Option<WorkerRecord>, String> {
        let p = &stage.placement;
        let here = fits(p, &self.config.location, &self.config.hardware);
        // A stateless stage runs here whenever it fits; a stateful one in its state's home.
        if here && !stage.stateful {
            return Ok(None);
        }
        let routing = self.routing.load();
        let found = home(&routing, p);
        if here
            && found
                .as_ref()
                .is_some_and(|(name, _)| *name == self.config.swarmlet)
        {
            return Ok(None);
        }
        let Some((_, ring)) = found else {
            let hw = if p.hardware.is_empty() {
                String::new()
            } else {
                format!(" and hardware [{}]", p.hardware.join(", "))
            };
            let have: BTreeSet<String> = routing
                .view
                .workers()
                .map(|w| format!("{}{:?}", w.location, w.hardware))
                .collect();
            return Err(format!(
                "stage {} (streamlet {}) needs location `{}`{hw}: no live worker has it (workers: {})",
                stage.index,
                stage.name,
                p.location,
                if have.is_empty() {
                    "none".to_owned()
                } else {
                    have.into_iter().collect::<Vec<_>>().join(", ")
                }
            ));
        };
        // The partition's owner there, so stateful stages meet one worker per partition.
        let key = match &info.stream_name {
            Some(s) => route_key(&info.system, s, info.partition.unwrap_or(0)),
            None => format!("{}\0{}", info.object.bucket, info.object.key).into_bytes(),
        };
        let owner = ring.owner(&key).unwrap_or_default();
        Ok(routing.view.worker(owner).cloned())
    }

    /// Whether this worker's swarmlet is the home of state used under placement `p` (where a
    /// stateful stage runs, and where its state may be written).
    #[must_use]
    pub fn is_home(&self, p: &Placement) -> bool {
        home(&self.routing.load(), p).is_some_and(|(name, _)| name == self.config.swarmlet)
    }

    /// Runs `stage` on `data` on worker `to`; the request context comes back updated.
    ///
    /// # Errors
    /// The remote stage's S3 error, or 503 when `to` cannot be reached.
    pub async fn run_remote(
        &self,
        to: &WorkerRecord,
        stage: &StageRun,
        req: &PipelineRequest,
        frame: FrameInfo,
        data: Bytes,
    ) -> Result<Bytes, S3Error> {
        let info = &req.info;
        let call = StageCall {
            streamlet: stage.name.to_string(),
            digest: stage.loaded.digest.to_string(),
            index: stage.index,
            params: (*stage.params).clone(),
            memory_bytes: stage.limits.memory_bytes,
            timeout_ms: u64::try_from(stage.limits.timeout.as_millis()).unwrap_or(u64::MAX),
            put: matches!(req.direction, Direction::Put),
            frame: (frame.index, frame.offset, frame.length),
            bucket: info.object.bucket.clone(),
            key: info.object.key.clone(),
            system: info.system.clone(),
            stream: info.stream_name.clone(),
            partition: info.partition,
            size: info.size,
            content_type: info.content_type.clone(),
            ctx: req.ctx.entries(),
            read_only: req.ctx.is_read_only(),
            stateful: stage.stateful && req.state.is_some(),
            placement: stage.placement.clone(),
        };
        let unavailable = |why: String| {
            tracing::warn!(to = %to.id, streamlet = %stage.name, "{why}");
            S3Error::with_message(
                S3ErrorCode::ServiceUnavailable,
                format!(
                    "stage {} ({}) on worker {}: {why}; retry",
                    stage.index, stage.name, to.id
                ),
            )
        };
        let (call_stateful, sent_ctx) = (call.stateful, call.ctx.clone());
        let json = serde_json::to_string(&call).map_err(|e| unavailable(e.to_string()))?;
        let mut headers = HeaderMap::new();
        let authority = to
            .advertise
            .split_once("://")
            .map_or(to.advertise.as_str(), |(_, a)| a);
        let set = |h: &mut HeaderMap, name: &'static str, v: String| {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(name, v);
            }
        };
        set(&mut headers, "host", authority.to_owned());
        set(
            &mut headers,
            STAGE,
            utf8_percent_encode(&json, NON_ALPHANUMERIC).to_string(),
        );
        set(
            &mut headers,
            BODY_CRC32C,
            format!("{:08x}", crc32c::crc32c(&data)),
        );
        set(&mut headers, CONTENT_LENGTH, data.len().to_string());
        let hop = self.first_hop(to, req.request_id.to_string());
        sign::sign(&self.config.secret, "POST", PATH, &mut headers, hop);
        let uri: http::Uri = format!("{}{PATH}", to.advertise)
            .parse()
            .map_err(|e| unavailable(format!("{e}")))?;
        let mut builder = Request::builder().method("POST").uri(uri);
        if let Some(h) = builder.headers_mut() {
            *h = headers;
        }
        let http_req = builder
            .body(Full::new(data))
            .map_err(|e| unavailable(e.to_string()))?;
        let res = self.peers.send_full(http_req).await.map_err(unavailable)?;
        let status = res.status();
        let (parts, body) = res.into_parts();
        let bytes = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| unavailable(e.to_string()))?
            .to_bytes();
        self.metrics.mesh_forwarded(&to.swarmlet, status.as_u16());
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            let field = |tag: &str| {
                let open = format!("<{tag}>");
                let start = text.find(&open)? + open.len();
                let end = text[start..].find(&format!("</{tag}>"))? + start;
                Some(text[start..end].to_owned())
            };
            let code = field("Code").map_or(S3ErrorCode::InternalError, |c| {
                S3ErrorCode::from_bytes(c.as_bytes()).unwrap_or(S3ErrorCode::InternalError)
            });
            let mut e = S3Error::with_message(
                code,
                field("Message").unwrap_or_else(|| format!("remote stage answered {status}")),
            );
            e.set_status_code(status);
            return Err(e);
        }
        let crc = parts
            .headers
            .get(BODY_CRC32C)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| u32::from_str_radix(v, 16).ok());
        if crc != Some(crc32c::crc32c(&bytes)) {
            return Err(unavailable(
                "the stage's answer failed its CRC32C check".into(),
            ));
        }
        if let Some(ctx) = parts.headers.get(STAGE).and_then(|v| v.to_str().ok()) {
            let json = percent_decode_str(ctx).decode_utf8_lossy();
            if let Ok(entries) = serde_json::from_str::<BTreeMap<String, String>>(&json) {
                req.ctx.apply_changes(&sent_ctx, entries);
            }
        }
        if call_stateful && let Some(scope) = &req.state {
            let (epoch, writes) = parts
                .headers
                .get(STATE)
                .and_then(|v| v.to_str().ok())
                .map(|v| percent_decode_str(v).decode_utf8_lossy().into_owned())
                .and_then(|json| serde_json::from_str::<(u64, StateWrites)>(&json).ok())
                .ok_or_else(|| {
                    unavailable("the stateful stage answered without its state".into())
                })?;
            scope
                .add_placed_writes(&stage.name, epoch, writes)
                .map_err(unavailable)?;
        }
        Ok(bytes)
    }

    /// Serves `POST /_nexus/v1/stage` from another worker.
    pub async fn serve_stage(&self, req: Request<Incoming>) -> Response<s3s::Body> {
        let headers = req.headers().clone();
        if let Err(r) = sign::verify(&self.config.secret, "POST", PATH, &headers, &self.id) {
            self.metrics.mesh_refused("signature");
            tracing::warn!(refusal = %r, "Refused a stage call.");
            return bad(StatusCode::FORBIDDEN, &r.to_string());
        }
        let Some(call) = headers
            .get(STAGE)
            .and_then(|v| v.to_str().ok())
            .map(|v| percent_decode_str(v).decode_utf8_lossy().into_owned())
            .and_then(|json| serde_json::from_str::<StageCall>(&json).ok())
        else {
            return bad(
                StatusCode::BAD_REQUEST,
                "x-nexus-stage is missing or malformed",
            );
        };
        let data = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return bad(StatusCode::BAD_REQUEST, &format!("stage body: {e}")),
        };
        let crc = headers
            .get(BODY_CRC32C)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| u32::from_str_radix(v, 16).ok());
        if crc != Some(crc32c::crc32c(&data)) {
            return bad(
                StatusCode::BAD_REQUEST,
                "stage body failed its CRC32C check",
            );
        }
        // A stateful stage runs here as the owner of the partition in this swarmlet, at this
        // worker's epoch; it answers with its writes, which the caller commits fenced by that
        // epoch once the object is stored.
        let placed = if call.stateful {
            match self.placed_state(&call) {
                Ok(p) => p,
                Err(r) => return *r,
            }
        } else {
            None
        };
        let digest: Digest = match call.digest.parse() {
            Ok(d) => d,
            Err(e) => return bad(StatusCode::BAD_REQUEST, &format!("digest: {e}")),
        };
        let pipelines = Arc::clone(&self.pipelines);
        let loaded = match pipelines.loaded(&digest).await {
            Ok(l) => l,
            Err(e) => return s3_error_response(&e.to_s3(&call.streamlet, call.index)),
        };
        let stage = StageRun {
            name: Arc::from(call.streamlet.as_str()),
            index: call.index,
            loaded,
            params: Arc::new(call.params),
            limits: Limits {
                memory_bytes: call.memory_bytes,
                timeout: std::time::Duration::from_millis(call.timeout_ms),
            },
            placement: Placement::default(),
            stateful: call.stateful,
        };
        let ctx = if call.read_only {
            SharedContext::read_only(call.ctx)
        } else {
            SharedContext::writable(call.ctx)
        };
        let request_id: Arc<str> = Arc::from(
            headers
                .get(sign::REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-"),
        );
        let preq = PipelineRequest {
            direction: if call.put {
                Direction::Put
            } else {
                Direction::Get
            },
            info: Arc::new(ChunkInfo {
                object: ObjectRef {
                    bucket: call.bucket,
                    key: call.key,
                },
                system: call.system,
                stream_name: call.stream,
                partition: call.partition,
                size: call.size,
                content_type: call.content_type,
            }),
            ctx: ctx.clone(),
            request_id,
            state: placed.as_ref().map(|p| Arc::clone(&p.scope)),
        };
        let frame = FrameInfo {
            index: call.frame.0,
            offset: call.frame.1,
            length: call.frame.2,
        };
        match pipelines.run_stage(&stage, &preq, frame, data).await {
            Ok(out) => {
                let mut res = Response::new(s3s::Body::from(out.clone()));
                let h = res.headers_mut();
                if let Ok(v) = HeaderValue::from_str(&format!("{:08x}", crc32c::crc32c(&out))) {
                    h.insert(BODY_CRC32C, v);
                }
                if let Ok(json) = serde_json::to_string(&ctx.entries())
                    && let Ok(v) = HeaderValue::from_str(
                        &utf8_percent_encode(&json, NON_ALPHANUMERIC).to_string(),
                    )
                {
                    h.insert(STAGE, v);
                }
                if let Some(p) = &placed {
                    let writes = p.scope.txn(&call.streamlet).take_writes();
                    let json = serde_json::to_string(&(p.epoch, writes)).unwrap_or_default();
                    if json.len() > MAX_STATE {
                        return bad(
                            StatusCode::INSUFFICIENT_STORAGE,
                            &format!(
                                "stage {} ({}) wrote more than {MAX_STATE} bytes of state in one request",
                                call.index, call.streamlet
                            ),
                        );
                    }
                    if let Ok(v) = HeaderValue::from_str(
                        &utf8_percent_encode(&json, NON_ALPHANUMERIC).to_string(),
                    ) {
                        res.headers_mut().insert(STATE, v);
                    }
                }
                res
            }
            Err(e) => s3_error_response(&e),
        }
    }
}

impl Mesh {
    /// The state scope of a stateful stage call: this worker must own the call's partition in
    /// its swarmlet now (else `503 SlowDown`, so the caller's client retries on a new view).
    fn placed_state(
        &self,
        call: &StageCall,
    ) -> Result<Option<PlacedState>, Box<Response<s3s::Body>>> {
        let (Some(stream), Some(service)) = (&call.stream, self.pipelines.state.get()) else {
            return Ok(None);
        };
        let partition = call.partition.unwrap_or(0);
        let routing = self.routing.load();
        let epoch = routing.epoch(&self.config.swarmlet);
        let key = route_key(&call.system, stream, partition);
        let owner = routing
            .view
            .swarmlets
            .get(&self.config.swarmlet)
            .and_then(|s| fitting_ring(s, &call.placement))
            .and_then(|ring| ring.owner(&key).map(str::to_owned));
        if owner.as_deref() != Some(self.id.as_str()) {
            return Err(Box::new(error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "SlowDown",
                "this worker does not own the partition of the stateful stage now; retry",
            )));
        }
        let scope = service.placed_scope(stream, partition, epoch);
        Ok(Some(PlacedState { scope, epoch }))
    }
}

/// The state of a stateful stage placed here, and the epoch its writes are fenced by.
struct PlacedState {
    scope: Arc<crate::state::StateScope>,
    epoch: u64,
}

fn s3_error_response(e: &S3Error) -> Response<s3s::Body> {
    let status = e.status_code().unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error_response(status, e.code().as_str(), e.message().unwrap_or_default())
}
