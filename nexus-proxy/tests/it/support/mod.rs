//! What every integration test needs: a worker started in process on loopback ports
//! ([`Proxy`]), real backends behind it ([`backends`]), real clients in front of it (aws-sdk-s3
//! over HTTP or TLS, and hand-built requests through hyper: [`raw`], signed by [`sigv4`]), and
//! the admin port's metrics ([`metrics`]).
#![allow(dead_code)]

pub mod backends;
pub mod metrics;
pub mod raw;
pub mod relay;
pub mod sigv4;
pub mod tls;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self as smithy_tls, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns};
use md5::{Digest as _, Md5};
use nexus_core::keys::KeyGrammar;
use nexus_proxy::app::{self, Running};
use nexus_proxy::config::{BackendConfig, ClientCredentials, Config, LogFormat, TlsFiles};
use sha2::Sha256;
use tempfile::TempDir;

use self::backends::{BACKEND_KEYS, MotoServer, S3sFsServer};
use self::tls::TestCa;

/// Credentials the proxy accepts from clients in these tests.
pub const ACCESS_KEY: &str = "it-access-key";
pub const SECRET_KEY: &str = "it-secret-key";
pub const REGION: &str = "us-east-1";
pub const MIB: usize = 1024 * 1024;

/// Runs `fut`, failing the test if it takes longer than `secs` seconds.
pub async fn bounded<T>(secs: u64, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: did not finish within {secs} s"),
    }
}

// --- the proxy ---------------------------------------------------------------------------------

/// Which store the proxy uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The embedded local-directory store.
    Embedded,
    /// `S3Backend` → s3s-fs in this process.
    S3sFs,
    /// `S3Backend` → moto_server child process.
    Moto,
}

impl Kind {
    /// The backend implements object tagging.
    pub fn tagging(self) -> bool {
        self != Kind::S3sFs
    }
    /// The backend implements ListMultipartUploads.
    pub fn lists_uploads(self) -> bool {
        self != Kind::S3sFs
    }
    /// The backend stores keys with a leading `/` or `//` (s3s-fs maps keys to file paths).
    pub fn path_like_keys(self) -> bool {
        self != Kind::S3sFs
    }
    /// The backend reports part ETags in ListParts and answers NoSuchUpload for aborted uploads
    /// (s3s-fs lists parts without ETags, in directory order, and refuses unknown uploads
    /// with 403 AccessDenied).
    pub fn full_multipart(self) -> bool {
        self != Kind::S3sFs
    }
    /// The backend refuses to delete a bucket that still holds objects (s3s-fs deletes it).
    pub fn keeps_full_buckets(self) -> bool {
        self != Kind::S3sFs
    }
    /// The backend evaluates If-Match / If-None-Match / If-(Un)Modified-Since on GET and HEAD.
    pub fn conditional_reads(self) -> bool {
        self != Kind::S3sFs
    }
}

/// How to start a worker.
#[derive(Debug, Clone)]
pub struct Options {
    pub backend: Option<String>,
    pub tls: bool,
    pub grammars: Vec<(String, KeyGrammar)>,
    pub virtual_host_domains: Vec<String>,
    pub shutdown_grace: Duration,
    /// `--meta`; the embedded file in the data directory when `None`.
    pub meta: Option<String>,
    pub policies: Option<PathBuf>,
    pub streamlets: Option<PathBuf>,
    pub meta_grace: Duration,
    pub staging_ttl: Duration,
    pub staging_sweep: Duration,
    /// `--complete-put-max`.
    pub complete_put_max: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            backend: None,
            tls: false,
            grammars: Vec::new(),
            virtual_host_domains: vec!["localhost".to_owned()],
            shutdown_grace: Duration::from_secs(5),
            meta: None,
            policies: None,
            streamlets: None,
            meta_grace: Duration::from_secs(30),
            staging_ttl: Duration::from_secs(7 * 24 * 3600),
            staging_sweep: Duration::from_secs(3600),
            complete_put_max: 5 << 30,
        }
    }
}

/// A worker serving on loopback ports, with its own data directory.
pub struct Proxy {
    pub s3: SocketAddr,
    pub admin: SocketAddr,
    pub ca: Option<TestCa>,
    running: Option<Running>,
    data: Option<TempDir>,
}

impl Proxy {
    pub async fn start(opts: Options) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        Self::start_in(opts, data).await
    }

    /// Starts a worker whose embedded store lives in `data`.
    pub async fn start_in(opts: Options, data: TempDir) -> Self {
        let ca = opts.tls.then(TestCa::new);
        let tls = ca.as_ref().map(|ca| {
            let (cert, key) = ca.write_server_files(data.path());
            TlsFiles { cert, key }
        });
        let backend = match opts.backend {
            None => BackendConfig::Embedded {
                data_dir: data.path().join("store"),
            },
            Some(endpoint) => BackendConfig::S3 {
                endpoint,
                region: REGION.to_owned(),
                access_key: BACKEND_KEYS.0.to_owned(),
                secret_key: BACKEND_KEYS.1.to_owned(),
                path_style: true,
            },
        };
        let config = Config {
            listen: "127.0.0.1:0".parse().expect("addr"),
            admin_listen: "127.0.0.1:0".parse().expect("addr"),
            backend,
            credentials: ClientCredentials {
                access_key: ACCESS_KEY.to_owned(),
                secret_key: SECRET_KEY.to_owned(),
                quickstart: false,
            },
            tls,
            virtual_host_domains: opts.virtual_host_domains,
            grammars: opts.grammars,
            data_dir: data.path().to_owned(),
            meta: opts
                .meta
                .unwrap_or_else(|| format!("file:{}", data.path().join("meta.json").display())),
            policies: opts.policies,
            streamlets: opts.streamlets,
            meta_grace: opts.meta_grace,
            staging_ttl: opts.staging_ttl,
            staging_sweep: opts.staging_sweep,
            complete_put_max: opts.complete_put_max,
            streamlet_threads: 2,
            shutdown_grace: opts.shutdown_grace,
            log_format: LogFormat::Text,
            mesh: None,
        };
        let running = match app::start(config).await {
            Ok(r) => r,
            Err(e) => panic!("the worker did not start: {e}"),
        };
        Self {
            s3: running.s3_addr,
            admin: running.admin_addr,
            ca,
            running: Some(running),
            data: Some(data),
        }
    }

    /// The worker's control plane (policy set, revision, freshness).
    pub fn control(&self) -> &nexus_proxy::control::Control {
        &self.running.as_ref().expect("running").control
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data.as_ref().expect("data dir").path().to_owned()
    }

    /// `http://127.0.0.1:PORT` or `https://localhost:PORT`.
    pub fn endpoint(&self) -> String {
        match self.ca {
            None => format!("http://{}", self.s3),
            Some(_) => format!("https://localhost:{}", self.s3.port()),
        }
    }

    /// A path-style aws-sdk-s3 client with the configured credentials.
    pub fn client(&self) -> aws_sdk_s3::Client {
        self.client_with(ACCESS_KEY, SECRET_KEY)
    }

    /// A client straight to the worker's S3 backend at `endpoint` (what is really stored).
    pub fn backend_client(&self, endpoint: &str) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            self.client_config(BACKEND_KEYS.0, BACKEND_KEYS.1)
                .endpoint_url(endpoint)
                .force_path_style(true)
                .build(),
        )
    }

    /// A path-style aws-sdk-s3 client signing with other credentials.
    pub fn client_with(&self, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            self.client_config(access_key, secret_key)
                .force_path_style(true)
                .build(),
        )
    }

    /// A client with virtual-host addressing: it sends `bucket.localhost:PORT` (resolved to
    /// loopback by the client itself).
    pub fn virtual_host_client(&self) -> aws_sdk_s3::Client {
        let endpoint = format!("http://localhost:{}", self.s3.port());
        aws_sdk_s3::Client::from_conf(
            self.client_config(ACCESS_KEY, SECRET_KEY)
                .endpoint_url(endpoint)
                .force_path_style(false)
                .build(),
        )
    }

    /// Client configuration: no retries (tests look at the first answer), so no pooled
    /// connections either (a connection the proxy closes after an early error answer, as HTTP
    /// servers do when a request body was not read, would fail the next request instead of
    /// being retried); the proxy's CA when TLS is on; every host name resolved to loopback.
    pub fn client_config(&self, access_key: &str, secret_key: &str) -> aws_sdk_s3::config::Builder {
        client_config(&self.endpoint(), self.ca.as_ref(), access_key, secret_key)
    }

    /// Stops the worker (drains in-flight requests) and gives back its data directory.
    pub async fn shutdown(mut self) -> TempDir {
        if let Some(r) = self.running.take() {
            bounded(30, "shutdown", r.shutdown()).await;
        }
        self.data.take().expect("data dir")
    }
}

/// Client configuration for `endpoint` (see [`Proxy::client_config`]).
pub fn client_config(
    endpoint: &str,
    ca: Option<&TestCa>,
    access_key: &str,
    secret_key: &str,
) -> aws_sdk_s3::config::Builder {
    let mut trust = TrustStore::empty().with_native_roots(false);
    if let Some(ca) = ca {
        trust = trust.with_pem_certificate(ca.cert_pem().as_bytes());
    }
    let http = aws_smithy_http_client::Builder::new()
        .pool_max_idle_per_host(0)
        .tls_provider(smithy_tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .expect("TLS context"),
        )
        .build_with_resolver(Loopback);
    aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http)
        .credentials_provider(Credentials::new(access_key, secret_key, None, None, "it"))
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
}

/// A path-style client of the worker at `endpoint` with the test credentials.
pub fn client_at(endpoint: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        client_config(endpoint, None, ACCESS_KEY, SECRET_KEY)
            .force_path_style(true)
            .build(),
    )
}

/// Resolves every name to 127.0.0.1 (for `bucket.localhost` and `localhost`).
#[derive(Debug, Clone)]
struct Loopback;

impl ResolveDns for Loopback {
    fn resolve_dns<'a>(&'a self, _name: &'a str) -> DnsFuture<'a> {
        DnsFuture::ready(Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]))
    }
}

// --- a proxy with a backend and a client -------------------------------------------------------

/// A worker in front of one kind of store, and a client for it.
pub struct Env {
    pub kind: Kind,
    pub proxy: Proxy,
    pub client: aws_sdk_s3::Client,
    _s3s_fs: Option<S3sFsServer>,
    _moto: Option<MotoServer>,
}

impl Env {
    pub async fn embedded() -> Self {
        let proxy = Proxy::start(Options::default()).await;
        Self::assemble(Kind::Embedded, proxy, None, None)
    }

    pub async fn s3s_fs() -> Self {
        let fs = S3sFsServer::start().await;
        let proxy = Proxy::start(Options {
            backend: Some(fs.endpoint.clone()),
            ..Options::default()
        })
        .await;
        Self::assemble(Kind::S3sFs, proxy, Some(fs), None)
    }

    /// `None` (after printing why) when moto is not installed and `CI` is not set.
    pub async fn moto(test: &str) -> Option<Self> {
        let moto = MotoServer::start_or_skip(test).await?;
        let proxy = Proxy::start(Options {
            backend: Some(moto.endpoint.clone()),
            ..Options::default()
        })
        .await;
        Some(Self::assemble(Kind::Moto, proxy, None, Some(moto)))
    }

    pub async fn of(kind: Kind, test: &str) -> Option<Self> {
        match kind {
            Kind::Embedded => Some(Self::embedded().await),
            Kind::S3sFs => Some(Self::s3s_fs().await),
            Kind::Moto => Self::moto(test).await,
        }
    }

    /// An environment around an already started worker (e.g. one with TLS).
    pub fn from_proxy(kind: Kind, proxy: Proxy, client: aws_sdk_s3::Client) -> Self {
        Self {
            kind,
            proxy,
            client,
            _s3s_fs: None,
            _moto: None,
        }
    }

    fn assemble(
        kind: Kind,
        proxy: Proxy,
        fs: Option<S3sFsServer>,
        moto: Option<MotoServer>,
    ) -> Self {
        let client = proxy.client();
        Self {
            kind,
            proxy,
            client,
            _s3s_fs: fs,
            _moto: moto,
        }
    }

    pub async fn bucket(&self, name: &str) -> String {
        self.client
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("[{:?}] create bucket {name}: {e:?}", self.kind));
        name.to_owned()
    }

    /// PutObject (in-memory body); returns the ETag.
    pub async fn put(&self, bucket: &str, key: &str, body: &[u8]) -> String {
        let out = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("[{:?}] put {key:?}: {e:?}", self.kind));
        out.e_tag().expect("etag").to_owned()
    }

    pub async fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("[{:?}] get {key:?}: {e:?}", self.kind));
        out.body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec()
    }

    /// HEAD's status: 200, or the error status.
    pub async fn head_status(&self, bucket: &str, key: &str) -> u16 {
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => 200,
            Err(e) => status_and_code(&e).0,
        }
    }

    /// Every key in `bucket` (ListObjectsV2, all pages).
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .set_continuation_token(token.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("[{:?}] list {bucket}: {e:?}", self.kind));
            out.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        out
    }
}

// --- small helpers -------------------------------------------------------------------------------

/// HTTP status and S3 code of a failed call, as the client saw them.
pub fn status_and_code<E: ProvideErrorMetadata>(err: &SdkError<E>) -> (u16, String) {
    let status = err.raw_response().map_or(0, |r| r.status().as_u16());
    let code = err.code().unwrap_or("<none>").to_owned();
    (status, code)
}

/// Deterministic, incompressible-looking bytes; `seed` makes different bodies of one length.
pub fn pattern_seeded(len: usize, seed: u32) -> Vec<u8> {
    let mut x: u32 = 0x9E37_79B9 ^ seed.wrapping_mul(0x85EB_CA6B);
    if x == 0 {
        x = 1;
    }
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let bytes = x.to_le_bytes();
        let n = (len - out.len()).min(4);
        out.extend_from_slice(&bytes[..n]);
    }
    out
}

pub fn pattern(len: usize) -> Vec<u8> {
    pattern_seeded(len, 0)
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The MD5 of `data`, hex.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// `"<md5 hex>"`: S3's ETag of a single PUT.
pub fn quoted_md5(data: &[u8]) -> String {
    format!("\"{}\"", md5_hex(data))
}

/// The example policies (`policies/`).
pub fn policies_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

/// `"<md5 of the parts' md5s>-N"`: S3's ETag of a multipart object.
pub fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut all = Md5::new();
    for p in parts {
        all.update(Md5::digest(p));
    }
    format!("\"{}-{}\"", hex::encode(all.finalize()), parts.len())
}

/// Percent-encodes a key for `x-amz-copy-source`, keeping `/`.
pub fn copy_source(bucket: &str, key: &str) -> String {
    format!("{bucket}/{}", sigv4::uri_encode(key, false))
}
