//! Real S3 servers behind the proxy: s3s-fs in this process (stoppable, to take the backend
//! down under a running proxy) and moto_server as a child process (PyPI `moto[server]<5.2`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::{AbortHandle, JoinHandle};

/// Credentials the backends accept (what the proxy's `S3Backend` signs with).
pub const BACKEND_KEYS: (&str, &str) = ("it-backend-access", "it-backend-secret");

/// `s3s_fs::FileSystem` over a temp dir, served over HTTP/1.1 and HTTP/2 on `127.0.0.1:0`
/// (TCP_NODELAY on every socket), SigV4 with [`BACKEND_KEYS`].
pub struct S3sFsServer {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    pub addr: SocketAddr,
    root: TempDir,
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
}

impl S3sFsServer {
    pub async fn start() -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let fs = s3s_fs::FileSystem::new(root.path()).expect("s3s-fs over the temp dir");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(BACKEND_KEYS.0, BACKEND_KEYS.1));
        let service = builder.build();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let tracked = Arc::clone(&connections);
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
                let task = tokio::spawn(async move {
                    let _ = conn.await;
                });
                if let Ok(mut list) = tracked.lock() {
                    list.push(task.abort_handle());
                }
            }
        });
        Self {
            endpoint: format!("http://{addr}"),
            addr,
            root,
            accept,
            connections,
        }
    }

    /// The backend goes down: the port closes and every open connection is dropped.
    pub fn stop(&self) {
        self.accept.abort();
        if let Ok(list) = self.connections.lock() {
            for c in list.iter() {
                c.abort();
            }
        }
    }

    pub fn root(&self) -> &std::path::Path {
        self.root.path()
    }
}

impl Drop for S3sFsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running moto server; this child (only) is killed when dropped.
pub struct MotoServer {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    child: Child,
}

/// Where moto_server is: `$NEXUS_MOTO_SERVER` (which must then exist), else
/// `~/.cache/nexus/venv/bin/moto_server` if it exists.
pub fn moto_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NEXUS_MOTO_SERVER") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "NEXUS_MOTO_SERVER={} is not a file",
            path.display()
        );
        return Some(path);
    }
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(".cache/nexus/venv/bin/moto_server")).filter(|p| p.is_file())
}

/// True when running under CI (`CI=true`, or any non-empty value but `false`/`0`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

impl MotoServer {
    /// Starts moto, or returns `None` (printing why) when it is not installed. Under CI a
    /// missing moto fails the test instead.
    pub async fn start_or_skip(test: &str) -> Option<Self> {
        let Some(binary) = moto_binary() else {
            assert!(
                !in_ci(),
                "{test}: moto_server not found, and CI is set, so this fails instead of skipping. \
                 Run scripts/setup.sh (installs moto[server]<5.2 into ~/.cache/nexus/venv) or point \
                 NEXUS_MOTO_SERVER at the binary."
            );
            eprintln!(
                "{test}: SKIPPED: moto_server not found (run scripts/setup.sh or set NEXUS_MOTO_SERVER)"
            );
            return None;
        };
        let port = free_port();
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{test}: cannot start {}: {e}", binary.display()));
        let server = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        assert!(
            wait_for_listener(addr, Duration::from_secs(30)).await,
            "{test}: moto_server did not listen on {addr} within 30 s"
        );
        Some(server)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn free_port() -> u16 {
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
