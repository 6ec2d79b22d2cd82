//! Writing through a pipeline: the plaintext body is cut into frames as it arrives, frames run
//! through the stages on the streamlet pool (several at once, at most `2 × parallelism` in
//! flight, so memory stays at a few frames), outputs are appended in order to a [`Spool`]
//! with the frame index, and the logical MD5 (the client's ETag) is computed on the way, on a
//! thread of its own (MD5 cannot be split, and at ~0.7 GB/s per core it would otherwise bound
//! the request task).

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use md5::{Digest as _, Md5};
use nexus_core::format::{FrameEntry, Index};
use s3s::dto::StreamingBlob;
use s3s::{S3Error, S3ErrorCode};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;

use super::spool::Spool;
use super::{PipelineRequest, Pipelines, StageRun};
use crate::streamlet::FrameInfo;

/// An encoded body, ready for the store.
pub struct Encoded {
    pub spool: Spool,
    pub logical_size: u64,
    /// MD5 of the plaintext, hex.
    pub md5_hex: String,
    pub frames: usize,
    /// The frame index (also in the spool's tail).
    pub index: Index,
}

type Pending = JoinHandle<Result<Bytes, S3Error>>;

/// A frame being encoded: its plaintext length, the task, and its slot of the worker-wide
/// frame budget (released when the frame is appended).
type InFlight = (u64, Pending, OwnedSemaphorePermit);

/// Encodes `body` through `stages`, in frames of `stages_frame_size` plaintext bytes.
///
/// # Errors
/// The body failed (a checksum or signature error, a truncated upload: the caller's verdict
/// tells which), a stage failed, or the spool could not be written.
pub async fn encode(
    p: &Arc<Pipelines>,
    stages: Arc<[StageRun]>,
    stages_frame_size: usize,
    req: &PipelineRequest,
    body: Option<StreamingBlob>,
) -> Result<Encoded, S3Error> {
    let window = 2 * p.runtime.parallelism();
    let frame_size = stages_frame_size;
    let md5 = Md5Thread::start();
    let mut index = Index::default();
    index.start_part();
    let mut spool = Spool::new();
    let mut pending: VecDeque<InFlight> = VecDeque::new();
    let mut buf = BytesMut::new();
    let mut offset = 0u64;
    let mut frames = 0u32;

    let submit = |frame: Bytes,
                  offset: &mut u64,
                  frames: &mut u32,
                  slot: OwnedSemaphorePermit|
     -> InFlight {
        let len = frame.len() as u64;
        let info_frame = FrameInfo {
            index: *frames,
            offset: *offset,
            length: len,
        };
        *offset += len;
        *frames += 1;
        let (p, stages, req) = (Arc::clone(p), Arc::clone(&stages), req.clone());
        let task = tokio::spawn(async move { p.run_frame(&stages, &req, info_frame, frame).await });
        (len, task, slot)
    };

    let mut body = body;
    while let Some(chunk) = match body.as_mut() {
        Some(b) => b.next().await,
        None => None,
    } {
        let chunk = chunk.map_err(|e| {
            abort(&mut pending);
            S3Error::with_message(
                S3ErrorCode::IncompleteBody,
                format!("request body failed: {e}"),
            )
        })?;
        md5.update(chunk.clone()).await;
        buf.extend_from_slice(&chunk);
        while buf.len() >= frame_size {
            let frame = buf.split_to(frame_size).freeze();
            let slot = frame_slot(p, &mut pending, &mut index, &mut spool).await?;
            pending.push_back(submit(frame, &mut offset, &mut frames, slot));
            if pending.len() >= window {
                drain_one(p, &mut pending, &mut index, &mut spool).await?;
            }
        }
    }
    if !buf.is_empty() {
        let slot = frame_slot(p, &mut pending, &mut index, &mut spool).await?;
        pending.push_back(submit(buf.freeze(), &mut offset, &mut frames, slot));
    }
    while !pending.is_empty() {
        drain_one(p, &mut pending, &mut index, &mut spool).await?;
    }
    spool
        .append(&index.encode_tail(), p.spool_dir())
        .map_err(spool_error)?;
    Ok(Encoded {
        spool,
        logical_size: offset,
        md5_hex: md5.finish().await?,
        frames: frames as usize,
        index,
    })
}

/// The plaintext MD5, computed on a blocking thread from the body's chunks (shared, not
/// copied) while the request task cuts frames and spools their outputs.
struct Md5Thread {
    chunks: tokio::sync::mpsc::Sender<Bytes>,
    digest: JoinHandle<String>,
}

impl Md5Thread {
    fn start() -> Self {
        let (chunks, mut rx) = tokio::sync::mpsc::channel::<Bytes>(64);
        let digest = tokio::task::spawn_blocking(move || {
            let mut md5 = Md5::new();
            while let Some(c) = rx.blocking_recv() {
                md5.update(&c);
            }
            hex::encode(md5.finalize())
        });
        Self { chunks, digest }
    }

    async fn update(&self, chunk: Bytes) {
        // The thread only ends when `chunks` is dropped, so the send cannot fail.
        let _ = self.chunks.send(chunk).await;
    }

    async fn finish(self) -> Result<String, S3Error> {
        drop(self.chunks);
        self.digest.await.map_err(|e| {
            S3Error::with_message(S3ErrorCode::InternalError, format!("MD5 thread: {e}"))
        })
    }
}

/// A slot of the worker-wide frame budget for the next frame. While none is free this
/// request finishes its own oldest frame first (which frees one of its slots), so requests
/// never wait on each other while holding slots.
async fn frame_slot(
    p: &Pipelines,
    pending: &mut VecDeque<InFlight>,
    index: &mut Index,
    spool: &mut Spool,
) -> Result<OwnedSemaphorePermit, S3Error> {
    loop {
        if let Ok(slot) = Arc::clone(&p.frames).try_acquire_owned() {
            return Ok(slot);
        }
        if pending.is_empty() {
            return Arc::clone(&p.frames).acquire_owned().await.map_err(|_| {
                S3Error::with_message(S3ErrorCode::ServiceUnavailable, "the worker is stopping")
            });
        }
        drain_one(p, pending, index, spool).await?;
    }
}

/// Waits for the oldest frame and appends it.
async fn drain_one(
    p: &Pipelines,
    pending: &mut VecDeque<InFlight>,
    index: &mut Index,
    spool: &mut Spool,
) -> Result<(), S3Error> {
    let Some((plain_len, task, _slot)) = pending.pop_front() else {
        return Ok(());
    };
    let stored = match task.await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            abort(pending);
            return Err(e);
        }
        Err(e) => {
            abort(pending);
            return Err(S3Error::with_message(
                S3ErrorCode::InternalError,
                format!("frame task failed: {e}"),
            ));
        }
    };
    index.push(FrameEntry {
        plain_len,
        stored_len: stored.len() as u64,
        crc32c: crc32c::crc32c(&stored),
    });
    spool.append(&stored, p.spool_dir()).map_err(|e| {
        abort(pending);
        spool_error(e)
    })
}

fn abort(pending: &mut VecDeque<InFlight>) {
    for (_, t, _) in pending.drain(..) {
        t.abort();
    }
}

fn spool_error(e: std::io::Error) -> S3Error {
    tracing::error!(error = %e, "Cannot spool an encoded body.");
    S3Error::with_message(
        S3ErrorCode::ServiceUnavailable,
        "the worker cannot spool the encoded body; retry",
    )
}
