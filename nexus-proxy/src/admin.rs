//! The admin port: `/metrics` (Prometheus text), `/healthz` (alive), `/readyz` (serving).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;

use crate::control::Control;
use crate::metrics::Metrics;

/// Whether this worker should receive traffic.
#[derive(Debug, Default)]
pub struct Readiness(AtomicBool);

// === impl Readiness ===

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }

    #[must_use]
    pub fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The admin port's hyper service.
#[derive(Clone)]
pub struct Admin {
    metrics: Arc<Metrics>,
    ready: Arc<Readiness>,
    control: Arc<Control>,
}

// === impl Admin ===

impl Admin {
    #[must_use]
    pub fn new(metrics: Arc<Metrics>, ready: Arc<Readiness>, control: Arc<Control>) -> Self {
        Self {
            metrics,
            ready,
            control,
        }
    }

    fn respond(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        }
        match req.uri().path() {
            "/metrics" => {
                let c = &self.control;
                self.metrics
                    .control_state(c.revision(), c.policies().len(), c.is_fresh());
                let mut res = Response::new(Full::new(Bytes::from(self.metrics.encode())));
                res.headers_mut().insert(
                    header::CONTENT_TYPE,
                    http::HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                res
            }
            "/healthz" => text(StatusCode::OK, "ok\n"),
            "/readyz" if !self.ready.get() => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
            "/readyz" if !self.control.is_fresh() => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: metadata store unreachable for longer than --meta-grace\n",
            ),
            "/readyz" => text(StatusCode::OK, "ready\n"),
            _ => text(
                StatusCode::NOT_FOUND,
                "not found; try /metrics, /healthz or /readyz\n",
            ),
        }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

impl hyper::service::Service<Request<Incoming>> for Admin {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let res = self.respond(&req);
        Box::pin(async move { Ok(res) })
    }
}
