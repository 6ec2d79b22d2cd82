//! Reading transformed objects (`docs/formats.md` §3): the backend HEAD tells a transformed
//! object by `nexus-format`; preconditions are evaluated against the logical ETag; the
//! trailer and index come from one suffix read of the stored object (a second read only for
//! very large indexes); the requested logical range maps to frames `[i, j]`, which one ranged
//! backend GET fetches; each frame's CRC32C is checked, the **recorded** pipeline runs in
//! reverse, the first and last frame are trimmed to the range, and the body streams out in
//! order (frames decoded in parallel, a bounded window ahead).

use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use nexus_core::format::{Index, TRAILER_LEN, Trailer};
use nexus_core::resource::PolicySet;
use nexus_store::conditions;
use s3s::dto::{
    ETag, GetObjectInput, GetObjectOutput, HeadObjectInput, HeadObjectOutput, Metadata,
    Range as S3Range,
};
use s3s::{S3, S3Error, S3ErrorCode, S3Request};
use tokio::sync::mpsc;

use super::checksum::LogicalChecksum;
use super::plan::{Recorded, decode_ctx, keys, limits_for};
use super::spool::exact;
use super::{PipelineRequest, Pipelines, StageRun};
use crate::streamlet::{ChunkInfo, Direction, FrameInfo, ObjectRef, SharedContext};

/// Bytes read from the end of an object to find the trailer (and usually the whole index).
const TAIL_READ: u64 = 64 << 10;

/// What the backend HEAD says of a transformed object.
pub struct Transformed {
    pub stored_size: u64,
    pub stored_etag: Option<ETag>,
    pub logical_size: u64,
    /// Unquoted.
    pub logical_etag: String,
    pub last_modified_secs: i64,
    pub recorded: Recorded,
    pub ctx: std::collections::BTreeMap<String, String>,
    /// The client's checksum of the logical object, if it sent one.
    pub checksum: Option<LogicalChecksum>,
}

/// Whether a read asks for the object's checksum (`x-amz-checksum-mode: ENABLED`); S3
/// reports it only for reads of the whole object.
#[must_use]
pub fn wants_checksum(
    mode: Option<&s3s::dto::ChecksumMode>,
    range: Option<&s3s::dto::Range>,
    part: Option<i32>,
) -> bool {
    mode.is_some_and(|m| m.as_str().eq_ignore_ascii_case("ENABLED"))
        && range.is_none()
        && part.is_none()
}

/// Whether stored metadata marks a transformed object.
#[must_use]
pub fn is_transformed(metadata: Option<&Metadata>) -> bool {
    metadata.and_then(|m| m.get(keys::FORMAT)).is_some()
}

fn format_error(bucket: &str, key: &str, what: &str) -> S3Error {
    tracing::error!(%bucket, %key, "Transformed object unreadable: {what}");
    S3Error::with_message(
        S3ErrorCode::InternalError,
        format!("the stored object is not a readable Nexus object: {what}"),
    )
}

impl Transformed {
    /// Reads the Nexus metadata of a HEAD answer.
    ///
    /// # Errors
    /// The metadata is malformed (`InternalError`, logged with the key).
    pub fn from_head(head: &HeadObjectOutput, bucket: &str, key: &str) -> Result<Self, S3Error> {
        let m = head
            .metadata
            .as_ref()
            .ok_or_else(|| format_error(bucket, key, "no metadata"))?;
        let get = |k: &str| {
            m.get(k)
                .ok_or_else(|| format_error(bucket, key, &format!("no {k}")))
        };
        if get(keys::FORMAT)? != keys::FORMAT_NXF1 {
            return Err(format_error(bucket, key, "unknown nexus-format"));
        }
        let logical_size = get(keys::SIZE)?
            .parse()
            .map_err(|_| format_error(bucket, key, "nexus-size is not a number"))?;
        let mut recorded = Recorded::from_metadata(get(keys::PIPELINE)?, get(keys::PARAMS)?)
            .map_err(|e| format_error(bucket, key, &e))?;
        if let Some(p) = m.get(keys::PLACEMENT) {
            recorded
                .set_placement(p)
                .map_err(|e| format_error(bucket, key, &e))?;
        }
        Ok(Self {
            stored_size: head
                .content_length
                .and_then(|l| u64::try_from(l).ok())
                .unwrap_or(0),
            stored_etag: head.e_tag.clone(),
            logical_size,
            logical_etag: get(keys::ETAG)?.clone(),
            last_modified_secs: head.last_modified.as_ref().map_or(0, conditions::secs),
            recorded,
            ctx: decode_ctx(m.get(keys::CTX)),
            checksum: m
                .get(keys::CHECKSUM)
                .and_then(|c| LogicalChecksum::parse(c)),
        })
    }

    /// Turns a backend HEAD answer into the logical one (with the client's checksum if the
    /// request `wants_checksum`).
    pub fn logical_head(&self, head: &mut HeadObjectOutput, checksum: bool) {
        head.content_length = i64::try_from(self.logical_size).ok();
        head.e_tag = Some(ETag::Strong(self.logical_etag.clone()));
        super::clear_checksums!(head);
        head.checksum_type = None;
        if let Some(c) = self.checksum.as_ref().filter(|_| checksum) {
            nexus_store::fill_checksums!(head, &c.checksums());
            head.checksum_type = Some(c.checksum_type());
        }
    }
}

/// A request to the store made by the worker itself (no client body, no trailers).
pub fn internal<T, U>(like: &S3Request<U>, input: T) -> S3Request<T> {
    // Only the request's context travels along (its id, its route).
    let mut extensions = http::Extensions::new();
    if let Some(ctx) = like.extensions.get::<Arc<crate::request::RequestCtx>>() {
        extensions.insert(Arc::clone(ctx));
    }
    S3Request {
        input,
        method: http::Method::GET,
        uri: like.uri.clone(),
        headers: http::HeaderMap::new(),
        extensions,
        credentials: like.credentials.clone(),
        region: like.region.clone(),
        service: like.service.clone(),
        trailing_headers: None,
    }
}

/// HEAD of `bucket/key` without the client's conditions.
///
/// # Errors
/// The store's answer (NoSuchKey, 503, ...).
pub async fn head<U>(
    store: &Arc<dyn S3>,
    like: &S3Request<U>,
    bucket: &str,
    key: &str,
) -> Result<HeadObjectOutput, S3Error> {
    let input = HeadObjectInput::builder()
        .bucket(bucket.to_owned())
        .key(key.to_owned())
        .build()
        .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
    Ok(store.head_object(internal(like, input)).await?.output)
}

/// [`head`] in place of a GET: a missing key is `NoSuchKey`, as the GET would have answered
/// (a HEAD answer has no body, so the backend's 404 only says `NotFound`).
///
/// # Errors
/// As [`head`].
pub async fn head_for_get<U>(
    store: &Arc<dyn S3>,
    like: &S3Request<U>,
    bucket: &str,
    key: &str,
) -> Result<HeadObjectOutput, S3Error> {
    head(store, like, bucket, key).await.map_err(|e| {
        if e.status_code() == Some(http::StatusCode::NOT_FOUND)
            && *e.code() != S3ErrorCode::NoSuchBucket
        {
            S3Error::with_message(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
        } else {
            e
        }
    })
}

/// Reads stored bytes `range` (end exclusive) of the object whose stored ETag is `etag`.
pub async fn get_stored<U>(
    store: &Arc<dyn S3>,
    like: &S3Request<U>,
    bucket: &str,
    key: &str,
    range: Range<u64>,
    etag: Option<&ETag>,
) -> Result<GetObjectOutput, S3Error> {
    let mut b = GetObjectInput::builder()
        .bucket(bucket.to_owned())
        .key(key.to_owned())
        .range(Some(S3Range::Int {
            first: range.start,
            last: Some(range.end - 1),
        }));
    if let Some(e) = etag {
        b = b.if_match(Some(s3s::dto::ETagCondition::ETag(e.clone())));
    }
    let input = b
        .build()
        .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
    Ok(store.get_object(internal(like, input)).await?.output)
}

async fn read_all(body: Option<s3s::dto::StreamingBlob>) -> Result<Bytes, S3Error> {
    let mut out = BytesMut::new();
    if let Some(mut b) = body {
        while let Some(chunk) = b.next().await {
            let chunk = chunk.map_err(|e| {
                S3Error::with_message(
                    S3ErrorCode::ServiceUnavailable,
                    format!("backend read failed: {e}"),
                )
            })?;
            out.extend_from_slice(&chunk);
        }
    }
    Ok(out.freeze())
}

/// Loads the frame index of a transformed object (cached per worker by stored ETag).
async fn index(
    src: &Source<'_>,
    bucket: &str,
    key: &str,
    t: &Transformed,
) -> Result<Arc<Index>, S3Error> {
    let cache = &src.pipelines.indexes;
    if let Some(i) = t
        .stored_etag
        .as_ref()
        .and_then(|e| cache.get(src.store_name, bucket, key, e))
    {
        return Ok(i);
    }
    let index = Arc::new(
        read_index(
            src.store,
            src.like,
            bucket,
            key,
            t.stored_size,
            t.stored_etag.as_ref(),
            t.logical_size,
        )
        .await?,
    );
    if let Some(e) = &t.stored_etag {
        cache.insert(src.store_name, bucket, key, e, &index);
    }
    Ok(index)
}

/// Loads the frame index of the NXF1 object `bucket/key` of `stored_size` bytes (stored ETag
/// `etag`) that should hold `logical_size` plaintext bytes.
///
/// # Errors
/// Backend errors, or a corrupt object.
pub async fn read_index<U>(
    store: &Arc<dyn S3>,
    like: &S3Request<U>,
    bucket: &str,
    key: &str,
    stored_size: u64,
    etag: Option<&ETag>,
    logical_size: u64,
) -> Result<Index, S3Error> {
    let t = IndexOf {
        stored_size,
        etag,
        logical_size,
    };
    if t.stored_size < TRAILER_LEN as u64 {
        return Err(format_error(bucket, key, "shorter than a trailer"));
    }
    let tail_start = t.stored_size.saturating_sub(TAIL_READ);
    let tail = read_all(
        get_stored(store, like, bucket, key, tail_start..t.stored_size, t.etag)
            .await?
            .body,
    )
    .await?;
    if tail.len() as u64 != t.stored_size - tail_start {
        return Err(format_error(bucket, key, "short tail read"));
    }
    let trailer = Trailer::parse(&tail[tail.len() - TRAILER_LEN..], t.stored_size)
        .map_err(|e| format_error(bucket, key, &e.to_string()))?;
    let r = trailer.index_range();
    let bytes = if r.start >= tail_start {
        tail.slice((r.start - tail_start) as usize..(r.end - tail_start) as usize)
    } else {
        read_all(
            get_stored(store, like, bucket, key, r.clone(), t.etag)
                .await?
                .body,
        )
        .await?
    };
    let index =
        Index::parse(&bytes, &trailer).map_err(|e| format_error(bucket, key, &e.to_string()))?;
    if index.logical_size() != t.logical_size {
        return Err(format_error(bucket, key, "index and nexus-size disagree"));
    }
    Ok(index)
}

/// Where a read of a transformed object gets its parts.
pub struct Source<'a> {
    pub pipelines: &'a Arc<Pipelines>,
    pub store: &'a Arc<dyn S3>,
    /// The `Store` resource `store` is (`""`: the bucket's own store).
    pub store_name: &'a str,
    /// The policy snapshot (for the decode limits of deployed modules).
    pub set: &'a PolicySet,
    /// The client request internal requests borrow their credentials and URI from.
    pub like: &'a S3Request<()>,
    pub request_id: Arc<str>,
}

struct IndexOf<'a> {
    stored_size: u64,
    etag: Option<&'a ETag>,
    logical_size: u64,
}

/// Answers a GET of a transformed object.
///
/// # Errors
/// 304/412 preconditions, 416 ranges, backend errors, a corrupt object or a failing stage.
pub async fn get(
    src: &Source<'_>,
    input: &GetObjectInput,
    head: HeadObjectOutput,
    t: Transformed,
) -> Result<GetObjectOutput, S3Error> {
    let (bucket, key) = (input.bucket.as_str(), input.key.as_str());
    src.pipelines.metrics.transformed_read("head");
    let range = checked(input, &t)?;
    let want = range.clone().unwrap_or(0..t.logical_size);
    let fetched = if want.is_empty() {
        None
    } else {
        let index = index(src, bucket, key, &t).await?;
        let (frames, stored) = frames_of(&index, &want, bucket, key)?;
        let out = get_stored(
            src.store,
            src.like,
            bucket,
            key,
            stored,
            t.stored_etag.as_ref(),
        )
        .await?;
        Some(Fetched {
            index,
            frames,
            body: out.body,
        })
    };
    answer(src, input, head, &t, range, want, fetched).await
}

/// [`get`] without the HEAD, for an object this worker read the index of: one ranged GET of
/// the frames the read needs, conditional on the stored ETag the index was read at (`If-Match`),
/// whose answer carries the object's current metadata. `None` when there is nothing to go on,
/// or the object changed, vanished or is not `usable` (a locator): the caller then reads the
/// object's HEAD, which also reports its errors properly. 416 ranges take that path too.
///
/// # Errors
/// As [`get`], once the frames were fetched.
pub async fn get_known(
    src: &Source<'_>,
    input: &GetObjectInput,
    usable: impl Fn(&HeadObjectOutput) -> bool,
) -> Option<Result<GetObjectOutput, S3Error>> {
    let (bucket, key) = (input.bucket.as_str(), input.key.as_str());
    let (etag, index) = src.pipelines.indexes.latest(src.store_name, bucket, key)?;
    let want = match &input.range {
        None => 0..index.logical_size(),
        Some(r) => r.check(index.logical_size()).ok()?,
    };
    if want.is_empty() {
        return None;
    }
    let (frames, stored) = frames_of(&index, &want, bucket, key).ok()?;
    // The answer's own ETag is checked too: not every backend honours `If-Match`.
    let known = get_stored(src.store, src.like, bucket, key, stored, Some(&etag))
        .await
        .ok()
        .and_then(|out| {
            let head = head_of(&out).filter(|h| is_transformed(h.metadata.as_ref()))?;
            let t = Transformed::from_head(&head, bucket, key).ok()?;
            let same = usable(&head)
                && t.stored_etag.as_ref().map(ETag::value) == Some(etag.value())
                && t.logical_size == index.logical_size();
            same.then_some((out, head, t))
        });
    let Some((out, head, t)) = known else {
        // Changed, gone or unreachable: the HEAD path finds out which.
        src.pipelines.indexes.forget(src.store_name, bucket, key);
        src.pipelines.metrics.transformed_read("changed");
        return None;
    };
    src.pipelines.metrics.transformed_read("known");
    let fetched = Fetched {
        index,
        frames,
        body: out.body,
    };
    Some(
        async {
            let range = checked(input, &t)?;
            answer(src, input, head, &t, range, want, Some(fetched)).await
        }
        .await,
    )
}

/// The stored frames a read fetched.
struct Fetched {
    index: Arc<Index>,
    frames: std::ops::RangeInclusive<usize>,
    body: Option<s3s::dto::StreamingBlob>,
}

/// The read's preconditions (against the logical ETag) and its range checked against the
/// logical size (`None`: the whole object).
fn checked(input: &GetObjectInput, t: &Transformed) -> Result<Option<Range<u64>>, S3Error> {
    conditions::check_read(
        &t.logical_etag,
        t.last_modified_secs,
        nexus_store::read_conditions!(input),
    )?;
    input
        .range
        .as_ref()
        .map(|r| {
            r.check(t.logical_size).map_err(|_| {
                S3Error::with_message(
                    S3ErrorCode::InvalidRange,
                    "The requested range is not satisfiable",
                )
            })
        })
        .transpose()
}

/// The logical answer of a read whose frames were `fetched` (none: an empty range).
async fn answer(
    src: &Source<'_>,
    input: &GetObjectInput,
    head: HeadObjectOutput,
    t: &Transformed,
    range: Option<Range<u64>>,
    want: Range<u64>,
    fetched: Option<Fetched>,
) -> Result<GetObjectOutput, S3Error> {
    let stages = stages_of(src, t).await?;
    let body = match fetched {
        None => exact(futures::stream::empty::<Result<Bytes, std::io::Error>>(), 0),
        Some(f) => decoded(src, input, &head, t, stages, f, want.clone()),
    };
    Ok(respond(input, head, t, range, want, body))
}

/// The HEAD a ranged GET answer stands for: its headers, and the object's stored size from
/// its `Content-Range`.
fn head_of(out: &GetObjectOutput) -> Option<HeadObjectOutput> {
    let total: i64 = out
        .content_range
        .as_ref()?
        .rsplit_once('/')?
        .1
        .parse()
        .ok()?;
    Some(HeadObjectOutput {
        cache_control: out.cache_control.clone(),
        content_disposition: out.content_disposition.clone(),
        content_encoding: out.content_encoding.clone(),
        content_language: out.content_language.clone(),
        content_length: Some(total),
        content_type: out.content_type.clone(),
        e_tag: out.e_tag.clone(),
        expires: out.expires.clone(),
        last_modified: out.last_modified.clone(),
        metadata: out.metadata.clone(),
        ..HeadObjectOutput::default()
    })
}

/// The recorded pipeline's stages, last first (reads run them in reverse), loaded.
async fn stages_of(src: &Source<'_>, t: &Transformed) -> Result<Arc<[StageRun]>, S3Error> {
    let mut stages = Vec::new();
    for (i, s) in t.recorded.stages.iter().enumerate().rev() {
        let loaded = src
            .pipelines
            .loaded(&s.digest)
            .await
            .map_err(|e| e.to_s3(&s.name, i))?;
        stages.push(StageRun {
            name: Arc::from(s.name.as_str()),
            index: i,
            loaded,
            params: Arc::new(s.params.clone()),
            limits: limits_for(src.set, &s.digest),
            placement: s.placement.clone(),
            // Reads run without state.
            stateful: false,
        });
    }
    Ok(stages.into())
}

/// The frames covering the non-empty logical range `want`, and their stored bytes.
fn frames_of(
    index: &Index,
    want: &Range<u64>,
    bucket: &str,
    key: &str,
) -> Result<(std::ops::RangeInclusive<usize>, Range<u64>), S3Error> {
    let (first, last) = index
        .frames_for(want)
        .ok_or_else(|| format_error(bucket, key, "range outside the index"))?;
    Ok((
        first..=last,
        index.stored_range(first).start..index.stored_range(last).end,
    ))
}

/// The plaintext of `want`, decoded from the `fetched` frames by a task of its own.
fn decoded(
    src: &Source<'_>,
    input: &GetObjectInput,
    head: &HeadObjectOutput,
    t: &Transformed,
    stages: Arc<[StageRun]>,
    fetched: Fetched,
    want: Range<u64>,
) -> s3s::dto::StreamingBlob {
    let info = Arc::new(ChunkInfo {
        object: ObjectRef {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
        },
        system: String::new(),
        stream_name: None,
        partition: None,
        size: Some(t.logical_size),
        content_type: head.content_type.clone(),
    });
    let len = want.end - want.start;
    let job = DecodeJob {
        p: Arc::clone(src.pipelines),
        stages,
        req: PipelineRequest {
            direction: Direction::Get,
            info,
            ctx: SharedContext::read_only(t.ctx.clone()),
            request_id: Arc::clone(&src.request_id),
            // Reads run without state: a GET commits nothing.
            state: None,
        },
        index: fetched.index,
        frames: fetched.frames,
        want,
        bucket: input.bucket.clone(),
        key: input.key.clone(),
    };
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(job.run(fetched.body, tx));
    exact(channel_stream(rx), len)
}

/// The logical answer: the stored object's headers with the logical size, ETag, range and
/// (for whole reads that ask) the client's checksum.
fn respond(
    input: &GetObjectInput,
    head: HeadObjectOutput,
    t: &Transformed,
    range: Option<Range<u64>>,
    want: Range<u64>,
    body: s3s::dto::StreamingBlob,
) -> GetObjectOutput {
    let mut metadata = head.metadata;
    crate::frontend::hide_recorded(&mut metadata);
    let checksum = t.checksum.as_ref().filter(|_| {
        wants_checksum(
            input.checksum_mode.as_ref(),
            input.range.as_ref(),
            input.part_number,
        )
    });
    let mut out = GetObjectOutput {
        accept_ranges: Some("bytes".to_owned()),
        body: Some(body),
        cache_control: head.cache_control,
        content_disposition: head.content_disposition,
        content_encoding: head.content_encoding,
        content_language: head.content_language,
        content_length: i64::try_from(want.end - want.start).ok(),
        content_range: range.map(|r| {
            format!(
                "bytes {}-{}/{}",
                r.start,
                r.end.saturating_sub(1),
                t.logical_size
            )
        }),
        content_type: head.content_type,
        e_tag: Some(ETag::Strong(t.logical_etag.clone())),
        expires: head.expires,
        last_modified: head.last_modified,
        metadata,
        checksum_type: checksum.map(LogicalChecksum::checksum_type),
        ..GetObjectOutput::default()
    };
    if let Some(c) = checksum {
        nexus_store::fill_checksums!(out, &c.checksums());
    }
    out
}

/// The frames of one read, decoded in order into a channel.
struct DecodeJob {
    p: Arc<Pipelines>,
    stages: Arc<[StageRun]>,
    req: PipelineRequest,
    index: Arc<Index>,
    frames: std::ops::RangeInclusive<usize>,
    want: Range<u64>,
    bucket: String,
    key: String,
}

type Chunk = Result<Bytes, std::io::Error>;

impl DecodeJob {
    async fn run(self, body: Option<s3s::dto::StreamingBlob>, tx: mpsc::Sender<Chunk>) {
        if let Err(e) = self.decode(body, &tx).await {
            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    }

    async fn decode(
        &self,
        body: Option<s3s::dto::StreamingBlob>,
        tx: &mpsc::Sender<Chunk>,
    ) -> Result<(), S3Error> {
        let Some(mut body) = body else {
            return Err(format_error(
                &self.bucket,
                &self.key,
                "backend GET without a body",
            ));
        };
        let window = 2 * self.p.runtime.parallelism();
        let mut pending = std::collections::VecDeque::new();
        let mut buf = BytesMut::new();
        let mut next = *self.frames.start();
        let mut emit = *self.frames.start();
        let last = *self.frames.end();
        loop {
            // Start every frame whose stored bytes are complete.
            while next <= last
                && buf.len() as u64 >= self.index.frames()[next].stored_len
                && pending.len() < window
            {
                let f = self.index.frames()[next];
                let stored = buf.split_to(f.stored_len as usize).freeze();
                if crc32c::crc32c(&stored) != f.crc32c {
                    return Err(format_error(
                        &self.bucket,
                        &self.key,
                        &format!("frame {next} checksum mismatch"),
                    ));
                }
                pending.push_back(self.spawn(next, stored));
                next += 1;
            }
            let full = pending.len() >= window;
            if let Some(task) = pending.front_mut() {
                if next > last || full {
                    let plain = join(task).await?;
                    pending.pop_front();
                    self.send(emit, plain, tx).await?;
                    emit += 1;
                    continue;
                }
            } else if next > last {
                return Ok(());
            }
            match body.next().await {
                Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    return Err(S3Error::with_message(
                        S3ErrorCode::ServiceUnavailable,
                        format!("backend read failed: {e}"),
                    ));
                }
                None => {
                    return Err(format_error(
                        &self.bucket,
                        &self.key,
                        "stored frames end early",
                    ));
                }
            }
        }
    }

    fn spawn(&self, i: usize, stored: Bytes) -> tokio::task::JoinHandle<Result<Bytes, S3Error>> {
        let r = self.index.plain_range(i);
        let frame = FrameInfo {
            index: u32::try_from(i).unwrap_or(u32::MAX),
            offset: r.start,
            length: r.end - r.start,
        };
        let (p, stages, req) = (
            Arc::clone(&self.p),
            Arc::clone(&self.stages),
            self.req.clone(),
        );
        tokio::spawn(async move { p.run_frame(&stages, &req, frame, stored).await })
    }

    /// Trims frame `i`'s plaintext to the wanted range and sends it.
    async fn send(&self, i: usize, plain: Bytes, tx: &mpsc::Sender<Chunk>) -> Result<(), S3Error> {
        let r = self.index.plain_range(i);
        if plain.len() as u64 != r.end - r.start {
            return Err(format_error(
                &self.bucket,
                &self.key,
                &format!(
                    "frame {i} decodes to {} bytes, not {}",
                    plain.len(),
                    r.end - r.start
                ),
            ));
        }
        let from = self.want.start.saturating_sub(r.start) as usize;
        let to = (self.want.end.min(r.end) - r.start) as usize;
        if tx.send(Ok(plain.slice(from..to))).await.is_err() {
            // The client went away: stop decoding.
            return Err(S3Error::new(S3ErrorCode::InternalError));
        }
        Ok(())
    }
}

async fn join(
    task: &mut tokio::task::JoinHandle<Result<Bytes, S3Error>>,
) -> Result<Bytes, S3Error> {
    task.await.map_err(|e| {
        S3Error::with_message(
            S3ErrorCode::InternalError,
            format!("frame task failed: {e}"),
        )
    })?
}

/// A body stream fed by a task through a channel (bodies must be `Sync`, and the store's
/// futures are not).
pub fn channel_stream(
    mut rx: mpsc::Receiver<Chunk>,
) -> impl futures::Stream<Item = Chunk> + Send + Sync {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
