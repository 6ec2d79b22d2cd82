//! Worker runtime configuration: command-line flags, each with a `NEXUS_*` environment variable.
//!
//! Parsing and validation happen before any port is bound; `main` exits with code 64 (EX_USAGE)
//! on any error found here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use nexus_core::keys::{KeyGrammar, System};

/// Access key used when none is configured (printed at startup).
pub const QUICKSTART_ACCESS_KEY: &str = "nexus";
/// Secret key used when none is configured (printed at startup).
pub const QUICKSTART_SECRET_KEY: &str = "nexus-secret-key";

/// `nexus-proxy`: an S3-compatible interception proxy for tiered stream storage.
#[derive(Debug, Parser)]
#[command(name = "nexus-proxy", version, about, long_about = None)]
pub struct Args {
    /// Address of the S3 endpoint that brokers talk to.
    #[arg(long, env = "NEXUS_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,

    /// Address of the admin endpoint (/metrics, /healthz, /readyz).
    #[arg(long, env = "NEXUS_ADMIN_LISTEN", default_value = "127.0.0.1:9100")]
    pub admin_listen: SocketAddr,

    /// Directory of the embedded store (used when no --backend-endpoint is given).
    #[arg(long, env = "NEXUS_DATA_DIR", default_value = "./nexus-data")]
    pub data_dir: PathBuf,

    /// URL of an S3 endpoint to use as the backend instead of the embedded store.
    #[arg(long, env = "NEXUS_BACKEND_ENDPOINT")]
    pub backend_endpoint: Option<String>,

    /// Region of the backend S3 endpoint.
    #[arg(long, env = "NEXUS_BACKEND_REGION", default_value = "us-east-1")]
    pub backend_region: String,

    /// Access key for the backend S3 endpoint.
    #[arg(long, env = "NEXUS_BACKEND_ACCESS_KEY")]
    pub backend_access_key: Option<String>,

    /// Secret key for the backend S3 endpoint.
    #[arg(long, env = "NEXUS_BACKEND_SECRET_KEY", hide_env_values = true)]
    pub backend_secret_key: Option<String>,

    /// Address the backend with path-style URLs (most non-AWS endpoints need this).
    #[arg(long, env = "NEXUS_BACKEND_PATH_STYLE")]
    pub backend_path_style: bool,

    /// Access key that clients (brokers) sign their requests with.
    #[arg(long, env = "NEXUS_ACCESS_KEY")]
    pub access_key: Option<String>,

    /// Secret key that clients (brokers) sign their requests with.
    #[arg(long, env = "NEXUS_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// PEM certificate chain: serve the S3 port over TLS (needs --tls-key).
    #[arg(long, env = "NEXUS_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, env = "NEXUS_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// Base domains for virtual-host addressing (`bucket.<domain>`), comma-separated.
    /// Requests to any other host name or to an IP address use path-style addressing.
    #[arg(
        long,
        env = "NEXUS_VIRTUAL_HOST_DOMAIN",
        value_delimiter = ',',
        default_value = "localhost"
    )]
    pub virtual_host_domain: Vec<String>,

    /// Key grammar of a bucket: `BUCKET=SYSTEM[:PREFIX]` (system: kafka, pulsar, pravega,
    /// redpanda, generic), comma-separated or repeated. Unlisted buckets are generic.
    #[arg(long, env = "NEXUS_KEY_GRAMMAR", value_delimiter = ',')]
    pub key_grammar: Vec<String>,

    /// The metadata store (policies, stores, streamlets, swarmlets): `memory`, `file:PATH` or
    /// `redis://[USER:PASSWORD@]HOST[:PORT][/DB]` / `rediss://…`. Default: the embedded file
    /// `<data-dir>/meta.json`, which the `nexus` CLI run from the same directory also uses.
    #[arg(long, env = "NEXUS_META", hide_env_values = true)]
    pub meta: Option<String>,

    /// A YAML file or directory of resources (policies, ...) to validate and apply at start.
    #[arg(long, env = "NEXUS_POLICIES")]
    pub policies: Option<PathBuf>,

    /// A directory of streamlets to deploy at start: each `NAME.wasm` with its descriptor
    /// `NAME.yaml` (`scripts/build-streamlets.sh` lays out `streamlets/dist/` so).
    #[arg(long, env = "NEXUS_STREAMLETS")]
    pub streamlets: Option<PathBuf>,

    /// Seconds to keep serving from the last policy snapshot while the metadata store is
    /// unreachable before /readyz reports not ready.
    #[arg(long, env = "NEXUS_META_GRACE", default_value_t = 30)]
    pub meta_grace: u64,

    /// Streamlet invocations that run at once (threads of the WASM pool); 0: one per core.
    #[arg(long, env = "NEXUS_STREAMLET_THREADS", default_value_t = 0)]
    pub streamlet_threads: usize,

    /// Seconds after which an incomplete multipart upload that Nexus stages (objects under a
    /// policy) is deleted, as an S3 lifecycle rule would abort it.
    #[arg(long, env = "NEXUS_STAGING_TTL", default_value_t = 7 * 24 * 3600)]
    pub staging_ttl: u64,

    /// Seconds between sweeps of the staging area (`.nexus-staging/` in every bucket).
    #[arg(long, env = "NEXUS_STAGING_SWEEP", default_value_t = 3600)]
    pub staging_sweep: u64,

    /// Largest object, in bytes, that the Complete of a staged upload writes with one PUT
    /// (5 MiB to 5 GiB). Larger objects are assembled as a multipart upload in the store they
    /// go to; in the bucket's own store, staged parts of 5 MiB or more are copied inside it.
    /// The default, 5 GiB, is what one PUT can take. Lower it for a store that copies cheaply
    /// (AWS S3), to keep those bytes off the worker.
    #[arg(long, env = "NEXUS_COMPLETE_PUT_MAX", default_value_t = 5 << 30)]
    pub complete_put_max: u64,

    /// Seconds to let in-flight requests finish after SIGTERM before closing connections.
    #[arg(long, env = "NEXUS_SHUTDOWN_GRACE", default_value_t = 30)]
    pub shutdown_grace: u64,

    /// Join the mesh as a worker of this swarmlet (needs a Redis --meta and --cluster-secret).
    /// Without it the worker runs alone: every stage here (single-node mode).
    #[arg(long, env = "NEXUS_SWARMLET")]
    pub swarmlet: Option<String>,

    /// This worker's location (`edge`, `cloud`, ...); default: the swarmlet's name.
    #[arg(long, env = "NEXUS_LOCATION")]
    pub location: Option<String>,

    /// Hardware labels of this worker (`gpu`, ...), comma-separated.
    #[arg(long, env = "NEXUS_HARDWARE", value_delimiter = ',')]
    pub hardware: Vec<String>,

    /// The URL other workers dial to reach this one (`http://10.0.0.5:9000`); default: the
    /// --listen address (which must then not be a wildcard address).
    #[arg(long, env = "NEXUS_ADVERTISE")]
    pub advertise: Option<String>,

    /// The secret every worker of the mesh signs internal requests with (at least 16 bytes).
    #[arg(long, env = "NEXUS_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,

    /// PEM CA certificates that signed the other workers' certificates: `https://` peers are
    /// verified against these only; default: this worker's --tls-cert chain.
    #[arg(long, env = "NEXUS_CLUSTER_CA")]
    pub cluster_ca: Option<PathBuf>,

    /// Log format.
    #[arg(long, env = "NEXUS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub backend: BackendConfig,
    pub credentials: ClientCredentials,
    pub tls: Option<TlsFiles>,
    pub virtual_host_domains: Vec<String>,
    pub grammars: Vec<(String, KeyGrammar)>,
    /// `--data-dir`: the embedded store (when it is the backend), the default metadata file,
    /// precompiled streamlets and spooled bodies.
    pub data_dir: PathBuf,
    /// The metadata store URL (see `--meta`).
    pub meta: String,
    pub policies: Option<PathBuf>,
    pub streamlets: Option<PathBuf>,
    pub meta_grace: Duration,
    pub staging_ttl: Duration,
    pub staging_sweep: Duration,
    /// `--complete-put-max`, checked.
    pub complete_put_max: u64,
    /// Threads of the WASM pool (`--streamlet-threads`; 0 was resolved to the core count).
    pub streamlet_threads: usize,
    pub shutdown_grace: Duration,
    pub log_format: LogFormat,
    /// `--swarmlet` and friends; `None`: single-node mode.
    pub mesh: Option<MeshConfig>,
}

/// Mesh membership of this worker.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    pub swarmlet: String,
    pub location: String,
    pub hardware: Vec<String>,
    /// `http://host:port`, or `https://host:port` when the S3 port serves TLS; no path.
    pub advertise: String,
    pub secret: Vec<u8>,
    /// How `https://` peers are verified: the --cluster-ca certificates, or the --tls-cert
    /// chain, as the only trust anchors (neither: none, so only `http://` peers are reachable).
    pub peer_tls: Arc<rustls::ClientConfig>,
}

/// Where objects are stored.
#[derive(Debug, Clone)]
pub enum BackendConfig {
    /// The embedded local-directory store.
    Embedded { data_dir: PathBuf },
    /// An S3 endpoint.
    S3 {
        endpoint: String,
        region: String,
        access_key: String,
        secret_key: String,
        path_style: bool,
    },
}

/// The credentials clients sign with.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub access_key: String,
    pub secret_key: String,
    /// True when the quickstart defaults are in use.
    pub quickstart: bool,
}

/// Certificate and key files for TLS on the S3 port.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A configuration error: reported before any port is bound.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

impl From<String> for ConfigError {
    fn from(msg: String) -> Self {
        Self(msg)
    }
}

// === impl Args ===

impl Args {
    /// Checks everything that can be checked without binding a port.
    ///
    /// # Errors
    /// A message naming the flag and what is wrong with it.
    pub fn validate(self) -> Result<Config, ConfigError> {
        // Port 0 asks the OS for a free port on each listener, so equal `:0` addresses are fine.
        if self.listen == self.admin_listen && self.listen.port() != 0 {
            return Err(err(format!(
                "--listen and --admin-listen are both {}; the admin port must be separate",
                self.listen
            )));
        }
        let mesh = mesh_config(&self)?;
        Ok(Config {
            mesh,
            backend: backend_config(&self)?,
            credentials: client_credentials(self.access_key, self.secret_key)?,
            tls: tls_files(self.tls_cert, self.tls_key)?,
            virtual_host_domains: virtual_host_domains(self.virtual_host_domain)?,
            grammars: self
                .key_grammar
                .iter()
                .filter(|s| !s.trim().is_empty())
                .map(|s| parse_grammar(s))
                .collect::<Result<_, _>>()?,
            meta: meta_url(self.meta.as_deref(), &self.data_dir)?,
            data_dir: self.data_dir.clone(),
            policies: match self.policies {
                Some(p) if !p.exists() => {
                    return Err(err(format!(
                        "--policies {}: no such file or directory",
                        p.display()
                    )));
                }
                other => other,
            },
            streamlets: match self.streamlets {
                Some(p) if !p.is_dir() => {
                    return Err(err(format!(
                        "--streamlets {}: not a directory",
                        p.display()
                    )));
                }
                other => other,
            },
            meta_grace: Duration::from_secs(self.meta_grace),
            staging_ttl: Duration::from_secs(self.staging_ttl),
            streamlet_threads: match self.streamlet_threads {
                0 => std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
                n => n,
            },
            complete_put_max: if (5 << 20..=5 << 30).contains(&self.complete_put_max) {
                self.complete_put_max
            } else {
                return Err(err(format!(
                    "--complete-put-max {} is not between 5 MiB (5242880) and 5 GiB (5368709120)",
                    self.complete_put_max
                )));
            },
            staging_sweep: if self.staging_sweep == 0 {
                return Err(err("--staging-sweep must be at least 1 second".to_owned()));
            } else {
                Duration::from_secs(self.staging_sweep)
            },
            listen: self.listen,
            admin_listen: self.admin_listen,
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            log_format: self.log_format,
        })
    }
}

fn meta_url(meta: Option<&str>, data_dir: &std::path::Path) -> Result<String, ConfigError> {
    let Some(url) = meta.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(format!("file:{}", data_dir.join("meta.json").display()));
    };
    let known = url == "memory"
        || url.starts_with("file:")
        || url.starts_with("redis://")
        || url.starts_with("rediss://");
    if known {
        Ok(url.to_owned())
    } else {
        Err(err(format!(
            "--meta {}: expected memory, file:PATH, redis://… or rediss://…",
            nexus_core::meta::redact_url(url)
        )))
    }
}

fn mesh_config(args: &Args) -> Result<Option<MeshConfig>, ConfigError> {
    use nexus_core::cluster::validate_label;
    let Some(swarmlet) = args.swarmlet.clone() else {
        if args.location.is_some()
            || !args.hardware.is_empty()
            || args.advertise.is_some()
            || args.cluster_ca.is_some()
        {
            return Err(err(
                "--location, --hardware, --advertise and --cluster-ca need --swarmlet",
            ));
        }
        return Ok(None);
    };
    validate_label("--swarmlet", &swarmlet)?;
    let location = args.location.clone().unwrap_or_else(|| swarmlet.clone());
    validate_label("--location", &location)?;
    let mut hardware: Vec<String> = args
        .hardware
        .iter()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .collect();
    for h in &hardware {
        validate_label("--hardware", h)?;
    }
    hardware.sort();
    hardware.dedup();
    let meta = args.meta.as_deref().unwrap_or_default();
    if !meta.starts_with("redis://") && !meta.starts_with("rediss://") {
        return Err(err(
            "--swarmlet needs a Redis metadata store shared by every worker (--meta redis://…)",
        ));
    }
    let secret = match args.cluster_secret.as_deref() {
        Some(s) if s.len() >= 16 => s.as_bytes().to_vec(),
        Some(_) => return Err(err("--cluster-secret must be at least 16 bytes")),
        None => {
            return Err(err(
                "--swarmlet needs --cluster-secret (or NEXUS_CLUSTER_SECRET)",
            ));
        }
    };
    // The S3 port speaks TLS or plain HTTP, never both: peers dial it with the same scheme.
    let scheme = if args.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let advertise = match args.advertise.as_deref() {
        Some(a) => {
            let uri: http::Uri = a
                .parse()
                .map_err(|e| err(format!("--advertise {a:?} is not a URL: {e}")))?;
            let plain_path = matches!(uri.path(), "" | "/") && uri.query().is_none();
            if uri.scheme_str() != Some(scheme) || uri.host().is_none() || !plain_path {
                let why = if args.tls_cert.is_some() {
                    " (the S3 port serves TLS)"
                } else {
                    " (the S3 port serves plain HTTP without --tls-cert)"
                };
                return Err(err(format!(
                    "--advertise {a:?} must be {scheme}://HOST:PORT without a path{why}"
                )));
            }
            a.trim_end_matches('/').to_owned()
        }
        None if args.listen.ip().is_unspecified() || args.listen.port() == 0 => {
            return Err(err(format!(
                "--listen {} cannot be dialled by other workers: give --advertise",
                args.listen
            )));
        }
        None => format!("{scheme}://{}", args.listen),
    };
    let roots = match (&args.cluster_ca, &args.tls_cert) {
        (Some(ca), _) => Some(("--cluster-ca", ca.as_path())),
        (None, Some(cert)) => Some(("--tls-cert", cert.as_path())),
        (None, None) => None,
    };
    let peer_tls = crate::tls::peer_client(roots)?;
    Ok(Some(MeshConfig {
        swarmlet,
        location,
        hardware,
        advertise,
        secret,
        peer_tls,
    }))
}

fn backend_config(args: &Args) -> Result<BackendConfig, ConfigError> {
    let Some(endpoint) = args.backend_endpoint.clone() else {
        if args.backend_access_key.is_some() || args.backend_secret_key.is_some() {
            return Err(err(
                "--backend-access-key/--backend-secret-key need --backend-endpoint",
            ));
        }
        return Ok(BackendConfig::Embedded {
            data_dir: args.data_dir.clone(),
        });
    };
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| err(format!("--backend-endpoint {endpoint:?} is not a URL: {e}")))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => {}
        _ => {
            return Err(err(format!(
                "--backend-endpoint {endpoint:?} must be an http:// or https:// URL with a host"
            )));
        }
    }
    let (Some(access_key), Some(secret_key)) = (
        args.backend_access_key.clone(),
        args.backend_secret_key.clone(),
    ) else {
        return Err(err(
            "--backend-endpoint needs --backend-access-key and --backend-secret-key",
        ));
    };
    if args.backend_region.trim().is_empty() {
        return Err(err("--backend-region must not be empty"));
    }
    Ok(BackendConfig::S3 {
        endpoint,
        region: args.backend_region.clone(),
        access_key,
        secret_key,
        path_style: args.backend_path_style,
    })
}

fn client_credentials(
    access_key: Option<String>,
    secret_key: Option<String>,
) -> Result<ClientCredentials, ConfigError> {
    match (access_key, secret_key) {
        (None, None) => Ok(ClientCredentials {
            access_key: QUICKSTART_ACCESS_KEY.to_owned(),
            secret_key: QUICKSTART_SECRET_KEY.to_owned(),
            quickstart: true,
        }),
        (Some(a), Some(s)) if !a.is_empty() && !s.is_empty() => Ok(ClientCredentials {
            access_key: a,
            secret_key: s,
            quickstart: false,
        }),
        (Some(_), Some(_)) => Err(err("--access-key and --secret-key must not be empty")),
        _ => Err(err("--access-key and --secret-key must be given together")),
    }
}

fn tls_files(cert: Option<PathBuf>, key: Option<PathBuf>) -> Result<Option<TlsFiles>, ConfigError> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => {
            for (flag, path) in [("--tls-cert", &cert), ("--tls-key", &key)] {
                if !path.is_file() {
                    return Err(err(format!("{flag} {}: no such file", path.display())));
                }
            }
            Ok(Some(TlsFiles { cert, key }))
        }
        _ => Err(err("--tls-cert and --tls-key must be given together")),
    }
}

fn virtual_host_domains(domains: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for d in domains {
        let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
        if d.is_empty() {
            continue;
        }
        let valid = d.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if !valid {
            return Err(err(format!(
                "--virtual-host-domain {d:?} is not a domain name (no port, no scheme)"
            )));
        }
        out.push(d);
    }
    Ok(out)
}

/// Parses `BUCKET=SYSTEM[:PREFIX]`.
fn parse_grammar(spec: &str) -> Result<(String, KeyGrammar), ConfigError> {
    let spec = spec.trim();
    let Some((bucket, rest)) = spec.split_once('=') else {
        return Err(err(format!(
            "--key-grammar {spec:?}: expected BUCKET=SYSTEM[:PREFIX], e.g. kafka-tiered=kafka:tiered/"
        )));
    };
    let (system, prefix) = match rest.split_once(':') {
        Some((s, p)) => (s, Some(p)),
        None => (rest, None),
    };
    let system: System = system
        .parse()
        .map_err(|e| err(format!("--key-grammar {spec:?}: {e}")))?;
    if bucket.is_empty() {
        return Err(err(format!("--key-grammar {spec:?}: empty bucket name")));
    }
    let mut grammar = KeyGrammar::new(system);
    if let Some(p) = prefix.filter(|p| !p.is_empty()) {
        grammar = grammar.with_prefix(p);
    }
    Ok((bucket.to_owned(), grammar))
}

#[cfg(test)]
mod tests;
