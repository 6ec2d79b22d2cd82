//! Real S3 servers for tests, in the test process or as a child process, and the clients that
//! reach them:
//!
//! - [`S3sFsServer`]: `s3s_fs::FileSystem` over a temp dir, served over real HTTP on
//!   `127.0.0.1:0` (hyper-util, TCP_NODELAY on accepted sockets), SigV4 with [`BACKEND_KEYS`];
//! - [`MotoServer`]: `moto_server -H 127.0.0.1 -p PORT` (wider S3 surface: tagging), found via
//!   `NEXUS_MOTO_SERVER` or `~/.cache/nexus/venv/bin/moto_server`;
//! - [`CannedServer`]: a broken endpoint that gives every request the same canned answer;
//! - [`s3s_fs_env::Env`]: s3s-fs + `S3Backend` + a client through it + a direct client;
//! - [`backend_to`]: an `S3Backend` for an endpoint;
//! - [`client_through`]: an aws-sdk-s3 client whose requests go, in process, through an
//!   `s3s` service (SigV4 with [`FRONT_KEYS`]) into a store — the path a broker's request takes.
//!
//! The proxy's tests can copy these: nothing here depends on `nexus-store` internals.
#![allow(dead_code, unused_imports)]

pub mod canned_server;
pub mod moto_server;
pub mod s3s_fs_env;
pub mod s3s_fs_server;

use std::net::SocketAddr;
use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use nexus_store::s3::{S3Backend, S3BackendConfig};
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use canned_server::{Canned, CannedServer};
pub use moto_server::MotoServer;
pub use s3s_fs_server::S3sFsServer;

/// Credentials the backend servers accept (what `S3Backend` signs with).
pub const BACKEND_KEYS: (&str, &str) = ("backend-ak", "backend-secret-key");
/// Credentials the in-process front end accepts (what the broker signs with).
pub const FRONT_KEYS: (&str, &str) = ("front-ak", "front-secret-key");
pub const REGION: &str = "us-east-1";

/// Serves `service` over HTTP/1.1 and HTTP/2 on `127.0.0.1:0` until the returned task is
/// aborted. Every accepted socket gets TCP_NODELAY.
pub async fn serve_on_loopback(service: S3Service) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let accept = tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let _ = socket.set_nodelay(true);
            let conn = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    (addr, accept)
}

/// The configuration `S3Backend` gets for an endpoint of ours (path-style, [`BACKEND_KEYS`]).
pub fn backend_config(endpoint: &str) -> S3BackendConfig {
    S3BackendConfig {
        endpoint: Some(endpoint.to_owned()),
        region: REGION.to_owned(),
        access_key: BACKEND_KEYS.0.to_owned(),
        secret_key: BACKEND_KEYS.1.to_owned(),
        path_style: true,
        ..S3BackendConfig::default()
    }
}

pub fn backend_to(endpoint: &str) -> S3Backend {
    S3Backend::new(backend_config(endpoint)).expect("valid backend config")
}

/// An aws-sdk-s3 client → (in process) s3s service with SigV4 auth → `store`.
/// No retries: the tests look at the first answer.
pub fn client_through(store: impl s3s::S3) -> aws_sdk_s3::Client {
    let mut builder = S3ServiceBuilder::new(store);
    builder.set_auth(SimpleAuth::from_single(FRONT_KEYS.0, FRONT_KEYS.1));
    let service = builder.build();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(s3s_aws::Client::from(service))
        .credentials_provider(Credentials::new(
            FRONT_KEYS.0,
            FRONT_KEYS.1,
            None,
            None,
            "test-front",
        ))
        .region(Region::new(REGION))
        .endpoint_url("http://nexus.test:8014")
        .force_path_style(true)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// HTTP status and S3 code of a failed call, as the client saw them.
pub fn status_and_code<E: ProvideErrorMetadata>(err: &SdkError<E>) -> (u16, String) {
    let status = err.raw_response().map_or(0, |r| r.status().as_u16());
    let code = err.code().unwrap_or("<none>").to_owned();
    (status, code)
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_loopback_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Waits until something accepts TCP connections on `addr`.
pub async fn wait_for_listener(addr: SocketAddr, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
