//! `compress-zstd`: one standard zstd frame per Nexus frame on PUT, decoded on GET, with the
//! reference implementation (libzstd 1.5, C, compiled to WASM with the streamlet). Parameter
//! `level` (1–22, default 3).

use nexus_streamlet::{ByteStreamlet, ChunkInfo, Context, Direction, Error, FrameInfo, params};

/// Largest frame this streamlet decodes (a corrupt size field cannot make it allocate more).
const MAX_FRAME: u64 = 64 << 20;

struct Zstd {
    dir: Direction,
    level: i32,
    /// The frame's input so far.
    buf: Vec<u8>,
    /// The frame's plaintext length (capped at `MAX_FRAME`): what a PUT's slices add up to,
    /// and at least what a GET's stored frame does.
    frame_len: usize,
}

impl ByteStreamlet for Zstd {
    fn new(dir: Direction, _: &ChunkInfo, frame: &FrameInfo) -> Result<Self, Error> {
        let level: i32 = params::get_or("level", 3)?;
        if !(1..=22).contains(&level) {
            return Err(Error::Rejected(format!("level {level} is not in 1..=22")));
        }
        Ok(Zstd {
            dir,
            level,
            buf: Vec::new(),
            frame_len: usize::try_from(frame.length.min(MAX_FRAME)).unwrap_or(0),
        })
    }

    fn push(&mut self, _: &Context, chunk: Vec<u8>) -> Result<Vec<u8>, Error> {
        // A frame is at most a few MiB: code it whole in `finish`. Most frames come in one
        // slice, which is kept as it is (no copy).
        if self.buf.is_empty() {
            self.buf = chunk;
        } else {
            self.buf
                .reserve(self.frame_len.saturating_sub(self.buf.len()));
            self.buf.extend_from_slice(&chunk);
        }
        Ok(Vec::new())
    }

    fn finish(self, _: &Context) -> Result<Vec<u8>, Error> {
        match self.dir {
            Direction::Put => {
                let mut out = Vec::with_capacity(zstd_safe::compress_bound(self.buf.len()));
                zstd_safe::compress(&mut out, &self.buf, self.level).map_err(|code| {
                    Error::Internal(format!("zstd: {}", zstd_safe::get_error_name(code)))
                })?;
                Ok(out)
            }
            Direction::Get => {
                let size = match zstd_safe::get_frame_content_size(&self.buf) {
                    Ok(Some(n)) if n <= MAX_FRAME => n,
                    Ok(Some(n)) => {
                        return Err(Error::InvalidInput(format!(
                            "zstd: the frame claims {n} bytes, more than {MAX_FRAME}"
                        )));
                    }
                    Ok(None) | Err(_) => {
                        return Err(Error::InvalidInput(
                            "zstd: not a zstd frame with a content size".into(),
                        ));
                    }
                };
                let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                zstd_safe::decompress(&mut out, &self.buf).map_err(|code| {
                    Error::InvalidInput(format!("zstd: {}", zstd_safe::get_error_name(code)))
                })?;
                if out.len() as u64 != size {
                    return Err(Error::InvalidInput("zstd: the frame is truncated".into()));
                }
                Ok(out)
            }
        }
    }
}

nexus_streamlet::byte_streamlet!(Zstd);
