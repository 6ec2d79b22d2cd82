//! The mesh with real worker processes (the built `nexus-proxy`), a real `redis-server` as the
//! metadata store and one s3s-fs server as the shared backend, all on loopback.

mod output_store;
mod placement;
mod replay;
mod routing;
mod security;
mod stateful;
mod survival;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nexus_core::cluster::{RedisCluster, Ring, View, route_key};
use nexus_core::keys::{KeyGrammar, System};
use nexus_core::meta::test_util::RedisServer;
use tempfile::TempDir;

use crate::pipeline::dist;
use crate::support::backends::{BACKEND_KEYS, S3sFsServer, free_port, wait_for_listener};
use crate::support::tls::TestCa;
use crate::support::{ACCESS_KEY, SECRET_KEY, client_at, client_config, policies_dir};

pub const SECRET: &str = "it-cluster-secret-0123456789";
pub const BUCKET: &str = "kafka-tiered";

/// A Kafka segment key of topic `logs-app`, partition `p`.
pub fn segment_key(p: u64, offset: u64) -> String {
    format!("tiered/logs-app-MWJ6FHTfRYy67jzwZdeqSQ/{p}/{offset:020}-tqimKeZwStOEOwRzT3L5oQ.log")
}

/// The ring key the workers route `key` by.
pub fn ring_key(key: &str) -> Vec<u8> {
    let class = KeyGrammar::new(System::Kafka)
        .with_prefix("tiered/")
        .classify(key, None);
    route_key(
        "kafka",
        class.stream.as_deref().expect("stream"),
        class.partition.expect("partition"),
    )
}

/// How one worker is started.
#[derive(Clone)]
pub struct Spec {
    pub swarmlet: &'static str,
    pub location: &'static str,
    pub hardware: &'static [&'static str],
    pub extra: Vec<String>,
    /// Serve the S3 port over TLS with a certificate of this CA (`--tls-cert`, chain with the
    /// CA, which the worker then also trusts for its peers).
    pub tls: Option<Arc<TestCa>>,
}

impl Spec {
    pub fn at(
        swarmlet: &'static str,
        location: &'static str,
        hardware: &'static [&'static str],
    ) -> Self {
        Self {
            swarmlet,
            location,
            hardware,
            extra: Vec::new(),
            tls: None,
        }
    }

    /// This spec serving TLS with a certificate of `ca`.
    pub fn with_tls(mut self, ca: &Arc<TestCa>) -> Self {
        self.tls = Some(Arc::clone(ca));
        self
    }

    /// edge; edge-gpu (location edge, `gpu`); cloud.
    pub fn three_swarmlets() -> Vec<Self> {
        vec![
            Self::at("edge", "edge", &[]),
            Self::at("edge-gpu", "edge", &["gpu"]),
            Self::at("cloud", "cloud", &[]),
        ]
    }

    pub fn edge() -> Self {
        Self::at("edge", "edge", &[])
    }
}

/// One worker process (killed when dropped).
pub struct Worker {
    child: Option<Child>,
    pub s3: SocketAddr,
    pub admin: SocketAddr,
    dir: TempDir,
    swarmlet: &'static str,
    /// The CA of its S3 port's certificate, when it serves TLS.
    tls: Option<Arc<TestCa>>,
}

impl Worker {
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.s3)
    }

    pub fn client(&self) -> aws_sdk_s3::Client {
        match &self.tls {
            None => client_at(&self.endpoint()),
            Some(ca) => aws_sdk_s3::Client::from_conf(
                client_config(&self.endpoint(), Some(ca), ACCESS_KEY, SECRET_KEY)
                    .force_path_style(true)
                    .build(),
            ),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("worker.log")).unwrap_or_default()
    }

    /// SIGKILL: no leave, no drain.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = c.try_wait().expect("wait") {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "worker did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its id in the membership view.
    pub fn id(&self, view: &View) -> String {
        let me = self.endpoint();
        view.workers()
            .find(|w| w.advertise == me)
            .map(|w| w.id.clone())
            .unwrap_or_else(|| panic!("{me} is not in the view: {view:?}"))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Redis, the backend and the workers.
pub struct Mesh {
    pub redis: RedisServer,
    pub backend: S3sFsServer,
    pub workers: Vec<Worker>,
    /// The `--policies` of every worker.
    pub policies: PathBuf,
    /// The workers' backend when not [`Self::backend`] (a moto server).
    pub backend_url: Option<String>,
}

/// Names of the environment variables the workers read the `cold` test store's keys from.
pub const COLD_KEYS_ENV: (&str, &str) = ("IT_COLD_ACCESS_KEY_ID", "IT_COLD_SECRET_ACCESS_KEY");

/// The bucket of the `cold` store.
pub const COLD: &str = "kafka-cold";

/// The `cold` store: bucket [`COLD`] of the backend.
pub fn cold_store(backend: &str) -> String {
    let (ak, sk) = COLD_KEYS_ENV;
    format!(
        "apiVersion: nexus/v1
kind: Store
metadata: {{name: cold}}
spec:
  s3:
    endpoint: {backend}
    bucket: {COLD}
    region: us-east-1
    pathStyle: true
    credentials: {{env: {{accessKeyId: {ak}, secretAccessKey: {sk}}}}}
"
    )
}

/// The `cold` store and a policy on `logs-*` that runs `route-by-key` at `location` (chunks at
/// offsets 900-909 go to `cold`) and compress-zstd at the edge.
pub fn routed_policies(backend: &str, location: &str) -> String {
    format!(
        "{}---
apiVersion: nexus/v1
kind: Policy
metadata: {{name: logs-routed}}
spec:
  system: kafka
  target: {{bucket: {BUCKET}, keyPrefix: tiered/, streams: [\"logs-*\"]}}
  pipeline:
    - {{streamlet: route-by-key, location: {location}, params: {{match: \"/0000000000000000090\", store: cold}}}}
    - {{streamlet: compress-zstd, location: edge, params: {{level: 3}}}}
  output: {{alternatives: [cold]}}
",
        cold_store(backend)
    )
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_nexus-proxy")
}

/// The `nexus` CLI built beside the worker (`cargo test --workspace` builds it).
pub fn cli() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let cli = dir.join("nexus");
    assert!(
        cli.is_file(),
        "{} is missing: build the workspace (cargo build --workspace)",
        cli.display()
    );
    cli
}

impl Mesh {
    /// Starts Redis, the backend and one worker per spec; `None` (skipped) without Redis.
    pub async fn start(test: &str, specs: Vec<Spec>) -> Option<Self> {
        Self::start_with(test, specs, policies_dir().join("kafka-logs-zstd.yaml")).await
    }

    /// As [`Self::start`], every worker applying `policies`.
    pub async fn start_with(test: &str, specs: Vec<Spec>, policies: PathBuf) -> Option<Self> {
        let redis = RedisServer::start(test)?;
        let backend = S3sFsServer::start().await;
        let mut mesh = Self {
            redis,
            backend,
            workers: Vec::new(),
            policies,
            backend_url: None,
        };
        for spec in specs {
            mesh.spawn(spec).await;
        }
        let n = mesh.workers.len();
        mesh.wait_members(n).await;
        Some(mesh)
    }

    pub fn meta_url(&self) -> String {
        self.redis.url()
    }

    /// Starts one more worker and waits until it serves.
    pub async fn spawn(&mut self, spec: Spec) -> usize {
        let dir = tempfile::tempdir().expect("dir");
        let (s3, admin) = (free_port(), free_port());
        let s3: SocketAddr = format!("127.0.0.1:{s3}").parse().expect("addr");
        let admin: SocketAddr = format!("127.0.0.1:{admin}").parse().expect("addr");
        let log = std::fs::File::create(dir.path().join("worker.log")).expect("log");
        let mut cmd = Command::new(bin());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("NEXUS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("RUST_LOG", "info,nexus_proxy=debug")
            .arg("--listen")
            .arg(s3.to_string())
            .arg("--admin-listen")
            .arg(admin.to_string())
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--meta")
            .arg(self.meta_url())
            .arg("--backend-endpoint")
            .arg(
                self.backend_url
                    .as_deref()
                    .unwrap_or(&self.backend.endpoint),
            )
            .arg("--backend-access-key")
            .arg(BACKEND_KEYS.0)
            .arg("--backend-secret-key")
            .arg(BACKEND_KEYS.1)
            .arg("--backend-path-style")
            .arg("--access-key")
            .arg(ACCESS_KEY)
            .arg("--secret-key")
            .arg(SECRET_KEY)
            .arg("--streamlets")
            .arg(dist())
            .arg("--policies")
            .arg(&self.policies)
            .env(COLD_KEYS_ENV.0, BACKEND_KEYS.0)
            .env(COLD_KEYS_ENV.1, BACKEND_KEYS.1)
            .arg("--streamlet-threads")
            .arg("2")
            .arg("--shutdown-grace")
            .arg("5")
            .arg("--swarmlet")
            .arg(spec.swarmlet)
            .arg("--location")
            .arg(spec.location)
            .arg("--cluster-secret")
            .arg(SECRET)
            .args(&spec.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if !spec.hardware.is_empty() {
            cmd.arg("--hardware").arg(spec.hardware.join(","));
        }
        if let Some(ca) = &spec.tls {
            let (cert, key) = ca.write_server_files(dir.path());
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        let child = cmd.spawn().expect("spawn nexus-proxy");
        let mut worker = Worker {
            child: Some(child),
            s3,
            admin,
            dir,
            swarmlet: spec.swarmlet,
            tls: spec.tls,
        };
        if !wait_for_listener(admin, Duration::from_secs(60)).await {
            let log = worker.log();
            worker.kill();
            panic!("worker did not start:\n{log}");
        }
        self.workers.push(worker);
        self.workers.len() - 1
    }

    pub async fn view(&self) -> View {
        RedisCluster::connect(&self.meta_url())
            .await
            .expect("redis")
            .view()
            .await
            .expect("view")
    }

    /// Waits until exactly `n` workers are live.
    pub async fn wait_members(&self, n: usize) -> View {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let view = self.view().await;
            if view.workers().count() == n {
                self.wait_converged(&view).await;
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} live workers, view: {view:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every running worker serves from its swarmlet's epoch in `view`.
    pub async fn wait_converged(&self, view: &View) {
        let deadline = Instant::now() + Duration::from_secs(5);
        for w in self.workers.iter().filter(|w| w.child.is_some()) {
            let epoch = view.swarmlets.get(w.swarmlet).map_or(0, |s| s.epoch) as f64;
            loop {
                let m = crate::support::metrics::scrape(w.admin).await;
                if m.value("nexus_mesh_epoch", &[]) >= epoch {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} did not see epoch {epoch}",
                    w.endpoint()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Index of the worker that owns `key` in swarmlet `edge`, per `view`.
    pub fn owner_of(&self, view: &View, key: &str) -> usize {
        let ids: Vec<String> = view.swarmlets["edge"]
            .workers
            .iter()
            .map(|(w, _)| w.id.clone())
            .collect();
        let ring = Ring::new(ids.iter().map(String::as_str));
        let owner = ring.owner(&ring_key(key)).expect("owner").to_owned();
        self.workers
            .iter()
            .position(|w| w.child.is_some() && w.id(view) == owner)
            .expect("owner is one of ours")
    }

    /// Creates the bucket through worker 0.
    pub async fn bucket(&self) {
        self.workers[0]
            .client()
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect("create bucket");
    }
}

/// The whole body of `bucket/key`, or the error as text.
pub async fn get(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
    let got = c
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(got
        .body
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .into_bytes()
        .to_vec())
}

/// Retries `op` like a broker's SDK does on 503 (and on connection errors), for up to `within`.
pub async fn retrying<T, E: std::fmt::Debug, F: std::future::Future<Output = Result<T, E>>>(
    within: Duration,
    what: &str,
    mut op: impl FnMut() -> F,
) -> (T, u32) {
    let deadline = Instant::now() + within;
    let mut retries = 0;
    loop {
        match op().await {
            Ok(v) => return (v, retries),
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "{what}: still failing after {within:?}: {e:?}"
                );
                retries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
