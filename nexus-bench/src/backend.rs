//! `nexus-bench backend`: a small in-memory S3 server for benchmarks.
//!
//! It keeps no bodies: PUT drains the body, counting bytes, and records `key -> (size, etag)`;
//! GET and HEAD serve `size` bytes of the shared pattern (zero-copy slices). A key of the form
//! `fixed/<size>[/...]` exists in every bucket without a PUT. Path-style addressing only;
//! SigV4 is accepted without verification; `aws-chunked` bodies are decoded to count the payload.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::chunked::ChunkedCounter;
use crate::pattern::PatternBody;
use crate::range::{RangeRequest, parse_range};
use crate::xml;

/// Fixed `Last-Modified` of every object (the backend has no clock of record).
const LAST_MODIFIED: &str = "Wed, 01 Jan 2025 00:00:00 GMT";
/// Most keys one listing returns.
const MAX_KEYS: usize = 1000;

/// Metadata of one stored object.
#[derive(Debug, Clone)]
struct Object {
    size: u64,
    /// Quoted, as sent in the `ETag` header.
    etag: Arc<str>,
}

/// The backend's state: buckets and the objects' metadata.
#[derive(Debug, Default)]
pub struct Backend {
    buckets: Mutex<HashMap<String, HashMap<String, Object>>>,
    next_request: AtomicU64,
}

impl Backend {
    fn buckets(&self) -> MutexGuard<'_, HashMap<String, HashMap<String, Object>>> {
        // A panic while holding the lock leaves the map usable: recover it.
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn request_id(&self) -> String {
        format!(
            "NB{:016X}",
            self.next_request.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// Binds `addr` and serves on a spawned task; returns the bound address.
pub async fn start(addr: SocketAddr) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(serve(listener, Arc::new(Backend::default())));
    Ok((local, task))
}

/// Accepts connections forever: HTTP/1.1 with keep-alive and TCP_NODELAY.
pub async fn serve(listener: TcpListener, state: Arc<Backend>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Usually EMFILE: back off rather than spin.
                eprintln!("nexus-bench backend: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            eprintln!("nexus-bench backend: cannot set TCP_NODELAY: {e}");
        }
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&state), req));
            // Errors here are clients going away mid-request; nothing to do.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Response bodies: nothing, a small buffer, or pattern bytes.
#[derive(Debug)]
pub enum RespBody {
    Full(Option<Bytes>),
    Pattern(PatternBody),
}

impl RespBody {
    fn empty() -> Self {
        Self::Full(None)
    }
}

impl Body for RespBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Self::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Self::Pattern(p) => Pin::new(p).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Full(b) => b.is_none(),
            Self::Pattern(p) => p.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Pattern(p) => p.size_hint(),
        }
    }
}

type Resp = Response<RespBody>;

async fn handle(state: Arc<Backend>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let id = state.request_id();
    let mut resp = route(&state, req, &id).await;
    let h = resp.headers_mut();
    set(h, "x-amz-request-id", &id);
    set(h, "x-amz-id-2", &id);
    h.insert(header::SERVER, HeaderValue::from_static("nexus-bench"));
    Ok(resp)
}

async fn route(state: &Backend, req: Request<Incoming>, id: &str) -> Resp {
    let Some((bucket, key)) = split_path(req.uri().path()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidURI",
            "bad percent-encoding",
            "",
            id,
        );
    };
    let query = req.uri().query().unwrap_or("").to_owned();
    let method = req.method().clone();
    match (bucket.is_empty(), key) {
        (true, _) if method == Method::GET => list_buckets(state),
        (true, _) => not_implemented(id),
        (false, None) => bucket_op(state, req, &bucket, &query, id).await,
        (false, Some(key)) => object_op(state, req, &bucket, &key, &query, id).await,
    }
}

async fn bucket_op(
    state: &Backend,
    req: Request<Incoming>,
    bucket: &str,
    query: &str,
    id: &str,
) -> Resp {
    let exists = state.buckets().contains_key(bucket);
    match *req.method() {
        Method::PUT => {
            // CreateBucketConfiguration, if any, is ignored.
            let _ = req.into_body().collect().await;
            state.buckets().entry(bucket.to_owned()).or_default();
            let mut r = Response::new(RespBody::empty());
            set(r.headers_mut(), "location", &format!("/{bucket}"));
            r
        }
        Method::HEAD if exists => {
            let mut r = Response::new(RespBody::empty());
            set(r.headers_mut(), "x-amz-bucket-region", "us-east-1");
            r
        }
        Method::HEAD => status_only(StatusCode::NOT_FOUND),
        _ if !exists => no_such_bucket(bucket, id),
        Method::GET if query_param(query, "location").is_some() => xml_response(
            StatusCode::OK,
            r#"<?xml version="1.0" encoding="UTF-8"?><LocationConstraint/>"#.to_owned(),
        ),
        Method::GET => list_objects(state, bucket, query),
        Method::DELETE => {
            state.buckets().remove(bucket);
            status_only(StatusCode::NO_CONTENT)
        }
        _ => not_implemented(id),
    }
}

async fn object_op(
    state: &Backend,
    req: Request<Incoming>,
    bucket: &str,
    key: &str,
    query: &str,
    id: &str,
) -> Resp {
    let method = req.method().clone();
    let found = {
        let buckets = state.buckets();
        match buckets.get(bucket) {
            None => return no_such_bucket(bucket, id),
            Some(objects) => objects.get(key).cloned(),
        }
    };
    match method {
        Method::PUT => {
            let multipart = ["uploadId", "partNumber"]
                .iter()
                .any(|p| query_param(query, p).is_some());
            if multipart || req.headers().contains_key("x-amz-copy-source") {
                return not_implemented(id);
            }
            put_object(state, req, bucket, key, id).await
        }
        Method::GET | Method::HEAD => {
            let Some(obj) = found.or_else(|| fixed_object(key)) else {
                return if method == Method::HEAD {
                    status_only(StatusCode::NOT_FOUND)
                } else {
                    error(
                        StatusCode::NOT_FOUND,
                        "NoSuchKey",
                        "The specified key does not exist.",
                        key,
                        id,
                    )
                };
            };
            serve_object(req.headers(), method == Method::HEAD, &obj, id)
        }
        Method::DELETE => {
            if let Some(objects) = state.buckets().get_mut(bucket) {
                objects.remove(key);
            }
            status_only(StatusCode::NO_CONTENT)
        }
        _ => not_implemented(id),
    }
}

async fn put_object(
    state: &Backend,
    req: Request<Incoming>,
    bucket: &str,
    key: &str,
    id: &str,
) -> Resp {
    let headers = req.headers().clone();
    let chunked = is_aws_chunked(&headers);
    let mut counter = chunked.then(ChunkedCounter::new);
    let mut body = req.into_body();
    let mut raw: u64 = 0;
    while let Some(frame) = body.frame().await {
        let data = match frame {
            Ok(frame) => match frame.into_data() {
                Ok(data) => data,
                Err(_trailers) => continue,
            },
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "IncompleteBody",
                    &format!("reading the body failed: {e}"),
                    key,
                    id,
                );
            }
        };
        raw += data.len() as u64;
        if let Some(c) = counter.as_mut()
            && let Err(e) = c.feed(&data)
        {
            return error(StatusCode::BAD_REQUEST, "IncompleteBody", e.0, key, id);
        }
    }
    let (size, declared) = match &counter {
        Some(c) => match c.finish() {
            Ok(decoded) => (
                decoded,
                header_u64(&headers, "x-amz-decoded-content-length"),
            ),
            Err(e) => return error(StatusCode::BAD_REQUEST, "IncompleteBody", e.0, key, id),
        },
        None => (raw, header_u64(&headers, "content-length")),
    };
    if let Some(declared) = declared
        && declared != size
    {
        let msg = format!("declared {declared} bytes, received {size}");
        return error(StatusCode::BAD_REQUEST, "IncompleteBody", &msg, key, id);
    }
    let obj = Object {
        size,
        etag: etag_for(bucket, key, size),
    };
    let mut r = Response::new(RespBody::empty());
    set(r.headers_mut(), "etag", &obj.etag);
    if let Some(objects) = state.buckets().get_mut(bucket) {
        objects.insert(key.to_owned(), obj);
    } else {
        return no_such_bucket(bucket, id);
    }
    r
}

fn serve_object(req_headers: &HeaderMap, head: bool, obj: &Object, id: &str) -> Resp {
    let size = obj.size;
    let range = req_headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map_or(RangeRequest::Whole, |h| parse_range(h, size));
    let (status, start, end) = match range {
        RangeRequest::Whole => (StatusCode::OK, 0, size),
        RangeRequest::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, start, end + 1),
        RangeRequest::Unsatisfiable => {
            let mut r = error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                "The requested range is not satisfiable",
                "",
                id,
            );
            set(r.headers_mut(), "content-range", &format!("bytes */{size}"));
            return r;
        }
    };
    let body = if head {
        RespBody::empty()
    } else {
        RespBody::Pattern(PatternBody::new(start, end))
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::LAST_MODIFIED,
        HeaderValue::from_static(LAST_MODIFIED),
    );
    set(h, "etag", &obj.etag);
    if status == StatusCode::PARTIAL_CONTENT {
        let cr = format!("bytes {start}-{}/{size}", end - 1);
        set(h, "content-range", &cr);
    }
    r
}

/// `fixed/<size>[/...]`: an object that exists without a PUT.
fn fixed_object(key: &str) -> Option<Object> {
    let rest = key.strip_prefix("fixed/")?;
    let size: u64 = rest.split('/').next()?.parse().ok()?;
    Some(Object {
        size,
        etag: etag_for("", key, size),
    })
}

/// A stable 128-bit ETag from the object's name and size (no body hashing).
fn etag_for(bucket: &str, key: &str, size: u64) -> Arc<str> {
    let half = |salt: u8| {
        let mut h = DefaultHasher::new();
        (salt, bucket, key, size).hash(&mut h);
        h.finish()
    };
    format!("\"{:016x}{:016x}\"", half(1), half(2)).into()
}

fn is_aws_chunked(h: &HeaderMap) -> bool {
    let encoded = h
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("aws-chunked"));
    let streaming = h
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("STREAMING-"));
    encoded || streaming
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn list_buckets(state: &Backend) -> Resp {
    let mut names: Vec<String> = state.buckets().keys().cloned().collect();
    names.sort();
    xml_response(StatusCode::OK, xml::list_buckets(&names))
}

fn list_objects(state: &Backend, bucket: &str, query: &str) -> Resp {
    let prefix = query_param(query, "prefix").unwrap_or_default();
    let mut objects: Vec<(String, u64, Arc<str>)> = state
        .buckets()
        .get(bucket)
        .map(|objs| {
            objs.iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(k, o)| (k.clone(), o.size, Arc::clone(&o.etag)))
                .collect()
        })
        .unwrap_or_default();
    objects.sort_by(|a, b| a.0.cmp(&b.0));
    let truncated = objects.len() > MAX_KEYS;
    objects.truncate(MAX_KEYS);
    let listed: Vec<xml::Listed<'_>> = objects
        .iter()
        .map(|(key, size, etag)| xml::Listed {
            key,
            size: *size,
            etag,
        })
        .collect();
    let body = xml::list_objects_v2(bucket, &prefix, &listed, truncated);
    xml_response(StatusCode::OK, body)
}

fn no_such_bucket(bucket: &str, id: &str) -> Resp {
    error(
        StatusCode::NOT_FOUND,
        "NoSuchBucket",
        "The specified bucket does not exist.",
        bucket,
        id,
    )
}

fn not_implemented(id: &str) -> Resp {
    error(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        "nexus-bench backend does not implement this operation.",
        "",
        id,
    )
}

fn error(status: StatusCode, code: &str, message: &str, resource: &str, id: &str) -> Resp {
    xml_response(status, xml::error(code, message, resource, id))
}

fn xml_response(status: StatusCode, body: String) -> Resp {
    let mut r = Response::new(RespBody::Full(Some(Bytes::from(body))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

fn status_only(status: StatusCode) -> Resp {
    let mut r = Response::new(RespBody::empty());
    *r.status_mut() = status;
    r
}

/// Sets a header whose value is built at run time; values that are not valid header text are
/// dropped (they never occur: every caller passes ASCII).
fn set(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(HeaderName::from_static(name), v);
    }
}

/// `/bucket` -> (bucket, None); `/bucket/key...` -> (bucket, Some(key)), percent-decoded.
/// `None` when the percent-encoding is invalid.
fn split_path(path: &str) -> Option<(String, Option<String>)> {
    let path = path.strip_prefix('/').unwrap_or(path);
    match path.split_once('/') {
        None => Some((percent_decode(path)?, None)),
        Some((bucket, "")) => Some((percent_decode(bucket)?, None)),
        Some((bucket, key)) => Some((percent_decode(bucket)?, Some(percent_decode(key)?))),
    }
}

/// The decoded value of query parameter `name` (present without a value: empty string).
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v).unwrap_or_default())
    })
}

fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(split_path("/b"), Some(("b".into(), None)));
        assert_eq!(split_path("/b/"), Some(("b".into(), None)));
        assert_eq!(
            split_path("/b/%2Fa//c%20d"),
            Some(("b".into(), Some("/a//c d".into())))
        );
        assert_eq!(split_path("/b/%zz"), None);
        assert_eq!(
            query_param("list-type=2&prefix=a%2Fb", "prefix"),
            Some("a/b".into())
        );
        assert_eq!(query_param("location", "location"), Some(String::new()));
    }

    #[test]
    fn fixed_keys() {
        assert_eq!(fixed_object("fixed/4096").map(|o| o.size), Some(4096));
        assert_eq!(fixed_object("fixed/10/x").map(|o| o.size), Some(10));
        assert!(fixed_object("fixed/x").is_none());
        assert_eq!(etag_for("b", "k", 1), etag_for("b", "k", 1));
    }
}
