//! A small, independent AWS Signature Version 4 signer for hand-built requests: header
//! signatures with every payload mode, the seed signature of aws-chunked bodies, per-chunk
//! signatures (`AWS4-HMAC-SHA256-PAYLOAD`) and the trailer signature (`AWS4-HMAC-SHA256-TRAILER`),
//! written from the AWS documentation (not from s3s), so that the proxy's verification is checked
//! against a second implementation.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;

use super::raw::{self, RawBody};
use super::{ACCESS_KEY, REGION, SECRET_KEY};

/// SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0_u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(data);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// S3's URI encoding: everything but `A-Za-z0-9-._~` as `%XX` (upper case); `/` kept unless
/// `encode_slash`.
pub fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The request time, in the two forms SigV4 uses.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// `YYYYMMDDTHHMMSSZ`
    pub datetime: String,
    /// `YYYYMMDD`
    pub date: String,
}

impl Stamp {
    pub fn now() -> Self {
        Self::at(OffsetDateTime::now_utc())
    }

    pub fn at(t: OffsetDateTime) -> Self {
        let datetime = t
            .format(format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .expect("format date");
        let date = datetime[..8].to_owned();
        Self { datetime, date }
    }
}

/// Signs with one set of credentials.
#[derive(Debug, Clone)]
pub struct Signer {
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

impl Default for Signer {
    fn default() -> Self {
        Self {
            access_key: ACCESS_KEY.to_owned(),
            secret_key: SECRET_KEY.to_owned(),
            region: REGION.to_owned(),
        }
    }
}

impl Signer {
    fn scope(&self, stamp: &Stamp) -> String {
        format!("{}/{}/s3/aws4_request", stamp.date, self.region)
    }

    fn signature(&self, stamp: &Stamp, string_to_sign: &str) -> String {
        let k_date = hmac_sha256(
            format!("AWS4{}", self.secret_key).as_bytes(),
            stamp.date.as_bytes(),
        );
        let k_region = hmac_sha256(&k_date, self.region.as_bytes());
        let k_service = hmac_sha256(&k_region, b"s3");
        let k_signing = hmac_sha256(&k_service, b"aws4_request");
        hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()))
    }

    /// The canonical request of AWS's documentation. `path` is already URI-encoded (as sent),
    /// `query` pairs are raw, `headers` have lower-case names (every one is signed).
    pub fn canonical_request(
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        payload: &str,
    ) -> (String, String) {
        let mut q: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
            .collect();
        q.sort();
        let query = q
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let mut h: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        h.sort();
        let canonical_headers: String = h.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed_headers = h
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";");
        (
            format!("{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload}"),
            signed_headers,
        )
    }

    /// The `Authorization` header value and the signature (the seed of an aws-chunked body).
    pub fn authorization(
        &self,
        stamp: &Stamp,
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        payload: &str,
    ) -> (String, String) {
        let (canonical, signed_headers) =
            Self::canonical_request(method, path, query, headers, payload);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{}\n{}",
            stamp.datetime,
            self.scope(stamp),
            hex_sha256(canonical.as_bytes())
        );
        let signature = self.signature(stamp, &string_to_sign);
        (
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={signed_headers}, Signature={signature}",
                self.access_key,
                self.scope(stamp)
            ),
            signature,
        )
    }

    /// The signature of one aws-chunked chunk.
    pub fn chunk_signature(&self, stamp: &Stamp, previous: &str, data: &[u8]) -> String {
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{previous}\n{EMPTY_SHA256}\n{}",
            stamp.datetime,
            self.scope(stamp),
            hex_sha256(data)
        );
        self.signature(stamp, &string_to_sign)
    }

    /// The signature of the trailer block (`name:value\n` lines).
    pub fn trailer_signature(&self, stamp: &Stamp, previous: &str, canonical: &str) -> String {
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{previous}\n{}",
            stamp.datetime,
            self.scope(stamp),
            hex_sha256(canonical.as_bytes())
        );
        self.signature(stamp, &string_to_sign)
    }
}

/// A checksum algorithm sent in a trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Crc32,
    Crc32c,
    Sha256,
}

impl Checksum {
    pub fn header(self) -> &'static str {
        match self {
            Checksum::Crc32 => "x-amz-checksum-crc32",
            Checksum::Crc32c => "x-amz-checksum-crc32c",
            Checksum::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The base64 value S3 expects.
    pub fn value(self, data: &[u8]) -> String {
        match self {
            Checksum::Crc32 => B64.encode(crc32fast::hash(data).to_be_bytes()),
            Checksum::Crc32c => B64.encode(crc32c::crc32c(data).to_be_bytes()),
            Checksum::Sha256 => B64.encode(Sha256::digest(data)),
        }
    }
}

/// How the body of a hand-built request is sent and signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// `x-amz-content-sha256: <hex SHA-256 of the body>`.
    Hex,
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: signed chunks of `chunk` bytes.
    SignedChunks { chunk: usize },
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and a signed trailer.
    SignedChunksTrailer { chunk: usize, checksum: Checksum },
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: unsigned chunks and a trailer.
    UnsignedChunksTrailer { chunk: usize, checksum: Checksum },
}

/// Deliberate damage, to see the proxy refuse a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Damage {
    /// Flip a hex digit in the signature of this chunk (0-based; the final empty chunk counts).
    pub chunk_signature: Option<usize>,
    /// Send a trailer checksum that does not match the body (correctly signed).
    pub trailer_value: bool,
    /// Flip a hex digit in the trailer signature.
    pub trailer_signature: bool,
    /// Declare a wrong hex SHA-256 of the body (correctly signed).
    pub content_sha256: bool,
}

fn flip(sig: &str) -> String {
    let mut s = sig.to_owned();
    let last = if s.ends_with('0') { "1" } else { "0" };
    s.replace_range(s.len() - 1.., last);
    s
}

/// A request to be signed and sent by hand.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: &'static str,
    /// `Host` header value.
    pub host: String,
    /// URI path, already encoded (use [`object_path`]).
    pub path: String,
    /// Raw (unencoded) query parameters.
    pub query: Vec<(String, String)>,
    /// Extra headers (lower-case names); they are signed.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// `/bucket/key` for path-style requests, encoded like the SDKs do.
pub fn object_path(bucket: &str, key: &str) -> String {
    format!("/{bucket}/{}", uri_encode(key, false))
}

impl Req {
    pub fn new(method: &'static str, host: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            method,
            host: host.into(),
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub fn query(mut self, k: &str, v: &str) -> Self {
        self.query.push((k.to_owned(), v.to_owned()));
        self
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_ascii_lowercase(), v.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    fn uri(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let q = self
            .query
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    uri_encode(k, true)
                } else {
                    format!("{}={}", uri_encode(k, true), uri_encode(v, true))
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        format!("{}?{q}", self.path)
    }

    /// An unsigned (anonymous) request.
    pub fn anonymous(self) -> http::Request<RawBody> {
        let mut b = http::Request::builder()
            .method(self.method)
            .uri(self.uri())
            .header("host", &self.host)
            .header("content-length", self.body.len().to_string());
        for (k, v) in &self.headers {
            b = b.header(k, v);
        }
        b.body(raw::full(self.body)).expect("request")
    }

    /// Signs and frames the request for `payload`, at `stamp`, with optional `damage`.
    pub fn sign(
        self,
        signer: &Signer,
        stamp: &Stamp,
        payload: Payload,
        damage: Damage,
    ) -> http::Request<RawBody> {
        let data = self.body.clone();
        let mut headers = self.headers.clone();
        headers.push(("host".into(), self.host.clone()));
        headers.push(("x-amz-date".into(), stamp.datetime.clone()));
        let (mode, chunk, checksum, signed_chunks) = match payload {
            Payload::Hex => {
                let mut sha = hex_sha256(&data);
                if damage.content_sha256 {
                    sha = hex_sha256(b"something else");
                }
                (sha, 0, None, false)
            }
            Payload::Unsigned => ("UNSIGNED-PAYLOAD".to_owned(), 0, None, false),
            Payload::SignedChunks { chunk } => (
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".to_owned(),
                chunk,
                None,
                true,
            ),
            Payload::SignedChunksTrailer { chunk, checksum } => (
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER".to_owned(),
                chunk,
                Some(checksum),
                true,
            ),
            Payload::UnsignedChunksTrailer { chunk, checksum } => (
                "STREAMING-UNSIGNED-PAYLOAD-TRAILER".to_owned(),
                chunk,
                Some(checksum),
                false,
            ),
        };
        headers.push(("x-amz-content-sha256".into(), mode.clone()));
        let chunked = chunk > 0;
        if chunked {
            headers.push(("content-encoding".into(), "aws-chunked".into()));
            headers.push((
                "x-amz-decoded-content-length".into(),
                data.len().to_string(),
            ));
            if let Some(c) = checksum {
                headers.push(("x-amz-trailer".into(), c.header().into()));
            }
        }
        let (authorization, seed) =
            signer.authorization(stamp, self.method, &self.path, &self.query, &headers, &mode);

        let frames: Vec<Bytes> = if chunked {
            let mut frames = Vec::new();
            let mut previous = seed;
            let pieces: Vec<&[u8]> = data.chunks(chunk).chain(std::iter::once(&[][..])).collect();
            for (i, piece) in pieces.iter().enumerate() {
                let mut frame = Vec::with_capacity(piece.len() + 100);
                frame.extend_from_slice(format!("{:x}", piece.len()).as_bytes());
                if signed_chunks {
                    let sig = signer.chunk_signature(stamp, &previous, piece);
                    let sent = if damage.chunk_signature == Some(i) {
                        flip(&sig)
                    } else {
                        sig.clone()
                    };
                    frame.extend_from_slice(format!(";chunk-signature={sent}").as_bytes());
                    previous = sig;
                }
                frame.extend_from_slice(b"\r\n");
                frame.extend_from_slice(piece);
                if !piece.is_empty() {
                    frame.extend_from_slice(b"\r\n");
                }
                frames.push(Bytes::from(frame));
            }
            let mut tail = Vec::new();
            if let Some(c) = checksum {
                let value = if damage.trailer_value {
                    c.value(b"not the body")
                } else {
                    c.value(&data)
                };
                let canonical = format!("{}:{value}\n", c.header());
                tail.extend_from_slice(format!("{}:{value}\r\n", c.header()).as_bytes());
                if signed_chunks {
                    let sig = signer.trailer_signature(stamp, &previous, &canonical);
                    let sig = if damage.trailer_signature {
                        flip(&sig)
                    } else {
                        sig
                    };
                    tail.extend_from_slice(format!("x-amz-trailer-signature:{sig}\r\n").as_bytes());
                }
            }
            tail.extend_from_slice(b"\r\n");
            frames.push(Bytes::from(tail));
            frames
        } else {
            vec![data.clone()]
        };
        let length: usize = frames.iter().map(Bytes::len).sum();

        let mut b = http::Request::builder()
            .method(self.method)
            .uri(self.uri())
            .header("authorization", authorization)
            .header("content-length", length.to_string());
        for (k, v) in &headers {
            b = b.header(k, v);
        }
        b.body(raw::frames(frames)).expect("request")
    }

    /// Signed with the default credentials, now, without damage.
    pub fn signed(self, payload: Payload) -> http::Request<RawBody> {
        self.sign(
            &Signer::default(),
            &Stamp::now(),
            payload,
            Damage::default(),
        )
    }
}
