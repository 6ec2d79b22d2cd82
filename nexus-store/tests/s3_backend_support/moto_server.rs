//! `moto_server` (PyPI `moto[server]<5.2`) as a child process on a free loopback port.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{closed_loopback_port, wait_for_listener};

/// A running moto server; killed (this child only) when dropped.
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

impl MotoServer {
    /// Starts moto, or returns `None` when it is not installed. Under `CI` a missing moto is a
    /// failure, not a skip.
    pub async fn start_or_skip(test: &str) -> Option<Self> {
        let Some(binary) = moto_binary() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: moto_server not found (CI is set, so this fails instead of skipping). Install it with \
                 `python3 -m venv ~/.cache/nexus/venv && ~/.cache/nexus/venv/bin/pip install 'moto[server]<5.2'` \
                 or point NEXUS_MOTO_SERVER at the binary."
            );
            eprintln!(
                "{test}: SKIPPED, moto_server not found (set NEXUS_MOTO_SERVER or install it in ~/.cache/nexus/venv)"
            );
            return None;
        };
        let port = closed_loopback_port();
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
        let addr = ([127, 0, 0, 1], port).into();
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
