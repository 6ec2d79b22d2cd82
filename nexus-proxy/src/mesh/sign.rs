//! Signing and checking internal requests (`docs/mesh-protocol.md` §4).
//!
//! A forwarded request is the broker's request unchanged (method, URI, headers, body, so the
//! owner verifies the broker's SigV4 itself) plus the `x-nexus-*` headers below. The signature
//! is HMAC-SHA256 with the cluster secret over the method, the URI, the host, the original
//! content length, the hop count, the visited workers, the epoch, the policy revision, the
//! request id and the date. The body travels chunked with a CRC32C trailer
//! ([`super::forward`]), checked by the receiver before the last byte reaches the store.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;

pub const HOP: &str = "x-nexus-hop";
pub const PATH: &str = "x-nexus-path";
pub const EPOCH: &str = "x-nexus-epoch";
pub const POLICY_REVISION: &str = "x-nexus-policy-revision";
pub const REQUEST_ID: &str = "x-nexus-request-id";
pub const DATE: &str = "x-nexus-date";
pub const SIGNATURE: &str = "x-nexus-signature";
/// The broker's `Content-Length`, restored by the receiver (the hop itself is chunked).
pub const CONTENT_LENGTH: &str = "x-nexus-content-length";
/// The body's length when the sender knew it (also for requests without `Content-Length`,
/// such as a GET's empty body), so that s3s sees an exact length.
pub const BODY_LENGTH: &str = "x-nexus-body-length";
/// Trailer: CRC32C of the body as sent, 8 hex digits.
pub const BODY_CRC32C: &str = "x-nexus-body-crc32c";

/// A remote stage call's description (percent-encoded JSON, [`super::stage`]).
pub const STAGE: &str = "x-nexus-stage";

/// Most hops a request may take.
pub const MAX_HOPS: u32 = 8;

/// Largest clock difference accepted between workers.
const MAX_SKEW_S: u64 = 300;

/// What a forwarded request says about its route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopInfo {
    /// 1 for the first forward.
    pub hop: u32,
    /// Worker ids that handled the request before, in order.
    pub path: Vec<String>,
    pub epoch: u64,
    pub policy_revision: u64,
    pub request_id: String,
    pub date: u64,
}

/// Why an internal request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("internal request without a valid signature: {0}")]
    Signature(String),
    #[error("internal request date is {0} s away from this worker's clock")]
    Stale(u64),
    #[error("routing loop: hop limit {MAX_HOPS} exceeded")]
    HopLimit,
    #[error("routing loop: this worker already handled the request ({0})")]
    Loop(String),
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The string the signature covers.
fn canonical(method: &str, uri: &str, headers: &HeaderMap, hop: &HopInfo) -> String {
    format!(
        "NEXUS1\n{method}\n{uri}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
        header(headers, "host").unwrap_or_default(),
        header(headers, CONTENT_LENGTH).unwrap_or_default(),
        header(headers, STAGE).unwrap_or_default(),
        header(headers, BODY_CRC32C).unwrap_or_default(),
        hop.hop,
        hop.path.join(","),
        hop.epoch,
        hop.policy_revision,
        hop.request_id,
        hop.date,
    )
}

fn mac(secret: &[u8], text: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    m.update(text.as_bytes());
    m
}

/// Writes the route headers and the signature. `headers` must already carry the `host` and
/// [`CONTENT_LENGTH`] headers that are sent.
pub fn sign(secret: &[u8], method: &str, uri: &str, headers: &mut HeaderMap, mut hop: HopInfo) {
    hop.date = now_s();
    let sig = hex::encode(
        mac(secret, &canonical(method, uri, headers, &hop))
            .finalize()
            .into_bytes(),
    );
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set(HOP, hop.hop.to_string());
    set(PATH, hop.path.join(","));
    set(EPOCH, hop.epoch.to_string());
    set(POLICY_REVISION, hop.policy_revision.to_string());
    set(REQUEST_ID, hop.request_id);
    set(DATE, hop.date.to_string());
    set(SIGNATURE, sig);
}

/// Whether the request claims to be internal (any `x-nexus-` route header).
#[must_use]
pub fn is_internal(headers: &HeaderMap) -> bool {
    headers.contains_key(SIGNATURE) || headers.contains_key(HOP)
}

/// Checks an internal request's signature, date, hop count and path (`me` must not be on it).
///
/// # Errors
/// The [`Refusal`] to answer with.
pub fn verify(
    secret: &[u8],
    method: &str,
    uri: &str,
    headers: &HeaderMap,
    me: &str,
) -> Result<HopInfo, Refusal> {
    let bad = |why: &str| Refusal::Signature(why.to_owned());
    let num = |name: &str| -> Result<u64, Refusal> {
        header(headers, name)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad(&format!("{name} missing or not a number")))
    };
    let sig = header(headers, SIGNATURE).ok_or_else(|| bad("no x-nexus-signature"))?;
    let sig = hex::decode(sig).map_err(|_| bad("x-nexus-signature is not hex"))?;
    let hop = HopInfo {
        hop: u32::try_from(num(HOP)?).map_err(|_| bad("x-nexus-hop"))?,
        path: header(headers, PATH)
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        epoch: num(EPOCH)?,
        policy_revision: num(POLICY_REVISION)?,
        request_id: header(headers, REQUEST_ID).unwrap_or_default().to_owned(),
        date: num(DATE)?,
    };
    mac(secret, &canonical(method, uri, headers, &hop))
        .verify_slice(&sig)
        .map_err(|_| {
            bad("signature mismatch (wrong cluster secret, or the request was changed)")
        })?;
    let skew = now_s().abs_diff(hop.date);
    if skew > MAX_SKEW_S {
        return Err(Refusal::Stale(skew));
    }
    if hop.hop > MAX_HOPS {
        return Err(Refusal::HopLimit);
    }
    if hop.path.iter().any(|p| p == me) {
        return Err(Refusal::Loop(hop.path.join(" → ")));
    }
    Ok(hop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(hop: HopInfo) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:9000".parse().unwrap());
        h.insert(CONTENT_LENGTH, "42".parse().unwrap());
        sign(b"0123456789abcdef", "PUT", "/b/k?x=1", &mut h, hop);
        h
    }

    fn hop(n: u32, path: &[&str]) -> HopInfo {
        HopInfo {
            hop: n,
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            epoch: 7,
            policy_revision: 3,
            request_id: "ABCD".into(),
            date: 0,
        }
    }

    #[test]
    fn signatures_bind_every_field() {
        let secret = b"0123456789abcdef";
        let h = signed(hop(1, &["a"]));
        let got = verify(secret, "PUT", "/b/k?x=1", &h, "b").unwrap();
        assert_eq!((got.hop, got.epoch, got.path), (1, 7, vec!["a".to_owned()]));
        assert!(matches!(
            verify(b"another-secret-16", "PUT", "/b/k?x=1", &h, "b"),
            Err(Refusal::Signature(_))
        ));
        assert!(matches!(
            verify(secret, "GET", "/b/k?x=1", &h, "b"),
            Err(Refusal::Signature(_))
        ));
        assert!(matches!(
            verify(secret, "PUT", "/b/other", &h, "b"),
            Err(Refusal::Signature(_))
        ));
        for (name, value) in [
            (HOP, "2"),
            (EPOCH, "8"),
            (PATH, "z"),
            ("host", "evil:1"),
            (CONTENT_LENGTH, "43"),
        ] {
            let mut t = h.clone();
            t.insert(name, value.parse().unwrap());
            assert!(
                matches!(
                    verify(secret, "PUT", "/b/k?x=1", &t, "b"),
                    Err(Refusal::Signature(_))
                ),
                "{name}"
            );
        }
        let mut unsigned = h.clone();
        unsigned.remove(SIGNATURE);
        assert!(is_internal(&unsigned));
        assert!(verify(secret, "PUT", "/b/k?x=1", &unsigned, "b").is_err());
        // Loops and the hop limit.
        assert!(matches!(
            verify(secret, "PUT", "/b/k?x=1", &h, "a"),
            Err(Refusal::Loop(_))
        ));
        let far = signed(hop(MAX_HOPS + 1, &["a"]));
        assert_eq!(
            verify(secret, "PUT", "/b/k?x=1", &far, "b"),
            Err(Refusal::HopLimit)
        );
    }
}
