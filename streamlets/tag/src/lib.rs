//! `tag`: sets request-context keys from its parameters (string values) on PUT, so they are
//! stored with the object; the bytes pass through unchanged.

use nexus_streamlet::{ByteStreamlet, ChunkInfo, Context, Direction, Error, FrameInfo, params};

struct Tag {
    dir: Direction,
    first_frame: bool,
}

impl ByteStreamlet for Tag {
    fn new(dir: Direction, _: &ChunkInfo, frame: &FrameInfo) -> Result<Self, Error> {
        Ok(Tag {
            dir,
            first_frame: frame.index == 0,
        })
    }

    fn push(&mut self, ctx: &Context, chunk: Vec<u8>) -> Result<Vec<u8>, Error> {
        if self.first_frame && matches!(self.dir, Direction::Put) {
            self.first_frame = false;
            for (key, value) in params::all() {
                let value = match value {
                    nexus_streamlet::params::Value::String(s) => s,
                    other => other.to_string(),
                };
                ctx.set(&key, &value)
                    .map_err(|e| Error::Rejected(format!("context key `{key}`: {e:?}")))?;
            }
        }
        Ok(chunk)
    }

    fn finish(self, _: &Context) -> Result<Vec<u8>, Error> {
        Ok(Vec::new())
    }
}

nexus_streamlet::byte_streamlet!(Tag);
