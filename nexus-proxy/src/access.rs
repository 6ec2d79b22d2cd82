//! Authentication and authorization: every request must carry a valid SigV4 (or SigV2)
//! signature made with the configured credentials; anonymous requests are refused. The check
//! also tells the edge layer which S3 operation the request resolved to.

use std::sync::Arc;

use s3s::S3Result;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};

use crate::request::RequestCtx;

/// The one key pair clients sign with. An unknown access key is `403 InvalidAccessKeyId`, as
/// S3 answers (s3s's `SimpleAuth` answers `NotSignedUp`, which no S3 client expects).
#[derive(Debug)]
pub struct ClientKeys {
    access_key: String,
    secret_key: SecretKey,
}

// === impl ClientKeys ===

impl ClientKeys {
    #[must_use]
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<SecretKey>) -> Self {
        Self {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
        }
    }
}

#[async_trait::async_trait]
impl S3Auth for ClientKeys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if access_key == self.access_key {
            Ok(self.secret_key.clone())
        } else {
            Err(s3s::s3_error!(
                InvalidAccessKeyId,
                "The AWS access key Id you provided does not exist in our records."
            ))
        }
    }
}

/// Allows every authenticated request.
#[derive(Debug, Default)]
pub struct Authenticated;

#[async_trait::async_trait]
impl S3Access for Authenticated {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let op = crate::request::op_label(cx.s3_op().name());
        let ctx = cx.extensions_mut().get::<Arc<RequestCtx>>().cloned();
        if let Some(ctx) = &ctx {
            ctx.set_op(op);
        }
        match cx.credentials() {
            Some(_) => Ok(()),
            None => {
                let mut err = s3s::s3_error!(
                    AccessDenied,
                    "Anonymous requests are not allowed; sign requests with the configured access key"
                );
                if let Some(ctx) = ctx {
                    err.set_request_id(ctx.id.as_str());
                }
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_access_keys_are_invalid_access_key_id() {
        let keys = ClientKeys::new("ak", "sk");
        assert!(keys.get_secret_key("ak").await.is_ok());
        let err = keys
            .get_secret_key("other")
            .await
            .err()
            .map(|e| e.code().clone());
        assert_eq!(err, Some(s3s::S3ErrorCode::InvalidAccessKeyId));
    }
}
