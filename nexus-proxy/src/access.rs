//! Authorization: every request must carry a valid SigV4 (or SigV2) signature; anonymous requests
//! are refused. The check also tells the edge layer which S3 operation the request resolved to.

use std::sync::Arc;

use s3s::S3Result;
use s3s::access::{S3Access, S3AccessContext};

use crate::request::RequestCtx;

/// Allows every authenticated request.
#[derive(Debug, Default)]
pub struct Authenticated;

#[async_trait::async_trait]
impl S3Access for Authenticated {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let op = crate::request::op_label(cx.s3_op().name());
        if let Some(ctx) = cx.extensions_mut().get::<Arc<RequestCtx>>() {
            ctx.set_op(op);
        }
        match cx.credentials() {
            Some(_) => Ok(()),
            None => Err(s3s::s3_error!(
                AccessDenied,
                "Anonymous requests are not allowed; sign requests with the configured access key"
            )),
        }
    }
}
