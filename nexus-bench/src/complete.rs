//! CompleteMultipartUpload of a staged upload: how long a broker waits for it, for a 1 GiB
//! Kafka-style upload (25 MiB parts) through `noop` (stored parts as large as the plaintext)
//! and through compress-zstd (stored parts a tenth of it), in the embedded store.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::ensure;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;

use crate::control::{PolicyWorker, generic_policy};
use crate::pattern::PatternBody;

const MIB: u64 = 1 << 20;
const PART: u64 = 25 * MIB;
const PARTS: u64 = 41; // 1025 MiB: 41 parts of 25 MiB

/// One upload of `PARTS` parts into `bucket`: how long its Complete took.
async fn upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    text: &Bytes,
) -> anyhow::Result<Duration> {
    let id = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("create {bucket}: {e:?}"))?
        .upload_id
        .ok_or_else(|| anyhow::anyhow!("no upload id"))?;
    let mut done = Vec::new();
    for n in 1..=PARTS {
        let body = PatternBody::over(text.clone(), (n - 1) * PART, n * PART);
        let part = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .part_number(i32::try_from(n)?)
            .content_length(i64::try_from(PART)?)
            .body(ByteStream::from_body_1_x(body))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("part {n}: {e:?}"))?;
        done.push(
            CompletedPart::builder()
                .part_number(i32::try_from(n)?)
                .set_e_tag(part.e_tag)
                .build(),
        );
    }
    let started = Instant::now();
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("complete {bucket}: {e:?}"))?;
    let took = started.elapsed();
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("head {bucket}: {e:?}"))?;
    ensure!(
        head.content_length() == Some(i64::try_from(PART * PARTS)?),
        "{bucket}: wrong logical size"
    );
    Ok(took)
}

/// Runs the Complete benchmark; appends its Markdown table to `out`.
///
/// # Errors
/// The worker does not start or a request fails.
pub async fn run(
    proxy_bin: &Path,
    streamlets: &Path,
    text: &Bytes,
    out: &mut String,
) -> anyhow::Result<()> {
    let policies = format!(
        "{}{}",
        generic_policy("mp-noop", "mp-noop", &["noop"]),
        generic_policy("mp-zstd", "mp-zstd", &["compress-zstd"])
    );
    let worker = PolicyWorker::start(proxy_bin, streamlets, &policies, &[]).await?;
    let s3 = worker.client();
    crate::ops::create_buckets(&s3, &["mp-noop", "mp-zstd", "mp-plain"]).await?;
    writeln!(
        out,
        "### CompleteMultipartUpload of {} MiB in {PARTS} parts of 25 MiB (embedded store)\n\n| bucket | Complete ms (three uploads) |\n|---|---|",
        PART * PARTS / MIB
    )?;
    for bucket in ["mp-plain", "mp-noop", "mp-zstd"] {
        let mut times = Vec::new();
        for round in 0..3 {
            let took = upload(&s3, bucket, &format!("segment-{round}.log"), text).await?;
            times.push(format!("{:.0}", took.as_secs_f64() * 1e3));
        }
        writeln!(out, "| {bucket} | {} |", times.join(" / "))?;
    }
    writeln!(out)?;
    Ok(())
}
