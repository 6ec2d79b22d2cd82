//! Data files: streaming request bodies into new files, streaming files back out, and copying
//! between files, all with bounded memory and the blocking IO off the reactor.

use std::fs::File;
use std::io::{self, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use s3s::dto::StreamingBlob;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Error, S3ErrorCode, StdError};
use tokio::task::JoinHandle;

use super::error::{Error, Result};
use crate::checksum::{BodyDigests, Digests};

/// Size of one read when serving or copying a file, and of one batch of a request body written
/// to a file.
pub(crate) const CHUNK: usize = 512 * 1024;

/// A fresh, unique file name.
pub(crate) fn new_name() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A newly written file that is removed when dropped, unless [`PendingFile::keep`] was called
/// (after the index transaction that references it committed).
#[derive(Debug)]
pub(crate) struct PendingFile {
    path: PathBuf,
    keep: bool,
}

impl PendingFile {
    /// Creates the file (and its parent directory), failing if it exists.
    pub(crate) fn create(path: PathBuf) -> Result<(Self, File)> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let file = File::create_new(&path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        Ok((Self { path, keep: false }, file))
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Makes its directory entry durable. Blocking.
    pub(crate) fn sync_dir(&self) -> Result<()> {
        match self.path.parent() {
            Some(dir) => sync_dir(dir),
            None => Ok(()),
        }
    }

    /// Keeps the file: the index now references it.
    pub(crate) fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.keep
            && let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e, "Cannot remove an unused file.");
        }
    }
}

/// Removes a pending file on the blocking pool (rather than in `Drop` on the reactor).
pub(crate) async fn discard(file: PendingFile) {
    let _ = tokio::task::spawn_blocking(move || drop(file)).await;
}

/// fsyncs a directory so the entries created in it survive a crash. Blocking.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("syncing {}", dir.display()), e))
}

/// Removes a file that no record references any more. Blocking; failures are only logged (the
/// next open collects what is left).
pub(crate) fn remove_quietly(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "Cannot remove an unreferenced file.");
    }
}

/// Opens a data file for reading. Blocking. `NotFound` means a concurrent commit replaced it.
pub(crate) fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))
}

/// A file being written and the digests of what went into it.
struct Sink {
    pending: PendingFile,
    file: File,
    digests: BodyDigests,
}

impl Sink {
    /// Hashes and appends a batch of chunks. Blocking.
    fn write(mut self, batch: Vec<Bytes>) -> Result<Self> {
        for chunk in batch {
            self.digests.update(&chunk);
            self.file
                .write_all(&chunk)
                .map_err(|e| Error::io(format!("writing {}", self.pending.path().display()), e))?;
        }
        Ok(self)
    }

    /// fsyncs the file. Blocking.
    fn finish(self) -> Result<(PendingFile, Digests)> {
        self.file
            .sync_all()
            .map_err(|e| Error::io(format!("syncing {}", self.pending.path().display()), e))?;
        Ok((self.pending, self.digests.finish()))
    }
}

/// Streams a request body into a new file at `path`, hashing it, and fsyncs it. The body is
/// gathered into batches of about [`CHUNK`]; each batch is hashed and written by one blocking
/// task while the next one is received, so at most two batches are in memory and no thread
/// waits on the network. The file is removed again on any failure, or if this future is
/// dropped (the [`PendingFile`] travels with the batches).
///
/// `max_len` caps the body (EntityTooLarge beyond it).
pub(crate) async fn write_body(
    path: PathBuf,
    mut body: StreamingBlob,
    digests: BodyDigests,
    max_len: u64,
) -> Result<(PendingFile, Digests)> {
    let sink = tokio::task::spawn_blocking(move || {
        PendingFile::create(path).map(|(pending, file)| Sink {
            pending,
            file,
            digests,
        })
    })
    .await??;
    // Exactly one of `idle` and `writing` holds the sink.
    let mut idle = Some(sink);
    let mut writing: Option<JoinHandle<Result<Sink>>> = None;
    let mut batch: Vec<Bytes> = Vec::new();
    let mut batched = 0_usize;
    let mut received = 0_u64;
    loop {
        let chunk = match body.next().await {
            Some(Ok(chunk)) => Some(chunk),
            Some(Err(e)) => return Err(body_error(e)),
            None => None,
        };
        let end = chunk.is_none();
        if let Some(chunk) = chunk {
            received += chunk.len() as u64;
            if received > max_len {
                return Err(Error::EntityTooLarge(
                    "Your proposed upload exceeds the maximum allowed size".into(),
                ));
            }
            batched += chunk.len();
            batch.push(chunk);
        }
        if batched >= CHUNK || (end && !batch.is_empty()) {
            let sink = match (idle.take(), writing.take()) {
                (Some(sink), _) => sink,
                (None, Some(task)) => task.await??,
                (None, None) => return Err(Error::Inconsistent("lost the body writer".into())),
            };
            let full = std::mem::take(&mut batch);
            batched = 0;
            writing = Some(tokio::task::spawn_blocking(move || sink.write(full)));
        }
        if end {
            break;
        }
    }
    let sink = match (idle.take(), writing.take()) {
        (Some(sink), _) => sink,
        (None, Some(task)) => task.await??,
        (None, None) => return Err(Error::Inconsistent("lost the body writer".into())),
    };
    tokio::task::spawn_blocking(move || sink.finish()).await?
}

/// Maps a failure of the request body stream to S3's answer.
fn body_error(e: StdError) -> Error {
    let e = match e.downcast::<S3Error>() {
        Ok(s3) => return Error::Body(*s3),
        Err(e) => e,
    };
    let text = e.to_string();
    let err = if text.contains("Sha256Mismatch") {
        let code = "XAmzContentSHA256Mismatch"
            .parse::<S3ErrorCode>()
            .unwrap_or(S3ErrorCode::BadDigest);
        let mut err = S3Error::with_message(
            code,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
        err.set_status_code(http::StatusCode::BAD_REQUEST);
        err
    } else if text.contains("SignatureMismatch") {
        S3Error::with_message(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided.",
        )
    } else {
        tracing::debug!(error = %text, "Request body failed.");
        S3Error::with_message(
            S3ErrorCode::IncompleteBody,
            "The request body terminated unexpectedly",
        )
    };
    Error::Body(err)
}

/// Copies `len` bytes at `offset` of `src` to the end of `dst`, feeding `digests`. Blocking.
pub(crate) fn copy_range(
    src: &File,
    offset: u64,
    len: u64,
    dst: &mut File,
    digests: &mut BodyDigests,
) -> io::Result<()> {
    let mut buf = vec![0_u8; CHUNK];
    let mut done = 0_u64;
    while done < len {
        let n = usize::try_from((len - done).min(CHUNK as u64)).unwrap_or(CHUNK);
        let slice = &mut buf[..n];
        src.read_exact_at(slice, offset + done)?;
        digests.update(slice);
        dst.write_all(slice)?;
        done += n as u64;
    }
    Ok(())
}

/// A byte range of a file as a response body: one blocking read of up to [`CHUNK`] at a time,
/// so memory stays bounded and no thread waits on a slow client.
pub(crate) struct FileStream {
    file: Option<std::sync::Arc<File>>,
    offset: u64,
    remaining: u64,
    pending: Option<JoinHandle<io::Result<Bytes>>>,
}

impl FileStream {
    /// Serves `len` bytes of `file` from `offset`.
    pub(crate) fn new(file: File, offset: u64, len: u64) -> Self {
        Self {
            file: Some(std::sync::Arc::new(file)),
            offset,
            remaining: len,
            pending: None,
        }
    }

    /// As an s3s body.
    pub(crate) fn into_blob(self) -> StreamingBlob {
        StreamingBlob::new(self)
    }
}

impl Stream for FileStream {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.pending.is_none() {
            if this.remaining == 0 {
                this.file = None;
                return Poll::Ready(None);
            }
            let Some(file) = this.file.clone() else {
                return Poll::Ready(None);
            };
            let n = usize::try_from(this.remaining.min(CHUNK as u64)).unwrap_or(CHUNK);
            let offset = this.offset;
            this.pending = Some(tokio::task::spawn_blocking(move || {
                let mut buf = vec![0_u8; n];
                file.read_exact_at(&mut buf, offset)?;
                Ok(Bytes::from(buf))
            }));
        }
        let Some(handle) = this.pending.as_mut() else {
            return Poll::Ready(None);
        };
        let result = ready!(Pin::new(handle).poll(cx));
        this.pending = None;
        match result {
            Ok(Ok(chunk)) => {
                this.offset += chunk.len() as u64;
                this.remaining -= chunk.len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            Ok(Err(e)) => {
                this.remaining = 0;
                Poll::Ready(Some(Err(Box::new(e))))
            }
            Err(e) => {
                this.remaining = 0;
                Poll::Ready(Some(Err(Box::new(e))))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, None)
    }
}

impl ByteStream for FileStream {
    fn remaining_length(&self) -> RemainingLength {
        usize::try_from(self.remaining)
            .map_or_else(|_| RemainingLength::unknown(), RemainingLength::new_exact)
    }
}
