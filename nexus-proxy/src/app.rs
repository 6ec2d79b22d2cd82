//! Wiring: builds a worker from a validated [`Config`] and runs it until shut down.

use std::net::SocketAddr;
use std::sync::Arc;

use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::info;

use crate::access::{Authenticated, ClientKeys};
use crate::admin::{Admin, Readiness};
use crate::config::{BackendConfig, Config, ConfigError};
use crate::control::Control;
use crate::edge::Edge;
use crate::frontend::{Frontend, Grammars, staging_gc};
use crate::host::VirtualHosts;
use crate::mesh::Mesh;
use crate::metrics::Metrics;
use crate::named_stores::NamedStores;
use crate::pipeline::Pipelines;
use crate::state::StateService;
use crate::streamlet::Runtime;
use crate::{serve, store, tls};

/// Why a worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration (exit code 64).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The metadata store cannot be used (exit code 1).
    #[error("metadata store: {0}")]
    Meta(String),
    /// The streamlet runtime cannot start on this machine (exit code 1).
    #[error("streamlet runtime: {0}")]
    Streamlets(String),
    /// A port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A started worker.
pub struct Running {
    /// Where the S3 port listens.
    pub s3_addr: SocketAddr,
    /// Where the admin port listens.
    pub admin_addr: SocketAddr,
    /// The control plane (policies) this worker serves from.
    pub control: Arc<Control>,
    shutdown: watch::Sender<bool>,
    ready: Arc<Readiness>,
    tasks: JoinSet<()>,
}

/// Builds the store, binds both ports and starts serving. Everything that can fail because of
/// configuration fails here, before any port is bound.
///
/// # Errors
/// [`StartError::Config`] for bad configuration, [`StartError::Bind`] when a port is taken.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let metrics = Metrics::new();
    let ready = Arc::new(Readiness::default());
    let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
    let store = store::open(&config.backend).await?;
    let control = Control::start(&config).await?;

    let runtime = Runtime::new(
        Some(config.data_dir.join(".nexus/wasm-cache")),
        config.streamlet_threads,
    )
    .map_err(|e| StartError::Streamlets(format!("{e:#}")))?;
    let pipelines: Arc<Pipelines> = Arc::new(Pipelines::new(
        runtime,
        control.store(),
        config.data_dir.join(".nexus/spool"),
        Arc::clone(&metrics),
    ));
    let named = Arc::new(NamedStores::new(
        Arc::clone(&store),
        matches!(config.backend, BackendConfig::Embedded { .. }),
    ));
    let grammars = Grammars::new(config.grammars.clone(), Arc::clone(&control));
    let hosts = VirtualHosts::new(config.virtual_host_domains.clone());
    let frontend = Frontend::new(
        Arc::clone(&store),
        grammars.clone(),
        Arc::clone(&metrics),
        Arc::clone(&pipelines),
        named,
        config.complete_put_max,
    );
    let mut builder = S3ServiceBuilder::new(frontend);
    builder.set_auth(ClientKeys::new(
        config.credentials.access_key.clone(),
        config.credentials.secret_key.clone(),
    ));
    builder.set_access(Authenticated);
    builder.set_host(hosts.clone());
    let s3 = builder.build();
    let admin = Admin::new(
        Arc::clone(&metrics),
        Arc::clone(&ready),
        Arc::clone(&control),
    );

    let s3_listener = bind(config.listen).await?;
    let admin_listener = bind(config.admin_listen).await?;
    let s3_addr = local_addr(&s3_listener, config.listen)?;
    let admin_addr = local_addr(&admin_listener, config.admin_listen)?;
    // Joined once the S3 port is bound: peers may forward to us as soon as they see us.
    let mesh = match &config.mesh {
        Some(m) => Some(
            Mesh::join(
                m.clone(),
                &config.meta,
                Arc::clone(&control),
                grammars,
                hosts,
                Arc::clone(&metrics),
                Arc::clone(&pipelines),
            )
            .await
            .map_err(StartError::Meta)?,
        ),
        None => {
            info!("No --swarmlet: single-node mode, every pipeline stage runs on this worker.");
            None
        }
    };
    let state = match &mesh {
        Some(m) => Some(StateService::new(
            m.cluster().clone(),
            true,
            Arc::clone(&metrics),
        )),
        None => control
            .cluster()
            .map(|c| StateService::new(c.clone(), false, Arc::clone(&metrics))),
    };
    if let Some(s) = state {
        let _ = pipelines.state.set(s);
    }
    if let Some(m) = &mesh {
        let _ = pipelines.mesh.set(Arc::downgrade(m));
    }
    let edge = Edge::new(s3, Arc::clone(&metrics), mesh.clone());

    let (shutdown, signal) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let grace = config.shutdown_grace;
    tasks.spawn(serve::serve(
        "s3",
        s3_listener,
        tls,
        edge,
        stopped(signal.clone()),
        grace,
    ));
    tasks.spawn(serve::serve(
        "admin",
        admin_listener,
        None,
        admin,
        stopped(signal.clone()),
        grace,
    ));
    if let Some(mesh) = &mesh {
        tasks.spawn(Arc::clone(mesh).run(stopped(signal.clone())));
    }
    tasks.spawn(staging_gc::run(
        store,
        config.staging_ttl,
        config.staging_sweep,
        stopped(signal),
    ));

    ready.set(true);
    info!(%s3_addr, %admin_addr, backend = %describe(&config.backend), tls = config.tls.is_some(), meta = %control.describe(), "Nexus worker serving.");
    Ok(Running {
        control,
        s3_addr,
        admin_addr,
        shutdown,
        ready,
        tasks,
    })
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

fn local_addr(l: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, StartError> {
    l.local_addr()
        .map_err(|source| StartError::Bind { addr, source })
}

async fn stopped(mut signal: watch::Receiver<bool>) {
    // An error means the sender is gone: stop as well.
    let _ = signal.wait_for(|stop| *stop).await;
}

fn describe(backend: &BackendConfig) -> String {
    match backend {
        BackendConfig::Embedded { data_dir } => format!("embedded:{}", data_dir.display()),
        BackendConfig::S3 { endpoint, .. } => endpoint.clone(),
    }
}

// === impl Running ===

impl Running {
    /// Stops accepting, reports not-ready, lets in-flight requests finish (up to the grace
    /// period) and returns when both ports are closed.
    pub async fn shutdown(mut self) {
        self.ready.set(false);
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}
