//! What Nexus records with the objects it writes: user metadata under the reserved prefix
//! `x-amz-meta-nexus-` (`docs/formats.md` §2). Clients cannot set those keys through Nexus (a
//! write carrying one is refused with `InvalidArgument` before anything is stored) and never
//! see them in GET or HEAD answers, so recorded and client metadata never collide.
//!
//! Recorded now: `nexus-policy`, the `name@version` of the policy an object was written
//! under (PutObject, CreateMultipartUpload). The streamlet layer adds the stored-format keys.

use s3s::dto::Metadata;
use s3s::{S3Result, s3_error};

/// The reserved prefix of metadata keys (s3s hands keys over without `x-amz-meta-`).
const RESERVED_PREFIX: &str = "nexus-";

/// `nexus-policy`: `name@version` of the policy the object was written under.
pub const POLICY_KEY: &str = "nexus-policy";

fn is_reserved(key: &str) -> bool {
    key.get(..RESERVED_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(RESERVED_PREFIX))
}

/// Refuses client metadata under the reserved prefix.
///
/// # Errors
/// `InvalidArgument` naming the key.
pub fn refuse_reserved(metadata: Option<&Metadata>) -> S3Result<()> {
    match metadata.and_then(|m| m.keys().find(|k| is_reserved(k))) {
        Some(key) => Err(s3_error!(
            InvalidArgument,
            "x-amz-meta-{key}: user metadata keys starting with x-amz-meta-nexus- are reserved for Nexus"
        )),
        None => Ok(()),
    }
}

/// Records the policy (`name@version`) in the metadata of a write.
pub fn record_policy(metadata: &mut Option<Metadata>, policy: Option<String>) {
    if let Some(policy) = policy {
        metadata
            .get_or_insert_with(Metadata::default)
            .insert(POLICY_KEY.to_owned(), policy);
    }
}

/// Removes recorded keys from metadata answered to a client.
pub fn hide(metadata: &mut Option<Metadata>) {
    if let Some(m) = metadata {
        m.retain(|k, _| !is_reserved(k));
        if m.is_empty() {
            *metadata = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> Option<Metadata> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn reserved_keys_are_refused_in_any_case() {
        assert!(refuse_reserved(None).is_ok());
        assert!(
            refuse_reserved(meta(&[("managedledgername", "x"), ("nexusfoo", "y")]).as_ref())
                .is_ok()
        );
        for key in ["nexus-policy", "Nexus-Format", "NEXUS-x"] {
            let err = refuse_reserved(meta(&[(key, "v")]).as_ref()).expect_err(key);
            assert_eq!(err.code().as_str(), "InvalidArgument");
        }
    }

    #[test]
    fn recorded_keys_are_hidden_and_client_keys_kept() {
        let mut m = meta(&[("managedledgername", "public/default/t")]);
        record_policy(&mut m, Some("pulsar-offload-gzip@3".into()));
        assert_eq!(
            m.as_ref()
                .and_then(|m| m.get(POLICY_KEY))
                .map(String::as_str),
            Some("pulsar-offload-gzip@3")
        );
        hide(&mut m);
        assert_eq!(m, meta(&[("managedledgername", "public/default/t")]));
        let mut only = None;
        record_policy(&mut only, Some("p@1".into()));
        hide(&mut only);
        assert_eq!(only, None);
    }
}
