//! Integrity checks of a request body: Content-MD5, `x-amz-checksum-*` headers and trailers.
//!
//! [`BodyCheck::new`] reads what the client promised before the body is read (rejecting a
//! malformed value at once); [`BodyCheck::digests`] says what to compute while the body is
//! written; [`BodyCheck::verify`] compares, after the body ended, and names the one checksum the
//! object keeps. A mismatch fails the request before anything is committed.

use http::HeaderMap;
use s3s::TrailingHeaders;
use s3s::dto::ChecksumAlgorithm as DtoAlgorithm;

use super::error::{Error, Result};
use super::props;
use crate::checksum::{
    BodyDigests, ChecksumAlgorithm, Checksums, Digests, checksums_in_headers, decode_content_md5,
};

/// What a request promised about its body.
#[derive(Debug)]
pub(crate) struct BodyCheck {
    content_md5: Option<[u8; 16]>,
    /// Value sent as an `x-amz-checksum-*` header (at most one).
    header: Checksums,
    /// Algorithm announced in `x-amz-trailer`.
    trailer: Option<ChecksumAlgorithm>,
    /// The algorithm the object keeps, if any.
    keep: Option<ChecksumAlgorithm>,
}

impl BodyCheck {
    /// Reads Content-MD5, the checksum headers, `x-amz-trailer` and the requested algorithm;
    /// `also` is an algorithm to compute regardless (a multipart upload's).
    pub(crate) fn new(
        headers: &HeaderMap,
        content_md5: Option<&str>,
        requested: Option<&DtoAlgorithm>,
        also: Option<ChecksumAlgorithm>,
    ) -> Result<Self> {
        let content_md5 = match content_md5 {
            None => None,
            Some(v) => Some(decode_content_md5(v).ok_or(Error::InvalidDigest)?),
        };
        let header =
            checksums_in_headers(headers).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        let trailer = headers
            .get_all("x-amz-trailer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find_map(ChecksumAlgorithm::from_header_name);
        let requested = props::algorithm(requested)?;
        let keep = header
            .iter()
            .next()
            .map(|(a, _)| a)
            .or(trailer)
            .or(requested)
            .or(also);
        Ok(Self {
            content_md5,
            header,
            trailer,
            keep,
        })
    }

    /// The digests to compute over the body: MD5 and every checksum involved.
    pub(crate) fn digests(&self, also: Option<ChecksumAlgorithm>) -> BodyDigests {
        let algorithms = self
            .header
            .iter()
            .map(|(a, _)| a)
            .chain(self.trailer)
            .chain(self.keep)
            .chain(also);
        BodyDigests::with_md5(algorithms)
    }

    /// Compares what was received with what was promised. Returns the checksums to keep.
    pub(crate) fn verify(
        &self,
        digests: &Digests,
        trailers: Option<&TrailingHeaders>,
    ) -> Result<Checksums> {
        if let Some(expected) = self.content_md5
            && digests.md5 != Some(expected)
        {
            return Err(Error::BadDigest(
                "The Content-MD5 you specified did not match what we received.".into(),
            ));
        }
        compare(&self.header, digests)?;
        if let Some(trailers) = trailers {
            let received = trailers.take().unwrap_or_default();
            let values = checksums_in_headers(&received)
                .map_err(|e| Error::InvalidRequest(e.to_string()))?;
            if let Some(declared) = self.trailer
                && values.get(declared).is_none()
            {
                return Err(Error::InvalidRequest(format!(
                    "The trailer {} announced in x-amz-trailer was not received.",
                    declared.header_name()
                )));
            }
            compare(&values, digests)?;
        }
        let mut keep = Checksums::default();
        if let Some(algorithm) = self.keep
            && let Some(value) = digests.checksums.get(algorithm)
        {
            keep.set(algorithm, value.to_owned());
        }
        Ok(keep)
    }
}

/// BadDigest unless every value equals the computed one; InvalidRequest for a trailer of an
/// algorithm `x-amz-trailer` did not announce (so it was not computed).
fn compare(expected: &Checksums, digests: &Digests) -> Result<()> {
    for (algorithm, value) in expected.iter() {
        match digests.checksums.get(algorithm) {
            Some(ours) if ours == value => {}
            Some(_) => {
                return Err(Error::BadDigest(format!(
                    "The {algorithm} you specified did not match the calculated checksum."
                )));
            }
            None => {
                return Err(Error::InvalidRequest(format!(
                    "The {} trailer was not announced in x-amz-trailer.",
                    algorithm.header_name()
                )));
            }
        }
    }
    Ok(())
}
