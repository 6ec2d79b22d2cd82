//! Verifies what the client declared about a request body while it streams to the store:
//! `Content-MD5`, an `x-amz-checksum-*` header, or an `x-amz-checksum-*` trailer announced by
//! `x-amz-trailer` (aws-chunked bodies). On a mismatch the stream ends in an error *before* its
//! end, so the store never commits the object, and the client gets `400 BadDigest`.
//!
//! Bodies that declare nothing are passed on untouched (no hashing).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use http::HeaderMap;
use nexus_store::checksum::{
    BodyDigests, ChecksumAlgorithm, checksums_in_headers, decode_content_md5,
};
use s3s::dto::StreamingBlob;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Error, S3ErrorCode, S3Result, TrailingHeaders};

/// What the client declared about the body.
#[derive(Debug, Default)]
struct Declared {
    content_md5: Option<String>,
    header: Option<(ChecksumAlgorithm, String)>,
    trailer: Option<ChecksumAlgorithm>,
}

/// The outcome of a verification, readable after the store call.
#[derive(Debug, Clone, Default)]
pub(super) struct Verdict(Arc<Mutex<Option<(S3ErrorCode, String)>>>);

// === impl Verdict ===

impl Verdict {
    fn fail(&self, code: S3ErrorCode, message: String) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert((code, message));
        }
    }

    /// The error to return for a failed store call: the verification failure if there was one
    /// (the store only saw a broken stream), else the store's own error.
    pub(super) fn explain(&self, store_error: S3Error) -> S3Error {
        match self.0.lock().ok().and_then(|mut s| s.take()) {
            Some((code, message)) => S3Error::with_message(code, message),
            None => store_error,
        }
    }
}

/// Wraps `body` so that it is verified against what `headers` (and the trailers) declare.
///
/// # Errors
/// Malformed declarations: `InvalidDigest` for a bad Content-MD5, `InvalidRequest` otherwise.
pub(super) fn verify(
    body: Option<StreamingBlob>,
    headers: &HeaderMap,
    trailers: Option<TrailingHeaders>,
) -> S3Result<(Option<StreamingBlob>, Verdict)> {
    let declared = declared(headers)?;
    let verdict = Verdict::default();
    let Some(body) = body else {
        return Ok((None, verdict));
    };
    if declared.content_md5.is_none() && declared.header.is_none() && declared.trailer.is_none() {
        return Ok((Some(body), verdict));
    }
    let algorithms = declared
        .header
        .iter()
        .map(|(a, _)| *a)
        .chain(declared.trailer);
    let digests = if declared.content_md5.is_some() {
        BodyDigests::with_md5(algorithms)
    } else {
        BodyDigests::checksums_only(algorithms)
    };
    let stream = Verifying {
        inner: body,
        digests: Some(digests),
        declared,
        trailers,
        verdict: verdict.clone(),
    };
    Ok((Some(StreamingBlob::new(stream)), verdict))
}

fn declared(headers: &HeaderMap) -> S3Result<Declared> {
    let mut d = Declared::default();
    if let Some(v) = headers.get(http::header::HeaderName::from_static("content-md5")) {
        let v = v.to_str().unwrap_or_default().trim().to_owned();
        if decode_content_md5(&v).is_none() {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidDigest,
                "The Content-MD5 you specified is not valid.",
            ));
        }
        d.content_md5 = Some(v);
    }
    let in_headers = checksums_in_headers(headers)
        .map_err(|e| S3Error::with_message(S3ErrorCode::InvalidRequest, e.to_string()))?;
    d.header = in_headers.iter().next().map(|(a, v)| (a, v.to_owned()));
    if let Some(names) = headers.get("x-amz-trailer") {
        let names = names.to_str().unwrap_or_default();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match ChecksumAlgorithm::from_header_name(name) {
                Some(a) => d.trailer = Some(a),
                None => {
                    return Err(S3Error::with_message(
                        S3ErrorCode::InvalidRequest,
                        format!(
                            "Unsupported trailer {name:?}; only x-amz-checksum-* trailers are accepted."
                        ),
                    ));
                }
            }
        }
    }
    Ok(d)
}

/// The verifying stream.
struct Verifying {
    inner: StreamingBlob,
    digests: Option<BodyDigests>,
    declared: Declared,
    trailers: Option<TrailingHeaders>,
    verdict: Verdict,
}

impl Verifying {
    /// Checks the finished body; `Err` with the reason on a mismatch.
    fn check(&mut self) -> Result<(), (S3ErrorCode, String)> {
        let Some(digests) = self.digests.take() else {
            return Ok(());
        };
        let got = digests.finish();
        if let Some(md5) = &self.declared.content_md5
            && !got.md5_matches(md5)
        {
            return Err((
                S3ErrorCode::BadDigest,
                "The Content-MD5 you specified did not match what we received.".to_owned(),
            ));
        }
        if let Some((algorithm, want)) = &self.declared.header
            && got.checksums.get(*algorithm) != Some(want.as_str())
        {
            return Err(mismatch(*algorithm));
        }
        if let Some(algorithm) = self.declared.trailer {
            let sent = self.trailers.as_ref().and_then(|t| {
                t.read(|h| {
                    h.get(algorithm.header_name())
                        .and_then(|v| v.to_str().ok())
                        .map(|v| v.trim().to_owned())
                })
                .flatten()
            });
            match sent {
                None => {
                    return Err((
                        S3ErrorCode::InvalidRequest,
                        format!(
                            "The trailer {} was announced in x-amz-trailer but not sent.",
                            algorithm.header_name()
                        ),
                    ));
                }
                Some(v) if got.checksums.get(algorithm) != Some(v.as_str()) => {
                    return Err(mismatch(algorithm));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

fn mismatch(algorithm: ChecksumAlgorithm) -> (S3ErrorCode, String) {
    (
        S3ErrorCode::BadDigest,
        format!(
            "The {} you specified did not match the calculated checksum.",
            algorithm.as_str()
        ),
    )
}

impl Stream for Verifying {
    type Item = Result<Bytes, s3s::StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(d) = &mut this.digests {
                    d.update(&chunk);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => match this.check() {
                Ok(()) => Poll::Ready(None),
                Err((code, message)) => {
                    this.verdict.fail(code, message.clone());
                    Poll::Ready(Some(Err(message.into())))
                }
            },
            other => other,
        }
    }
}

impl ByteStream for Verifying {
    fn remaining_length(&self) -> RemainingLength {
        self.inner.remaining_length()
    }
}
