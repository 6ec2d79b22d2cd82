//! A streaming `aws-chunked` decoder that only counts payload bytes (the backend keeps no
//! bodies). Chunk signatures and trailers are skipped, not verified.

use std::fmt;

/// Longest chunk-header line accepted (`hex-size;chunk-signature=<64 hex>\r\n` is ~90 bytes).
const MAX_HEADER_LINE: usize = 4096;

/// Why an `aws-chunked` body is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkError(pub &'static str);

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ChunkError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a `size[;ext]\r\n` line.
    Header,
    /// Inside a chunk's payload, this many bytes left.
    Data(u64),
    /// Expecting the `\r` after a payload.
    DataCr,
    /// Expecting the `\n` after a payload.
    DataLf,
    /// After the zero-size chunk: trailers and the final CRLF, ignored.
    Trailer,
}

/// Counts the decoded payload of an `aws-chunked` body fed in arbitrary pieces.
#[derive(Debug)]
pub struct ChunkedCounter {
    state: State,
    line: Vec<u8>,
    decoded: u64,
}

impl Default for ChunkedCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedCounter {
    pub fn new() -> Self {
        Self {
            state: State::Header,
            line: Vec::new(),
            decoded: 0,
        }
    }

    /// Feeds the next piece of the encoded body.
    pub fn feed(&mut self, mut buf: &[u8]) -> Result<(), ChunkError> {
        while !buf.is_empty() {
            match self.state {
                State::Header => {
                    let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                        Some(i) => (i + 1, true),
                        None => (buf.len(), false),
                    };
                    if self.line.len() + take > MAX_HEADER_LINE {
                        return Err(ChunkError("chunk header line too long"));
                    }
                    self.line.extend_from_slice(&buf[..take]);
                    buf = &buf[take..];
                    if done {
                        let size = parse_header(&self.line)?;
                        self.line.clear();
                        self.state = if size == 0 {
                            State::Trailer
                        } else {
                            State::Data(size)
                        };
                    }
                }
                State::Data(left) => {
                    let n = left.min(buf.len() as u64);
                    self.decoded += n;
                    buf = &buf[n as usize..];
                    self.state = if n == left {
                        State::DataCr
                    } else {
                        State::Data(left - n)
                    };
                }
                State::DataCr => {
                    if buf[0] != b'\r' {
                        return Err(ChunkError("missing CR after chunk data"));
                    }
                    buf = &buf[1..];
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if buf[0] != b'\n' {
                        return Err(ChunkError("missing LF after chunk data"));
                    }
                    buf = &buf[1..];
                    self.state = State::Header;
                }
                State::Trailer => return Ok(()),
            }
        }
        Ok(())
    }

    /// The decoded length, once the final zero-size chunk has been seen.
    pub fn finish(&self) -> Result<u64, ChunkError> {
        if self.state == State::Trailer {
            Ok(self.decoded)
        } else {
            Err(ChunkError("body ended before the final zero-size chunk"))
        }
    }
}

/// Parses `hex-size[;extensions]\r\n`.
fn parse_header(line: &[u8]) -> Result<u64, ChunkError> {
    let line = line
        .strip_suffix(b"\r\n")
        .ok_or(ChunkError("chunk header not ended by CRLF"))?;
    let hex = line.split(|&b| b == b';').next().unwrap_or(line);
    let hex = std::str::from_utf8(hex).map_err(|_| ChunkError("chunk size is not ASCII"))?;
    u64::from_str_radix(hex.trim(), 16).map_err(|_| ChunkError("chunk size is not hex"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED: &[u8] = b"5;chunk-signature=abc\r\nhello\r\n3;chunk-signature=def\r\nabc\r\n0;chunk-signature=0\r\n\r\n";
    const TRAILER: &[u8] = b"4\r\nwxyz\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";

    #[test]
    fn counts_in_one_piece() {
        let mut c = ChunkedCounter::new();
        c.feed(SIGNED).unwrap();
        assert_eq!(c.finish(), Ok(8));
        let mut c = ChunkedCounter::new();
        c.feed(TRAILER).unwrap();
        assert_eq!(c.finish(), Ok(4));
    }

    #[test]
    fn counts_byte_by_byte() {
        let mut c = ChunkedCounter::new();
        for b in SIGNED {
            c.feed(std::slice::from_ref(b)).unwrap();
        }
        assert_eq!(c.finish(), Ok(8));
    }

    #[test]
    fn rejects_truncated_and_malformed() {
        let mut c = ChunkedCounter::new();
        c.feed(&SIGNED[..20]).unwrap();
        assert!(c.finish().is_err());
        assert!(ChunkedCounter::new().feed(b"zz\r\n").is_err());
        assert!(ChunkedCounter::new().feed(b"2\r\nabX").is_err());
    }
}
