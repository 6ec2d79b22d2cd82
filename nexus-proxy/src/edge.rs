//! The edge of the request path: the hyper service every accepted connection runs.
//!
//! Per request it assigns the request id, opens the tracing span, counts bytes, records metrics,
//! stamps `x-amz-request-id` on the response, and turns a panic anywhere below into a plain 500,
//! so that no panic ever reaches a client as a dropped connection.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use s3s::service::S3Service;
use tracing::{Instrument, debug, error, info_span, warn};

use crate::body::CountingBody;
use crate::mesh::{Admission, Mesh};
use crate::metrics::Metrics;
use crate::request::{RequestCtx, RequestId};

/// The response body type of the S3 port.
pub type EdgeBody = CountingBody<s3s::Body>;

/// The S3 port's hyper service.
#[derive(Clone)]
pub struct Edge {
    s3: S3Service,
    metrics: Arc<Metrics>,
    mesh: Option<Arc<Mesh>>,
}

// === impl Edge ===

impl Edge {
    #[must_use]
    pub fn new(s3: S3Service, metrics: Arc<Metrics>, mesh: Option<Arc<Mesh>>) -> Self {
        Self { s3, metrics, mesh }
    }

    async fn handle(self, req: Request<Incoming>) -> Response<EdgeBody> {
        let started = Instant::now();
        self.metrics.request_started();
        let (method, path) = (req.method().clone(), req.uri().path().to_owned());
        let Some(mesh) = self.mesh.clone() else {
            let (ctx, span) = opened(None);
            let res = self
                .serve_s3(req.map(s3s::Body::http_body), &ctx, &span, &method, &path)
                .await;
            return self.finish(res, &ctx, &span, started, &method, &path);
        };
        if path == crate::mesh::stage::PATH {
            let (ctx, span) = opened(None);
            ctx.set_op("Stage");
            let res = mesh.serve_stage(req).instrument(span.clone()).await;
            return self.finish(res, &ctx, &span, started, &method, &path);
        }
        let admission = mesh.admit(req).await;
        // A forwarded request keeps the id its entry worker gave it.
        let id = match &admission {
            Admission::Local { hop: Some(h), .. } => RequestId::parse(&h.request_id),
            _ => None,
        };
        let (ctx, span) = opened(id);
        let res = match admission {
            Admission::Local { req, route, hop } => {
                if let Some(r) = route {
                    ctx.set_route(r);
                }
                if let Some(h) = &hop {
                    let _g = span.enter();
                    debug!(hop = h.hop, from = ?h.path, "Serving a forwarded request.");
                }
                self.serve_s3(req, &ctx, &span, &method, &path).await
            }
            Admission::Forward { req, to } => {
                ctx.set_op("Forwarded");
                mesh.forward(req, &to, &ctx).instrument(span.clone()).await
            }
            Admission::Refuse {
                status,
                code,
                message,
            } => error_response(status, code, &message),
        };
        self.finish(res, &ctx, &span, started, &method, &path)
    }

    /// Serves `req` through s3s (authentication, the operation, the front end), containing a
    /// panic as a plain 500.
    async fn serve_s3(
        &self,
        req: Request<s3s::Body>,
        ctx: &Arc<RequestCtx>,
        span: &tracing::Span,
        method: &http::Method,
        path: &str,
    ) -> s3s::HttpResponse {
        let mut req = req.map(|body| {
            let counted = CountingBody::received(body, Arc::clone(ctx), Arc::clone(&self.metrics));
            s3s::Body::http_body(counted)
        });
        req.extensions_mut().insert(Arc::clone(ctx));

        let call = AssertUnwindSafe(self.s3.call(req)).catch_unwind();
        match call.instrument(span.clone()).await {
            Ok(Ok(res)) => res,
            Ok(Err(e)) => {
                // s3s failed to produce any S3 response (e.g. an unreadable request head).
                let _g = span.enter();
                warn!(error = ?e, "Request could not be served.");
                error_response(StatusCode::BAD_REQUEST, "InvalidRequest", "InvalidRequest")
            }
            Err(_) => {
                let _g = span.enter();
                error!(%method, %path, "Request handler panicked; answered 500.");
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "InternalError",
                )
            }
        }
    }

    /// Metrics, the log line and the request id header of every answer.
    fn finish(
        &self,
        res: s3s::HttpResponse,
        ctx: &Arc<RequestCtx>,
        span: &tracing::Span,
        started: Instant,
        method: &http::Method,
        path: &str,
    ) -> Response<EdgeBody> {
        let op = ctx.op();
        let status = res.status();
        self.metrics
            .request_finished(op, status.as_u16(), started.elapsed().as_secs_f64());
        {
            let _g = span.enter();
            if status.is_server_error() {
                warn!(op, status = status.as_u16(), %method, %path, "Request failed.");
            } else {
                debug!(op, status = status.as_u16(), %method, %path, elapsed_us = started.elapsed().as_micros() as u64, "Request served.");
            }
        }

        let (mut parts, body) = res.into_parts();
        if let Ok(v) = HeaderValue::from_str(ctx.id.as_str()) {
            parts.headers.insert("x-amz-request-id", v);
        }
        Response::from_parts(
            parts,
            CountingBody::sent(body, Arc::clone(ctx), Arc::clone(&self.metrics)),
        )
    }
}

/// A request's context (with `id`, else a new one) and its tracing span.
fn opened(id: Option<RequestId>) -> (Arc<RequestCtx>, tracing::Span) {
    let ctx = Arc::new(id.map_or_else(RequestCtx::new, RequestCtx::with_id));
    let span = info_span!("s3", id = %ctx.id);
    (ctx, span)
}

/// An S3-style XML error for answers that do not come from s3s (failures outside it, the
/// mesh's refusals); a 503 says `Retry-After: 0`.
#[must_use]
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response<s3s::Body> {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
        esc(code),
        esc(message)
    );
    let mut res = Response::new(s3s::Body::from(xml));
    *res.status_mut() = status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from_static("0"));
    }
    res
}

impl hyper::service::Service<Request<Incoming>> for Edge {
    type Response = Response<EdgeBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(req).await) })
    }
}
