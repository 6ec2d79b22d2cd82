//! Hand-built HTTP/1.1 requests through hyper's connection-level client, over plain TCP or TLS:
//! for what the SDK cannot be made to send (signed chunks without trailer, damaged signatures,
//! a `Host` header of our choosing, anonymous requests, slow bodies).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use http::HeaderMap;
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::tls::TestCa;

/// The body type of hand-built requests.
pub type RawBody = BoxBody<Bytes, std::io::Error>;

pub fn full(data: impl Into<Bytes>) -> RawBody {
    Full::new(data.into())
        .map_err(|e: Infallible| match e {})
        .boxed()
}

/// A body sent as these frames, one after the other.
pub fn frames(frames: Vec<Bytes>) -> RawBody {
    let stream = futures::stream::iter(frames.into_iter().map(|b| Ok(Frame::data(b))));
    BodyExt::boxed(StreamBody::new(stream))
}

/// A body sent as these frames with `pause` before each one after the first; `started` fires
/// when the first frame has been taken by the connection (the request is then in flight).
pub fn slow(
    frames: Vec<Bytes>,
    pause: Duration,
    started: tokio::sync::oneshot::Sender<()>,
) -> RawBody {
    let mut started = Some(started);
    let stream = futures::stream::iter(frames.into_iter().enumerate()).then(move |(i, b)| {
        let signal = started.take();
        async move {
            if i > 0 {
                tokio::time::sleep(pause).await;
            }
            if let Some(s) = signal {
                let _ = s.send(());
            }
            Ok(Frame::data(b))
        }
    });
    BodyExt::boxed(StreamBody::new(stream))
}

/// What came back.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `<Code>` of an S3 error document.
    pub fn code(&self) -> Option<String> {
        let text = self.text();
        let start = text.find("<Code>")? + "<Code>".len();
        let end = text[start..].find("</Code>")? + start;
        Some(text[start..end].to_owned())
    }

    /// (status, S3 code or "")
    pub fn status_code(&self) -> (u16, String) {
        (self.status, self.code().unwrap_or_default())
    }
}

/// One connection (HTTP/1.1 keep-alive, or HTTP/2 over TLS) to the proxy.
pub struct Conn {
    sender: Sender,
}

enum Sender {
    H1(http1::SendRequest<RawBody>),
    H2(http2::SendRequest<RawBody>),
}

impl Conn {
    /// Connects to `addr`, over TLS (trusting `ca`) when given.
    pub async fn open(addr: SocketAddr, ca: Option<&TestCa>) -> Self {
        let tcp = TcpStream::connect(addr)
            .await
            .expect("connect to the proxy");
        tcp.set_nodelay(true).expect("nodelay");
        match ca {
            None => Self::handshake(TokioIo::new(tcp)).await,
            Some(ca) => {
                let connector: TlsConnector = ca.connector(&[b"http/1.1"]);
                let tls = connector
                    .connect(TestCa::server_name(), tcp)
                    .await
                    .expect("TLS handshake with the proxy");
                Self::handshake(TokioIo::new(tls)).await
            }
        }
    }

    async fn handshake<I>(io: I) -> Self
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (sender, conn) = http1::handshake(io).await.expect("HTTP/1.1 handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Self {
            sender: Sender::H1(sender),
        }
    }

    /// HTTP/2 over TLS (ALPN `h2`, which the proxy must select).
    pub async fn open_h2(addr: SocketAddr, ca: &TestCa) -> Self {
        let tcp = TcpStream::connect(addr)
            .await
            .expect("connect to the proxy");
        tcp.set_nodelay(true).expect("nodelay");
        let tls = ca
            .connector(&[b"h2"])
            .connect(TestCa::server_name(), tcp)
            .await
            .expect("TLS handshake with the proxy");
        assert_eq!(
            tls.get_ref().1.alpn_protocol(),
            Some(&b"h2"[..]),
            "the proxy selected HTTP/2"
        );
        let (sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .expect("HTTP/2 handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Self {
            sender: Sender::H2(sender),
        }
    }

    /// Sends one request and reads the whole response.
    pub async fn send(&mut self, req: http::Request<RawBody>) -> RawResponse {
        let res = match &mut self.sender {
            Sender::H1(sender) => {
                sender.ready().await.expect("connection ready");
                sender.send_request(req).await
            }
            Sender::H2(sender) => {
                sender.ready().await.expect("connection ready");
                sender.send_request(req).await
            }
        }
        .expect("response from the proxy");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res
            .into_body()
            .collect()
            .await
            .expect("response body")
            .to_bytes();
        RawResponse {
            status,
            headers,
            body,
        }
    }
}

/// Sends one request on a new connection.
pub async fn send(
    addr: SocketAddr,
    ca: Option<&TestCa>,
    req: http::Request<RawBody>,
) -> RawResponse {
    Conn::open(addr, ca).await.send(req).await
}

/// `GET path` on a plain HTTP port (the admin port).
pub async fn get(addr: SocketAddr, path: &str) -> RawResponse {
    let req = http::Request::builder()
        .method("GET")
        .uri(path)
        .header("host", addr.to_string())
        .body(full(Bytes::new()))
        .expect("request");
    send(addr, None, req).await
}

/// Sends a presigned request (the SDK's URI, method and headers) with `body`.
pub async fn send_presigned(
    addr: SocketAddr,
    method: &str,
    uri: &str,
    headers: impl Iterator<Item = (String, String)>,
    body: Bytes,
) -> RawResponse {
    let uri: http::Uri = uri.parse().expect("presigned URI");
    let path = uri
        .path_and_query()
        .map_or("/".to_owned(), ToString::to_string);
    let host = uri.authority().expect("authority").to_string();
    let mut b = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", host)
        .header("content-length", body.len().to_string());
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("host") {
            b = b.header(k, v);
        }
    }
    send(addr, None, b.body(full(body)).expect("request")).await
}
