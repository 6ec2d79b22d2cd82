//! `misbehave`: a test streamlet that fails on purpose, as its `mode` parameter says, on PUT
//! (`loop`, `alloc`, `panic`, `reject`, `unavailable`) or on GET (`get-corrupt`: returns one
//! byte too many). Any other mode passes bytes through. Used by the containment tests.

use nexus_streamlet::{ByteStreamlet, ChunkInfo, Context, Direction, Error, FrameInfo, params};

struct Misbehave {
    dir: Direction,
    mode: String,
}

impl ByteStreamlet for Misbehave {
    fn new(dir: Direction, _: &ChunkInfo, _: &FrameInfo) -> Result<Self, Error> {
        Ok(Misbehave {
            dir,
            mode: params::get_or("mode", String::new())?,
        })
    }

    fn push(&mut self, _: &Context, chunk: Vec<u8>) -> Result<Vec<u8>, Error> {
        if matches!(self.dir, Direction::Put) {
            match self.mode.as_str() {
                "loop" => {
                    let mut x: u64 = 1;
                    loop {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                }
                "alloc" => {
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hoard.push(vec![7u8; 1 << 20]);
                        std::hint::black_box(&hoard);
                    }
                }
                "panic" => panic!("misbehave: asked to panic"),
                "reject" => return Err(Error::Rejected("misbehave: asked to reject".into())),
                "unavailable" => {
                    return Err(Error::Unavailable("misbehave: asked to be down".into()));
                }
                _ => {}
            }
        }
        Ok(chunk)
    }

    fn finish(self, _: &Context) -> Result<Vec<u8>, Error> {
        if matches!(self.dir, Direction::Get) && self.mode == "get-corrupt" {
            return Ok(vec![0]);
        }
        Ok(Vec::new())
    }
}

nexus_streamlet::byte_streamlet!(Misbehave);
