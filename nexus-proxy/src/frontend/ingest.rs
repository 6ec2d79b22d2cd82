//! Verifies what the client declared about a request body while it streams to the store:
//! `Content-MD5`, an `x-amz-checksum-*` header, or an `x-amz-checksum-*` trailer announced by
//! `x-amz-trailer` (aws-chunked bodies). The last chunk is held back until the body ended and
//! checked out, so on a mismatch the stream ends in an error *before* its last bytes: no store
//! (and no S3 backend behind one) ever receives the complete body, nothing is committed, and the
//! client gets `400 BadDigest`.
//!
//! Bodies that declare nothing are not hashed. Every body is watched for a failure of its own
//! (a wrong aws-chunked chunk or trailer signature, a wrong `x-amz-content-sha256`, a truncated
//! body): that failure, not what the store made of the broken stream (an S3 backend sees a
//! failed upload and would answer 503), is the client's answer.

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
pub(super) struct Verdict(Arc<Mutex<Outcome>>);

#[derive(Debug, Default)]
struct Outcome {
    failure: Option<(S3ErrorCode, String)>,
    /// The `x-amz-checksum-*` value the client declared (header or trailer), once the body
    /// ended and matched it.
    verified: Option<(ChecksumAlgorithm, String)>,
}

// === impl Verdict ===

impl Verdict {
    fn fail(&self, code: S3ErrorCode, message: String) {
        if let Ok(mut slot) = self.0.lock() {
            slot.failure.get_or_insert((code, message));
        }
    }

    fn verified(&self, algorithm: ChecksumAlgorithm, value: String) {
        if let Ok(mut slot) = self.0.lock() {
            slot.verified = Some((algorithm, value));
        }
    }

    /// The client's checksum of the whole body (algorithm, base64 value), checked: what a
    /// transformed object reports for itself, as S3 reports what the client sent.
    pub(super) fn checksum(&self) -> Option<(ChecksumAlgorithm, String)> {
        self.0.lock().ok().and_then(|s| s.verified.clone())
    }

    /// `Err` with the recorded failure, if any: a store must never acknowledge a body that
    /// failed verification (the body it received was incomplete, so it cannot have succeeded;
    /// this makes sure).
    pub(super) fn confirm(&self) -> S3Result<()> {
        match self.0.lock().ok().and_then(|s| s.failure.clone()) {
            Some(_) => Err(self.explain(S3Error::new(S3ErrorCode::InternalError))),
            None => Ok(()),
        }
    }

    /// The error to return for a failed store call: the verification failure if there was one
    /// (the store only saw a broken stream), else the store's own error.
    pub(super) fn explain(&self, store_error: S3Error) -> S3Error {
        match self.0.lock().ok().and_then(|mut s| s.failure.take()) {
            Some((code, message)) => {
                let mut err = S3Error::with_message(code, message);
                if err.status_code().is_none() {
                    // Codes s3s does not know (XAmzContentSHA256Mismatch) are client errors.
                    err.set_status_code(http::StatusCode::BAD_REQUEST);
                }
                err
            }
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
    let digests = if declared.content_md5.is_none()
        && declared.header.is_none()
        && declared.trailer.is_none()
    {
        None
    } else {
        let algorithms = declared
            .header
            .iter()
            .map(|(a, _)| *a)
            .chain(declared.trailer);
        Some(if declared.content_md5.is_some() {
            BodyDigests::with_md5(algorithms)
        } else {
            BodyDigests::checksums_only(algorithms)
        })
    };
    let stream = Verifying {
        inner: body,
        digests,
        declared,
        trailers,
        verdict: verdict.clone(),
        held: None,
        finished: false,
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
    /// The latest chunk, released when the next one arrives or the body checked out.
    held: Option<Bytes>,
    /// The body ended (checked or failed); nothing more comes.
    finished: bool,
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
        if let Some((algorithm, want)) = &self.declared.header {
            if got.checksums.get(*algorithm) != Some(want.as_str()) {
                return Err(mismatch(*algorithm));
            }
            self.verdict.verified(*algorithm, want.clone());
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
                Some(v) => self.verdict.verified(algorithm, v),
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

/// What the client is told when its body failed while streaming. s3s's stream errors are
/// private types, known by their names.
fn body_failure(e: &s3s::StdError) -> (S3ErrorCode, String) {
    if let Some(s3) = e.downcast_ref::<S3Error>() {
        return (
            s3.code().clone(),
            s3.message()
                .unwrap_or("The request body failed.")
                .to_owned(),
        );
    }
    let text = e.to_string();
    if text.contains("SignatureMismatch") {
        (
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided."
                .to_owned(),
        )
    } else if text.contains("Sha256Mismatch") {
        (
            S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
            "The provided 'x-amz-content-sha256' header does not match what was computed."
                .to_owned(),
        )
    } else {
        (
            S3ErrorCode::IncompleteBody,
            format!("The request body terminated unexpectedly: {text}"),
        )
    }
}

impl Stream for Verifying {
    type Item = Result<Bytes, s3s::StdError>;

    /// Passes chunks on one behind: the last chunk is released only once the body ended and
    /// every check passed. A consumer that stops reading at the announced length (hyper does,
    /// so an S3 backend would receive a complete request and commit it) never sees a complete
    /// body whose checksum, final chunk signature or trailer turns out to be wrong.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    if let Some(d) = &mut this.digests {
                        d.update(&chunk);
                    }
                    if let Some(previous) = this.held.replace(chunk) {
                        return Poll::Ready(Some(Ok(previous)));
                    }
                }
                Poll::Ready(None) => {
                    this.finished = true;
                    return match this.check() {
                        Ok(()) => Poll::Ready(this.held.take().map(Ok)),
                        Err((code, message)) => {
                            this.held = None;
                            this.verdict.fail(code, message.clone());
                            Poll::Ready(Some(Err(message.into())))
                        }
                    };
                }
                Poll::Ready(Some(Err(e))) => {
                    this.finished = true;
                    this.held = None;
                    let (code, message) = body_failure(&e);
                    this.verdict.fail(code, message);
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl ByteStream for Verifying {
    fn remaining_length(&self) -> RemainingLength {
        let held = self.held.as_ref().map_or(0, Bytes::len);
        if self.finished {
            return RemainingLength::new_exact(held);
        }
        match self.inner.remaining_length().exact() {
            Some(n) => RemainingLength::new_exact(n + held),
            None => RemainingLength::new(held, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use futures::StreamExt as _;
    use md5::{Digest as _, Md5};

    use super::*;

    fn body(chunks: &[&'static [u8]]) -> StreamingBlob {
        let items: Vec<Result<Bytes, std::io::Error>> =
            chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        StreamingBlob::wrap(futures::stream::iter(items))
    }

    fn md5_header(data: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode(Md5::digest(data));
        h.insert("content-md5", v.parse().expect("header"));
        h
    }

    async fn drain(blob: StreamingBlob) -> (Vec<Bytes>, bool) {
        let items: Vec<_> = blob.collect().await;
        let failed = items.iter().any(Result::is_err);
        (items.into_iter().filter_map(Result::ok).collect(), failed)
    }

    #[tokio::test]
    async fn a_failed_check_withholds_the_last_chunk() {
        let (blob, verdict) = verify(
            Some(body(&[b"abc", b"def", b"ghi"])),
            &md5_header(b"something else"),
            None,
        )
        .expect("declared");
        let (chunks, failed) = drain(blob.expect("body")).await;
        assert!(failed);
        assert_eq!(
            chunks,
            [&b"abc"[..], &b"def"[..]],
            "the last chunk never leaves"
        );
        let err = verdict
            .confirm()
            .expect_err("a store success is not the answer");
        assert_eq!(err.code(), &S3ErrorCode::BadDigest);
    }

    #[tokio::test]
    async fn a_good_body_passes_whole_with_its_length() {
        let (blob, verdict) = verify(
            Some(body(&[b"abc", b"", b"def"])),
            &md5_header(b"abcdef"),
            None,
        )
        .expect("declared");
        let blob = blob.expect("body");
        assert_eq!(blob.remaining_length().exact(), None);
        let (chunks, failed) = drain(blob).await;
        assert!(!failed);
        assert_eq!(chunks.concat(), b"abcdef");
        assert!(verdict.confirm().is_ok());
    }

    #[tokio::test]
    async fn a_failing_body_is_the_answer_even_without_declarations() {
        let items: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"abc")),
            Err(std::io::Error::other(
                "AwsChunkedStreamError: SignatureMismatch",
            )),
        ];
        let (blob, verdict) = verify(
            Some(StreamingBlob::wrap(futures::stream::iter(items))),
            &HeaderMap::new(),
            None,
        )
        .expect("nothing declared");
        let (chunks, failed) = drain(blob.expect("body")).await;
        assert!(failed);
        assert!(
            chunks.is_empty(),
            "nothing passes before the failure: {chunks:?}"
        );
        let err = verdict.explain(S3Error::new(S3ErrorCode::ServiceUnavailable));
        assert_eq!(err.code(), &S3ErrorCode::SignatureDoesNotMatch);
        assert_eq!(err.status_code(), Some(http::StatusCode::FORBIDDEN));
    }
}
