//! Virtual-host addressing: `bucket.<base domain>` selects the bucket; any other host name, and
//! every IP address, is path-style. (s3s's own `SingleDomain` would treat an unknown host name as
//! a bucket, which breaks path-style clients that reach us under another name.)

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// The configured base domains.
#[derive(Debug, Clone)]
pub struct VirtualHosts {
    domains: Vec<String>,
}

// === impl VirtualHosts ===

impl VirtualHosts {
    /// `domains` are lower-case names without port.
    #[must_use]
    pub fn new(domains: Vec<String>) -> Self {
        Self { domains }
    }

    /// The bucket named by `host` (which may carry a port), if it is `bucket.<domain>`.
    #[must_use]
    pub fn bucket_of<'a>(&self, host: &'a str) -> Option<&'a str> {
        let name = strip_port(host);
        self.domains.iter().find_map(|d| {
            let bucket = name.strip_suffix(d.as_str())?.strip_suffix('.')?;
            (!bucket.is_empty()).then_some(bucket)
        })
    }
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

impl S3Host for VirtualHosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match self.bucket_of(host) {
            Some(bucket) => VirtualHost::new(host).with_bucket(bucket.to_ascii_lowercase()),
            None => VirtualHost::new(host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_come_from_subdomains_only() {
        let vh = VirtualHosts::new(vec!["localhost".into(), "s3.nexus.test".into()]);
        assert_eq!(vh.bucket_of("logs.localhost:9000"), Some("logs"));
        assert_eq!(
            vh.bucket_of("my.dotted.bucket.s3.nexus.test"),
            Some("my.dotted.bucket")
        );
        assert_eq!(vh.bucket_of("localhost:9000"), None);
        assert_eq!(vh.bucket_of("nexus-svc:9000"), None);
        assert_eq!(vh.bucket_of("127.0.0.1:9000"), None);
        assert_eq!(vh.bucket_of(".localhost"), None);
        assert_eq!(vh.bucket_of("evillocalhost"), None);
    }
}
