//! A private `redis-server` for the benchmarks that need one (contention, mesh, propagation).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

/// A private `redis-server` on a free loopback port, without persistence, in a temporary
/// directory; killed (by its process handle) and the directory removed when dropped.
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    version: String,
}

impl RedisServer {
    /// `redis-server X.Y.Z`, as the binary reports it.
    #[must_use]
    pub fn version(&self) -> &str {
        &self.version
    }

    /// `redis://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts `bin` on a free port and waits for PING.
    ///
    /// # Errors
    /// It cannot be started or does not answer.
    pub fn start(bin: &Path) -> anyhow::Result<Self> {
        let version = Command::new(bin)
            .arg("--version")
            .output()
            .with_context(|| format!("cannot run {}", bin.display()))?;
        let version = String::from_utf8_lossy(&version.stdout);
        let version = version
            .split_whitespace()
            .find_map(|w| w.strip_prefix("v="))
            .map_or_else(
                || "redis-server".to_owned(),
                |v| format!("redis-server {v}"),
            );
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir =
            std::env::temp_dir().join(format!("nexus-bench-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let child = Command::new(bin)
            .arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e).with_context(|| format!("cannot start {}", bin.display()));
            }
        };
        let mut server = Self {
            child,
            port,
            dir,
            version,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}", self.port))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("redis-server exited at start ({status})");
            }
            let pong = client
                .get_connection_with_timeout(Duration::from_secs(1))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if pong.is_ok() {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "redis-server did not answer on port {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
