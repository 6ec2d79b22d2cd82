//! The fixed 1 MiB byte pattern that both sides stream from: PUT bodies on the client and GET
//! bodies on the in-memory backend. Byte `o` of any object is `byte_at(o)`, so a range read can
//! be checked without storing anything.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Length of the pattern buffer; bodies are cut into slices of at most this size.
pub const PATTERN_LEN: usize = 1 << 20;

/// Byte at object offset `offset`.
pub fn byte_at(offset: u64) -> u8 {
    // Truncation intended: the pattern repeats every PATTERN_LEN bytes.
    let i = (offset % PATTERN_LEN as u64) as u32;
    (i.wrapping_mul(0x9E37_79B1) >> 24) as u8 ^ (i as u8)
}

/// The shared pattern buffer, built once.
pub fn pattern() -> Bytes {
    static PATTERN: OnceLock<Bytes> = OnceLock::new();
    PATTERN
        .get_or_init(|| {
            (0..PATTERN_LEN as u64)
                .map(byte_at)
                .collect::<Vec<u8>>()
                .into()
        })
        .clone()
}

/// A body of `end - start` pattern bytes (object offsets `start..end`), made of zero-copy slices
/// of the shared buffer.
#[derive(Debug, Clone)]
pub struct PatternBody {
    pattern: Bytes,
    pos: u64,
    end: u64,
}

impl PatternBody {
    /// Object bytes `start..end` (end exclusive).
    pub fn new(start: u64, end: u64) -> Self {
        Self {
            pattern: pattern(),
            pos: start,
            end: end.max(start),
        }
    }

    /// Object bytes `start..end` of `buf` repeated (e.g. real log text instead of the pattern).
    pub fn over(buf: Bytes, start: u64, end: u64) -> Self {
        assert!(!buf.is_empty(), "an empty buffer repeats to nothing");
        Self {
            pattern: buf,
            pos: start,
            end: end.max(start),
        }
    }

    /// The next slice, or `None` at the end.
    fn next_slice(&mut self) -> Option<Bytes> {
        if self.pos >= self.end {
            return None;
        }
        let period = self.pattern.len();
        let off = (self.pos % period as u64) as usize;
        let room = (period - off) as u64;
        let n = room.min(self.end - self.pos) as usize;
        self.pos += n as u64;
        Some(self.pattern.slice(off..off + n))
    }
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().next_slice().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.pos >= self.end
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.end - self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_follow_offsets() {
        let start = PATTERN_LEN as u64 - 10;
        let mut body = PatternBody::new(start, start + 30);
        let mut got = Vec::new();
        while let Some(b) = body.next_slice() {
            got.extend_from_slice(&b);
        }
        let want: Vec<u8> = (start..start + 30).map(byte_at).collect();
        assert_eq!(got, want);
        assert_eq!(body.size_hint().exact(), Some(0));
    }
}
