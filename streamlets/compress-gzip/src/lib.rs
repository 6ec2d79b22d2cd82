//! `compress-gzip`: gzip on PUT, gunzip on GET, one gzip member per frame.
//! Parameter `level` (0–9, default 6).

use std::io::Write as _;

use flate2::Compression;
use flate2::write::{GzDecoder, GzEncoder};
use nexus_streamlet::{ByteStreamlet, ChunkInfo, Context, Direction, Error, FrameInfo, params};

enum Gzip {
    Encode(GzEncoder<Vec<u8>>),
    Decode(GzDecoder<Vec<u8>>),
}

fn io(e: std::io::Error) -> Error {
    Error::InvalidInput(format!("gzip: {e}"))
}

impl ByteStreamlet for Gzip {
    fn new(dir: Direction, _: &ChunkInfo, _: &FrameInfo) -> Result<Self, Error> {
        Ok(match dir {
            Direction::Put => {
                let level = params::get_or("level", 6u32)?.min(9);
                Gzip::Encode(GzEncoder::new(Vec::new(), Compression::new(level)))
            }
            Direction::Get => Gzip::Decode(GzDecoder::new(Vec::new())),
        })
    }

    fn push(&mut self, _: &Context, chunk: Vec<u8>) -> Result<Vec<u8>, Error> {
        let out = match self {
            Gzip::Encode(e) => e.write_all(&chunk).map(|()| e.get_mut()),
            Gzip::Decode(d) => d.write_all(&chunk).map(|()| d.get_mut()),
        };
        Ok(std::mem::take(out.map_err(io)?))
    }

    fn finish(self, _: &Context) -> Result<Vec<u8>, Error> {
        match self {
            Gzip::Encode(e) => e.finish(),
            Gzip::Decode(d) => d.finish(),
        }
        .map_err(io)
    }
}

nexus_streamlet::byte_streamlet!(Gzip);
