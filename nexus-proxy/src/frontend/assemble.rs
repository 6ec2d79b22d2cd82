//! The object a staged upload's Complete writes (`docs/formats.md` §5): every staged part's
//! frames in part order, then the merged index and trailer.
//!
//! - **One streamed PUT** for objects up to `--complete-put-max` (default 5 GiB, the most one
//!   PUT takes). The worker reads the staged frames back and sends them on.
//! - **A backend multipart upload** for larger ones, in the store the bytes go to. In the
//!   bucket's own store, a run of staged frames of at least 5 MiB is copied inside it
//!   (UploadPartCopy, no bytes through the worker), and smaller runs are streamed into 5 MiB
//!   parts, topped up from the next staged part. In another store (an output store, or one a
//!   routing stage picked) every byte is streamed, in parts of [`STREAM_PART`], and the locator
//!   is written after the Complete. The last part carries the tail.
//!
//! One PUT is the default because the stores here copy by reading and writing: on the embedded
//! store, a 1 GiB noop upload's Complete took 5.1–6.3 s as one PUT and 6.8–7.2 s assembled
//! (`nexus-bench streamlets --parts complete`). A store that copies inside itself (AWS S3)
//! gains from a lower `--complete-put-max`. Either way, objects over 5 GiB can be assembled at
//! all.
//!
//! A failure aborts the backend upload and fails the Complete. The staged parts are untouched,
//! so the client's retry assembles again.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Result};

use super::Frontend;
use super::located::Destination;
use super::transformed::shell;
use crate::pipeline::decode::{self, get_stored, internal};
use crate::pipeline::spool::exact;

/// S3's minimum size of every part but the last.
pub const MIN_PART: u64 = 5 << 20;
/// S3's maximum size of one part, and of one PUT.
pub const MAX_PART: u64 = 5 << 30;
/// S3's maximum number of parts of one upload.
const MAX_PARTS: usize = 10_000;
/// Backend parts uploaded at once.
const PARTS_AT_ONCE: usize = 4;
/// Size of streamed parts when nothing can be copied (another store than the staged parts').
pub const STREAM_PART: u64 = 64 << 20;

/// A staged part's frames: the first `len` stored bytes of the staged object `key` (ETag
/// `etag`).
#[derive(Debug, Clone)]
pub(super) struct Piece {
    pub key: String,
    pub etag: Option<ETag>,
    pub len: u64,
}

/// Stored bytes `range` of piece `piece`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    piece: usize,
    range: Range<u64>,
}

/// Where a backend upload assembles the object.
struct Target<'a> {
    store: &'a Arc<dyn S3>,
    bucket: &'a str,
    key: &'a str,
    /// The bucket of the bucket's own store that holds the staged parts.
    staged_in: &'a str,
}

/// One part of the backend upload.
#[derive(Debug, PartialEq, Eq)]
enum Part {
    /// Copied inside the store.
    Copy(Span),
    /// Streamed through the worker; the last one also carries the tail.
    Stream(Vec<Span>),
}

/// The backend parts that assemble pieces of `lens` stored bytes followed by a `tail` of
/// `tail` bytes: every part but the last between [`MIN_PART`] and [`MAX_PART`], the spans in
/// order, covering every byte once; copies only if `copy` (else streamed parts of
/// [`STREAM_PART`]). `None` when that takes more than 10,000 parts.
fn plan(lens: &[u64], tail: u64, copy: bool) -> Option<Vec<Part>> {
    let Some((&last_len, rest)) = lens.split_last() else {
        return Some(vec![Part::Stream(Vec::new())]);
    };
    let mut p = Planner {
        copy,
        ..Planner::default()
    };
    for (i, &len) in rest.iter().enumerate() {
        p.place(i, len);
    }
    let last = rest.len();
    // The last piece rides with the tail, unless that part would be too large.
    if p.pending_len + last_len + tail > MAX_PART {
        p.place(last, last_len);
    } else {
        p.pend(last, 0..last_len);
    }
    p.parts.push(Part::Stream(p.pending));
    (p.parts.len() <= MAX_PARTS).then_some(p.parts)
}

#[derive(Default)]
struct Planner {
    /// Whether runs of at least [`MIN_PART`] are copied (else everything is streamed).
    copy: bool,
    parts: Vec<Part>,
    /// Bytes waiting to be streamed as one part (less than [`MIN_PART`]).
    pending: Vec<Span>,
    pending_len: u64,
}

impl Planner {
    /// Plans the `len` bytes of `piece`.
    fn place(&mut self, piece: usize, len: u64) {
        if !self.copy {
            let mut at = 0;
            while at < len {
                let n = (len - at).min(STREAM_PART - self.pending_len);
                self.pend(piece, at..at + n);
                at += n;
                if self.pending_len == STREAM_PART {
                    self.flush();
                }
            }
            return;
        }
        let mut at = 0;
        if self.pending_len > 0 {
            // Top the pending run up to a part's minimum from this piece.
            at = len.min(MIN_PART - self.pending_len);
            self.pend(piece, 0..at);
            if self.pending_len >= MIN_PART {
                self.flush();
            }
        }
        while len - at >= MIN_PART {
            let left = len - at;
            let mut n = left.min(MAX_PART);
            if left > n && left - n < MIN_PART {
                // Leave a remainder that can still be copied.
                n = left - MIN_PART;
            }
            self.parts.push(Part::Copy(Span {
                piece,
                range: at..at + n,
            }));
            at += n;
        }
        self.pend(piece, at..len);
    }

    fn flush(&mut self) {
        self.parts
            .push(Part::Stream(std::mem::take(&mut self.pending)));
        self.pending_len = 0;
    }

    fn pend(&mut self, piece: usize, range: Range<u64>) {
        if !range.is_empty() {
            self.pending_len += range.end - range.start;
            self.pending.push(Span { piece, range });
        }
    }
}

fn internal_error(e: impl std::fmt::Display) -> S3Error {
    S3Error::with_message(S3ErrorCode::InternalError, e.to_string())
}

impl Frontend {
    /// Writes the object `put` describes (its body is not set yet): `pieces` then `tail`, in
    /// the bucket's store or in `dest` (with a locator in the bucket). Answers the stored ETag
    /// the store gave the object.
    ///
    /// # Errors
    /// The backend's errors (a backend upload is aborted).
    pub(super) async fn assemble(
        &self,
        like: &S3Request<()>,
        mut put: PutObjectInput,
        pieces: Vec<Piece>,
        tail: Vec<u8>,
        dest: Option<&Destination>,
    ) -> S3Result<Option<ETag>> {
        let pieces: Arc<[Piece]> = pieces.into();
        let total = pieces.iter().map(|p| p.len).sum::<u64>() + tail.len() as u64;
        if total <= self.complete_put_max {
            let all = (0..pieces.len())
                .map(|piece| Span {
                    piece,
                    range: 0..pieces[piece].len,
                })
                .collect();
            put.content_length = i64::try_from(total).ok();
            put.body = Some(self.stream(like, &put.bucket, &pieces, all, Some(tail)));
            let res = self.store_at(internal(like, put), dest).await?;
            return Ok(res.output.e_tag);
        }
        let lens: Vec<u64> = pieces.iter().map(|p| p.len).collect();
        let parts = plan(&lens, tail.len() as u64, dest.is_none()).ok_or_else(|| {
            internal_error("the staged parts need more than 10,000 backend parts")
        })?;
        let (store, bucket) = match dest {
            None => (Arc::clone(&self.store), put.bucket.clone()),
            Some(d) => (Arc::clone(&d.store), d.bucket.clone()),
        };
        let target = Target {
            store: &store,
            bucket: &bucket,
            key: &put.key,
            staged_in: &put.bucket,
        };
        let e_tag = self
            .assemble_multipart(like, &put, &target, &pieces, parts, tail)
            .await?;
        if let Some(d) = dest {
            self.locate(like, &put, d).await?;
        }
        Ok(e_tag)
    }

    async fn assemble_multipart(
        &self,
        like: &S3Request<()>,
        put: &PutObjectInput,
        target: &Target<'_>,
        pieces: &Arc<[Piece]>,
        parts: Vec<Part>,
        tail: Vec<u8>,
    ) -> S3Result<Option<ETag>> {
        let create = CreateMultipartUploadInput::builder()
            .bucket(target.bucket.to_owned())
            .key(target.key.to_owned())
            .content_type(put.content_type.clone())
            .cache_control(put.cache_control.clone())
            .content_disposition(put.content_disposition.clone())
            .content_encoding(put.content_encoding.clone())
            .content_language(put.content_language.clone())
            .storage_class(put.storage_class.clone())
            .metadata(put.metadata.clone())
            .build()
            .map_err(internal_error)?;
        let id = target
            .store
            .create_multipart_upload(internal(like, create))
            .await?
            .output
            .upload_id
            .ok_or_else(|| internal_error("the backend answered no upload id"))?;
        let (bucket, key) = (target.bucket, target.key);
        let mut tail = Some(tail);
        let last = parts.len();
        let sends = parts.into_iter().enumerate().map(|(i, part)| {
            let n = i32::try_from(i + 1).unwrap_or(i32::MAX);
            let tail = if i + 1 == last { tail.take() } else { None };
            self.send_part(like, target, &id, n, pieces, part, tail)
        });
        let uploaded: S3Result<Vec<CompletedPart>> = futures::stream::iter(sends)
            .buffered(PARTS_AT_ONCE)
            .try_collect()
            .await;
        let completed = match uploaded {
            Ok(parts) => {
                let complete = CompleteMultipartUploadInput::builder()
                    .bucket(bucket.to_owned())
                    .key(key.to_owned())
                    .upload_id(id.clone())
                    .multipart_upload(Some(CompletedMultipartUpload { parts: Some(parts) }))
                    .build()
                    .map_err(internal_error)?;
                target
                    .store
                    .complete_multipart_upload(internal(like, complete))
                    .await
                    .map(|r| r.output.e_tag)
            }
            Err(e) => Err(e),
        };
        let e = match completed {
            Ok(e_tag) => return Ok(e_tag),
            Err(e) => e,
        };
        tracing::warn!(%bucket, %key, error = %e, "Assembling a staged upload failed; aborting the backend upload.");
        if let Ok(abort) = AbortMultipartUploadInput::builder()
            .bucket(bucket.to_owned())
            .key(key.to_owned())
            .upload_id(id)
            .build()
        {
            let _ = target
                .store
                .abort_multipart_upload(internal(like, abort))
                .await;
        }
        Err(e)
    }

    #[expect(clippy::too_many_arguments, reason = "one backend part's coordinates")]
    async fn send_part(
        &self,
        like: &S3Request<()>,
        target: &Target<'_>,
        id: &str,
        n: i32,
        pieces: &Arc<[Piece]>,
        part: Part,
        tail: Option<Vec<u8>>,
    ) -> S3Result<CompletedPart> {
        let (bucket, key) = (target.bucket, target.key);
        let e_tag = match part {
            Part::Copy(span) => {
                let piece = &pieces[span.piece];
                let input = UploadPartCopyInput::builder()
                    .bucket(bucket.to_owned())
                    .key(key.to_owned())
                    .upload_id(id.to_owned())
                    .part_number(n)
                    .copy_source(CopySource::Bucket {
                        bucket: target.staged_in.into(),
                        key: piece.key.as_str().into(),
                        version_id: None,
                    })
                    .copy_source_range(Some(format!(
                        "bytes={}-{}",
                        span.range.start,
                        span.range.end - 1
                    )))
                    .copy_source_if_match(piece.etag.clone().map(ETagCondition::ETag))
                    .build()
                    .map_err(internal_error)?;
                target
                    .store
                    .upload_part_copy(internal(like, input))
                    .await?
                    .output
                    .copy_part_result
                    .and_then(|r| r.e_tag)
            }
            Part::Stream(spans) => {
                let len = spans
                    .iter()
                    .map(|s| s.range.end - s.range.start)
                    .sum::<u64>()
                    + tail.as_ref().map_or(0, |t| t.len() as u64);
                let input = UploadPartInput::builder()
                    .bucket(bucket.to_owned())
                    .key(key.to_owned())
                    .upload_id(id.to_owned())
                    .part_number(n)
                    .content_length(i64::try_from(len).ok())
                    .body(Some(self.stream(
                        like,
                        target.staged_in,
                        pieces,
                        spans,
                        tail,
                    )))
                    .build()
                    .map_err(internal_error)?;
                target
                    .store
                    .upload_part(internal(like, input))
                    .await?
                    .output
                    .e_tag
            }
        };
        let e_tag = e_tag.ok_or_else(|| internal_error(format!("backend part {n} has no ETag")))?;
        Ok(CompletedPart {
            e_tag: Some(e_tag),
            part_number: Some(n),
            ..CompletedPart::default()
        })
    }

    /// A body of the stored `spans` of `pieces` (each read `If-Match` its staged part's
    /// ETag), then `tail`, read by a task of its own (bounded: a few chunks ahead).
    fn stream(
        &self,
        like: &S3Request<()>,
        bucket: &str,
        pieces: &Arc<[Piece]>,
        spans: Vec<Span>,
        tail: Option<Vec<u8>>,
    ) -> StreamingBlob {
        let len = spans
            .iter()
            .map(|s| s.range.end - s.range.start)
            .sum::<u64>()
            + tail.as_ref().map_or(0, |t| t.len() as u64);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let (store, bucket, like, pieces) = (
            Arc::clone(&self.store),
            bucket.to_owned(),
            shell(like),
            Arc::clone(pieces),
        );
        tokio::spawn(async move {
            for span in spans {
                if span.range.is_empty() {
                    continue;
                }
                let piece = &pieces[span.piece];
                let body = match get_stored(
                    &store,
                    &like,
                    &bucket,
                    &piece.key,
                    span.range,
                    piece.etag.as_ref(),
                )
                .await
                {
                    Ok(out) => out.body,
                    Err(e) => {
                        let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                        return;
                    }
                };
                let Some(mut body) = body else {
                    let _ = tx
                        .send(Err(std::io::Error::other("staged part without body")))
                        .await;
                    return;
                };
                while let Some(chunk) = body.next().await {
                    if tx.send(chunk.map_err(std::io::Error::other)).await.is_err() {
                        return;
                    }
                }
            }
            if let Some(tail) = tail {
                let _ = tx.send(Ok(Bytes::from(tail))).await;
            }
        });
        exact(decode::channel_stream(rx), len)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MIB: u64 = 1 << 20;

    /// Checks what [`plan`] promises and returns (copies, streamed parts).
    fn check(lens: &[u64], tail: u64, copy: bool) -> (usize, usize) {
        let parts = plan(lens, tail, copy).expect("a plan");
        let mut covered: Vec<Span> = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let size = match p {
                Part::Copy(s) => {
                    covered.push(s.clone());
                    s.range.end - s.range.start
                }
                Part::Stream(spans) => {
                    assert!(i + 1 == parts.len() || !spans.is_empty(), "{parts:?}");
                    covered.extend(spans.iter().cloned());
                    spans.iter().map(|s| s.range.end - s.range.start).sum()
                }
            };
            let size = size + if i + 1 == parts.len() { tail } else { 0 };
            assert!(size <= MAX_PART, "part {i} is {size} bytes: {parts:?}");
            assert!(
                i + 1 == parts.len() || size >= MIN_PART,
                "part {i} is {size} bytes"
            );
        }
        assert!(
            matches!(parts.last(), Some(Part::Stream(_))),
            "the tail is streamed"
        );
        // The spans, in order, are every piece's bytes exactly once.
        let mut at = (0, 0);
        for s in covered.iter().filter(|s| !s.range.is_empty()) {
            if s.piece != at.0 {
                assert_eq!(at.1, lens[at.0], "piece {} ends early", at.0);
                assert!(lens[at.0 + 1..s.piece].iter().all(|&l| l == 0));
                at = (s.piece, 0);
            }
            assert_eq!(s.range.start, at.1, "{covered:?}");
            at.1 = s.range.end;
        }
        if lens.iter().any(|&l| l > 0) {
            let last = lens.iter().rposition(|&l| l > 0).expect("a piece");
            assert_eq!(at, (last, lens[last]), "{covered:?}");
        }
        let copies = parts.iter().filter(|p| matches!(p, Part::Copy(_))).count();
        assert!(copy || copies == 0, "copies into another store: {parts:?}");
        (copies, parts.len() - copies)
    }

    #[test]
    fn large_parts_are_copied_small_ones_streamed_and_topped_up() {
        // Noop-sized parts: every part but the last is copied whole; the last rides with the
        // tail.
        assert_eq!(check(&[25 * MIB, 25 * MIB, 3 * MIB], 100, true), (2, 1));
        // Compressed parts: all streamed, 5 MiB at a time.
        assert_eq!(check(&[2 * MIB; 10], 100, true), (0, 4));
        // A small part, then a large one: topped up, the rest copied.
        let parts = plan(&[MIB, 12 * MIB, MIB], 10, true).expect("plan");
        assert_eq!(
            parts,
            vec![
                Part::Stream(vec![
                    Span {
                        piece: 0,
                        range: 0..MIB
                    },
                    Span {
                        piece: 1,
                        range: 0..4 * MIB
                    },
                ]),
                Part::Copy(Span {
                    piece: 1,
                    range: 4 * MIB..12 * MIB
                }),
                Part::Stream(vec![Span {
                    piece: 2,
                    range: 0..MIB
                }]),
            ]
        );
        // Nothing at all: the tail alone.
        assert_eq!(check(&[], 40, true), (0, 1));
        assert_eq!(check(&[0, 0], 40, true), (0, 1));
    }

    #[test]
    fn parts_over_five_gib_are_split_and_the_last_part_stays_under_it() {
        assert_eq!(check(&[12 << 30, 3 * MIB], 100, true), (3, 1));
        // The last piece too large to ride with the tail: copied, the tail streamed alone.
        assert_eq!(check(&[6 * MIB, MAX_PART], 100, true), (2, 1));
        // A part just over 5 GiB leaves a copyable remainder.
        assert_eq!(check(&[MAX_PART + 1, MIB], 0, true), (2, 1));
    }

    #[test]
    fn into_another_store_everything_is_streamed_in_large_parts() {
        assert_eq!(
            check(&[25 * MIB, 25 * MIB, 25 * MIB, 3 * MIB], 100, false),
            (0, 2)
        );
        assert_eq!(check(&[6 << 30, MIB], 0, false), (0, 97));
        assert_eq!(check(&[MIB; 3], 0, false), (0, 1));
    }

    #[test]
    fn too_many_parts_is_refused() {
        assert!(plan(&[6 * MIB; MAX_PARTS], 10, true).is_some());
        assert!(plan(&[MAX_PART * 2; MAX_PARTS], 10, true).is_none());
    }

    proptest! {
        #[test]
        fn every_plan_keeps_s3s_part_rules(
            lens in proptest::collection::vec(
                prop_oneof![0..MIB, 0..8 * MIB, (MAX_PART - MIB)..(MAX_PART + 6 * MIB)],
                0..12,
            ),
            tail in 0..(1u64 << 16),
            copy in proptest::bool::ANY,
        ) {
            check(&lens, tail, copy);
        }
    }
}
