//! Content digests, `sha256:<64 lowercase hex>`: record bodies and module blobs.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use super::error::MetaError;

const PREFIX: &str = "sha256:";

/// A SHA-256 content digest in its text form, `sha256:<64 lowercase hex digits>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Digest(String);

// === impl Digest ===

impl Digest {
    /// The digest of `bytes`.
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        Self(format!("{PREFIX}{}", hex::encode(Sha256::digest(bytes))))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64 hex digits, without `sha256:`.
    #[must_use]
    pub fn hex(&self) -> &str {
        &self.0[PREFIX.len()..]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Digest {
    type Err = MetaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || MetaError::InvalidDigest {
            digest: s.to_owned(),
        };
        let hex = s.strip_prefix(PREFIX).ok_or_else(bad)?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad());
        }
        Ok(Self(s.to_owned()))
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
