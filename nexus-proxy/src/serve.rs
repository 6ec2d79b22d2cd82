//! Accepting connections: TCP_NODELAY, optional TLS, HTTP/1.1 and HTTP/2, graceful drain.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

/// How long a client may take to send a request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `service` on `listener` until `shutdown` resolves, then lets in-flight requests finish
/// for up to `grace` before closing the remaining connections.
pub async fn serve<S, B>(
    name: &'static str,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    service: S,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) where
    S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Usually EMFILE: back off briefly rather than spinning.
                    warn!(server = name, error = %e, "Accept failed.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            debug!(%peer, error = %e, "Could not set TCP_NODELAY.");
        }
        let service = service.clone();
        let builder = Arc::clone(&builder);
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let result = match tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls_stream) => {
                        let conn = builder.serve_connection(TokioIo::new(tls_stream), service);
                        watcher.watch(conn.into_owned()).await
                    }
                    Err(e) => {
                        debug!(%peer, error = %e, "TLS handshake failed.");
                        return;
                    }
                },
            };
            if let Err(e) = result {
                debug!(%peer, error = %e, "Connection ended with an error.");
            }
        });
    }

    drop(listener);
    info!(
        server = name,
        grace_s = grace.as_secs(),
        "Draining connections."
    );
    tokio::select! {
        () = graceful.shutdown() => info!(server = name, "All connections closed."),
        () = tokio::time::sleep(grace) => warn!(server = name, "Grace period over; closing remaining connections."),
    }
}
