//! A misbehaving "S3" endpoint on loopback: every request gets the same canned answer, so tests
//! can show what a client sees when the backend is broken in one particular way.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the endpoint answers.
#[derive(Clone, Debug)]
pub enum Canned {
    /// This status, these headers and this body, after reading the whole request.
    Respond {
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        body: &'static str,
    },
    /// Accept the connection and close it without a word.
    Hangup,
}

pub struct CannedServer {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    accept: JoinHandle<()>,
}

impl CannedServer {
    pub async fn start(answer: Canned) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accept = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let _ = socket.set_nodelay(true);
                let answer = answer.clone();
                tokio::spawn(async move { serve(socket, answer).await });
            }
        });
        Self {
            endpoint: format!("http://{addr}"),
            accept,
        }
    }
}

async fn serve(socket: tokio::net::TcpStream, answer: Canned) {
    let Canned::Respond {
        status,
        headers,
        body,
    } = answer
    else {
        drop(socket);
        return;
    };
    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let headers = headers.clone();
        async move {
            let _ = req.into_body().collect().await;
            let mut res = hyper::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
            *res.status_mut() = hyper::StatusCode::from_u16(status).expect("status");
            for (name, value) in headers {
                res.headers_mut()
                    .insert(name, hyper::header::HeaderValue::from_static(value));
            }
            Ok::<_, Infallible>(res)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(socket), service)
        .await;
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
