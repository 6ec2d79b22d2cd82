//! Single S3 requests, shared by the load loop and the correctness check.

use anyhow::{Context, anyhow, bail};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::body::SdkBody;

use crate::pattern::{PATTERN_LEN, PatternBody, pattern};

/// Key of a GET benchmark object of `size` bytes that the backend serves without a PUT.
pub fn fixed_key(size: u64) -> String {
    format!("fixed/{size}")
}

/// A PUT body of `size` pattern bytes: one zero-copy slice of the shared buffer when it fits,
/// else a stream of such slices with an exact length. Nothing is allocated per request.
pub fn put_body(size: u64) -> ByteStream {
    match usize::try_from(size) {
        Ok(n) if n <= PATTERN_LEN => ByteStream::from(pattern().slice(..n)),
        _ => ByteStream::new(SdkBody::retryable(move || {
            SdkBody::from_body_1_x(PatternBody::new(0, size))
        })),
    }
}

/// PUTs `size` pattern bytes, payload signing disabled (the client does not hash the body).
pub async fn put(client: &Client, bucket: &str, key: &str, size: u64) -> anyhow::Result<()> {
    let len = i64::try_from(size).context("size too large")?;
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_length(len)
        .body(put_body(size))
        .customize()
        .disable_payload_signing()
        .send()
        .await
        .map_err(|e| anyhow!("PUT {key}: {}", DisplayErrorContext(e)))?;
    Ok(())
}

/// GETs `key` (optionally a `Range`), reads the body to the end and returns it when `keep`,
/// else only counts it. Fails when the byte count differs from Content-Length.
pub async fn get(
    client: &Client,
    bucket: &str,
    key: &str,
    range: Option<&str>,
    keep: bool,
) -> anyhow::Result<(u64, Vec<u8>)> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_range(range.map(str::to_owned))
        .send()
        .await
        .map_err(|e| anyhow!("GET {key}: {}", DisplayErrorContext(e)))?;
    let declared = out.content_length();
    let mut body = out.body;
    let mut n: u64 = 0;
    let mut kept = Vec::new();
    while let Some(chunk) = body
        .try_next()
        .await
        .with_context(|| format!("GET {key}: reading the body"))?
    {
        n += chunk.len() as u64;
        if keep {
            kept.extend_from_slice(&chunk);
        }
    }
    if let Some(declared) = declared
        && u64::try_from(declared).ok() != Some(n)
    {
        bail!("GET {key}: Content-Length {declared} but {n} bytes received");
    }
    Ok((n, kept))
}

/// Creates each of `buckets`.
///
/// # Errors
/// A bucket could not be created.
pub async fn create_buckets(client: &Client, buckets: &[&str]) -> anyhow::Result<()> {
    for b in buckets {
        client
            .create_bucket()
            .bucket(*b)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("create {b}: {e:?}"))?;
    }
    Ok(())
}

/// HEADs `key`, returning its Content-Length.
pub async fn head(client: &Client, bucket: &str, key: &str) -> anyhow::Result<u64> {
    let out = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| anyhow!("HEAD {key}: {}", DisplayErrorContext(e)))?;
    let len = out.content_length().unwrap_or(-1);
    u64::try_from(len).map_err(|_| anyhow!("HEAD {key}: no Content-Length"))
}
