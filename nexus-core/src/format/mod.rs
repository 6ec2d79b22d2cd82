//! `NXF1`, the stored format of transformed objects (`docs/formats.md` §1): independent frames,
//! then an index (per frame: plaintext length, stored length, CRC32C of the stored bytes; then
//! the frames where client parts start), then a fixed 40-byte trailer that one suffix read
//! finds. Pure code: the worker does the IO.
//!
//! Every parser here takes untrusted bytes: any inconsistency is a [`FormatError`], never a
//! panic or a wrong answer (fuzzed and property-tested).

use std::ops::Range;

/// Size of the trailer.
pub const TRAILER_LEN: usize = 40;
const MAGIC: &[u8; 4] = b"NXF1";
const VERSION: u16 = 1;
/// At most this many frames (a 16 TiB object in 1 MiB frames fits).
const MAX_FRAMES: u32 = 1 << 24;

/// Why stored bytes are not a valid `NXF1` object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid NXF1 object: {0}")]
pub struct FormatError(pub String);

fn bad(msg: impl Into<String>) -> FormatError {
    FormatError(msg.into())
}

/// One frame as the index records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEntry {
    pub plain_len: u64,
    pub stored_len: u64,
    pub crc32c: u32,
}

/// The fixed-size end of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub logical_size: u64,
    pub index_offset: u64,
    pub index_len: u32,
    pub frame_count: u32,
    pub index_crc32c: u32,
}

impl Trailer {
    #[must_use]
    pub fn encode(&self) -> [u8; TRAILER_LEN] {
        let mut t = [0u8; TRAILER_LEN];
        t[0..4].copy_from_slice(MAGIC);
        t[4..6].copy_from_slice(&VERSION.to_le_bytes());
        t[8..16].copy_from_slice(&self.logical_size.to_le_bytes());
        t[16..24].copy_from_slice(&self.index_offset.to_le_bytes());
        t[24..28].copy_from_slice(&self.index_len.to_le_bytes());
        t[28..32].copy_from_slice(&self.frame_count.to_le_bytes());
        t[32..36].copy_from_slice(&self.index_crc32c.to_le_bytes());
        let crc = crc32c::crc32c(&t[..36]);
        t[36..40].copy_from_slice(&crc.to_le_bytes());
        t
    }

    /// Parses the last [`TRAILER_LEN`] bytes of an object of `stored_size` bytes.
    ///
    /// # Errors
    /// Wrong magic, version, CRC, or offsets that do not fit `stored_size`.
    pub fn parse(bytes: &[u8], stored_size: u64) -> Result<Self, FormatError> {
        let t: &[u8; TRAILER_LEN] = bytes.try_into().map_err(|_| {
            bad(format!(
                "trailer is {} bytes, not {TRAILER_LEN}",
                bytes.len()
            ))
        })?;
        if &t[0..4] != MAGIC {
            return Err(bad("no NXF1 magic"));
        }
        let u16_at = |i: usize| u16::from_le_bytes([t[i], t[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([t[i], t[i + 1], t[i + 2], t[i + 3]]);
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&t[i..i + 8]);
            u64::from_le_bytes(b)
        };
        if u16_at(4) != VERSION {
            return Err(bad(format!(
                "format version {} is not supported",
                u16_at(4)
            )));
        }
        if u32_at(36) != crc32c::crc32c(&t[..36]) {
            return Err(bad("trailer checksum mismatch"));
        }
        let trailer = Self {
            logical_size: u64_at(8),
            index_offset: u64_at(16),
            index_len: u32_at(24),
            frame_count: u32_at(28),
            index_crc32c: u32_at(32),
        };
        let end = trailer
            .index_offset
            .checked_add(u64::from(trailer.index_len))
            .and_then(|e| e.checked_add(TRAILER_LEN as u64));
        if end != Some(stored_size) {
            return Err(bad("index offset and length do not fit the stored size"));
        }
        if trailer.frame_count > MAX_FRAMES {
            return Err(bad("too many frames"));
        }
        Ok(trailer)
    }

    /// Stored bytes of the index.
    #[must_use]
    pub fn index_range(&self) -> Range<u64> {
        self.index_offset..self.index_offset + u64::from(self.index_len)
    }
}

/// The frame index of one object, with prefix sums for range lookups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    frames: Vec<FrameEntry>,
    /// Frame numbers where client parts start (`[0]` for a single PUT).
    part_starts: Vec<u32>,
    /// `plain_ends[i]`: plaintext offset just past frame i.
    plain_ends: Vec<u64>,
    stored_ends: Vec<u64>,
}

impl Index {
    /// Appends a frame.
    pub fn push(&mut self, entry: FrameEntry) {
        let plain = self.logical_size() + entry.plain_len;
        let stored = self.stored_len() + entry.stored_len;
        self.frames.push(entry);
        self.plain_ends.push(plain);
        self.stored_ends.push(stored);
    }

    /// Marks that the next frame starts a client part.
    pub fn start_part(&mut self) {
        let n = u32::try_from(self.frames.len()).unwrap_or(u32::MAX);
        if self.part_starts.last() != Some(&n) {
            self.part_starts.push(n);
        }
    }

    #[must_use]
    pub fn frames(&self) -> &[FrameEntry] {
        &self.frames
    }

    #[must_use]
    pub fn part_starts(&self) -> &[u32] {
        &self.part_starts
    }

    /// Plaintext size.
    #[must_use]
    pub fn logical_size(&self) -> u64 {
        self.plain_ends.last().copied().unwrap_or(0)
    }

    /// Stored bytes of all frames (where the index starts).
    #[must_use]
    pub fn stored_len(&self) -> u64 {
        self.stored_ends.last().copied().unwrap_or(0)
    }

    /// Plaintext range of frame `i`.
    #[must_use]
    pub fn plain_range(&self, i: usize) -> Range<u64> {
        let end = self.plain_ends[i];
        end - self.frames[i].plain_len..end
    }

    /// Stored range of frame `i`.
    #[must_use]
    pub fn stored_range(&self, i: usize) -> Range<u64> {
        let end = self.stored_ends[i];
        end - self.frames[i].stored_len..end
    }

    /// The frames `[first, last]` covering the non-empty plaintext range `range`, or `None`
    /// when it is empty or past the end.
    #[must_use]
    pub fn frames_for(&self, range: &Range<u64>) -> Option<(usize, usize)> {
        if range.start >= range.end || range.end > self.logical_size() {
            return None;
        }
        // First frame whose end is past range.start; last whose end reaches range.end.
        let first = self.plain_ends.partition_point(|&e| e <= range.start);
        let last = self.plain_ends.partition_point(|&e| e < range.end);
        Some((first, last))
    }

    /// The index bytes and the trailer, to append after the frames.
    #[must_use]
    pub fn encode_tail(&self) -> Vec<u8> {
        let mut index = Vec::with_capacity(self.frames.len() * 10 + 8);
        put_varint(&mut index, self.frames.len() as u64);
        for f in &self.frames {
            put_varint(&mut index, f.plain_len);
            put_varint(&mut index, f.stored_len);
            index.extend_from_slice(&f.crc32c.to_le_bytes());
        }
        put_varint(&mut index, self.part_starts.len() as u64);
        for p in &self.part_starts {
            put_varint(&mut index, u64::from(*p));
        }
        let trailer = Trailer {
            logical_size: self.logical_size(),
            index_offset: self.stored_len(),
            index_len: u32::try_from(index.len()).unwrap_or(u32::MAX),
            frame_count: u32::try_from(self.frames.len()).unwrap_or(u32::MAX),
            index_crc32c: crc32c::crc32c(&index),
        };
        index.extend_from_slice(&trailer.encode());
        index
    }

    /// Parses the index bytes described by `trailer`.
    ///
    /// # Errors
    /// CRC mismatch, truncation, or frame lengths that do not add up to the trailer's sizes.
    pub fn parse(bytes: &[u8], trailer: &Trailer) -> Result<Self, FormatError> {
        if bytes.len() != trailer.index_len as usize {
            return Err(bad("index length mismatch"));
        }
        if crc32c::crc32c(bytes) != trailer.index_crc32c {
            return Err(bad("index checksum mismatch"));
        }
        let mut r = Reader(bytes);
        let count = r.varint()?;
        if count != u64::from(trailer.frame_count) {
            return Err(bad("frame count mismatch"));
        }
        let mut index = Self::default();
        for _ in 0..count {
            let plain_len = r.varint()?;
            let stored_len = r.varint()?;
            let crc = r.take(4)?;
            let entry = FrameEntry {
                plain_len,
                stored_len,
                crc32c: u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]),
            };
            let (plain, stored) = (
                index.logical_size().checked_add(plain_len),
                index.stored_len().checked_add(stored_len),
            );
            if plain.is_none() || stored.is_none() {
                return Err(bad("frame lengths overflow"));
            }
            index.push(entry);
        }
        let parts = r.varint()?;
        if parts > count.max(1) {
            return Err(bad("more parts than frames"));
        }
        for _ in 0..parts {
            let p = r.varint()?;
            let p = u32::try_from(p).map_err(|_| bad("part start out of range"))?;
            if p as usize > index.frames.len() || index.part_starts.last().is_some_and(|&l| p <= l)
            {
                return Err(bad("part starts out of order"));
            }
            index.part_starts.push(p);
        }
        if !r.0.is_empty() {
            return Err(bad("trailing bytes after the index"));
        }
        if index.logical_size() != trailer.logical_size {
            return Err(bad(
                "frame plaintext lengths do not add up to the logical size",
            ));
        }
        if index.stored_len() != trailer.index_offset {
            return Err(bad(
                "frame stored lengths do not add up to the index offset",
            ));
        }
        Ok(index)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        if self.0.len() < n {
            return Err(bad("index truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn varint(&mut self) -> Result<u64, FormatError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if shift == 63 && b > 1 {
                    return Err(bad("varint overflows"));
                }
                return Ok(v);
            }
        }
        Err(bad("varint too long"))
    }
}

#[cfg(test)]
mod tests;
