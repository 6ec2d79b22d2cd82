//! Which object a request names, read from its head before s3s parses it: enough to route it.

use http::Request;

use crate::host::VirtualHosts;

/// Bucket and key of an object request; `None` for service and bucket requests.
#[must_use]
pub fn object_of<B>(req: &Request<B>, hosts: &VirtualHosts) -> Option<(String, String)> {
    let path = req.uri().path();
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(http::uri::Authority::as_str));
    let (bucket, raw_key) = match host.and_then(|h| hosts.bucket_of(h)) {
        Some(bucket) => (
            bucket.to_ascii_lowercase(),
            path.strip_prefix('/').unwrap_or(path),
        ),
        None => {
            let rest = path.strip_prefix('/')?;
            let (bucket, key) = rest.split_once('/')?;
            (decode(bucket)?, key)
        }
    };
    if bucket.is_empty() || raw_key.is_empty() {
        return None;
    }
    Some((bucket, decode(raw_key)?))
}

fn decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(host: &str, path: &str) -> Request<()> {
        Request::builder()
            .uri(path)
            .header("host", host)
            .body(())
            .unwrap()
    }

    #[test]
    fn path_style_and_virtual_hosts() {
        let vh = VirtualHosts::new(vec!["localhost".into()]);
        assert_eq!(
            object_of(
                &req("127.0.0.1:9000", "/tiered/topic-abc/0/0001.log?uploadId=x"),
                &vh
            ),
            Some(("tiered".into(), "topic-abc/0/0001.log".into()))
        );
        assert_eq!(
            object_of(&req("tiered.localhost:9000", "/a%20b//c"), &vh),
            Some(("tiered".into(), "a b//c".into()))
        );
        assert_eq!(object_of(&req("127.0.0.1:9000", "/tiered"), &vh), None);
        assert_eq!(object_of(&req("127.0.0.1:9000", "/tiered/"), &vh), None);
        assert_eq!(object_of(&req("127.0.0.1:9000", "/"), &vh), None);
        assert_eq!(object_of(&req("tiered.localhost", "/"), &vh), None);
    }
}
