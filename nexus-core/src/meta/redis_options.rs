//! Options of [`super::RedisMeta`], and the ones a URL can carry.

use std::path::PathBuf;
use std::time::Duration;

use super::error::{MetaError, Result};
use super::redis_keys::DEFAULT_PREFIX;

/// How to talk to Redis. Defaults suit a worker next to its Redis; every field can also be set
/// in the URL's query (`?prefix=team-a:&connect_timeout=2s&response_timeout=5s&tls_ca=/ca.pem`).
/// Other query parameters (`protocol`) are passed to the redis crate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Namespace prefix of every key and channel (`redis_keys`).
    pub prefix: String,
    /// Each connection attempt gives up after this long (default 2 s).
    pub connect_timeout: Duration,
    /// Each command gives up after this long (default 5 s: a large snapshot or module).
    pub response_timeout: Duration,
    /// Upper bound of the reconnect backoff, for commands and for the change feed (default 2 s,
    /// so a change propagates within a second or two once Redis is back).
    pub reconnect_max_delay: Duration,
    /// The change feed pings its connection this often to notice a silently dead peer
    /// (default 5 s).
    pub feed_ping_interval: Duration,
    /// PEM file with the CA certificates that sign the server's certificate (`rediss://`);
    /// default: the system's roots. `rediss://…/#insecure` is not supported.
    pub tls_ca: Option<PathBuf>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
            reconnect_max_delay: Duration::from_secs(2),
            feed_ping_interval: Duration::from_secs(5),
            tls_ca: None,
        }
    }
}

// === impl RedisOptions ===

impl RedisOptions {
    /// Splits our own query parameters off `url`: returns the URL for the redis crate and the
    /// options, starting from `self`.
    pub fn with_url(mut self, url: &str) -> Result<(String, Self)> {
        let invalid = |reason: String| MetaError::InvalidUrl {
            url: super::open::redact_url(url),
            reason,
        };
        let mut parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(parsed.scheme(), "redis" | "rediss") {
            return Err(invalid("the scheme must be redis or rediss".into()));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host".into()));
        }
        if parsed.fragment().is_some() {
            return Err(invalid(
                "fragments (#insecure) are not supported: pass the CA with ?tls_ca=PATH".into(),
            ));
        }
        let mut rest = Vec::new();
        for (key, value) in parsed.query_pairs() {
            let duration = || parse_duration(&value).map_err(|r| invalid(format!("{key}: {r}")));
            match &*key {
                "prefix" => self.prefix = value.into_owned(),
                "connect_timeout" => self.connect_timeout = duration()?,
                "response_timeout" => self.response_timeout = duration()?,
                "tls_ca" => self.tls_ca = Some(PathBuf::from(&*value)),
                _ => rest.push((key.into_owned(), value.into_owned())),
            }
        }
        if rest.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(rest);
        }
        if parsed.scheme() == "redis" && self.tls_ca.is_some() {
            return Err(invalid("tls_ca needs a rediss:// URL".into()));
        }
        self.validate().map_err(invalid)?;
        Ok((parsed.into(), self))
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.prefix.is_empty()
            || self
                .prefix
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "prefix {:?} must be non-empty, without spaces or control characters",
                self.prefix
            ));
        }
        for (name, d) in [
            ("connect_timeout", self.connect_timeout),
            ("response_timeout", self.response_timeout),
        ] {
            if d.is_zero() {
                return Err(format!("{name} must be positive"));
            }
        }
        Ok(())
    }
}

/// `250ms`, `2s`, `1m` or bare seconds (`5`).
fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration such as 500ms, 2s or 1m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("`{s}` has an unknown unit (use ms, s or m)")),
    }
}
