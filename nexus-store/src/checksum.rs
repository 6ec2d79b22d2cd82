//! Body digests as S3 computes and formats them.
//!
//! [`BodyDigests`] feeds a body, chunk by chunk, into MD5 (the ETag of a single PUT and the
//! `Content-MD5` check) and any of S3's flexible checksums. [`Digests`] yields them the way S3
//! formats them: MD5 as hex (ETag) or base64 (`Content-MD5`), checksums as base64 of the
//! big-endian digest (`x-amz-checksum-crc32: 2qMK3A==`).
//!
//! [`ChecksumAlgorithm`] parses algorithm names (`x-amz-sdk-checksum-algorithm: CRC32`) and header
//! names (`x-amz-checksum-crc32`, also what `x-amz-trailer` names), and checks that a value
//! supplied by a client is well formed. [`checksums_in_headers`] collects the `x-amz-checksum-*`
//! values of a header map (request headers or trailers).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::HeaderMap;
use md5::{Digest as _, Md5};
use s3s::crypto::Checksum as _;

/// A flexible checksum algorithm S3 accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC), as `crc32fast` computes it.
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// CRC-64/NVME.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in a fixed order.
    pub const ALL: [Self; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// Parses an algorithm name as S3 spells it (`CRC32`, `crc32c`, `SHA256`…), ignoring case.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// Parses a header name (`x-amz-checksum-crc32`), ignoring case.
    #[must_use]
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name.trim()))
    }

    /// The name S3 uses (`CRC32`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The header that carries a value (`x-amz-checksum-crc32`).
    #[must_use]
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Length in bytes of the binary digest.
    #[must_use]
    pub fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// Whether `value` is a well-formed base64 digest of this algorithm.
    #[must_use]
    pub fn is_valid_value(self, value: &str) -> bool {
        BASE64
            .decode(value.trim())
            .is_ok_and(|raw| raw.len() == self.digest_len())
    }

    /// The digest of `data` with this algorithm, base64-encoded.
    #[must_use]
    pub fn digest_base64(self, data: &[u8]) -> String {
        let mut hasher = Hasher::new(self);
        hasher.update(data);
        BASE64.encode(hasher.finish())
    }

    /// S3's composite checksum of a multipart object: the checksum of the concatenated binary
    /// part checksums, base64, followed by `-<number of parts>`. `None` if a part value is not
    /// valid base64.
    #[must_use]
    pub fn composite_base64<'a>(self, parts: impl IntoIterator<Item = &'a str>) -> Option<String> {
        let mut hasher = Hasher::new(self);
        let mut count = 0_usize;
        for part in parts {
            let raw = BASE64.decode(part.trim()).ok()?;
            hasher.update(&raw);
            count += 1;
        }
        Some(format!("{}-{count}", BASE64.encode(hasher.finish())))
    }

    /// The full-object checksum of a concatenation, from each piece's checksum (base64) and
    /// length, without the bytes. Only CRC-32 and CRC-32C combine this way here; `None` for
    /// the others or a malformed value.
    #[must_use]
    pub fn combine_base64<'a>(
        self,
        pieces: impl IntoIterator<Item = (&'a str, u64)>,
    ) -> Option<String> {
        let decode = |v: &str| -> Option<u32> {
            let raw: [u8; 4] = BASE64.decode(v.trim()).ok()?.try_into().ok()?;
            Some(u32::from_be_bytes(raw))
        };
        let crc = match self {
            Self::Crc32 => {
                let mut all = crc32fast::Hasher::new();
                for (value, len) in pieces {
                    all.combine(&crc32fast::Hasher::new_with_initial_len(
                        decode(value)?,
                        len,
                    ));
                }
                all.finalize()
            }
            Self::Crc32c => {
                let mut all = 0u32;
                for (value, len) in pieces {
                    all = crc32c::crc32c_combine(all, decode(value)?, usize::try_from(len).ok()?);
                }
                all
            }
            _ => return None,
        };
        Some(BASE64.encode(crc.to_be_bytes()))
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One incremental checksum computation.
enum Hasher {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(Box<s3s::crypto::Crc64Nvme>),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    fn new(algorithm: ChecksumAlgorithm) -> Self {
        match algorithm {
            ChecksumAlgorithm::Crc32 => Self::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => Self::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => Self::Crc64Nvme(Box::default()),
            ChecksumAlgorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc32(h) => h.update(data),
            Self::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, data),
            Self::Crc64Nvme(h) => h.update(data),
            Self::Sha1(h) => sha1::Digest::update(h, data),
            Self::Sha256(h) => sha2::Digest::update(h, data),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Self::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            Self::Crc32c(crc) => crc.to_be_bytes().to_vec(),
            Self::Crc64Nvme(h) => h.finalize().to_vec(),
            Self::Sha1(h) => sha1::Digest::finalize(h).to_vec(),
            Self::Sha256(h) => sha2::Digest::finalize(h).to_vec(),
        }
    }
}

/// Base64 checksum values, at most one per algorithm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checksums(Vec<(ChecksumAlgorithm, String)>);

impl Checksums {
    /// The value for `algorithm`, if present.
    #[must_use]
    pub fn get(&self, algorithm: ChecksumAlgorithm) -> Option<&str> {
        self.0
            .iter()
            .find(|(a, _)| *a == algorithm)
            .map(|(_, v)| v.as_str())
    }

    /// Sets the value for `algorithm`, replacing a previous one.
    pub fn set(&mut self, algorithm: ChecksumAlgorithm, value: String) {
        self.0.retain(|(a, _)| *a != algorithm);
        self.0.push((algorithm, value));
    }

    /// Whether no value is present.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of values.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The values, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (ChecksumAlgorithm, &str)> {
        self.0.iter().map(|(a, v)| (*a, v.as_str()))
    }
}

/// A problem with the `x-amz-checksum-*` headers of a request or trailer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumHeaderError {
    /// A value is not the base64 of a digest of the right length.
    #[error("Value for {0} header is invalid.")]
    Invalid(&'static str),
    /// More than one checksum header.
    #[error("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")]
    Multiple,
}

/// The `x-amz-checksum-<algorithm>` values in `headers` (request headers or trailers).
///
/// # Errors
/// A value is malformed, or more than one algorithm is present (S3 accepts one).
pub fn checksums_in_headers(headers: &HeaderMap) -> Result<Checksums, ChecksumHeaderError> {
    let mut found = Checksums::default();
    for algorithm in ChecksumAlgorithm::ALL {
        let Some(value) = headers.get(algorithm.header_name()) else {
            continue;
        };
        let value = value
            .to_str()
            .map_err(|_| ChecksumHeaderError::Invalid(algorithm.header_name()))?;
        if !algorithm.is_valid_value(value) {
            return Err(ChecksumHeaderError::Invalid(algorithm.header_name()));
        }
        found.set(algorithm, value.trim().to_owned());
    }
    if found.len() > 1 {
        return Err(ChecksumHeaderError::Multiple);
    }
    Ok(found)
}

/// Incremental MD5 plus any flexible checksums over one body.
pub struct BodyDigests {
    md5: Option<Md5>,
    hashers: Vec<(ChecksumAlgorithm, Hasher)>,
    len: u64,
}

impl fmt::Debug for BodyDigests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyDigests")
            .field("md5", &self.md5.is_some())
            .field(
                "algorithms",
                &self.hashers.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
            )
            .field("len", &self.len)
            .finish()
    }
}

impl BodyDigests {
    /// MD5 plus the given checksums (duplicates are computed once).
    #[must_use]
    pub fn with_md5(algorithms: impl IntoIterator<Item = ChecksumAlgorithm>) -> Self {
        let mut this = Self::checksums_only(algorithms);
        this.md5 = Some(Md5::new());
        this
    }

    /// Only the given checksums, no MD5 (e.g. to verify a trailer on pass-through).
    #[must_use]
    pub fn checksums_only(algorithms: impl IntoIterator<Item = ChecksumAlgorithm>) -> Self {
        let mut hashers: Vec<(ChecksumAlgorithm, Hasher)> = Vec::new();
        for algorithm in algorithms {
            if hashers.iter().all(|(a, _)| *a != algorithm) {
                hashers.push((algorithm, Hasher::new(algorithm)));
            }
        }
        Self {
            md5: None,
            hashers,
            len: 0,
        }
    }

    /// Adds `algorithm` if it is not computed yet. Only meaningful before the first byte.
    pub fn add(&mut self, algorithm: ChecksumAlgorithm) {
        if self.hashers.iter().all(|(a, _)| *a != algorithm) {
            self.hashers.push((algorithm, Hasher::new(algorithm)));
        }
    }

    /// Feeds the next bytes of the body.
    pub fn update(&mut self, data: &[u8]) {
        if let Some(md5) = &mut self.md5 {
            md5.update(data);
        }
        for (_, hasher) in &mut self.hashers {
            hasher.update(data);
        }
        self.len += data.len() as u64;
    }

    /// Bytes fed so far.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no byte was fed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The final digests.
    #[must_use]
    pub fn finish(self) -> Digests {
        let mut checksums = Checksums::default();
        for (algorithm, hasher) in self.hashers {
            checksums.set(algorithm, BASE64.encode(hasher.finish()));
        }
        Digests {
            len: self.len,
            md5: self.md5.map(|m| m.finalize().into()),
            checksums,
        }
    }
}

/// The digests of a whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// Body length in bytes.
    pub len: u64,
    /// Binary MD5, when requested.
    pub md5: Option<[u8; 16]>,
    /// Base64 checksum values.
    pub checksums: Checksums,
}

impl Digests {
    /// MD5 as lowercase hex (an S3 ETag without quotes); empty without MD5.
    #[must_use]
    pub fn md5_hex(&self) -> String {
        self.md5.map(hex::encode).unwrap_or_default()
    }

    /// MD5 as base64 (the `Content-MD5` form); empty without MD5.
    #[must_use]
    pub fn md5_base64(&self) -> String {
        self.md5.map(|m| BASE64.encode(m)).unwrap_or_default()
    }

    /// Whether `content_md5` (base64, as sent in `Content-MD5`) matches the body.
    #[must_use]
    pub fn md5_matches(&self, content_md5: &str) -> bool {
        match (self.md5, decode_content_md5(content_md5)) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => false,
        }
    }
}

/// Decodes a `Content-MD5` value: base64 of exactly 16 bytes.
#[must_use]
pub fn decode_content_md5(value: &str) -> Option<[u8; 16]> {
    BASE64.decode(value.trim()).ok()?.try_into().ok()
}

/// Hex MD5 of the concatenated binary MD5s of the parts, followed by `-<parts>`: the ETag of a
/// multipart object. `None` if a part ETag is not 32 hex digits.
#[must_use]
pub fn multipart_etag<'a>(part_etags: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut md5 = Md5::new();
    let mut count = 0_usize;
    for etag in part_etags {
        let raw = hex::decode(etag.trim_matches('"')).ok()?;
        if raw.len() != 16 {
            return None;
        }
        md5.update(&raw);
        count += 1;
    }
    Some(format!("{}-{count}", hex::encode(md5.finalize())))
}

#[cfg(test)]
mod tests;

/// The `checksum_*` fields of an s3s input, output or part that are set, as [`Checksums`] (the
/// reverse of [`fill_checksums!`]).
#[macro_export]
macro_rules! read_checksums {
    ($x:expr) => {{
        let mut found = $crate::checksum::Checksums::default();
        for (algorithm, value) in [
            (
                $crate::checksum::ChecksumAlgorithm::Crc32,
                &$x.checksum_crc32,
            ),
            (
                $crate::checksum::ChecksumAlgorithm::Crc32c,
                &$x.checksum_crc32c,
            ),
            (
                $crate::checksum::ChecksumAlgorithm::Crc64Nvme,
                &$x.checksum_crc64nvme,
            ),
            ($crate::checksum::ChecksumAlgorithm::Sha1, &$x.checksum_sha1),
            (
                $crate::checksum::ChecksumAlgorithm::Sha256,
                &$x.checksum_sha256,
            ),
        ] {
            if let Some(v) = value {
                found.set(algorithm, v.clone());
            }
        }
        found
    }};
}

/// Sets the `checksum_*` fields of an s3s input or output from [`Checksums`].
#[macro_export]
macro_rules! fill_checksums {
    ($out:expr, $checksums:expr) => {{
        let checksums: &$crate::checksum::Checksums = $checksums;
        for (algorithm, value) in checksums.iter() {
            let value = Some(value.to_owned());
            match algorithm {
                $crate::checksum::ChecksumAlgorithm::Crc32 => $out.checksum_crc32 = value,
                $crate::checksum::ChecksumAlgorithm::Crc32c => $out.checksum_crc32c = value,
                $crate::checksum::ChecksumAlgorithm::Crc64Nvme => $out.checksum_crc64nvme = value,
                $crate::checksum::ChecksumAlgorithm::Sha1 => $out.checksum_sha1 = value,
                $crate::checksum::ChecksumAlgorithm::Sha256 => $out.checksum_sha256 = value,
            }
        }
    }};
}
