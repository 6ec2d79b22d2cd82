//! The built `nexus-proxy` binary: bad flags exit 64 before any port is bound; started normally
//! it serves; SIGTERM lets an in-flight upload finish, then it exits 0.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::support::raw::{self, Conn};
use crate::support::sigv4::{Payload, Req, object_path};
use crate::support::{ACCESS_KEY, Env, Kind, Options, Proxy, SECRET_KEY, bounded, pattern_seeded};

const BIN: &str = env!("CARGO_BIN_EXE_nexus-proxy");

fn command() -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NEXUS_") {
            cmd.env_remove(k);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Waits for `child` to exit, killing it (and failing) after `within`.
fn wait_exit(child: &mut Child, within: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn bad_flags_exit_64_before_binding_a_port() {
    // A port we hold: a binary that bound before validating would fail to bind (exit 1), not 64.
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let held = held.local_addr().expect("addr").to_string();
    let cases: [(&[&str], &str); 6] = [
        (&["--no-such-flag"], "--no-such-flag"),
        (&["--listen", "not-an-address"], "--listen"),
        (
            &["--listen", &held, "--key-grammar", "nonsense"],
            "--key-grammar",
        ),
        (
            &[
                "--listen",
                &held,
                "--tls-cert",
                "/no/such/cert.pem",
                "--tls-key",
                "/no/such/key.pem",
            ],
            "--tls-cert",
        ),
        (
            &[
                "--listen",
                &held,
                "--backend-endpoint",
                "ftp://example.invalid",
            ],
            "--backend-endpoint",
        ),
        (
            &["--listen", &held, "--access-key", "only-the-access-key"],
            "--secret-key",
        ),
    ];
    for (args, mentions) in cases {
        let mut child = command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nexus-proxy");
        let status = wait_exit(&mut child, Duration::from_secs(10), &format!("{args:?}"));
        let output = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            status.code(),
            Some(64),
            "{args:?}: {status}, stderr: {stderr}"
        );
        assert!(
            stderr.contains(mentions),
            "{args:?}: the message names {mentions}: {stderr}"
        );
        assert!(
            !stderr.contains("cannot listen"),
            "{args:?} tried to bind: {stderr}"
        );
    }
}

/// Reads the binary's JSON log lines until the one that gives the ports.
fn serving_addresses(lines: &mpsc::Receiver<String>) -> (SocketAddr, SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = lines.recv_timeout(left) else {
            break;
        };
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            let fields = &v["fields"];
            if fields["message"] == "Nexus worker serving." {
                let addr = |name: &str| -> SocketAddr {
                    fields[name]
                        .as_str()
                        .expect("address field")
                        .parse()
                        .expect("address")
                };
                return (addr("s3_addr"), addr("admin_addr"));
            }
        }
        seen.push(line);
    }
    panic!(
        "the binary never said it was serving; log so far:\n{}",
        seen.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_then_drains_an_upload_on_sigterm_and_exits_0() {
    bounded(60, "binary drain", async {
        let data = tempfile::tempdir().expect("temp dir");
        let store = data.path().join("store");
        let mut child = command()
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .args([
                "--log-format",
                "json",
                "--shutdown-grace",
                "20",
                "--data-dir",
            ])
            .arg(&store)
            .env("NEXUS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nexus-proxy");
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (s3, admin) = tokio::task::block_in_place(|| serving_addresses(&lines));

        assert_eq!(raw::get(admin, "/healthz").await.status, 200);
        assert_eq!(raw::get(admin, "/readyz").await.status, 200);
        let host = s3.to_string();
        let res = raw::send(
            s3,
            None,
            Req::new("PUT", host.clone(), "/it-binary").signed(Payload::Hex),
        )
        .await;
        assert_eq!(res.status, 200, "create bucket: {}", res.text());

        // A slow upload: 12 frames of 64 KiB, 100 ms apart.
        let body = pattern_seeded(12 * 64 * 1024, 12);
        let frames: Vec<Bytes> = body.chunks(64 * 1024).map(Bytes::copy_from_slice).collect();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let mut req = Req::new(
            "PUT",
            host.clone(),
            object_path("it-binary", "slow/segment.log"),
        )
        .body(body.clone())
        .signed(Payload::Unsigned);
        *req.body_mut() = raw::slow(frames, Duration::from_millis(100), started_tx);
        let mut conn = Conn::open(s3, None).await;
        let upload = tokio::spawn(async move { conn.send(req).await });
        started.await.expect("the upload started");
        tokio::time::sleep(Duration::from_millis(150)).await;

        let pid = child.id().to_string();
        let kill = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(kill.success(), "kill -TERM {pid}");

        // The listener closes: new connections are refused while the upload goes on.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if tokio::net::TcpStream::connect(s3).await.is_err() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the S3 port still accepts after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            !upload.is_finished(),
            "the upload ended before the drain was observed"
        );

        let res = upload.await.expect("upload task");
        assert_eq!(
            res.status,
            200,
            "the in-flight upload finished: {}",
            res.text()
        );
        let status = tokio::task::block_in_place(|| {
            wait_exit(&mut child, Duration::from_secs(20), "after SIGTERM")
        });
        assert_eq!(
            status.code(),
            Some(0),
            "exit status after SIGTERM: {status}"
        );
        let log: Vec<String> = lines.try_iter().collect();
        assert!(
            log.iter().any(|l| l.contains("SIGTERM")),
            "the log names the signal:\n{}",
            log.join("\n")
        );

        // The drained upload is durable: a new worker on the same data directory serves it.
        let proxy = Proxy::start_in(Options::default(), data).await;
        let client = proxy.client();
        let env = Env::from_proxy(Kind::Embedded, proxy, client);
        assert_eq!(env.get("it-binary", "slow/segment.log").await, body);
    })
    .await;
}
