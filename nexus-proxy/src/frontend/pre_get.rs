//! Step 7a of the request lifecycle: data-source stages decide reads. Before a GET or HEAD of
//! an object that a policy now matches reaches the store, the policy's data-source stages run
//! in pipeline order (`handle-pre-get`); the first one that does not `pass` decides:
//!
//! - `serve-source(store, key)`: the read is answered from that key of a named store (one the
//!   policy names in `spec.output`), decoded if Nexus stored it transformed there;
//! - `serve-body(length, body)`: the streamlet's body is the answer (200, no ETag: the bytes are
//!   made up on the fly; Content-Length when the streamlet announced it);
//! - `deny(status)`: the read is refused with that status.
//!
//! A streamlet that fails fails the read, as a byte stage fails a write. Streamlets read named
//! stores themselves through `sources.open` ([`StoreOpener`]).

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt as _;
use nexus_core::resource::{CompiledPolicy, PolicySet};
use s3s::dto::{GetObjectInput, GetObjectOutput, HeadObjectInput, HeadObjectOutput, Range};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result};

use super::transformed::{request_id, shell};
use super::{Frontend, Observed, recorded};
use crate::named_stores::{Named, NamedStores};
use crate::pipeline::Pipelines;
use crate::pipeline::decode::{self, Source, Transformed, internal, is_transformed};
use crate::pipeline::plan::data_sources;
use crate::pipeline::spool::exact;
use crate::streamlet::{
    BlockingRead, Decision, GetRequest, ObjectRef, Opener, SharedContext, SourceCall,
    StreamletError,
};

/// What a data-source stage decided for a read that does not go to the store as usual.
pub(super) enum Routed {
    Source {
        named: Named,
        key: String,
    },
    Body {
        length: Option<u64>,
        pieces: tokio::sync::mpsc::Receiver<Result<Bytes, StreamletError>>,
        stage: (Arc<str>, usize),
    },
}

/// Headers a streamlet never sees.
fn private_header(name: &str) -> bool {
    matches!(name, "authorization" | "x-amz-security-token" | "cookie")
}

/// The request's range as the WIT carries it (`first..=last`); suffix ranges are not
/// expressible without the size, and open ranges end at `u64::MAX`.
fn wit_range(range: Option<&Range>) -> Option<(u64, u64)> {
    match range? {
        Range::Int { first, last } => Some((*first, last.unwrap_or(u64::MAX))),
        Range::Suffix { .. } => None,
    }
}

/// The bytes `[start, end)` of a generated body of `length` that `range` asks for, and that
/// length; `None`: the whole body (no range, or a body whose length the streamlet did not
/// give).
///
/// # Errors
/// `InvalidRange` (416) when the range starts at or beyond the length.
fn body_range(
    range: Option<&Range>,
    length: Option<u64>,
) -> S3Result<Option<(std::ops::Range<u64>, u64)>> {
    match (range, length) {
        (Some(r), Some(len)) => r
            .check(len)
            .map(|want| Some((want, len)))
            .map_err(|_| S3Error::new(S3ErrorCode::InvalidRange)),
        _ => Ok(None),
    }
}

/// Bytes `[want.start, want.end)` of `stream`, which is not read past them.
fn slice<S>(
    stream: S,
    want: std::ops::Range<u64>,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + Sync + 'static
where
    S: futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + Sync + Unpin + 'static,
{
    use futures::StreamExt as _;
    futures::stream::unfold((stream, 0u64), move |(mut stream, mut at)| async move {
        while at < want.end {
            let piece = match stream.next().await? {
                Ok(p) => p,
                Err(e) => return Some((Err(e), (stream, want.end))),
            };
            let to = at + piece.len() as u64;
            let (a, b) = (want.start.clamp(at, to), want.end.clamp(at, to));
            let part = piece
                .slice(usize::try_from(a - at).unwrap_or(0)..usize::try_from(b - at).unwrap_or(0));
            at = to;
            if !part.is_empty() {
                return Some((Ok(part), (stream, at)));
            }
        }
        None
    })
}

fn denied(status: u16) -> S3Error {
    let code = match status {
        403 => S3ErrorCode::AccessDenied,
        404 => S3ErrorCode::NoSuchKey,
        503 => S3ErrorCode::SlowDown,
        _ if status >= 500 => S3ErrorCode::InternalError,
        _ => S3ErrorCode::InvalidRequest,
    };
    let mut e = S3Error::with_message(
        code,
        "The read was refused by the policy's data-source streamlet.",
    );
    if let Ok(s) = http::StatusCode::from_u16(status) {
        e.set_status_code(s);
    }
    e
}

impl Frontend {
    /// Runs the data-source stages of the policy that now matches the object of a read.
    /// `None`: read the store as usual.
    ///
    /// # Errors
    /// A stage denied the read or failed.
    /// The state a data-source `stage` reads: the request's, or, outside the state's home
    /// swarmlet (`mesh-protocol.md` §5), a read-only snapshot that raises no fence.
    fn read_state(
        &self,
        state: Option<&Arc<crate::state::StateScope>>,
        stage: &crate::pipeline::plan::StagePlan,
        obs: &Observed,
    ) -> Option<Arc<crate::state::StateScope>> {
        let state = state?;
        let mesh = self.pipelines.mesh.get().and_then(std::sync::Weak::upgrade);
        match (
            mesh,
            self.pipelines.state.get(),
            obs.class.stream.as_deref(),
        ) {
            (Some(mesh), Some(service), Some(stream))
                if stage.stateful && !mesh.is_home(&stage.placement) =>
            {
                Some(service.snapshot_scope(stream, obs.class.partition.unwrap_or(0)))
            }
            _ => Some(Arc::clone(state)),
        }
    }

    pub(super) async fn pre_get<T>(
        &self,
        req: &S3Request<T>,
        obs: &Observed,
        bucket: &str,
        key: &str,
        range: Option<&Range>,
    ) -> S3Result<Option<Routed>> {
        let Some(policy) = obs.policy(bucket) else {
            return Ok(None);
        };
        let stages = match data_sources(&obs.set, policy) {
            Ok(s) if s.is_empty() => return Ok(None),
            Ok(s) => s,
            Err(why) => {
                tracing::warn!(policy = %policy.name, "Data-source stages not run: {why}.");
                return Ok(None);
            }
        };
        let like = shell(req);
        let id = request_id(req);
        let headers: Vec<(String, String)> = req
            .headers
            .iter()
            .filter(|(n, _)| !private_header(n.as_str()))
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let opener: Arc<dyn Opener> = Arc::new(StoreOpener {
            named: Arc::clone(&self.named),
            pipelines: Arc::clone(&self.pipelines),
            set: Arc::clone(&obs.set),
            policy: policy.clone(),
            bucket: bucket.to_owned(),
            like: shell(&like),
            request_id: Arc::clone(&id),
            runtime: tokio::runtime::Handle::current(),
        });
        let state = self.state_scope(req, obs);
        for (i, stage) in stages.iter().enumerate() {
            let index = policy
                .spec
                .pipeline
                .iter()
                .position(|s| s.streamlet.0.as_str() == &*stage.name)
                .unwrap_or(i);
            let loaded = self
                .pipelines
                .loaded(&stage.digest)
                .await
                .map_err(|e| e.to_s3(&stage.name, index))?;
            let call = SourceCall {
                streamlet: Arc::clone(&stage.name),
                request_id: Arc::clone(&id),
                params: Arc::clone(&stage.params),
                limits: stage.limits.clone(),
                ctx: SharedContext::read_only(Default::default()),
                request: GetRequest {
                    object: ObjectRef {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                    },
                    range: wit_range(range),
                    headers: headers.clone(),
                },
                opener: Some(Arc::clone(&opener)),
                state: self
                    .read_state(state.as_ref(), stage, obs)
                    .map(|s| s.txn(&stage.name)),
            };
            let started = std::time::Instant::now();
            let decided = self.pipelines.runtime.pre_get(loaded, call).await;
            self.metrics
                .streamlet_call(&stage.name, started.elapsed().as_secs_f64());
            let decision = decided.map_err(|e| {
                self.metrics
                    .streamlet_failure(&stage.name, index, e.reason());
                tracing::warn!(streamlet = %stage.name, stage = index, %id, error = %e, "Data-source streamlet failed.");
                e.to_s3(&stage.name, index)
            })?;
            if let Some(state) = &state {
                state.commit().await?;
            }
            match decision {
                Decision::Pass => {}
                Decision::Deny(status) => {
                    tracing::debug!(streamlet = %stage.name, %status, %bucket, %key, "Read denied.");
                    return Err(denied(status));
                }
                Decision::Source { store, key } => {
                    let named = self
                        .named
                        .resolve(&obs.set, policy, &store)
                        .map_err(|why| {
                            tracing::warn!(streamlet = %stage.name, %id, "serve-source: {why}");
                            S3Error::with_message(
                                S3ErrorCode::InternalError,
                                format!("streamlet {} (stage {index}): {why}", stage.name),
                            )
                        })?;
                    return Ok(Some(Routed::Source { named, key }));
                }
                Decision::Body { length, pieces } => {
                    return Ok(Some(Routed::Body {
                        length,
                        pieces,
                        stage: (Arc::clone(&stage.name), index),
                    }));
                }
            }
        }
        Ok(None)
    }

    /// A GET answered as a data-source stage decided.
    pub(super) async fn get_routed(
        &self,
        req: &S3Request<GetObjectInput>,
        obs: &Observed,
        routed: Routed,
    ) -> S3Result<GetObjectOutput> {
        match routed {
            Routed::Source { named, key } => {
                let mut input = req.input.clone();
                input.bucket = named.bucket.clone().unwrap_or_else(|| input.bucket.clone());
                input.key = key;
                read_named(
                    &self.pipelines,
                    &named,
                    &obs.set,
                    &shell(req),
                    request_id(req),
                    input,
                )
                .await
            }
            Routed::Body {
                length,
                pieces,
                stage: (name, index),
            } => {
                let metrics = Arc::clone(&self.metrics);
                let stream = futures::stream::unfold(
                    (pieces, metrics, name, index),
                    |(mut rx, metrics, name, index)| async move {
                        let piece = rx.recv().await?;
                        let piece = piece.map_err(|e| {
                            metrics.streamlet_failure(&name, index, e.reason());
                            tracing::warn!(streamlet = %name, stage = index, error = %e, "Data-source body failed.");
                            std::io::Error::other(e.to_string())
                        });
                        Some((piece, (rx, metrics, name, index)))
                    },
                );
                // The body is the whole object; the host answers the range, as a store would.
                let Some((want, total)) = body_range(req.input.range.as_ref(), length)? else {
                    let body = match length {
                        Some(len) => exact(stream, len),
                        None => s3s::dto::StreamingBlob::wrap(stream),
                    };
                    return Ok(GetObjectOutput {
                        body: Some(body),
                        content_length: length.and_then(|l| i64::try_from(l).ok()),
                        ..GetObjectOutput::default()
                    });
                };
                let (first, end) = (want.start, want.end);
                Ok(GetObjectOutput {
                    body: Some(exact(slice(Box::pin(stream), want), end - first)),
                    content_length: i64::try_from(end - first).ok(),
                    content_range: Some(format!("bytes {first}-{}/{total}", end - 1)),
                    ..GetObjectOutput::default()
                })
            }
        }
    }

    /// A HEAD answered as a data-source stage decided.
    pub(super) async fn head_routed(
        &self,
        req: &S3Request<HeadObjectInput>,
        routed: Routed,
    ) -> S3Result<HeadObjectOutput> {
        match routed {
            Routed::Source { named, key } => {
                let mut input = req.input.clone();
                input.bucket = named.bucket.clone().unwrap_or_else(|| input.bucket.clone());
                input.key = key;
                let checksum = decode::wants_checksum(
                    input.checksum_mode.as_ref(),
                    input.range.as_ref(),
                    input.part_number,
                );
                let (bucket, key) = (input.bucket.clone(), input.key.clone());
                let mut head = named.store.head_object(internal(req, input)).await?.output;
                if is_transformed(head.metadata.as_ref()) {
                    let t = Transformed::from_head(&head, &bucket, &key)?;
                    t.logical_head(&mut head, checksum);
                }
                recorded::hide(&mut head.metadata);
                Ok(head)
            }
            // The body is not read; dropping it ends the streamlet's invocation.
            Routed::Body { length, .. } => Ok(HeadObjectOutput {
                content_length: length.and_then(|l| i64::try_from(l).ok()),
                ..HeadObjectOutput::default()
            }),
        }
    }
}

/// A GET of `input` in the `named` store, decoded if Nexus stored the object transformed.
async fn read_named(
    pipelines: &Arc<Pipelines>,
    named: &Named,
    set: &PolicySet,
    like: &S3Request<()>,
    request_id: Arc<str>,
    input: GetObjectInput,
) -> S3Result<GetObjectOutput> {
    let (bucket, key) = (input.bucket.clone(), input.key.clone());
    let store = &named.store;
    let head = decode::head_for_get(store, like, &bucket, &key).await?;
    if !is_transformed(head.metadata.as_ref()) {
        let mut out = store.get_object(internal(like, input)).await?.output;
        recorded::hide(&mut out.metadata);
        return Ok(out);
    }
    let t = Transformed::from_head(&head, &bucket, &key)?;
    let src = Source {
        pipelines,
        store,
        store_name: &named.name,
        set,
        like,
        request_id,
    };
    decode::get(&src, &input, head, t).await
}

/// `sources.open` over the stores a policy names: blocking, on the streamlet's thread.
struct StoreOpener {
    named: Arc<NamedStores>,
    pipelines: Arc<Pipelines>,
    set: Arc<PolicySet>,
    policy: CompiledPolicy,
    /// The request's bucket (stores without a bucket of their own read from it).
    bucket: String,
    like: S3Request<()>,
    request_id: Arc<str>,
    runtime: tokio::runtime::Handle,
}

impl Opener for StoreOpener {
    fn open(
        &self,
        store: &str,
        key: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Option<Box<dyn BlockingRead>>, crate::streamlet::host::GuestError> {
        use crate::streamlet::host::GuestError;
        let named = self
            .named
            .resolve(&self.set, &self.policy, store)
            .map_err(GuestError::Rejected)?;
        let mut input = GetObjectInput::builder()
            .bucket(named.bucket.clone().unwrap_or_else(|| self.bucket.clone()))
            .key(key.to_owned())
            .build()
            .map_err(|e| GuestError::Internal(e.to_string()))?;
        input.range = range.map(|(first, last)| Range::Int {
            first,
            last: (last != u64::MAX).then_some(last),
        });
        let read = read_named(
            &self.pipelines,
            &named,
            &self.set,
            &self.like,
            Arc::clone(&self.request_id),
            input,
        );
        match self.runtime.block_on(read) {
            Ok(out) => Ok(Some(Box::new(BlobReader {
                body: out.body,
                runtime: self.runtime.clone(),
                left: Bytes::new(),
            }))),
            Err(e) if *e.code() == S3ErrorCode::NoSuchKey => Ok(None),
            Err(e) if e.status_code().is_some_and(|s| s.is_client_error()) => {
                Err(GuestError::Rejected(format!(
                    "store `{store}`: {}",
                    e.message().unwrap_or(e.code().as_str())
                )))
            }
            Err(e) => Err(GuestError::Unavailable(format!(
                "store `{store}`: {}",
                e.message().unwrap_or(e.code().as_str())
            ))),
        }
    }
}

/// A response body read from a blocking thread, at most `max` bytes at a time.
struct BlobReader {
    body: Option<s3s::dto::StreamingBlob>,
    runtime: tokio::runtime::Handle,
    /// The rest of the last chunk.
    left: Bytes,
}

impl BlockingRead for BlobReader {
    fn read(&mut self, max: usize) -> Result<Option<Vec<u8>>, String> {
        while self.left.is_empty() {
            let Some(body) = self.body.as_mut() else {
                return Ok(None);
            };
            match self.runtime.block_on(body.next()) {
                None => {
                    self.body = None;
                    return Ok(None);
                }
                Some(Err(e)) => return Err(e.to_string()),
                Some(Ok(chunk)) => self.left = chunk,
            }
        }
        let n = max.min(self.left.len());
        Ok(Some(self.left.split_to(n).to_vec()))
    }
}
