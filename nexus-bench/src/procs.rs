//! Child processes of `nexus-bench run`: the in-memory backend and the proxy. Both are killed
//! when their handle drops, so an error or a panic in the orchestrator leaves nothing running.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Line the backend prints on stdout once it listens: `LISTENING <addr>`.
pub const LISTENING: &str = "LISTENING";
/// Credentials the orchestrator gives the proxy (both sides) and its clients.
pub const ACCESS_KEY: &str = "bench";
pub const SECRET_KEY: &str = "bench-secret";

/// A child process killed on drop.
#[derive(Debug)]
pub struct Child {
    name: &'static str,
    inner: std::process::Child,
}

impl Child {
    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    /// Fails if the process has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.inner.try_wait()? {
            None => Ok(()),
            Some(status) => bail!("{} exited: {status}", self.name),
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.inner.kill();
        let _ = self.inner.wait();
    }
}

/// Starts `exe backend` on an ephemeral loopback port; returns it with the bound address.
pub fn spawn_backend(exe: &Path) -> anyhow::Result<(Child, SocketAddr)> {
    let mut inner = Command::new(exe)
        .args(["backend", "--listen", "127.0.0.1:0", "--exit-with-parent"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} backend", exe.display()))?;
    let stdout = inner
        .stdout
        .take()
        .ok_or_else(|| anyhow!("backend stdout not captured"))?;
    let child = Child {
        name: "backend",
        inner,
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let r = BufReader::new(stdout).read_line(&mut line).map(|_| line);
        let _ = tx.send(r);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .context("backend did not report its address within 10 s")??;
    let addr = line
        .trim()
        .strip_prefix(LISTENING)
        .ok_or_else(|| anyhow!("unexpected backend output {line:?}"))?
        .trim()
        .parse()
        .with_context(|| format!("backend address in {line:?}"))?;
    Ok((child, addr))
}

/// A loopback port that was free a moment ago.
fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// The proxy's two listen addresses.
#[derive(Debug, Clone, Copy)]
pub struct ProxyAddrs {
    pub s3: SocketAddr,
    pub admin: SocketAddr,
}

/// Checks that `bin --help` knows the flags the orchestrator passes.
pub fn check_proxy_flags(bin: &Path) -> anyhow::Result<()> {
    let out = Command::new(bin)
        .arg("--help")
        .output()
        .with_context(|| format!("running {} --help", bin.display()))?;
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--backend-endpoint",
        "--admin-listen",
        "--backend-path-style",
    ] {
        ensure!(
            help.contains(flag),
            "{} --help does not list {flag}: the proxy is not ready for benchmarking",
            bin.display()
        );
    }
    Ok(())
}

/// Starts the proxy in front of `backend`, logging to `log`.
pub fn spawn_proxy(
    bin: &Path,
    backend: SocketAddr,
    log: &PathBuf,
) -> anyhow::Result<(Child, ProxyAddrs)> {
    let backend_url = format!("http://{backend}");
    spawn_worker(
        bin,
        &[
            "--backend-endpoint",
            &backend_url,
            "--backend-region",
            "us-east-1",
            "--backend-access-key",
            ACCESS_KEY,
            "--backend-secret-key",
            SECRET_KEY,
            "--backend-path-style",
        ],
        log,
    )
}

/// Starts `nexus-proxy` on free loopback ports with the bench credentials and `args`, logging
/// to `log`.
pub fn spawn_worker(
    bin: &Path,
    args: &[&str],
    log: &PathBuf,
) -> anyhow::Result<(Child, ProxyAddrs)> {
    spawn_worker_env(bin, args, log, &[])
}

/// As [`spawn_worker`], with extra environment variables.
///
/// # Errors
/// As [`spawn_worker`].
pub fn spawn_worker_env(
    bin: &Path,
    args: &[&str],
    log: &PathBuf,
    env: &[(&str, &str)],
) -> anyhow::Result<(Child, ProxyAddrs)> {
    let addrs = ProxyAddrs {
        s3: free_port()?,
        admin: free_port()?,
    };
    let log_file =
        std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let inner = Command::new(bin)
        .arg("--listen")
        .arg(addrs.s3.to_string())
        .arg("--admin-listen")
        .arg(addrs.admin.to_string())
        .args(["--access-key", ACCESS_KEY])
        .args(["--secret-key", SECRET_KEY])
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok((
        Child {
            name: "nexus-proxy",
            inner,
        },
        addrs,
    ))
}

/// Polls `GET http://<admin>/readyz` until it answers 200.
pub async fn wait_ready(
    admin: SocketAddr,
    child: &mut Child,
    timeout: Duration,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut last = String::from("no answer");
    while start.elapsed() < timeout {
        child.ensure_running()?;
        match readyz_status(admin).await {
            Ok(200) => return Ok(()),
            Ok(code) => last = format!("status {code}"),
            Err(e) => last = format!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{admin}/readyz not 200 after {timeout:?}: {last}")
}

async fn readyz_status(admin: SocketAddr) -> anyhow::Result<u16> {
    Ok(admin_get(admin, "/readyz").await?.0)
}

/// `GET http://<admin><path>` on a fresh connection: status and body.
pub async fn admin_get(admin: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut s = TcpStream::connect(admin).await?;
    s.set_nodelay(true)?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {admin}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut buf)).await??;
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow!("unparsable answer {:?}", text.lines().next()))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}
