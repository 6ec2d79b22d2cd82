//! A byte streamlet that XORs every byte with the `key` parameter (0–255): an example of the
//! shape, not a cipher. XOR is its own inverse, so PUT and GET run the same code.

use nexus_streamlet::{
    ByteStreamlet, ChunkInfo, Context, Direction, Error, FrameInfo, log, params,
};

struct Xor {
    key: u8,
}

impl ByteStreamlet for Xor {
    fn new(_: Direction, info: &ChunkInfo, frame: &FrameInfo) -> Result<Self, Error> {
        let key: u8 = params::get_or("key", 0x5a)?;
        if frame.index == 0 {
            log::debug(&format!("xor {} with {key}", info.object.key));
        }
        Ok(Xor { key })
    }

    fn push(&mut self, _: &Context, mut chunk: Vec<u8>) -> Result<Vec<u8>, Error> {
        for b in &mut chunk {
            *b ^= self.key;
        }
        Ok(chunk)
    }

    fn finish(self, _: &Context) -> Result<Vec<u8>, Error> {
        Ok(Vec::new())
    }
}

nexus_streamlet::byte_streamlet!(Xor);
