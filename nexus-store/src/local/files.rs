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
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::error::{Error, Result};
use crate::checksum::{BodyDigests, Digests};

/// Size of one read when serving or copying a file.
pub(crate) const CHUNK: usize = 512 * 1024;

/// Request-body chunks queued between the network and the file writer.
const QUEUE: usize = 8;

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

enum Msg {
    Data(Bytes),
    End,
}

/// Streams a request body into a new file at `path`, hashing it on the blocking side, and fsyncs
/// it. The file is removed again on any failure, or if this future is dropped.
///
/// `max_len` caps the body (EntityTooLarge beyond it).
pub(crate) async fn write_body(
    path: PathBuf,
    mut body: StreamingBlob,
    digests: BodyDigests,
    max_len: u64,
) -> Result<(PendingFile, Digests)> {
    let (tx, mut rx) = mpsc::channel::<Msg>(QUEUE);
    let writer = tokio::task::spawn_blocking(move || -> Result<(PendingFile, Digests)> {
        let (pending, mut file) = PendingFile::create(path)?;
        let mut digests = digests;
        loop {
            match rx.blocking_recv() {
                Some(Msg::Data(chunk)) => {
                    digests.update(&chunk);
                    file.write_all(&chunk).map_err(|e| {
                        Error::io(format!("writing {}", pending.path().display()), e)
                    })?;
                }
                Some(Msg::End) => break,
                // The request failed or was dropped: `pending` removes the file.
                None => return Err(Error::IncompleteBody("request aborted".into())),
            }
        }
        file.sync_all()
            .map_err(|e| Error::io(format!("syncing {}", pending.path().display()), e))?;
        Ok((pending, digests.finish()))
    });

    let mut received = 0_u64;
    let fed: Result<()> = loop {
        match body.next().await {
            Some(Ok(chunk)) => {
                received += chunk.len() as u64;
                if received > max_len {
                    break Err(Error::EntityTooLarge(
                        "Your proposed upload exceeds the maximum allowed size".into(),
                    ));
                }
                if chunk.is_empty() {
                    continue;
                }
                if tx.send(Msg::Data(chunk)).await.is_err() {
                    break Ok(()); // the writer failed; its error is reported below
                }
            }
            Some(Err(e)) => break Err(body_error(e)),
            None => {
                // A failed writer has dropped the receiver; its error is reported below.
                let _ = tx.send(Msg::End).await;
                break Ok(());
            }
        }
    };
    drop(tx);
    let written = writer.await?;
    fed?;
    written
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
        usize::try_from(self.remaining).map_or_else(
            |_| RemainingLength::unknown(),
            RemainingLength::new_exact,
        )
    }
}
