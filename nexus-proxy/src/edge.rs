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
use crate::mesh::{Admission, Mesh, error_response};
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
        if let Some(mesh) = &self.mesh
            && path == crate::mesh::stage::PATH
        {
            let ctx = Arc::new(RequestCtx::new());
            ctx.set_op("Stage");
            let span = info_span!("stage", id = %ctx.id);
            let res = mesh.serve_stage(req).instrument(span.clone()).await;
            return self.finish(res, &ctx, &span, started, &method, &path);
        }
        let admission = match &self.mesh {
            None => Admission::Local {
                req: req.map(s3s::Body::http_body),
                route: None,
                hop: None,
            },
            Some(mesh) => mesh.admit(req).await,
        };
        let id = match &admission {
            Admission::Local { hop: Some(h), .. } => RequestId::parse(&h.request_id),
            _ => None,
        };
        let ctx = Arc::new(id.map_or_else(RequestCtx::new, RequestCtx::with_id));
        let span = info_span!("s3", id = %ctx.id);

        let (req, hop) = match admission {
            Admission::Local { req, route, hop } => {
                if let Some(r) = route {
                    ctx.set_route(r);
                }
                (req, hop)
            }
            Admission::Forward { req, to } => {
                ctx.set_op("Forwarded");
                let mesh = self.mesh.as_ref().map(Arc::clone);
                let res = match mesh {
                    Some(m) => {
                        m.forward(req, &to, &ctx, None)
                            .instrument(span.clone())
                            .await
                    }
                    None => plain_response(StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
                };
                return self.finish(res, &ctx, &span, started, &method, &path);
            }
            Admission::Refuse {
                status,
                code,
                message,
            } => {
                let res = error_response(status, code, &message);
                return self.finish(res, &ctx, &span, started, &method, &path);
            }
        };
        if let Some(h) = &hop {
            let _g = span.enter();
            debug!(hop = h.hop, from = ?h.path, "Serving a forwarded request.");
        }
        let mut req = req.map(|body| {
            let counted = CountingBody::received(body, Arc::clone(&ctx), Arc::clone(&self.metrics));
            s3s::Body::http_body(counted)
        });
        req.extensions_mut().insert(Arc::clone(&ctx));

        let call = AssertUnwindSafe(self.s3.call(req)).catch_unwind();
        let res = match call.instrument(span.clone()).await {
            Ok(Ok(res)) => res,
            Ok(Err(e)) => {
                // s3s failed to produce any S3 response (e.g. an unreadable request head).
                let _g = span.enter();
                warn!(error = ?e, "Request could not be served.");
                plain_response(StatusCode::BAD_REQUEST, "InvalidRequest")
            }
            Err(_) => {
                let _g = span.enter();
                error!(%method, %path, "Request handler panicked; answered 500.");
                plain_response(StatusCode::INTERNAL_SERVER_ERROR, "InternalError")
            }
        };
        self.finish(res, &ctx, &span, started, &method, &path)
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

/// A minimal S3-style XML error for failures that happen outside s3s.
fn plain_response(status: StatusCode, code: &str) -> s3s::HttpResponse {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{code}</Message></Error>"
    );
    let mut res = Response::new(s3s::Body::from(xml));
    *res.status_mut() = status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
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
