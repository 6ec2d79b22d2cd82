//! Test harness: a store in a temporary directory and an aws-sdk-s3 client wired to it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::body::SdkBody;
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
        let Self {
            dir,
            store,
            service,
            client,
        } = self;
        drop(client);
        drop(service);
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
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
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

/// A CompleteMultipartUpload document.
pub fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build())
                .collect(),
        ))
        .build()
}

/// Uploads one part; returns its ETag.
pub async fn upload_part(
    env: &Env,
    bucket: &str,
    key: &str,
    id: &str,
    n: i32,
    body: &[u8],
) -> String {
    env.client
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .expect("upload part")
        .e_tag
        .expect("etag")
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

/// An HTTP client that lets a test rewrite the raw request body (e.g. an aws-chunked trailer)
/// before it reaches the service.
#[derive(Debug, Clone)]
pub struct Tamper {
    inner: s3s_aws::Connector,
    edit: fn(&mut [u8]),
}

impl HttpConnector for Tamper {
    fn call(&self, mut req: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let edit = self.edit;
        HttpConnectorFuture::new(async move {
            let body = std::mem::replace(req.body_mut(), SdkBody::empty());
            let bytes = http_body_util::BodyExt::collect(body)
                .await
                .map_err(|e| ConnectorError::other(e, None))?
                .to_bytes();
            let mut raw = bytes.to_vec();
            edit(&mut raw);
            *req.body_mut() = SdkBody::from(raw);
            inner.call(req).await
        })
    }
}

impl HttpClient for Tamper {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// A client for `env`'s store through `endpoint` (an `https://` endpoint makes the SDK send
/// streaming bodies as `STREAMING-UNSIGNED-PAYLOAD-TRAILER`), rewriting bodies with `edit`.
pub fn client_with(env: &Env, endpoint: &str, edit: fn(&mut [u8])) -> Client {
    let tamper = Tamper {
        inner: s3s_aws::Connector::from(env.service.clone()),
        edit,
    };
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .http_client(tamper)
        .build();
    Client::from_conf(config)
}

/// A streaming (file-backed) body, which the SDK sends aws-chunked with a checksum trailer.
pub async fn streaming_body(env: &Env, data: &[u8]) -> ByteStream {
    let path = env.path().join(format!("upload-{}.tmp", data.len()));
    std::fs::write(&path, data).expect("write temp body");
    ByteStream::from_path(&path).await.expect("file body")
}
