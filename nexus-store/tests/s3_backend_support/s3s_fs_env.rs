//! The usual test setup: an s3s-fs server, an `S3Backend` in front of it, a client through the
//! backend and a client straight to s3s-fs.

use aws_sdk_s3::primitives::ByteStream;
use md5::{Digest, Md5};
use nexus_store::s3::S3Backend;

use super::{S3sFsServer, backend_to, client_through};

/// One s3s-fs server, the backend in front of it, and two clients: `client` through the
/// backend, `direct` straight to s3s-fs (to see what the backend really stored).
pub struct Env {
    pub fs: S3sFsServer,
    pub client: aws_sdk_s3::Client,
    pub direct: aws_sdk_s3::Client,
}

impl Env {
    pub async fn start() -> Self {
        let fs = S3sFsServer::start().await;
        let backend: S3Backend = backend_to(&fs.endpoint);
        let direct = backend.client().clone();
        let client = client_through(backend);
        Self { fs, client, direct }
    }

    pub async fn bucket(&self, name: &str) -> String {
        self.client
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .expect("create bucket");
        name.to_owned()
    }

    pub async fn put(&self, bucket: &str, key: &str, body: &[u8]) -> String {
        let out = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key:?}: {e:?}"));
        out.e_tag().expect("etag").to_owned()
    }

    pub async fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await;
        let out = out.unwrap_or_else(|e| panic!("get {key:?}: {e:?}"));
        out.body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec()
    }
}

/// Deterministic, incompressible-looking bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9E37_79B9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
}

pub fn quoted_md5(data: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Md5::digest(data)))
}
