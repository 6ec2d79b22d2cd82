//! `s3s_fs::FileSystem` over a temp dir, served over real HTTP on loopback.

use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tempfile::TempDir;
use tokio::task::JoinHandle;

use super::{BACKEND_KEYS, serve_on_loopback};

/// A running s3s-fs server; stops accepting (and deletes its directory) when dropped.
pub struct S3sFsServer {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    root: TempDir,
    accept: JoinHandle<()>,
}

impl S3sFsServer {
    pub async fn start() -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let fs = s3s_fs::FileSystem::new(root.path()).expect("s3s-fs over the temp dir");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(BACKEND_KEYS.0, BACKEND_KEYS.1));
        let (addr, accept) = serve_on_loopback(builder.build()).await;
        Self {
            endpoint: format!("http://{addr}"),
            root,
            accept,
        }
    }

    /// The directory the objects live in.
    pub fn root(&self) -> &std::path::Path {
        self.root.path()
    }
}

impl Drop for S3sFsServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
