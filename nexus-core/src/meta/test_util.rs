//! A private `redis-server` for tests (feature `test-util`).
//!
//! [`RedisServer::start`] picks a free loopback port, starts `redis-server` on it without
//! persistence (its working directory is a temporary directory), waits until it answers PING and
//! kills it (by its process id) when dropped. [`RedisServer::available`] decides what a test does
//! without `redis-server` on PATH: skip with a message, or fail under `CI=true`.
//! [`RedisServer::start_tls`] also serves TLS, with a CA and certificate made by `openssl`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    password: Option<String>,
    /// The TLS port, when serving TLS (the plain port stays open for [`Self::command`]).
    tls_port: Option<u16>,
    dir: PathBuf,
}

// === impl RedisServer ===

impl RedisServer {
    /// Whether `redis-server` is on PATH. Without it, prints why the calling test is skipped and
    /// returns false, or panics under `CI=true` (CI must run every Redis test).
    #[must_use]
    pub fn available(test: &str) -> bool {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: redis-server is not on PATH and CI=true: run scripts/setup.sh"
            );
            skip(&format!(
                "{test}: redis-server is not on PATH (scripts/setup.sh installs it)"
            ));
        }
        found
    }

    /// Starts a server on a free port, or `None` (skipped) when `redis-server` is missing.
    #[must_use]
    pub fn start(test: &str) -> Option<Self> {
        Self::start_with(test, None)
    }

    /// As [`Self::start`], with `requirepass`.
    #[must_use]
    pub fn start_with_password(test: &str, password: &str) -> Option<Self> {
        Self::start_with(test, Some(password.to_owned()))
    }

    /// As [`Self::start`], also serving TLS on another port with a certificate for
    /// `127.0.0.1` signed by a private CA (see [`Self::ca_file`]). Needs `openssl` on PATH (skip
    /// or, under `CI=true`, fail without it).
    #[must_use]
    pub fn start_tls(test: &str) -> Option<Self> {
        let openssl = Command::new("openssl")
            .arg("version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !openssl {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: openssl is not on PATH and CI=true: run scripts/setup.sh"
            );
            skip(&format!(
                "{test}: openssl is not on PATH (scripts/setup.sh installs it)"
            ));
            return None;
        }
        let mut server = Self::start_with(test, None)?;
        server.stop();
        make_certificates(&server.dir);
        server.tls_port = Some(free_port());
        server.spawn();
        Some(server)
    }

    /// The PEM file of the CA that signed a TLS server's certificate.
    #[must_use]
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// `rediss://127.0.0.1:TLS_PORT` (TLS servers only).
    #[must_use]
    pub fn tls_url(&self) -> Option<String> {
        self.tls_port.map(|p| format!("rediss://127.0.0.1:{p}"))
    }

    fn start_with(test: &str, password: Option<String>) -> Option<Self> {
        if !Self::available(test) {
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "nexus-redis-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("create redis dir");
        let mut server = Self {
            child: None,
            port: free_port(),
            password,
            tls_port: None,
            dir,
        };
        server.spawn();
        Some(server)
    }

    /// `redis://127.0.0.1:PORT` (with the password when there is one).
    #[must_use]
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL). Data not saved with [`Self::save`] is lost.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory (a saved dataset is loaded).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Writes the dataset to the server's directory (`SAVE`), so that it survives a restart.
    pub fn save(&self) {
        let reply = self.command("SAVE");
        assert!(reply.starts_with("+OK"), "SAVE: {reply}");
    }

    /// Sends one inline command and returns the raw reply (first read).
    #[must_use]
    pub fn command(&self, command: &str) -> String {
        let mut stream = TcpStream::connect(self.addr()).expect("connect to redis-server");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut request = String::new();
        if let Some(password) = &self.password {
            request.push_str(&format!("AUTH {password}\r\n"));
        }
        request.push_str(command);
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).expect("write");
        let mut reply = String::new();
        let mut buf = [0u8; 4096];
        let expected_lines = if self.password.is_some() { 2 } else { 1 };
        while reply.matches("\r\n").count() < expected_lines {
            let n = stream.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            reply.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        if self.password.is_some() {
            reply = reply
                .split_once("\r\n")
                .map(|(_, r)| r.to_owned())
                .unwrap_or(reply);
        }
        reply
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn spawn(&mut self) {
        let mut command = Command::new("redis-server");
        command
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(password) = &self.password {
            command.arg("--requirepass").arg(password);
        }
        if let Some(port) = self.tls_port {
            command
                .arg("--tls-port")
                .arg(port.to_string())
                .arg("--tls-cert-file")
                .arg(self.dir.join("server.pem"))
                .arg("--tls-key-file")
                .arg(self.dir.join("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(self.ca_file())
                .args(["--tls-auth-clients", "no"]);
        }
        self.child = Some(command.spawn().expect("start redis-server"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut stream) = TcpStream::connect(self.addr()) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                let mut buf = [0u8; 64];
                // NOAUTH, or PONG: either way it is up and loaded.
                if stream.write_all(b"PING\r\n").is_ok()
                    && stream.read(&mut buf).is_ok_and(|n| {
                        let reply = &buf[..n];
                        reply.starts_with(b"+PONG") || reply.starts_with(b"-NOAUTH")
                    })
                {
                    return;
                }
            }
            assert!(
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
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Says why a test is skipped, on stderr past the test harness's capture (so it shows).
fn skip(why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIP {why}");
}

/// A port that was free a moment ago (bound to port 0, then released), and never handed out
/// before in this process: a server stopped for a restart keeps its port, and another test
/// running at the same time must not be given it in between.
#[must_use]
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind 127.0.0.1:0");
        if GIVEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(port)
        {
            return port;
        }
    }
}

/// A CA and a server certificate for `127.0.0.1` and `localhost`, in `dir`.
fn make_certificates(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("write san.ext");
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=nexus-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.pem",
    ]);
}
