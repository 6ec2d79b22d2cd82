//! Where an encoded body waits until its length is known: memory up to [`SPOOL_MEMORY`], then
//! an anonymous temporary file (deleted when dropped) in the worker's spool directory. A
//! backend PUT needs its Content-Length before the first byte, and the encoded length is only
//! known at the end.

use std::io::{self, Seek as _, SeekFrom, Write as _};
use std::path::Path;

use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use s3s::dto::StreamingBlob;

use super::SPOOL_MEMORY;

/// An append-only buffer of encoded bytes.
pub struct Spool {
    memory: BytesMut,
    file: Option<std::fs::File>,
    len: u64,
}

impl Spool {
    #[must_use]
    pub fn new() -> Self {
        Self {
            memory: BytesMut::new(),
            file: None,
            len: 0,
        }
    }

    /// Appends `bytes`, moving to a file in `dir` once memory is full.
    ///
    /// # Errors
    /// The spool file cannot be created or written.
    pub fn append(&mut self, bytes: &[u8], dir: &Path) -> io::Result<()> {
        self.len += bytes.len() as u64;
        if self.file.is_none() && self.memory.len() + bytes.len() <= SPOOL_MEMORY {
            self.memory.extend_from_slice(bytes);
            return Ok(());
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                std::fs::create_dir_all(dir)?;
                let mut f = tempfile::tempfile_in(dir)?;
                f.write_all(&self.memory)?;
                self.memory = BytesMut::new();
                self.file.insert(f)
            }
        };
        file.write_all(bytes)
    }

    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The spooled bytes as a body with an exact length.
    ///
    /// # Errors
    /// The spool file cannot be rewound.
    pub fn into_blob(self) -> io::Result<StreamingBlob> {
        let len = self.len;
        let Some(mut file) = self.file else {
            let bytes = self.memory.freeze();
            return Ok(exact(
                futures::stream::once(async move { Ok::<Bytes, io::Error>(bytes) }),
                len,
            ));
        };
        file.flush()?;
        file.seek(SeekFrom::Start(0))?;
        let reader =
            tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 1 << 20);
        Ok(exact(reader, len))
    }
}

impl Default for Spool {
    fn default() -> Self {
        Self::new()
    }
}

type BoxStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<Bytes, s3s::StdError>> + Send + Sync>>;

/// A body of exactly `len` bytes (its remaining length is known to the store below).
#[must_use]
pub fn exact<S, E>(stream: S, len: u64) -> StreamingBlob
where
    S: futures::Stream<Item = Result<Bytes, E>> + Send + Sync + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let inner: BoxStream = Box::pin(stream.map(|r| r.map_err(|e| Box::new(e) as s3s::StdError)));
    StreamingBlob::new(ExactBody {
        inner,
        remaining: len,
    })
}

struct ExactBody {
    inner: BoxStream,
    remaining: u64,
}

impl futures::Stream for ExactBody {
    type Item = Result<Bytes, s3s::StdError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let item = std::task::ready!(self.inner.as_mut().poll_next(cx));
        if let Some(Ok(b)) = &item {
            self.remaining = self.remaining.saturating_sub(b.len() as u64);
        }
        std::task::Poll::Ready(item)
    }
}

impl s3s::stream::ByteStream for ExactBody {
    fn remaining_length(&self) -> s3s::stream::RemainingLength {
        s3s::stream::RemainingLength::new_exact(
            usize::try_from(self.remaining).unwrap_or(usize::MAX),
        )
    }
}
