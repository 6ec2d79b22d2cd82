//! The client's checksum of a transformed object (`docs/formats.md` §2, `nexus-checksum`).
//! S3 reports the `x-amz-checksum-*` value a client sent with its write; the backend's own
//! checksums of a transformed object describe the stored frames, so Nexus keeps the
//! client's value (verified on the plaintext by [`crate::frontend`]) and reports that.

use std::sync::{Arc, Mutex};

use futures::StreamExt as _;
use nexus_store::checksum::{BodyDigests, ChecksumAlgorithm, Checksums};
use s3s::dto::{ChecksumType, StreamingBlob};

/// `ALGORITHM:VALUE`: VALUE is the base64 digest (FULL_OBJECT) or `base64-N` (COMPOSITE, a
/// multipart object whose checksum is over its parts' checksums).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalChecksum {
    pub algorithm: ChecksumAlgorithm,
    pub value: String,
}

impl LogicalChecksum {
    #[must_use]
    pub fn new((algorithm, value): (ChecksumAlgorithm, String)) -> Self {
        Self { algorithm, value }
    }

    /// The metadata value.
    #[must_use]
    pub fn encode(&self) -> String {
        format!("{}:{}", self.algorithm.as_str(), self.value)
    }

    /// Parses a metadata value; `None` if it is not one.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let (algorithm, value) = s.split_once(':')?;
        let algorithm = ChecksumAlgorithm::parse(algorithm)?;
        let digest = value.split_once('-').map_or(value, |(d, _)| d);
        algorithm.is_valid_value(digest).then(|| Self {
            algorithm,
            value: value.to_owned(),
        })
    }

    /// Whether this is a checksum of checksums (`-N`).
    #[must_use]
    pub fn composite(&self) -> bool {
        self.value.contains('-')
    }

    /// For `fill_checksums!`.
    #[must_use]
    pub fn checksums(&self) -> Checksums {
        let mut c = Checksums::default();
        c.set(self.algorithm, self.value.clone());
        c
    }

    /// `x-amz-checksum-type`.
    #[must_use]
    pub fn checksum_type(&self) -> ChecksumType {
        checksum_type(!self.composite())
    }
}

/// `x-amz-checksum-type` of a whole-object (`FULL_OBJECT`) or checksum-of-checksums
/// (`COMPOSITE`) checksum.
#[must_use]
pub fn checksum_type(full_object: bool) -> ChecksumType {
    ChecksumType::from(
        if full_object {
            "FULL_OBJECT"
        } else {
            "COMPOSITE"
        }
        .to_owned(),
    )
}

/// Computes the `algorithm` checksum of a body as it streams through (for parts whose
/// checksum the client did not send: UploadPartCopy, UploadPart without one); the value is in
/// the returned slot once the body ended.
#[must_use]
pub fn digesting(
    body: Option<StreamingBlob>,
    algorithm: ChecksumAlgorithm,
) -> (Option<StreamingBlob>, Arc<Mutex<Option<String>>>) {
    let slot = Arc::new(Mutex::new(None));
    let Some(body) = body else {
        *slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(algorithm.digest_base64(b""));
        return (None, slot);
    };
    let out = Arc::clone(&slot);
    let mut digests = Some(BodyDigests::checksums_only([algorithm]));
    let stream = futures::stream::unfold(
        (body, digests.take(), out),
        move |(mut body, mut digests, out)| async move {
            match body.next().await {
                Some(Ok(chunk)) => {
                    if let Some(d) = &mut digests {
                        d.update(&chunk);
                    }
                    Some((Ok(chunk), (body, digests, out)))
                }
                Some(Err(e)) => Some((Err(std::io::Error::other(e)), (body, None, out))),
                None => {
                    if let Some(d) = digests.take() {
                        let value = d.finish().checksums.get(algorithm).map(str::to_owned);
                        *out.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = value;
                    }
                    None
                }
            }
        },
    );
    (Some(StreamingBlob::wrap(stream)), slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        for v in [
            "CRC32:AAAAAA==",
            "CRC32C:AAAAAA==-3",
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        ] {
            let c = LogicalChecksum::parse(v).expect(v);
            assert_eq!(c.encode(), v);
        }
        assert!(LogicalChecksum::parse("CRC32:AAAAAA==-3").is_some_and(|c| c.composite()));
        for bad in [
            "",
            "CRC32",
            "MD5:AAAAAA==",
            "CRC32:not base64",
            "SHA256:AAAAAA==",
        ] {
            assert_eq!(LogicalChecksum::parse(bad), None, "{bad}");
        }
    }
}
