//! Sending a request to another worker and checking the bodies that arrive from one.
//!
//! The hop is HTTP/1.1 (keep-alive, TCP_NODELAY; TLS when the peer advertises `https://`) and
//! always chunked, so that the body can end with the [`BODY_CRC32C`] trailer; the broker's `Content-Length` travels in
//! [`CONTENT_LENGTH`] and is restored by the receiver before s3s reads the request.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::sign::{BODY_CRC32C, BODY_LENGTH, CONTENT_LENGTH};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of a forwarded request: the broker's bytes, then the CRC32C trailer.
pub struct CrcBody {
    inner: Incoming,
    crc: u32,
    done: bool,
}

impl CrcBody {
    #[must_use]
    pub fn new(inner: Incoming) -> Self {
        Self {
            inner,
            crc: 0,
            done: false,
        }
    }
}

fn crc_trailer(crc: u32, mut trailers: HeaderMap) -> HeaderMap {
    if let Ok(v) = HeaderValue::from_str(&format!("{crc:08x}")) {
        trailers.insert(BODY_CRC32C, v);
    }
    trailers
}

impl Body for CrcBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let frame = match frame.into_data() {
                    Ok(data) => {
                        self.crc = crc32c::crc32c_append(self.crc, &data);
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Err(frame) => frame,
                };
                // The broker's own trailers (rare): ours join them.
                let theirs = frame.into_trailers().unwrap_or_default();
                self.done = true;
                Poll::Ready(Some(Ok(Frame::trailers(crc_trailer(self.crc, theirs)))))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(Some(Ok(Frame::trailers(crc_trailer(
                    self.crc,
                    HeaderMap::new(),
                )))))
            }
            other => other,
        }
    }

    fn size_hint(&self) -> SizeHint {
        // Never exact: the hop must be chunked to carry the trailer.
        SizeHint::default()
    }
}

/// The body of a request that arrived from another worker: passes the data through, holding
/// the latest frame back until the trailer proves the CRC32C, so a body damaged in transit
/// fails before its last byte reaches the store.
pub struct VerifiedBody {
    inner: Incoming,
    crc: u32,
    held: Option<Bytes>,
    length: Option<u64>,
    finished: bool,
}

impl VerifiedBody {
    #[must_use]
    pub fn new(inner: Incoming, length: Option<u64>) -> Self {
        Self {
            inner,
            crc: 0,
            held: None,
            length,
            finished: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("forwarded body failed its integrity check: {0}")]
pub struct Corrupt(String);

impl Body for VerifiedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            if self.finished {
                return Poll::Ready(self.held.take().map(|d| Ok(Frame::data(d))));
            }
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(Box::new(e)))),
                Poll::Ready(None) => {
                    return Poll::Ready(Some(Err(Box::new(Corrupt(
                        "no x-nexus-body-crc32c trailer".into(),
                    )))));
                }
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        self.crc = crc32c::crc32c_append(self.crc, &data);
                        if let Some(prev) = self.held.replace(data) {
                            return Poll::Ready(Some(Ok(Frame::data(prev))));
                        }
                    }
                    Err(frame) => {
                        let trailers = frame.into_trailers().unwrap_or_default();
                        let sent = trailers
                            .get(BODY_CRC32C)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| u32::from_str_radix(v, 16).ok());
                        if sent != Some(self.crc) {
                            return Poll::Ready(Some(Err(Box::new(Corrupt(format!(
                                "CRC32C {:08x} of the bytes received, trailer says {sent:08x?}",
                                self.crc
                            ))))));
                        }
                        self.finished = true;
                    }
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished && self.held.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        self.length
            .map_or_else(SizeHint::default, SizeHint::with_exact)
    }
}

/// The HTTP client workers dial each other with.
#[derive(Clone)]
pub struct Peers {
    client: Client<PeerConnector, CrcBody>,
    /// For stage calls, whose bodies are one frame in memory.
    frames: Client<PeerConnector, http_body_util::Full<Bytes>>,
}

/// Plain TCP for `http://` peers, rustls for `https://` ones.
type PeerConnector = HttpsConnector<HttpConnector>;

impl Peers {
    /// Clients for both schemes; `https://` peers are verified with `tls`.
    #[must_use]
    pub fn new(tls: &rustls::ClientConfig) -> Self {
        let mut tcp = HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(Duration::from_secs(2)));
        tcp.enforce_http(false);
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        Self {
            client: pooled(connector.clone()),
            frames: pooled(connector),
        }
    }
}

/// A keep-alive client over `connector` (both of [`Peers`]'s body types).
fn pooled<B>(connector: PeerConnector) -> Client<PeerConnector, B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build(connector)
}

impl Peers {
    /// Sends `req` (its URI already pointing at the peer).
    ///
    /// # Errors
    /// The peer could not be reached, its certificate not verified, or the connection broke:
    /// the whole chain of causes.
    pub async fn send(&self, req: Request<CrcBody>) -> Result<Response<Incoming>, String> {
        self.client.request(req).await.map_err(|e| causes(&e))
    }

    /// Sends a stage call.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn send_full(
        &self,
        req: Request<http_body_util::Full<Bytes>>,
    ) -> Result<Response<Incoming>, String> {
        self.frames.request(req).await.map_err(|e| causes(&e))
    }
}

/// `e` and its sources, `: `-separated (hyper's "client error (Connect)" alone hides whether the
/// connection was refused or the peer's certificate was not trusted).
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Prepares the broker's request head for the hop: hop-by-hop headers dropped, the length moved
/// to [`CONTENT_LENGTH`], the exact body length (if known) in [`BODY_LENGTH`], and the trailer
/// announced.
pub fn prepare_head(headers: &mut HeaderMap, body_length: Option<u64>) {
    if let Some(n) = body_length
        && let Ok(v) = HeaderValue::from_str(&n.to_string())
    {
        headers.insert(BODY_LENGTH, v);
    }
    if let Some(len) = headers.remove(http::header::CONTENT_LENGTH) {
        headers.insert(CONTENT_LENGTH, len);
    }
    for h in [
        http::header::CONNECTION,
        http::header::TRANSFER_ENCODING,
        http::header::EXPECT,
        http::header::TE,
        http::header::TRAILER,
    ] {
        headers.remove(h);
    }
    headers.insert(http::header::TRAILER, HeaderValue::from_static(BODY_CRC32C));
}

/// Restores the broker's head on the receiving worker (inverse of [`prepare_head`]); returns
/// the body length, when the sender knew it.
pub fn restore_head(headers: &mut HeaderMap) -> Option<u64> {
    headers.remove(http::header::TRAILER);
    headers.remove(http::header::TRANSFER_ENCODING);
    if let Some(len) = headers.remove(CONTENT_LENGTH) {
        headers.insert(http::header::CONTENT_LENGTH, len);
    }
    headers
        .remove(BODY_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
}
