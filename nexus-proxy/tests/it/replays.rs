//! Broker-faithful replays: the request sequence that Kafka (Aiven RSM), Pulsar (jclouds
//! offloader) and Pravega (SLTS) send to their tiered storage (`tiering-systems.md` §1–3), run
//! once straight to a real S3 server (moto) and once through Nexus with the shipped compressing
//! policies in front of the same server. Every response field a broker reads (status,
//! Content-Length, ETag, Content-Range, Content-Type, user metadata, checksums, list sizes, body
//! digests) must be the same in both runs, while the store holds compressed frames.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier,
};

use crate::pipeline::{dist, logs};
use crate::support::backends::MotoServer;
use crate::support::{
    Options, Proxy, bounded, copy_source, md5_hex, policies_dir, status_and_code,
};

const MIB: usize = 1 << 20;

/// What the broker saw, one line per response field set, in request order.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn push(&mut self, line: String) {
        self.0.push(line);
    }
}

fn sorted(meta: Option<&std::collections::HashMap<String, String>>) -> BTreeMap<String, String> {
    meta.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// A GET (whole or ranged) as the broker reads it; the body is returned for further checks.
async fn get(c: &Client, seen: &mut Seen, bucket: &str, key: &str, range: Option<&str>) -> Vec<u8> {
    let what = format!("GET {key} {}", range.unwrap_or("-"));
    match c
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_range(range.map(str::to_owned))
        .send()
        .await
    {
        Ok(out) => {
            let line = format!(
                "{what}: len={:?} range={:?} etag={:?} type={:?} accept={:?} meta={:?}",
                out.content_length(),
                out.content_range(),
                out.e_tag(),
                out.content_type(),
                out.accept_ranges(),
                sorted(out.metadata()),
            );
            let body = out
                .body
                .collect()
                .await
                .expect("body")
                .into_bytes()
                .to_vec();
            seen.push(format!("{line} body={}:{}", body.len(), md5_hex(&body)));
            body
        }
        Err(e) => {
            seen.push(format!("{what}: error {:?}", status_and_code(&e)));
            Vec::new()
        }
    }
}

async fn head(c: &Client, seen: &mut Seen, bucket: &str, key: &str) -> Option<i64> {
    match c.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            seen.push(format!(
                "HEAD {key}: len={:?} etag={:?} type={:?} accept={:?} meta={:?}",
                out.content_length(),
                out.e_tag(),
                out.content_type(),
                out.accept_ranges(),
                sorted(out.metadata()),
            ));
            out.content_length()
        }
        Err(e) => {
            seen.push(format!("HEAD {key}: error {:?}", status_and_code(&e)));
            None
        }
    }
}

async fn list(c: &Client, seen: &mut Seen, bucket: &str, prefix: &str) {
    let out = c
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("list");
    let objects: Vec<String> = out
        .contents()
        .iter()
        .map(|o| format!("{}={:?}/{:?}", o.key().unwrap_or(""), o.size(), o.e_tag()))
        .collect();
    seen.push(format!(
        "LIST {prefix}: {objects:?} count={:?}",
        out.key_count()
    ));
}

async fn delete_objects(c: &Client, seen: &mut Seen, bucket: &str, keys: &[&str]) {
    let ids = keys
        .iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build().expect("id"))
        .collect();
    let out = c
        .delete_objects()
        .bucket(bucket)
        .delete(
            Delete::builder()
                .set_objects(Some(ids))
                .build()
                .expect("delete"),
        )
        .send()
        .await
        .expect("delete objects");
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort_unstable();
    seen.push(format!(
        "DELETE {keys:?}: deleted={deleted:?} errors={}",
        out.errors().len()
    ));
}

async fn put(
    c: &Client,
    seen: &mut Seen,
    bucket: &str,
    key: &str,
    body: &[u8],
    shape: impl FnOnce(
        aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder,
    ) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder,
) {
    let out = shape(c.put_object().bucket(bucket).key(key))
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {key}: {e:?}"));
    seen.push(format!(
        "PUT {key} {}: etag={:?} crc32={:?}",
        body.len(),
        out.e_tag(),
        out.checksum_crc32()
    ));
}

/// `CreateMultipartUpload`, sequential `UploadPart`s, `CompleteMultipartUpload`.
async fn multipart(
    c: &Client,
    seen: &mut Seen,
    bucket: &str,
    key: &str,
    parts: &[&[u8]],
    shape: impl FnOnce(
        aws_sdk_s3::operation::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder,
    )
        -> aws_sdk_s3::operation::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder,
    checksum: Option<ChecksumAlgorithm>,
) {
    // The SDK puts its default CRC32 on each part, not on Create.
    let up = shape(c.create_multipart_upload().bucket(bucket).key(key))
        .send()
        .await
        .expect("create multipart upload");
    let id = up.upload_id().expect("upload id");
    let mut done = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let out = c
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .part_number(n)
            .set_checksum_algorithm(checksum.clone())
            .body(ByteStream::from(part.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("part {n} of {key}: {e:?}"));
        seen.push(format!(
            "PART {n} of {key} {}: etag={:?} crc32={:?}",
            part.len(),
            out.e_tag(),
            out.checksum_crc32()
        ));
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .set_checksum_crc32(out.checksum_crc32().map(str::to_owned))
                .build(),
        );
    }
    complete(c, seen, bucket, key, id, done).await;
}

async fn complete(
    c: &Client,
    seen: &mut Seen,
    bucket: &str,
    key: &str,
    id: &str,
    parts: Vec<CompletedPart>,
) {
    let out = c
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("complete {key}: {e:?}"));
    seen.push(format!(
        "COMPLETE {key}: etag={:?} bucket={:?} key={:?} crc32={:?}",
        out.e_tag(),
        out.bucket(),
        out.key(),
        out.checksum_crc32()
    ));
}

// --- Kafka with the Aiven RSM ------------------------------------------------------------------

const KAFKA_BUCKET: &str = "kafka-tiered";

fn kafka_key(offset: u64, suffix: &str) -> String {
    format!("tiered/logs-app-MWJ6FHTfRYy67jzwZdeqSQ/3/{offset:020}-tqimKeZwStOEOwRzT3L5oQ.{suffix}")
}

/// Two segments (one above the 25 MiB part size, one below it), each written `.log`,
/// `.indexes`, `.rsm-manifest` in that order, read back the way the RSM fetches them (manifest,
/// one ranged GET per 4 MiB chunk, the indexes at their position), then deleted.
async fn kafka(c: &Client, seen: &mut Seen) {
    const PART: usize = 25 * MIB;
    const CHUNK: usize = 4 * MIB;
    let big = logs(2 * PART + 3 * MIB + 4_321);
    let small = logs(6 * MIB + 77);
    let indexes: Vec<u8> = (0..96_000u32)
        .flat_map(|i| (i * 4096).to_be_bytes())
        .collect();
    let crc = Some(ChecksumAlgorithm::Crc32);
    for (offset, segment) in [(0u64, &big), (90_000, &small)] {
        let log = kafka_key(offset, "log");
        if segment.len() > PART {
            let parts: Vec<&[u8]> = segment.chunks(PART).collect();
            multipart(c, seen, KAFKA_BUCKET, &log, &parts, |b| b, crc.clone()).await;
        } else {
            put(c, seen, KAFKA_BUCKET, &log, segment, |b| {
                b.checksum_algorithm(ChecksumAlgorithm::Crc32)
            })
            .await;
        }
        put(
            c,
            seen,
            KAFKA_BUCKET,
            &kafka_key(offset, "indexes"),
            &indexes,
            |b| b.checksum_algorithm(ChecksumAlgorithm::Crc32),
        )
        .await;
        let manifest = format!(
            r#"{{"version":"1","chunkIndex":{{"type":"fixed","originalChunkSize":{CHUNK},"originalFileSize":{},"transformedChunkSize":{CHUNK},"finalTransformedChunkSize":{}}},"segmentIndexes":{{"offset":{{"position":0,"size":40000}},"timestamp":{{"position":40000,"size":60000}}}},"compression":false}}"#,
            segment.len(),
            segment.len() % CHUNK
        );
        put(
            c,
            seen,
            KAFKA_BUCKET,
            &kafka_key(offset, "rsm-manifest"),
            manifest.as_bytes(),
            |b| b.checksum_algorithm(ChecksumAlgorithm::Crc32),
        )
        .await;
    }
    list(c, seen, KAFKA_BUCKET, "tiered/").await;
    for (offset, segment) in [(0u64, &big), (90_000, &small)] {
        let log = kafka_key(offset, "log");
        // What the client's checksum became (the SDKs ask with checksum mode).
        let out = c
            .head_object()
            .bucket(KAFKA_BUCKET)
            .key(&log)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .expect("head with checksum mode");
        seen.push(format!(
            "HEAD {log} checksum mode: len={:?} crc32={:?}",
            out.content_length(),
            out.checksum_crc32()
        ));
        get(
            c,
            seen,
            KAFKA_BUCKET,
            &kafka_key(offset, "rsm-manifest"),
            None,
        )
        .await;
        for start in (0..segment.len()).step_by(CHUNK) {
            let end = (start + CHUNK).min(segment.len()) - 1;
            let body = get(
                c,
                seen,
                KAFKA_BUCKET,
                &log,
                Some(&format!("bytes={start}-{end}")),
            )
            .await;
            assert!(body == segment[start..=end], "chunk at {start} of {log}");
        }
        let body = get(
            c,
            seen,
            KAFKA_BUCKET,
            &kafka_key(offset, "indexes"),
            Some("bytes=40000-99999"),
        )
        .await;
        assert!(body == indexes[40_000..100_000]);
        // A fetch past the end: the RSM maps 416 to InvalidRangeException.
        let past = segment.len();
        get(
            c,
            seen,
            KAFKA_BUCKET,
            &log,
            Some(&format!("bytes={past}-{}", past + 10)),
        )
        .await;
    }
}

async fn kafka_delete(c: &Client, seen: &mut Seen) {
    for offset in [0u64, 90_000] {
        let keys = ["log", "indexes", "rsm-manifest"].map(|s| kafka_key(offset, s));
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        delete_objects(c, seen, KAFKA_BUCKET, &keys).await;
    }
    head(c, seen, KAFKA_BUCKET, &kafka_key(0, "log")).await;
    list(c, seen, KAFKA_BUCKET, "tiered/").await;
}

// --- Pulsar with the jclouds offloader ---------------------------------------------------------

const PULSAR_BUCKET: &str = "pulsar-offload";
const PULSAR_DATA: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6-ledger-4711";
const PULSAR_INDEX: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6-ledger-4711-index";

/// One offloaded data block as `BlockAwareSegmentInputStreamImpl` lays it out: a 128-byte
/// header (magic, header length, block length, first entry id), entries `[len][entry id][payload]`
/// and `0xFEDCDEAD` padding up to the block size. Returns the block and the entry offsets.
fn pulsar_block(size: usize, first_entry: u64, text: &[u8]) -> (Vec<u8>, Vec<usize>, u64) {
    let mut block = Vec::with_capacity(size);
    block.extend_from_slice(&0xFBDB_ABCBu32.to_be_bytes());
    block.extend_from_slice(&128u64.to_be_bytes());
    block.extend_from_slice(&(size as u64).to_be_bytes());
    block.extend_from_slice(&first_entry.to_be_bytes());
    block.resize(128, 0);
    let mut offsets = Vec::new();
    let mut entry = first_entry;
    let mut at = 0;
    loop {
        let len = 900 + (entry as usize * 37) % 300;
        if block.len() + 12 + len > size - 64 {
            break;
        }
        offsets.push(block.len());
        block.extend_from_slice(&(len as u32).to_be_bytes());
        block.extend_from_slice(&entry.to_be_bytes());
        block.extend_from_slice(&text[at..at + len]);
        at = (at + len) % (text.len() - 2_000);
        entry += 1;
    }
    while block.len() < size {
        block.extend_from_slice(&0xFEDC_DEADu32.to_be_bytes());
    }
    block.truncate(size);
    (block, offsets, entry)
}

fn pulsar_meta(role: &str) -> [(&'static str, String); 6] {
    [
        (
            "managedledgername",
            "public/default/persistent/orders-partition-3".to_owned(),
        ),
        ("role", role.to_owned()),
        ("s3managedledgeroffloaderformatversion", "1".to_owned()),
        (
            "s3managedledgeroffloadersoftwareversion",
            "4.0.1".to_owned(),
        ),
        (
            "s3managedledgeroffloadersoftwaregitsha",
            "a1b2c3d".to_owned(),
        ),
        ("pulsarclustername", "standalone".to_owned()),
    ]
}

/// One ledger offloaded as two 64 MiB-max blocks (one part each, sequential, with the ledger's
/// metadata on Create), then its index by PutObject; read back as the offloader does (the index
/// whole, then 1 MiB windows starting at entry offsets, across the block boundary and past the
/// end).
async fn pulsar(c: &Client, seen: &mut Seen) {
    let text = logs(8 * MIB);
    let (first, offsets1, next) = pulsar_block(64 * MIB, 0, &text);
    let (second, offsets2, _) = pulsar_block(3 * MIB + 512, next, &text);
    multipart(
        c,
        seen,
        PULSAR_BUCKET,
        PULSAR_DATA,
        &[&first, &second],
        |mut b| {
            for (k, v) in pulsar_meta("data") {
                b = b.metadata(k, v);
            }
            b.content_type("application/octet-stream")
        },
        None,
    )
    .await;
    let data: Vec<u8> = [first.as_slice(), second.as_slice()].concat();
    let mut index = 0xDE47_DE47u32.to_be_bytes().to_vec();
    for (i, o) in offsets1
        .iter()
        .chain(
            offsets2
                .iter()
                .map(|o| o + first.len())
                .collect::<Vec<_>>()
                .iter(),
        )
        .enumerate()
        .step_by(50)
    {
        index.extend_from_slice(&(i as u64).to_be_bytes());
        index.extend_from_slice(&(*o as u64).to_be_bytes());
    }
    index.extend_from_slice(&(data.len() as u64).to_be_bytes());
    put(c, seen, PULSAR_BUCKET, PULSAR_INDEX, &index, |mut b| {
        for (k, v) in pulsar_meta("index") {
            b = b.metadata(k, v);
        }
        b
    })
    .await;

    let got = get(c, seen, PULSAR_BUCKET, PULSAR_INDEX, None).await;
    assert!(got == index);
    let mut cursors: Vec<usize> = offsets1.iter().step_by(9_000).copied().collect();
    cursors.push(offsets1[offsets1.len() - 3]); // a window across the block boundary
    cursors.extend(offsets2.iter().map(|o| o + first.len()).step_by(1_000));
    cursors.push(data.len() - 1_000); // a window past the end
    for cursor in cursors {
        let range = format!("bytes={cursor}-{}", cursor + MIB - 1);
        let body = get(c, seen, PULSAR_BUCKET, PULSAR_DATA, Some(&range)).await;
        let end = (cursor + MIB).min(data.len());
        assert!(body == data[cursor..end], "window at {cursor}");
    }
}

async fn pulsar_delete(c: &Client, seen: &mut Seen) {
    delete_objects(c, seen, PULSAR_BUCKET, &[PULSAR_DATA, PULSAR_INDEX]).await;
    get(c, seen, PULSAR_BUCKET, PULSAR_INDEX, None).await;
}

// --- Pravega long-term storage -----------------------------------------------------------------

const PRAVEGA_BUCKET: &str = "pravega-lts";

fn pravega_chunk(segment: u32, offset: usize, uuid: u8) -> String {
    format!(
        "/pravega/examples/orders/{segment}.#epoch.0.E-1-O-{offset}.{uuid:02x}e4c9a0-1b2c-4d3e-8f90-a1b2c3d4e5f6"
    )
}

/// Chunks written by PutObject (each flush a new chunk, ETag checked against the plaintext
/// MD5 by the SDK), their size read by HEAD, ~1 MiB aligned reads, then a concatenation:
/// CreateMultipartUpload on the first chunk's key, HEAD of each source, UploadPartCopy with
/// `bytes=0-(len-1)`, Complete (overwriting the first chunk), and the sources deleted one by one.
async fn pravega(c: &Client, seen: &mut Seen) {
    let text = logs(30 * MIB);
    // Segment 0: 4 MiB flushes and a short last one.
    let sizes = [4 * MIB, 4 * MIB, 4 * MIB - 123, 1_500_000];
    let mut at = 0;
    let mut chunks = Vec::new();
    for (i, size) in sizes.into_iter().enumerate() {
        let key = pravega_chunk(0, at, i as u8);
        let body = &text[at..at + size];
        put(c, seen, PRAVEGA_BUCKET, &key, body, |b| {
            b.metadata("content-type", "application/octet-stream")
                .metadata("content-length", size.to_string())
        })
        .await;
        assert!(
            seen.0.last().is_some_and(|l| l.contains(&md5_hex(body))),
            "the PUT ETag is the plaintext MD5: {:?}",
            seen.0.last()
        );
        chunks.push((key, at, size));
        at += size;
    }
    for (key, start, size) in &chunks {
        assert_eq!(head(c, seen, PRAVEGA_BUCKET, key).await, Some(*size as i64));
        for off in (0..*size).step_by(MIB).skip(1).step_by(2) {
            let end = (off + MIB).min(*size) - 1;
            let body = get(
                c,
                seen,
                PRAVEGA_BUCKET,
                key,
                Some(&format!("bytes={off}-{end}")),
            )
            .await;
            assert!(body == text[start + off..=start + end]);
        }
    }

    // Segment 1: large chunks concatenated into the first one.
    let sizes = [6 * MIB, 5 * MIB + 4_000, 2 * MIB + 17];
    let mut at = 0;
    let mut sources = Vec::new();
    for (i, size) in sizes.into_iter().enumerate() {
        let key = pravega_chunk(1, at, 0x10 + i as u8);
        put(c, seen, PRAVEGA_BUCKET, &key, &text[at..at + size], |b| b).await;
        sources.push((key, size));
        at += size;
    }
    let target = sources[0].0.clone();
    let up = c
        .create_multipart_upload()
        .bucket(PRAVEGA_BUCKET)
        .key(&target)
        .send()
        .await
        .expect("create concat");
    let id = up.upload_id().expect("id");
    let mut parts = Vec::new();
    for (n, (key, _)) in sources.iter().enumerate() {
        let len = head(c, seen, PRAVEGA_BUCKET, key)
            .await
            .expect("source length");
        let out = c
            .upload_part_copy()
            .bucket(PRAVEGA_BUCKET)
            .key(&target)
            .upload_id(id)
            .part_number(n as i32 + 1)
            .copy_source(copy_source(PRAVEGA_BUCKET, key))
            .copy_source_range(format!("bytes=0-{}", len - 1))
            .send()
            .await
            .unwrap_or_else(|e| panic!("copy part from {key}: {e:?}"));
        let etag = out
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .map(str::to_owned);
        seen.push(format!("COPY PART {} from {key}: etag={etag:?}", n + 1));
        parts.push(
            CompletedPart::builder()
                .part_number(n as i32 + 1)
                .set_e_tag(etag)
                .build(),
        );
    }
    complete(c, seen, PRAVEGA_BUCKET, &target, id, parts).await;
    for (key, _) in &sources[1..] {
        c.delete_object()
            .bucket(PRAVEGA_BUCKET)
            .key(key)
            .send()
            .await
            .expect("delete source");
        head(c, seen, PRAVEGA_BUCKET, key).await;
    }
    assert_eq!(
        head(c, seen, PRAVEGA_BUCKET, &target).await,
        Some(at as i64)
    );
    for off in [0, 6 * MIB - 100, 11 * MIB + 1_000, at - 5_000] {
        let end = (off + MIB).min(at) - 1;
        let body = get(
            c,
            seen,
            PRAVEGA_BUCKET,
            &target,
            Some(&format!("bytes={off}-{end}")),
        )
        .await;
        assert!(body == text[off..=end], "concatenated read at {off}");
    }
    let whole = get(c, seen, PRAVEGA_BUCKET, &target, None).await;
    assert!(whole == text[..at]);
}

async fn pravega_delete(c: &Client, seen: &mut Seen) {
    let mut keys: Vec<String> = (0..4u8)
        .scan(0usize, |at, i| {
            let k = pravega_chunk(0, *at, i);
            *at += [4 * MIB, 4 * MIB, 4 * MIB - 123, 1_500_000][i as usize];
            Some(k)
        })
        .collect();
    keys.push(pravega_chunk(1, 0, 0x10));
    for key in &keys {
        c.delete_object()
            .bucket(PRAVEGA_BUCKET)
            .key(key)
            .send()
            .await
            .expect("delete chunk");
        head(c, seen, PRAVEGA_BUCKET, key).await;
    }
}

// --- the comparison ----------------------------------------------------------------------------

/// The store as the worker writes it: data objects are framed (NXF1) and smaller than the
/// logical object; everything else is stored as sent.
async fn assert_stored(backend: Option<&Client>, bucket: &str, key: &str, transformed: bool) {
    let Some(backend) = backend else {
        return;
    };
    let out = backend
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("backend HEAD {key}: {e:?}"));
    let format = out.metadata().and_then(|m| m.get("nexus-format")).cloned();
    if transformed {
        assert_eq!(format.as_deref(), Some("nxf1"), "{key} is framed");
    } else {
        assert_eq!(format, None, "{key} passes through");
    }
}

fn assert_same(system: &str, direct: &Seen, nexus: &Seen) {
    for (i, (d, n)) in direct.0.iter().zip(&nexus.0).enumerate() {
        assert_eq!(
            d, n,
            "{system}: response {i} differs (left: direct, right: Nexus)"
        );
    }
    assert_eq!(
        direct.0.len(),
        nexus.0.len(),
        "{system}: number of responses"
    );
}

/// Runs the three replays straight to moto and through `proxy`, comparing every response; with
/// a client of the proxy's store (`store`), checks what it holds.
async fn replay_all(direct: &Client, proxy: &Proxy, store: Option<&Client>) {
    replay_systems(direct, &proxy.client(), store).await;
    pipelines_ran(proxy.admin).await;
    leaves_nothing(store).await;
}

/// Each system's sequence straight to S3 (`direct`) and through Nexus (`nexus`): the broker
/// must see the same answers; data objects are stored transformed when `store` can be read.
pub async fn replay_systems(direct: &Client, nexus: &Client, store: Option<&Client>) {
    let nexus = nexus.clone();
    let (mut d, mut n) = (Seen::default(), Seen::default());
    kafka(direct, &mut d).await;
    kafka_delete(direct, &mut d).await;
    kafka(&nexus, &mut n).await;
    assert_stored(store, KAFKA_BUCKET, &kafka_key(0, "log"), true).await;
    assert_stored(store, KAFKA_BUCKET, &kafka_key(90_000, "log"), true).await;
    assert_stored(store, KAFKA_BUCKET, &kafka_key(0, "indexes"), false).await;
    assert_stored(store, KAFKA_BUCKET, &kafka_key(0, "rsm-manifest"), false).await;
    kafka_delete(&nexus, &mut n).await;
    assert_same("kafka", &d, &n);

    let (mut d, mut n) = (Seen::default(), Seen::default());
    pulsar(direct, &mut d).await;
    pulsar_delete(direct, &mut d).await;
    pulsar(&nexus, &mut n).await;
    assert_stored(store, PULSAR_BUCKET, PULSAR_DATA, true).await;
    assert_stored(store, PULSAR_BUCKET, PULSAR_INDEX, false).await;
    pulsar_delete(&nexus, &mut n).await;
    assert_same("pulsar", &d, &n);

    let (mut d, mut n) = (Seen::default(), Seen::default());
    pravega(direct, &mut d).await;
    pravega_delete(direct, &mut d).await;
    pravega(&nexus, &mut n).await;
    assert_stored(store, PRAVEGA_BUCKET, &pravega_chunk(0, 0, 0), true).await;
    assert_stored(store, PRAVEGA_BUCKET, &pravega_chunk(1, 0, 0x10), true).await;
    pravega_delete(&nexus, &mut n).await;
    assert_same("pravega", &d, &n);
}

/// The pipelines ran: each policy stored fewer bytes than it was given.
async fn pipelines_ran(admin: std::net::SocketAddr) {
    let m = crate::support::metrics::scrape(admin).await;
    for policy in ["kafka-logs-zstd", "pulsar-offload-gzip", "pravega-lts-zstd"] {
        let labels = [("policy", policy)];
        let logical = m.value("nexus_pipeline_logical_bytes_total", &labels);
        let stored = m.value("nexus_pipeline_stored_bytes_total", &labels);
        assert!(
            stored > 0.0 && stored * 3.0 < logical,
            "{policy}: stored {stored} of {logical}"
        );
    }
}

/// Nothing is left in the store (staging included).
pub async fn leaves_nothing(store: Option<&Client>) {
    let Some(store) = store else {
        return;
    };
    for bucket in [KAFKA_BUCKET, PULSAR_BUCKET, PRAVEGA_BUCKET] {
        let out = store
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .expect("list the store");
        let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
        assert!(keys.is_empty(), "{bucket} still holds {keys:?}");
    }
}

pub async fn buckets(c: &Client) {
    for bucket in [KAFKA_BUCKET, PULSAR_BUCKET, PRAVEGA_BUCKET] {
        c.create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("bucket");
    }
}

#[tokio::test]
async fn broker_replays_through_nexus_to_s3_match_the_direct_run() {
    bounded(300, "broker replays, S3 backend", async {
        let Some(moto) = MotoServer::start_or_skip("broker replays").await else {
            return;
        };
        let proxy = Proxy::start(Options {
            backend: Some(moto.endpoint.clone()),
            policies: Some(policies_dir()),
            streamlets: Some(dist()),
            ..Options::default()
        })
        .await;
        let direct = proxy.backend_client(&moto.endpoint);
        buckets(&direct).await;
        replay_all(&direct, &proxy, Some(&direct)).await;
        proxy.shutdown().await;
    })
    .await;
}

/// The default deployment (the embedded store) answers like S3 too.
#[tokio::test]
async fn broker_replays_through_nexus_on_its_embedded_store_match_s3() {
    bounded(300, "broker replays, embedded store", async {
        let Some(moto) = MotoServer::start_or_skip("broker replays").await else {
            return;
        };
        let proxy = Proxy::start(Options {
            policies: Some(policies_dir()),
            streamlets: Some(dist()),
            ..Options::default()
        })
        .await;
        let direct = proxy.backend_client(&moto.endpoint);
        buckets(&direct).await;
        buckets(&proxy.client()).await;
        // What is stored cannot be read around the worker (it holds the store open); the
        // metrics show that the pipelines ran.
        replay_all(&direct, &proxy, None).await;
        proxy.shutdown().await;
    })
    .await;
}
