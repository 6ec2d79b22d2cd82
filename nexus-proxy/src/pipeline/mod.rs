//! Step 8 of the request lifecycle: the streamlet pipeline on object bodies.
//!
//! A write under a policy with byte streamlets ([`plan::Plan`]) is cut into frames, each frame
//! runs through every stage (frames in parallel, in a bounded window, output kept in order),
//! and the result is stored as an `NXF1` object ([`nexus_core::format`]) with the pipeline
//! recorded in its metadata ([`plan::Recorded`]). A read of such an object fetches only the
//! frames that cover the requested range and runs the **recorded** pipeline in reverse
//! ([`decode`]). Objects without `nexus-format` are never touched.

/// Drops the `checksum_*` fields of an S3 input or output: on a transformed object they would
/// describe stored bytes, not what the client wrote.
macro_rules! clear_checksums {
    ($x:expr) => {{
        $x.checksum_crc32 = None;
        $x.checksum_crc32c = None;
        $x.checksum_crc64nvme = None;
        $x.checksum_sha1 = None;
        $x.checksum_sha256 = None;
    }};
}
pub(crate) use clear_checksums;

pub mod checksum;
pub mod decode;
pub mod encode;
pub mod index_cache;
pub mod plan;
pub mod spool;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use nexus_core::meta::{Digest, MetaStore};
use s3s::S3Error;

use crate::metrics::Metrics;
use crate::streamlet::{
    Call, ChunkInfo, Direction, FrameInfo, Limits, Loaded, Runtime, SharedContext, StreamletError,
};

/// Default plaintext bytes per frame (`docs/formats.md` §1; a policy's `frameSize` overrides).
pub const FRAME_SIZE: usize = 1 << 20;

/// Encoded bodies up to this size wait in memory; larger ones spool to a file (16 concurrent
/// large PUTs then hold at most 32 MiB of spool in memory).
pub const SPOOL_MEMORY: usize = 2 << 20;

/// Frames in flight through encoding, across all requests, per streamlet thread: bounds the
/// memory of many concurrent large PUTs (a few frames each, not a window each).
pub const FRAMES_PER_THREAD: usize = 4;

/// What every pipeline needs: the runtime, where modules come from, where to spool.
pub struct Pipelines {
    pub runtime: Arc<Runtime>,
    meta: Arc<dyn MetaStore>,
    spool_dir: PathBuf,
    pub metrics: Arc<Metrics>,
    pub indexes: index_cache::IndexCache,
    /// Frames in flight through encoding, all requests together ([`FRAMES_PER_THREAD`]).
    pub frames: Arc<tokio::sync::Semaphore>,
    /// Streamlet state, when the metadata store is Redis (set once at start).
    pub state: std::sync::OnceLock<Arc<crate::state::StateService>>,
    /// The mesh, which places stages on other swarmlets (set once at start; none: every
    /// stage runs here).
    pub mesh: std::sync::OnceLock<std::sync::Weak<crate::mesh::Mesh>>,
}

/// What every frame of one request shares.
#[derive(Clone)]
pub struct PipelineRequest {
    pub direction: Direction,
    pub info: Arc<ChunkInfo>,
    pub ctx: SharedContext,
    pub request_id: Arc<str>,
    /// Streamlet state of this request (PUT pipelines of routed or shared-state requests).
    pub state: Option<Arc<crate::state::StateScope>>,
}

/// One stage as it runs on a frame.
#[derive(Clone)]
pub struct StageRun {
    pub name: Arc<str>,
    pub index: usize,
    pub loaded: Arc<Loaded>,
    pub params: Arc<serde_json::Map<String, serde_json::Value>>,
    pub limits: Limits,
    pub placement: plan::Placement,
    /// Keeps per-partition state: placed in the state's home swarmlet.
    pub stateful: bool,
}

impl Pipelines {
    #[must_use]
    pub fn new(
        runtime: Arc<Runtime>,
        meta: Arc<dyn MetaStore>,
        spool_dir: PathBuf,
        metrics: Arc<Metrics>,
    ) -> Self {
        let runtime_threads = runtime.parallelism();
        Self {
            runtime,
            meta,
            spool_dir,
            metrics,
            indexes: index_cache::IndexCache::default(),
            frames: Arc::new(tokio::sync::Semaphore::new(
                FRAMES_PER_THREAD * runtime_threads,
            )),
            state: std::sync::OnceLock::new(),
            mesh: std::sync::OnceLock::new(),
        }
    }

    /// The compiled module with `digest` (fetched from the metadata store on first use).
    ///
    /// # Errors
    /// The module is missing or unusable.
    pub async fn loaded(&self, digest: &Digest) -> Result<Arc<Loaded>, StreamletError> {
        if let Some(l) = self.runtime.cached(digest) {
            return Ok(l);
        }
        let bytes = self
            .meta
            .get_module(digest)
            .await
            .map_err(|e| StreamletError::Internal(format!("reading module {digest}: {e}")))?
            .ok_or_else(|| {
                StreamletError::Module(format!("module {digest} is not in the metadata store"))
            })?;
        let runtime = Arc::clone(&self.runtime);
        let digest = digest.clone();
        tokio::task::spawn_blocking(move || runtime.compile(&digest, &bytes))
            .await
            .map_err(|e| StreamletError::Internal(format!("compile task: {e}")))?
    }

    /// Runs one frame through `stages` in order (reversed by the caller for reads).
    ///
    /// # Errors
    /// The S3 error of the first failing stage (also logged and counted).
    pub async fn run_frame(
        &self,
        stages: &[StageRun],
        req: &PipelineRequest,
        frame: FrameInfo,
        input: Bytes,
    ) -> Result<Bytes, S3Error> {
        let mut data = input;
        let mesh = self.mesh.get().and_then(std::sync::Weak::upgrade);
        for stage in stages {
            let remote = match &mesh {
                Some(m) => m.place(stage, &req.info).map_err(|why| {
                    tracing::warn!(streamlet = %stage.name, stage = stage.index, id = %req.request_id, "{why}");
                    S3Error::with_message(s3s::S3ErrorCode::ServiceUnavailable, why)
                })?,
                None => None,
            };
            data = match (remote, &mesh) {
                (Some(to), Some(m)) => m.run_remote(&to, stage, req, frame, data).await?,
                _ => self.run_stage(stage, req, frame, data).await?,
            };
        }
        Ok(data)
    }

    /// Runs one stage on one frame here.
    ///
    /// # Errors
    /// The stage's S3 error (also logged and counted).
    pub async fn run_stage(
        &self,
        stage: &StageRun,
        req: &PipelineRequest,
        frame: FrameInfo,
        data: Bytes,
    ) -> Result<Bytes, S3Error> {
        let request_id = &req.request_id;
        {
            let call = Call {
                streamlet: Arc::clone(&stage.name),
                request_id: Arc::clone(request_id),
                params: Arc::clone(&stage.params),
                limits: stage.limits.clone(),
                direction: req.direction,
                info: Arc::clone(&req.info),
                frame,
                ctx: req.ctx.clone(),
                state: req.state.as_ref().map(|s| s.txn(&stage.name)),
            };
            let (result, ran) = self
                .runtime
                .run(Arc::clone(&stage.loaded), call, data)
                .await;
            self.metrics.streamlet_call(&stage.name, ran.as_secs_f64());
            match result {
                Ok(out) => Ok(Bytes::from(out)),
                Err(e) => {
                    self.metrics
                        .streamlet_failure(&stage.name, stage.index, e.reason());
                    tracing::warn!(streamlet = %stage.name, stage = stage.index, id = %request_id, error = %e, "Streamlet failed.");
                    Err(e.to_s3(&stage.name, stage.index))
                }
            }
        }
    }

    /// Where bodies too large for memory are spooled.
    #[must_use]
    pub fn spool_dir(&self) -> &std::path::Path {
        &self.spool_dir
    }
}
