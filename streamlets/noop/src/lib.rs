//! `noop`: passes every byte through unchanged (pipeline-overhead baseline and tests).

use nexus_streamlet::{ByteStreamlet, ChunkInfo, Context, Direction, Error, FrameInfo};

struct Noop;

impl ByteStreamlet for Noop {
    fn new(_: Direction, _: &ChunkInfo, _: &FrameInfo) -> Result<Self, Error> {
        Ok(Noop)
    }

    fn push(&mut self, _: &Context, chunk: Vec<u8>) -> Result<Vec<u8>, Error> {
        Ok(chunk)
    }

    fn finish(self, _: &Context) -> Result<Vec<u8>, Error> {
        Ok(Vec::new())
    }
}

nexus_streamlet::byte_streamlet!(Noop);
