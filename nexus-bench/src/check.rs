//! `nexus-bench check`: a short correctness pass (sizes, ranges, 404s, aws-chunked PUTs) with
//! aws-sdk-s3 against any endpoint, the backend directly or the proxy in front of it.

use anyhow::{anyhow, bail, ensure};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;

use crate::ops;
use crate::pattern::byte_at;

/// One check and what happened.
#[derive(Debug)]
pub struct Outcome {
    pub name: &'static str,
    pub result: anyhow::Result<()>,
}

/// Runs every check; `chunked` is a client with SDK checksums on (aws-chunked PUT bodies).
pub async fn run(client: &Client, chunked: &Client, bucket: &str) -> Vec<Outcome> {
    let mut out = Vec::new();
    macro_rules! check {
        ($name:literal, $body:expr) => {
            out.push(Outcome {
                name: $name,
                result: $body.await,
            });
        };
    }
    check!("create bucket", create_bucket(client, bucket));
    check!(
        "small object: PUT, HEAD, GET",
        round_trip(client, bucket, "check/small", 1000)
    );
    check!("empty object", round_trip(client, bucket, "check/empty", 0));
    check!(
        "3 MiB streamed object",
        round_trip(client, bucket, "check/big", (3 << 20) + 5)
    );
    check!(
        "odd key",
        round_trip(client, bucket, "check/a b/%2F/ü+&=", 17)
    );
    check!("ranges", ranges(client, bucket, "check/big", (3 << 20) + 5));
    check!("fixed/<size> without PUT", fixed(client, bucket));
    check!("missing key: 404", missing(client, bucket, "check/nope"));
    check!("unsatisfiable range: 416", unsatisfiable(client, bucket));
    check!("delete then 404", delete(client, bucket, "check/small"));
    check!(
        "aws-chunked PUT (SDK CRC32)",
        round_trip(chunked, bucket, "check/crc", (2 << 20) + 3)
    );
    out
}

async fn create_bucket(client: &Client, bucket: &str) -> anyhow::Result<()> {
    client
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| anyhow!("CreateBucket: {}", DisplayErrorContext(e)))?;
    client
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| anyhow!("HeadBucket: {}", DisplayErrorContext(e)))?;
    Ok(())
}

fn verify(data: &[u8], start: u64) -> anyhow::Result<()> {
    for (i, b) in data.iter().enumerate() {
        let want = byte_at(start + i as u64);
        if *b != want {
            bail!(
                "byte {} is {b:#04x}, expected {want:#04x}",
                start + i as u64
            );
        }
    }
    Ok(())
}

async fn round_trip(client: &Client, bucket: &str, key: &str, size: u64) -> anyhow::Result<()> {
    ops::put(client, bucket, key, size).await?;
    let len = ops::head(client, bucket, key).await?;
    ensure!(len == size, "HEAD says {len} bytes, expected {size}");
    let (n, data) = ops::get(client, bucket, key, None, true).await?;
    ensure!(n == size, "GET returned {n} bytes, expected {size}");
    verify(&data, 0)
}

async fn ranges(client: &Client, bucket: &str, key: &str, size: u64) -> anyhow::Result<()> {
    let cases = [
        ("bytes=10-19".to_owned(), 10, 10),
        (format!("bytes={}-", size - 100), size - 100, 100),
        ("bytes=-7".to_owned(), size - 7, 7),
        (
            (format!("bytes={}-{}", (1 << 20) - 3, (1 << 20) + 2)),
            (1 << 20) - 3,
            6,
        ),
        (format!("bytes=0-{}", size + 1000), 0, size),
    ];
    for (range, start, len) in cases {
        let out = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(&range)
            .send()
            .await
            .map_err(|e| anyhow!("GET {range}: {}", DisplayErrorContext(e)))?;
        let want_cr = format!("bytes {start}-{}/{size}", start + len - 1);
        ensure!(
            out.content_range() == Some(want_cr.as_str()),
            "{range}: Content-Range {:?}, expected {want_cr}",
            out.content_range()
        );
        let data = out.body.collect().await?.into_bytes();
        ensure!(
            data.len() as u64 == len,
            "{range}: {} bytes, expected {len}",
            data.len()
        );
        verify(&data, start)?;
    }
    Ok(())
}

async fn fixed(client: &Client, bucket: &str) -> anyhow::Result<()> {
    let key = ops::fixed_key(12345);
    let (n, data) = ops::get(client, bucket, &key, None, true).await?;
    ensure!(n == 12345, "GET {key}: {n} bytes");
    verify(&data, 0)?;
    let etag1 = client
        .head_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await?
        .e_tag;
    let etag2 = client
        .head_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await?
        .e_tag;
    ensure!(
        etag1.is_some() && etag1 == etag2,
        "unstable ETag {etag1:?} / {etag2:?}"
    );
    Ok(())
}

async fn missing(client: &Client, bucket: &str, key: &str) -> anyhow::Result<()> {
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(_) => bail!("GET of a missing key succeeded"),
        Err(e) => match e.into_service_error() {
            GetObjectError::NoSuchKey(_) => {}
            other => bail!(
                "GET: expected NoSuchKey, got {}",
                DisplayErrorContext(other)
            ),
        },
    }
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => bail!("HEAD of a missing key succeeded"),
        Err(e) => match e.into_service_error() {
            HeadObjectError::NotFound(_) => Ok(()),
            other => bail!(
                "HEAD: expected NotFound, got {}",
                DisplayErrorContext(other)
            ),
        },
    }
}

async fn unsatisfiable(client: &Client, bucket: &str) -> anyhow::Result<()> {
    let r = client
        .get_object()
        .bucket(bucket)
        .key(ops::fixed_key(100))
        .range("bytes=100-")
        .send()
        .await;
    match r {
        Ok(_) => bail!("range past the end succeeded"),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).map(str::to_owned);
            ensure!(
                status == Some(416) && code.as_deref() == Some("InvalidRange"),
                "expected 416 InvalidRange, got {status:?} {code:?}"
            );
            Ok(())
        }
    }
}

async fn delete(client: &Client, bucket: &str, key: &str) -> anyhow::Result<()> {
    client
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| anyhow!("DELETE: {}", DisplayErrorContext(e)))?;
    missing(client, bucket, key).await
}
