//! Test harness: a store in a temporary directory and an aws-sdk-s3 client wired to it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use md5::Digest as _;
use nexus_store::local::LocalStore;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tempfile::TempDir;

pub const ACCESS_KEY: &str = "AKIANEXUSTEST";
pub const SECRET_KEY: &str = "nexus-test-secret";

/// A store in its own directory, and a client for it.
pub struct Env {
    pub dir: TempDir,
    pub store: LocalStore,
    pub service: S3Service,
    pub client: Client,
}

impl Env {
    /// A fresh store and client.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::open(dir.path()).expect("open store");
        let (service, client) = connect(store.clone());
        Self {
            dir,
            store,
            service,
            client,
        }
    }

    /// A fresh store with one bucket.
    pub async fn with_bucket(bucket: &str) -> Self {
        let env = Self::new();
        env.client
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("create bucket");
        env
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Drops the store and opens the directory again (the old `LocalStore` must be gone).
    pub fn reopen(self) -> Self {
        let Self { dir, store, .. } = self;
        drop(store);
        let store = LocalStore::open(dir.path()).expect("reopen store");
        let (service, client) = connect(store.clone());
        Self {
            dir,
            store,
            service,
            client,
        }
    }

    pub async fn put(&self, bucket: &str, key: &str, body: &[u8]) -> String {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .expect("put object")
            .e_tag
            .expect("etag")
    }

    pub async fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .expect("get object")
            .body
            .collect()
            .await
            .expect("read body")
            .into_bytes()
            .to_vec()
    }

    /// Files under `sub` (relative to the store directory), recursively.
    pub fn files_under(&self, sub: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.path().join(sub)];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path());
                }
            }
        }
        out
    }
}

/// An in-process S3 service over `store` and an SDK client that talks to it.
pub fn connect(store: LocalStore) -> (S3Service, Client) {
    let mut builder = S3ServiceBuilder::new(store);
    builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = builder.build();
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
        .endpoint_url("http://localhost:8014")
        .force_path_style(true)
        .http_client(s3s_aws::Client::from(service.clone()))
        .build();
    (service, Client::from_conf(config))
}

/// The S3 error code of a failed SDK call.
pub fn code<E: ProvideErrorMetadata>(err: &E) -> String {
    err.code().unwrap_or("<none>").to_owned()
}

/// The HTTP status of a failed SDK call (0 without a response).
pub fn status<E>(err: &aws_sdk_s3::error::SdkError<E, HttpResponse>) -> u16 {
    err.raw_response().map_or(0, |r| r.status().as_u16())
}

/// Quoted hex MD5, as S3 returns ETags.
pub fn etag_of(data: &[u8]) -> String {
    format!("\"{}\"", hex::encode(md5::Md5::digest(data)))
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}
