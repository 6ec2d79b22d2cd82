//! `tag`: on PUT, sets request-context keys from its `entries` parameter (`key=value` pairs,
//! comma-separated), so they are stored with the object and given to GET pipelines; the bytes
//! pass through unchanged.

use nexus_streamlet::{ByteStreamlet, ChunkInfo, Context, Direction, Error, FrameInfo, params};

struct Tag {
    entries: Vec<(String, String)>,
}

/// `team=storage, tier=cold` → [("team", "storage"), ("tier", "cold")].
fn parse(entries: &str) -> Result<Vec<(String, String)>, Error> {
    entries
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| Error::Rejected(format!("tag: `{e}` is not key=value")))
        })
        .collect()
}

impl ByteStreamlet for Tag {
    fn new(dir: Direction, _: &ChunkInfo, frame: &FrameInfo) -> Result<Self, Error> {
        // Once per object: on the first frame of a PUT.
        let entries = if frame.index == 0 && matches!(dir, Direction::Put) {
            parse(&params::get_or("entries", String::new())?)?
        } else {
            Vec::new()
        };
        Ok(Tag { entries })
    }

    fn push(&mut self, ctx: &Context, chunk: Vec<u8>) -> Result<Vec<u8>, Error> {
        for (key, value) in self.entries.drain(..) {
            ctx.set(&key, &value)
                .map_err(|e| Error::Rejected(format!("context key `{key}`: {e:?}")))?;
        }
        Ok(chunk)
    }

    fn finish(mut self, ctx: &Context) -> Result<Vec<u8>, Error> {
        // An empty object has no slice: set the entries here.
        self.push(ctx, Vec::new())
    }
}

nexus_streamlet::byte_streamlet!(Tag);
