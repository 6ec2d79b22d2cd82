//! `nexus-bench compression` (paper Figs. 37/46): how many bytes a Kafka segment of real logs
//! takes when the producer compresses its batches (gzip, lz4, zstd; at two batching settings)
//! against the same records produced uncompressed and compressed by Nexus streamlets
//! (compress-gzip, compress-zstd) on the tiering path.
//!
//! Records are 1 KiB slices of each loghub file. At 100 records/s a producer with linger 5 ms
//! and batch.size 5 KB sends one record per batch; with linger 100 ms / 100 KB about ten.
//! Segments are Kafka RecordBatch v2 (magic 2, CRC32C) concatenated, as a broker stores them.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, ensure};

use crate::control::{PolicyWorker, generic_policy};

const RECORD: usize = 1024;
const STORED: &str = "nexus_pipeline_stored_bytes_total";

/// Producer-side codec (RecordBatch attributes bits 0–2).
#[derive(Debug, Clone, Copy)]
enum Codec {
    None,
    Gzip,
    Lz4,
    Zstd,
}

fn varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn compress(codec: Codec, data: &[u8]) -> anyhow::Result<Vec<u8>> {
    Ok(match codec {
        Codec::None => data.to_vec(),
        Codec::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data)?;
            e.finish()?
        }
        // Kafka's lz4 is the LZ4 frame format.
        Codec::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(data)?;
            e.finish()?
        }
        Codec::Zstd => zstd::bulk::compress(data, 3)?,
    })
}

/// One RecordBatch v2 of `records` (values only, no keys or headers).
fn batch(base_offset: i64, records: &[&[u8]], codec: Codec) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    for (i, value) in records.iter().enumerate() {
        let mut r = Vec::new();
        r.push(0); // attributes
        varint(&mut r, 10 * i as i64); // timestamp delta (ms)
        varint(&mut r, i as i64); // offset delta
        varint(&mut r, -1); // no key
        varint(&mut r, value.len() as i64);
        r.extend_from_slice(value);
        varint(&mut r, 0); // no headers
        varint(&mut body, r.len() as i64);
        body.extend_from_slice(&r);
    }
    let body = compress(codec, &body)?;
    let attributes: i16 = match codec {
        Codec::None => 0,
        Codec::Gzip => 1,
        Codec::Lz4 => 3,
        Codec::Zstd => 4,
    };
    // From attributes to the end: what the CRC covers.
    let mut tail = Vec::new();
    tail.extend_from_slice(&attributes.to_be_bytes());
    tail.extend_from_slice(&(records.len() as i32 - 1).to_be_bytes()); // last offset delta
    tail.extend_from_slice(&1_700_000_000_000i64.to_be_bytes()); // base timestamp
    tail.extend_from_slice(&(1_700_000_000_000i64 + 10 * records.len() as i64).to_be_bytes());
    tail.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    tail.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    tail.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    tail.extend_from_slice(&(records.len() as i32).to_be_bytes());
    tail.extend_from_slice(&body);
    let mut out = Vec::with_capacity(tail.len() + 21);
    out.extend_from_slice(&base_offset.to_be_bytes());
    // batchLength: from partitionLeaderEpoch to the end.
    out.extend_from_slice(&((4 + 1 + 4 + tail.len()) as i32).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes()); // partition leader epoch
    out.push(2); // magic
    out.extend_from_slice(&crc32c::crc32c(&tail).to_be_bytes());
    out.extend_from_slice(&tail);
    Ok(out)
}

/// A segment of `records` in batches of `per_batch`.
fn segment(records: &[&[u8]], per_batch: usize, codec: Codec) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    for (i, chunk) in records.chunks(per_batch).enumerate() {
        out.extend(batch((i * per_batch) as i64, chunk, codec)?);
    }
    Ok(out)
}

/// The `.log` files of the loghub directory, sorted.
///
/// # Errors
/// The directory cannot be read or holds no `.log` file.
pub fn log_files(loghub: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(loghub)
        .with_context(|| format!("reading {}", loghub.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    ensure!(!files.is_empty(), "no .log files in {}", loghub.display());
    Ok(files)
}

/// Runs the comparison over the `.log` files of `loghub`; the Markdown report.
///
/// # Errors
/// The data or the worker is missing, or a PUT fails.
pub async fn run(proxy_bin: &Path, streamlets: &Path, loghub: &Path) -> anyhow::Result<String> {
    let files = log_files(loghub)?;

    let policies = generic_policy("nexus-gzip", "seg-gzip", &["compress-gzip"])
        + &generic_policy("nexus-zstd", "seg-zstd", &["compress-zstd"]);
    let worker = PolicyWorker::start(proxy_bin, streamlets, &policies, &[]).await?;
    let s3 = worker.client();
    for b in ["seg-gzip", "seg-zstd"] {
        s3.create_bucket()
            .bucket(b)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("create {b}: {e:?}"))?;
    }

    let mut out = String::from(
        "| log | raw KiB | uncompressed segment KiB | producer 5 ms/5 KB best (codec) | producer 100 ms/100 KB best (codec) | Nexus gzip KiB | Nexus zstd KiB | best producer 5 ms / best Nexus | best Nexus ≤ 100 ms producer? |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut totals = [0f64; 6];
    for (i, file) in files.iter().enumerate() {
        let text = std::fs::read(file)?;
        let records: Vec<&[u8]> = text.chunks(RECORD).collect();
        let plain = segment(&records, 1, Codec::None)?;
        let best = |per_batch: usize| -> anyhow::Result<(usize, &'static str)> {
            let mut b = (usize::MAX, "");
            for (codec, name) in [
                (Codec::Gzip, "gzip"),
                (Codec::Lz4, "lz4"),
                (Codec::Zstd, "zstd"),
            ] {
                let n = segment(&records, per_batch, codec)?.len();
                if n < b.0 {
                    b = (n, name);
                }
            }
            Ok(b)
        };
        let (p5, c5) = best(1)?;
        let (p100, c100) = best(10)?;
        let mut nexus = [0f64; 2];
        for (j, bucket) in ["seg-gzip", "seg-zstd"].into_iter().enumerate() {
            let policy = if j == 0 { "nexus-gzip" } else { "nexus-zstd" };
            let label = format!("policy=\"{policy}\"");
            let before = worker.metric_sum(STORED, &label).await?;
            s3.put_object()
                .bucket(bucket)
                .key(format!("segments/{i}.log"))
                .body(aws_sdk_s3::primitives::ByteStream::from(plain.clone()))
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("PUT: {e:?}"))?;
            nexus[j] = worker.metric_sum(STORED, &label).await? - before;
        }
        ensure!(
            nexus.iter().all(|&n| n > 0.0),
            "a PUT did not go through its pipeline"
        );
        let best_nexus = nexus[0].min(nexus[1]);
        let kib = |n: f64| n / 1024.0;
        writeln!(
            out,
            "| {} | {:.0} | {:.0} | {:.0} ({c5}) | {:.0} ({c100}) | {:.0} | {:.0} | {:.2} | {} |",
            file.file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
            kib(text.len() as f64),
            kib(plain.len() as f64),
            kib(p5 as f64),
            kib(p100 as f64),
            kib(nexus[0]),
            kib(nexus[1]),
            p5 as f64 / best_nexus,
            if best_nexus <= p100 as f64 {
                "yes"
            } else {
                "no"
            },
        )?;
        for (t, v) in totals.iter_mut().zip([
            text.len() as f64,
            plain.len() as f64,
            p5 as f64,
            p100 as f64,
            nexus[0],
            nexus[1],
        ]) {
            *t += v;
        }
    }
    let best_nexus = totals[4].min(totals[5]);
    writeln!(
        out,
        "| **mix** | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {} |",
        totals[0] / 1024.0,
        totals[1] / 1024.0,
        totals[2] / 1024.0,
        totals[3] / 1024.0,
        totals[4] / 1024.0,
        totals[5] / 1024.0,
        totals[2] / best_nexus,
        if best_nexus <= totals[3] { "yes" } else { "no" },
    )?;
    Ok(out)
}
