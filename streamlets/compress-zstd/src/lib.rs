//! `compress-zstd`: one standard zstd frame per Nexus frame on PUT, decoded on GET.
//! Parameter `level` (1–22, default 3). The encoder is ruzstd's, which implements zstd's
//! fastest strategy only, so every level currently compresses like zstd level 1; the output
//! is standard zstd that any decoder reads.

use std::io::Read as _;

use nexus_streamlet::{ByteStreamlet, ChunkInfo, Context, Direction, Error, FrameInfo, params};
use ruzstd::decoding::StreamingDecoder;
use ruzstd::encoding::{CompressionLevel, compress_to_vec};

struct Zstd {
    dir: Direction,
    buf: Vec<u8>,
}

impl ByteStreamlet for Zstd {
    fn new(dir: Direction, _: &ChunkInfo, frame: &FrameInfo) -> Result<Self, Error> {
        let level: i64 = params::get_or("level", 3)?;
        if !(1..=22).contains(&level) {
            return Err(Error::Rejected(format!("level {level} is not in 1..=22")));
        }
        let cap = usize::try_from(frame.length).unwrap_or(0);
        Ok(Zstd {
            dir,
            buf: Vec::with_capacity(cap),
        })
    }

    fn push(&mut self, _: &Context, chunk: Vec<u8>) -> Result<Vec<u8>, Error> {
        // A frame is at most a few MiB: encode it whole in `finish`.
        self.buf.extend_from_slice(&chunk);
        Ok(Vec::new())
    }

    fn finish(self, _: &Context) -> Result<Vec<u8>, Error> {
        match self.dir {
            Direction::Put => Ok(compress_to_vec(&self.buf[..], CompressionLevel::Fastest)),
            Direction::Get => {
                let mut out = Vec::new();
                StreamingDecoder::new(&self.buf[..])
                    .map_err(|e| Error::InvalidInput(format!("zstd: {e}")))?
                    .read_to_end(&mut out)
                    .map_err(|e| Error::InvalidInput(format!("zstd: {e}")))?;
                Ok(out)
            }
        }
    }
}

nexus_streamlet::byte_streamlet!(Zstd);
