//! Validated names: resource names, labels, versions, digests, bucket names.

use std::fmt;

/// A resource name (and a location or hardware label): 1–63 of `a-z`, `0-9` and `-`, starting
/// with a letter and not ending with `-`, as Kubernetes DNS labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Name(String);

/// A semantic version `MAJOR.MINOR.PATCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Name {
    /// Checks `s`.
    ///
    /// # Errors
    /// A sentence saying what is wrong.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 63 {
            return Err(format!("`{s}` must be 1 to 63 characters long"));
        }
        let ok = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok || !s.starts_with(|c: char| c.is_ascii_lowercase()) || s.ends_with('-') {
            return Err(format!(
                "`{s}` is not a valid name: use lowercase letters, digits and `-`, starting with a \
                 letter and not ending with `-`"
            ));
        }
        Ok(Self(s.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Version {
    /// Parses `1.2.3`.
    ///
    /// # Errors
    /// A sentence saying what is wrong.
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('.').collect();
        let nums: Option<Vec<u64>> = parts
            .iter()
            .map(|p| {
                (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| p.parse().ok())
                    .flatten()
            })
            .collect();
        match nums.as_deref() {
            Some([major, minor, patch]) => Ok(Self {
                major: *major,
                minor: *minor,
                patch: *patch,
            }),
            _ => Err(format!(
                "`{s}` is not a version: expected MAJOR.MINOR.PATCH such as 1.0.0"
            )),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Checks an S3 bucket name (3–63 of `a-z`, `0-9`, `.` and `-`, starting and ending with a
/// letter or digit).
///
/// # Errors
/// A sentence saying what is wrong.
pub fn check_bucket(s: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a valid bucket name: 3 to 63 lowercase letters, digits, `.` and `-`"
        ))
    }
}

/// Checks a module digest `sha256:<64 lowercase hex>`.
///
/// # Errors
/// A sentence saying what is wrong.
pub fn check_digest(s: &str) -> Result<(), String> {
    match s.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "`{s}` is not a module digest: expected sha256: followed by 64 lowercase hex digits"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_versions_buckets_digests() {
        assert!(Name::parse("compress-zstd").is_ok());
        for bad in ["", "Zstd", "-a", "a-", "a_b", &"a".repeat(64), "1abc"] {
            assert!(Name::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Version::parse("1.2.3").map(|v| v.to_string()),
            Ok("1.2.3".into())
        );
        assert!(Version::parse("1.2").is_err());
        assert!(Version::parse("1.x.3").is_err());
        assert!(check_bucket("kafka-tiered").is_ok());
        assert!(check_bucket("Kafka").is_err());
        assert!(check_digest(&format!("sha256:{}", "a".repeat(64))).is_ok());
        assert!(check_digest("sha256:abc").is_err());
    }
}
