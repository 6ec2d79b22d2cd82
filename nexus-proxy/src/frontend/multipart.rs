//! Multipart uploads through a pipeline (`docs/formats.md` §5). Encoded parts can be far
//! smaller than S3's 5 MiB part minimum, so they cannot be backend parts. Instead:
//!
//! - CreateMultipartUpload answers an upload id of ours (`nx1.<uuid>`) and stores the upload
//!   record (key, the plan decided now, client metadata) as `.nexus-staging/<id>/upload` in
//!   the bucket;
//! - UploadPart (and UploadPartCopy) encodes the part into frames and stores it as the NXF1
//!   object `.nexus-staging/<id>/part-<n>`, whose metadata holds the part's plaintext size and
//!   MD5 (the part ETag the client gets). Parallel, out-of-order and re-uploaded parts are
//!   independent objects; a re-upload replaces its part;
//! - CompleteMultipartUpload checks the client's list as S3 does, then writes the staged
//!   frames, in part order, as one NXF1 object with a merged index (part boundaries kept) and
//!   the multipart ETag over the plaintext parts ([`super::assemble`]: one PUT, or a backend
//!   multipart upload copying large staged parts inside the store), and deletes the staging
//!   objects;
//! - ListParts lists the staged parts; ListMultipartUploads lists staged uploads beside the
//!   store's own ([`super::uploads_list`]); AbortMultipartUpload deletes them.
//!
//! All state is in the output store, so any worker can continue an upload another started,
//! and a Complete interrupted half-way is redone by the client's retry. Listings never show
//! `.nexus-staging/`, and clients cannot write under it.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt as _;
use md5::{Digest as _, Md5};
use nexus_core::format::Index;
use nexus_store::checksum::ChecksumAlgorithm;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::assemble::{MIN_PART, Piece};
use super::ingest::Verdict;
use super::located::Destination;
use super::transformed::{chunk_info, record_transformed, request_id, shell};
use super::{Frontend, Observed, recorded};
use crate::pipeline::PipelineRequest;
use crate::pipeline::checksum::{LogicalChecksum, checksum_type, digesting};
use crate::pipeline::decode::{self, internal, read_index};
use crate::pipeline::encode::{Encoded, encode};
use crate::pipeline::plan::{Plan, PlanRecord, keys};
use crate::pipeline::spool::exact;
use crate::streamlet::{Direction, SharedContext};

/// Where staged uploads live in a bucket.
pub const STAGING: &str = ".nexus-staging/";
const ID_PREFIX: &str = "nx1.";
/// On a staged part: the store a routing stage picked for it.
const ROUTED_TO: &str = "nexus-routed-to";

/// Whether an upload id is one of ours.
#[must_use]
pub fn is_ours(upload_id: &str) -> bool {
    upload_id.starts_with(ID_PREFIX)
}

/// Whether a key is in the staging area (hidden from listings, not writable by clients).
#[must_use]
pub fn is_staging(key: &str) -> bool {
    key.starts_with(STAGING)
}

/// Refuses client writes under the staging prefix.
///
/// # Errors
/// `InvalidArgument`.
pub fn refuse_staging_key(key: &str) -> S3Result<()> {
    if is_staging(key) {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("keys under {STAGING} are reserved for Nexus"),
        ));
    }
    Ok(())
}

/// The upload record.
#[derive(serde::Serialize, serde::Deserialize)]
struct UploadRecord {
    version: u32,
    key: String,
    plan: PlanRecord,
    metadata: BTreeMap<String, String>,
    content_type: Option<String>,
    /// `name@version` of the policy (recorded as `nexus-policy`).
    policy: Option<String>,
    /// The other headers of Create that the object keeps.
    #[serde(default)]
    headers: StoredHeaders,
    /// `x-amz-checksum-algorithm` of Create and whether the object's checksum is
    /// `FULL_OBJECT` (else `COMPOSITE`).
    #[serde(default)]
    checksum: Option<(String, bool)>,
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct StoredHeaders {
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_encoding: Option<String>,
    content_language: Option<String>,
    storage_class: Option<String>,
}

impl UploadRecord {
    fn checksum_algorithm(&self) -> Option<(ChecksumAlgorithm, bool)> {
        self.checksum
            .as_ref()
            .and_then(|(a, full)| ChecksumAlgorithm::parse(a).map(|a| (a, *full)))
    }
}

/// The checksum algorithm of a Create and whether it is `FULL_OBJECT`, as S3 decides it.
fn upload_checksum(
    input: &CreateMultipartUploadInput,
) -> S3Result<Option<(ChecksumAlgorithm, bool)>> {
    let Some(name) = &input.checksum_algorithm else {
        if input.checksum_type.is_some() {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "x-amz-checksum-type requires x-amz-checksum-algorithm",
            ));
        }
        return Ok(None);
    };
    let algorithm = ChecksumAlgorithm::parse(name.as_str()).ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            format!("unknown checksum algorithm {}", name.as_str()),
        )
    })?;
    let full = match input
        .checksum_type
        .as_ref()
        .map(|t| t.as_str().to_ascii_uppercase())
    {
        None => algorithm == ChecksumAlgorithm::Crc64Nvme,
        Some(t) if t == "FULL_OBJECT" => true,
        Some(t) if t == "COMPOSITE" && algorithm != ChecksumAlgorithm::Crc64Nvme => false,
        Some(t) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                format!("checksum type {t} is not supported with {algorithm}"),
            ));
        }
    };
    if full
        && !matches!(
            algorithm,
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c
        )
    {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            format!(
                "FULL_OBJECT {algorithm} checksums of multipart uploads are not supported on objects Nexus transforms (CRC32 and CRC32C are)"
            ),
        ));
    }
    Ok(Some((algorithm, full)))
}

/// A part as staged: its plaintext ETag and the client's verified checksum.
struct StagedPart {
    etag: ETag,
    checksum: Option<LogicalChecksum>,
}

/// Where one part of one of our uploads goes.
struct PartTarget<'a> {
    like: &'a S3Request<()>,
    bucket: &'a str,
    record: &'a UploadRecord,
    id: &'a str,
    part_number: i32,
    obs: &'a Observed,
    request_id: Arc<str>,
}

fn record_key(id: &str) -> String {
    format!("{STAGING}{id}/upload")
}

fn part_key(id: &str, n: i32) -> String {
    format!("{STAGING}{id}/part-{n:05}")
}

/// Every object of `bucket` under `prefix`, all pages.
///
/// # Errors
/// The store's answer.
pub(super) async fn list_all(
    store: &Arc<dyn s3s::S3>,
    like: &S3Request<()>,
    bucket: &str,
    prefix: &str,
) -> S3Result<Vec<Object>> {
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let input = ListObjectsV2Input::builder()
            .bucket(bucket.to_owned())
            .prefix(Some(prefix.to_owned()))
            .continuation_token(token.take())
            .build()
            .map_err(internal_error)?;
        let out = store.list_objects_v2(internal(like, input)).await?.output;
        all.extend(out.contents.unwrap_or_default());
        match out.next_continuation_token {
            Some(t) if out.is_truncated == Some(true) => token = Some(t),
            _ => return Ok(all),
        }
    }
}

fn internal_error(e: impl std::fmt::Display) -> S3Error {
    S3Error::with_message(S3ErrorCode::InternalError, e.to_string())
}

fn no_such_upload() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchUpload,
        "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
}

impl Frontend {
    /// CreateMultipartUpload under a plan.
    pub(super) async fn create_staged_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
        obs: &Observed,
        plan: &Plan,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let like = shell(&req);
        let input = req.input;
        let checksum = upload_checksum(&input)?;
        let id = format!("{ID_PREFIX}{}", uuid::Uuid::new_v4().simple());
        let record = UploadRecord {
            version: 1,
            key: input.key.clone(),
            plan: PlanRecord::from(plan),
            metadata: input
                .metadata
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            content_type: input.content_type.clone(),
            policy: obs.policy_label(&input.bucket),
            headers: StoredHeaders {
                cache_control: input.cache_control.clone(),
                content_disposition: input.content_disposition.clone(),
                content_encoding: input.content_encoding.clone(),
                content_language: input.content_language.clone(),
                storage_class: input.storage_class.as_ref().map(|c| c.as_str().to_owned()),
            },
            checksum: checksum.map(|(a, full)| (a.as_str().to_owned(), full)),
        };
        let json = serde_json::to_vec(&record).map_err(internal_error)?;
        self.put_staged(
            &like,
            &input.bucket,
            &record_key(&id),
            Bytes::from(json),
            None,
        )
        .await?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            checksum_algorithm: input.checksum_algorithm,
            checksum_type: checksum.map(|(_, full)| checksum_type(full)),
            ..CreateMultipartUploadOutput::default()
        }))
    }

    async fn put_staged(
        &self,
        like: &S3Request<()>,
        bucket: &str,
        key: &str,
        body: Bytes,
        metadata: Option<Metadata>,
    ) -> S3Result<()> {
        let len = body.len() as u64;
        let input = PutObjectInput::builder()
            .bucket(bucket.to_owned())
            .key(key.to_owned())
            .content_length(i64::try_from(len).ok())
            .metadata(metadata)
            .body(Some(exact(
                futures::stream::once(async move { Ok::<_, std::io::Error>(body) }),
                len,
            )))
            .build()
            .map_err(internal_error)?;
        self.store.put_object(internal(like, input)).await?;
        Ok(())
    }

    async fn record(
        &self,
        like: &S3Request<()>,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> S3Result<UploadRecord> {
        let record = self
            .read_record(like, bucket, id)
            .await?
            .ok_or_else(no_such_upload)?;
        if record.key != key {
            return Err(no_such_upload());
        }
        Ok(record)
    }

    /// The upload record of `id`, if there is one.
    async fn read_record(
        &self,
        like: &S3Request<()>,
        bucket: &str,
        id: &str,
    ) -> S3Result<Option<UploadRecord>> {
        let input = GetObjectInput::builder()
            .bucket(bucket.to_owned())
            .key(record_key(id))
            .build()
            .map_err(internal_error)?;
        let out = match self.store.get_object(internal(like, input)).await {
            Ok(o) => o.output,
            Err(e) if *e.code() == S3ErrorCode::NoSuchKey => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut body = Vec::new();
        if let Some(mut b) = out.body {
            while let Some(chunk) = b.next().await {
                body.extend_from_slice(&chunk.map_err(internal_error)?);
            }
        }
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(internal_error)
    }

    /// Every staged upload of `bucket` whose key starts with `prefix`: (key, upload id,
    /// initiated, storage class), in no particular order.
    pub(super) async fn staged_uploads(
        &self,
        like: &S3Request<()>,
        bucket: &str,
        prefix: &str,
    ) -> S3Result<Vec<MultipartUpload>> {
        let mut found = Vec::new();
        for o in list_all(&self.store, like, bucket, STAGING).await? {
            let Some(id) = o
                .key
                .as_deref()
                .and_then(|k| k.strip_prefix(STAGING)?.strip_suffix("/upload"))
            else {
                continue;
            };
            // Gone meanwhile (completed, aborted): not listed.
            let Some(record) = self.read_record(like, bucket, id).await? else {
                continue;
            };
            if !record.key.starts_with(prefix) {
                continue;
            }
            found.push(MultipartUpload {
                key: Some(record.key.clone()),
                upload_id: Some(id.to_owned()),
                initiated: o.last_modified.clone(),
                storage_class: record.headers.storage_class.clone().map(StorageClass::from),
                checksum_algorithm: record
                    .checksum
                    .as_ref()
                    .map(|(a, _)| s3s::dto::ChecksumAlgorithm::from(a.clone())),
                ..MultipartUpload::default()
            });
        }
        Ok(found)
    }

    /// Encodes one part's plaintext and stages it; the part ETag is its plaintext MD5.
    async fn stage_part(
        &self,
        part: PartTarget<'_>,
        body: Option<StreamingBlob>,
        verdict: Option<&Verdict>,
    ) -> S3Result<StagedPart> {
        let PartTarget {
            like,
            bucket,
            record,
            id,
            part_number,
            obs,
            request_id: id_for_logs,
        } = part;
        if !(1..=10_000).contains(&part_number) {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive",
            ));
        }
        let plan = Plan::try_from(record.plan.clone()).map_err(internal_error)?;
        let stages = self.stage_runs(&plan).await?;
        let state = self.state_scope(like, obs);
        let ctx = SharedContext::writable(BTreeMap::new());
        let preq = PipelineRequest {
            direction: Direction::Put,
            info: chunk_info(bucket, &record.key, obs, None, record.content_type.clone()),
            ctx: ctx.clone(),
            request_id: id_for_logs,
            state: state.clone(),
        };
        // The part's checksum: computed in the upload's algorithm if it has one (equal to the
        // client's when it sent that one: both are checked), else the client's, verified.
        let (body, computed) = match record.checksum_algorithm() {
            Some((a, _)) => {
                let (body, slot) = digesting(body, a);
                (body, Some((a, slot)))
            }
            None => (body, None),
        };
        let encoded: Encoded = encode(&self.pipelines, stages, plan.frame_size, &preq, body)
            .await
            .map_err(|e| match verdict {
                Some(v) => v.explain(e),
                None => e,
            })?;
        if let Some(v) = verdict {
            v.confirm()?;
        }
        let checksum = match computed {
            Some((a, slot)) => slot
                .lock()
                .ok()
                .and_then(|v| v.clone())
                .map(|v| LogicalChecksum::new((a, v))),
            None => verdict
                .and_then(Verdict::checksum)
                .map(LogicalChecksum::new),
        };
        let mut m = Metadata::default();
        m.insert(keys::SIZE.to_owned(), encoded.logical_size.to_string());
        m.insert(keys::ETAG.to_owned(), encoded.md5_hex.clone());
        if let Some(c) = &checksum {
            m.insert(keys::CHECKSUM.to_owned(), c.encode());
        }
        // A routing stage's pick (checked against the policy now) travels with the part to
        // Complete, which stores the object there; a key-based router picks the same store for
        // every part of a key, and Complete takes the first part's.
        if let Some(store) = ctx.entries().get(super::transformed::ROUTE_STORE) {
            Destination::routed(&self.named, obs, bucket, store)?;
            m.insert(ROUTED_TO.to_owned(), store.clone());
        }
        let len = encoded.spool.len();
        let body = encoded.spool.into_blob().map_err(|e| {
            S3Error::with_message(S3ErrorCode::ServiceUnavailable, format!("spool: {e}"))
        })?;
        let input = PutObjectInput::builder()
            .bucket(bucket.to_owned())
            .key(part_key(id, part_number))
            .content_length(i64::try_from(len).ok())
            .metadata(Some(m))
            .body(Some(body))
            .build()
            .map_err(internal_error)?;
        self.store.put_object(internal(like, input)).await?;
        if let Some(state) = &state {
            state.commit().await?;
        }
        Ok(StagedPart {
            etag: ETag::Strong(encoded.md5_hex),
            checksum,
        })
    }

    /// UploadPart into one of our uploads.
    pub(super) async fn upload_staged_part(
        &self,
        mut req: S3Request<UploadPartInput>,
        verdict: &Verdict,
        obs: &Observed,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let like = shell(&req);
        let rid = request_id(&req);
        let input = &mut req.input;
        let record = self
            .record(&like, &input.bucket, &input.key, &input.upload_id)
            .await?;
        let body = input.body.take();
        let staged = self
            .stage_part(
                PartTarget {
                    like: &like,
                    bucket: &input.bucket,
                    record: &record,
                    id: &input.upload_id,
                    part_number: input.part_number,
                    obs,
                    request_id: rid,
                },
                body,
                Some(verdict),
            )
            .await?;
        let mut out = UploadPartOutput {
            e_tag: Some(staged.etag),
            ..UploadPartOutput::default()
        };
        if let Some(c) = &staged.checksum {
            nexus_store::fill_checksums!(out, &c.checksums());
        }
        Ok(S3Response::new(out))
    }

    /// UploadPartCopy into one of our uploads: the source range's plaintext (decoded when the
    /// source is transformed) is staged like an uploaded part.
    pub(super) async fn copy_staged_part(
        &self,
        req: S3Request<UploadPartCopyInput>,
        obs: &Observed,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let like = shell(&req);
        let input = &req.input;
        let record = self
            .record(&like, &input.bucket, &input.key, &input.upload_id)
            .await?;
        let rid = request_id(&req);
        let body = self
            .copy_source_body(&like, input, obs, Arc::clone(&rid))
            .await?;
        let staged = self
            .stage_part(
                PartTarget {
                    like: &like,
                    bucket: &input.bucket,
                    record: &record,
                    id: &input.upload_id,
                    part_number: input.part_number,
                    obs,
                    request_id: rid,
                },
                body,
                None,
            )
            .await?;
        let mut result = CopyPartResult {
            e_tag: Some(staged.etag),
            last_modified: Some(Timestamp::from(std::time::SystemTime::now())),
            ..CopyPartResult::default()
        };
        if let Some(c) = &staged.checksum {
            nexus_store::fill_checksums!(result, &c.checksums());
        }
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(result),
            ..UploadPartCopyOutput::default()
        }))
    }

    /// ListParts of one of our uploads.
    pub(super) async fn list_staged_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let like = shell(&req);
        let input = &req.input;
        self.record(&like, &input.bucket, &input.key, &input.upload_id)
            .await?;
        let mut parts = Vec::new();
        for key in self
            .staged_keys(&like, &input.bucket, &input.upload_id)
            .await?
        {
            let Some(n) = key
                .rsplit_once("/part-")
                .and_then(|(_, n)| n.parse::<i32>().ok())
            else {
                continue;
            };
            let head = decode::head(&self.store, &like, &input.bucket, &key).await?;
            let m = head.metadata.unwrap_or_default();
            parts.push(Part {
                part_number: Some(n),
                e_tag: m.get(keys::ETAG).map(|e| ETag::Strong(e.clone())),
                size: m.get(keys::SIZE).and_then(|s| s.parse().ok()),
                last_modified: head.last_modified,
                ..Part::default()
            });
        }
        parts.sort_by_key(|p| p.part_number);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            upload_id: Some(input.upload_id.clone()),
            is_truncated: Some(false),
            parts: Some(parts),
            ..ListPartsOutput::default()
        }))
    }

    /// AbortMultipartUpload of one of our uploads.
    pub(super) async fn abort_staged(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let like = shell(&req);
        let input = &req.input;
        self.record(&like, &input.bucket, &input.key, &input.upload_id)
            .await?;
        self.delete_staging(&like, &input.bucket, &input.upload_id)
            .await?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    /// CompleteMultipartUpload of one of our uploads.
    pub(super) async fn complete_staged(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let like = shell(&req);
        let input = &req.input;
        let (bucket, key, id) = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        let record = self.record(&like, &bucket, &key, &id).await?;
        let listed = input
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.clone())
            .unwrap_or_default();
        if listed.is_empty() {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema: no parts",
            ));
        }
        // The list as a whole first (as S3 does), then each part.
        let numbers: Vec<i32> = listed.iter().map(|p| p.part_number.unwrap_or(0)).collect();
        if numbers.windows(2).any(|w| w[0] >= w[1]) || numbers.first().is_some_and(|&n| n < 1) {
            return Err(S3Error::new(S3ErrorCode::InvalidPartOrder));
        }
        let mut staged = Vec::with_capacity(listed.len());
        let mut routed: Option<String> = None;
        for (i, p) in listed.iter().enumerate() {
            let n = numbers[i];
            let pkey = part_key(&id, n);
            let head = match decode::head(&self.store, &like, &bucket, &pkey).await {
                Ok(h) => h,
                Err(e)
                    if *e.code() == S3ErrorCode::NoSuchKey
                        || e.status_code() == Some(http::StatusCode::NOT_FOUND) =>
                {
                    return Err(S3Error::with_message(
                        S3ErrorCode::InvalidPart,
                        format!("part {n} was not uploaded"),
                    ));
                }
                Err(e) => return Err(e),
            };
            let m = head.metadata.clone().unwrap_or_default();
            let (Some(size), Some(etag)) = (
                m.get(keys::SIZE).and_then(|s| s.parse::<u64>().ok()),
                m.get(keys::ETAG),
            ) else {
                return Err(internal_error(format!(
                    "staged part {n} has no Nexus metadata"
                )));
            };
            let claimed = p
                .e_tag
                .as_ref()
                .map(|e| e.value().trim_matches('"').to_owned());
            if claimed.as_deref() != Some(etag.as_str()) {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidPart,
                    format!("part {n}: the ETag does not match"),
                ));
            }
            if routed.is_none() {
                routed = m.get(ROUTED_TO).cloned();
            }
            let part_checksum = m
                .get(keys::CHECKSUM)
                .and_then(|c| LogicalChecksum::parse(c));
            if let Some((algorithm, _)) = record.checksum_algorithm() {
                let ours = part_checksum
                    .as_ref()
                    .filter(|c| c.algorithm == algorithm)
                    .ok_or_else(|| {
                        internal_error(format!("staged part {n} has no {algorithm} checksum"))
                    })?;
                if nexus_store::read_checksums!(p)
                    .iter()
                    .any(|(a, v)| a != algorithm || v != ours.value)
                {
                    return Err(S3Error::with_message(
                        S3ErrorCode::InvalidPart,
                        format!("part {n}: the checksum does not match the uploaded part"),
                    ));
                }
            }
            if i + 1 < listed.len() && size < MIN_PART {
                return Err(S3Error::with_message(
                    S3ErrorCode::EntityTooSmall,
                    format!(
                        "part {n} is {size} bytes; every part but the last must be at least 5 MiB"
                    ),
                ));
            }
            let stored = head
                .content_length
                .and_then(|l| u64::try_from(l).ok())
                .unwrap_or(0);
            let index = read_index(
                &self.store,
                &like,
                &bucket,
                &pkey,
                stored,
                head.e_tag.as_ref(),
                size,
            )
            .await?;
            staged.push((pkey, head.e_tag.clone(), etag.clone(), index, part_checksum));
        }

        // The merged index, the multipart ETag over the plaintext parts.
        let mut merged = Index::default();
        let mut md5 = Md5::new();
        for (_, _, etag, index, _) in &staged {
            merged.start_part();
            for f in index.frames() {
                merged.push(*f);
            }
            md5.update(hex::decode(etag).map_err(internal_error)?);
        }
        let logical_etag = format!("{}-{}", hex::encode(md5.finalize()), staged.len());
        let checksum = match record.checksum_algorithm() {
            None => None,
            Some((algorithm, full)) => {
                let values = staged.iter().filter_map(|s| s.4.as_ref());
                let value = if full {
                    let sizes = staged.iter().map(|s| s.3.logical_size());
                    algorithm.combine_base64(values.map(|c| c.value.as_str()).zip(sizes))
                } else {
                    algorithm.composite_base64(values.map(|c| c.value.as_str()))
                };
                let value = value.ok_or_else(|| internal_error("part checksums do not combine"))?;
                Some(LogicalChecksum::new((algorithm, value)))
            }
        };
        let tail = merged.encode_tail();
        let total = merged.stored_len() + tail.len() as u64;
        let plan = Plan::try_from(record.plan.clone()).map_err(internal_error)?;

        let mut metadata: Metadata = record.metadata.clone().into_iter().collect();
        if let Some(p) = &record.policy {
            metadata.insert(recorded::POLICY_KEY.to_owned(), p.clone());
        }
        record_transformed(
            &mut metadata,
            &plan,
            merged.logical_size(),
            &logical_etag,
            checksum.as_ref(),
            &BTreeMap::new(),
        )?;

        // Every part's frames, then the merged tail (`assemble`).
        let pieces = staged
            .iter()
            .map(|(k, e, _, i, _)| Piece {
                key: k.clone(),
                etag: e.clone(),
                len: i.stored_len(),
            })
            .collect();
        let put = PutObjectInput::builder()
            .bucket(bucket.clone())
            .key(key.clone())
            // S3's type of a multipart object created without one.
            .content_type(
                record
                    .content_type
                    .clone()
                    .or_else(|| Some("binary/octet-stream".to_owned())),
            )
            .cache_control(record.headers.cache_control.clone())
            .content_disposition(record.headers.content_disposition.clone())
            .content_encoding(record.headers.content_encoding.clone())
            .content_language(record.headers.content_language.clone())
            .storage_class(record.headers.storage_class.clone().map(StorageClass::from))
            .metadata(Some(metadata))
            .build()
            .map_err(internal_error)?;
        let set = self.grammars.policies();
        let dest = match &routed {
            Some(name) => Destination::picked(&self.named, &set, name)?,
            None => Destination::output(&self.named, &set, plan.store.as_deref())?,
        };
        let stored_etag = self
            .assemble(&like, put, pieces, tail, dest.as_ref())
            .await?;
        self.remember_index(
            dest.as_ref(),
            &bucket,
            &key,
            stored_etag.as_ref(),
            merged.clone(),
        );
        self.metrics
            .pipeline_bytes(plan.policy_name(), merged.logical_size(), total);
        if let Err(e) = self.delete_staging(&like, &bucket, &id).await {
            tracing::warn!(%bucket, upload = %id, error = %e, "Staged parts left behind after Complete.");
        }
        let mut out = CompleteMultipartUploadOutput {
            bucket: Some(bucket),
            key: Some(key),
            e_tag: Some(ETag::Strong(logical_etag)),
            checksum_type: checksum.as_ref().map(LogicalChecksum::checksum_type),
            ..CompleteMultipartUploadOutput::default()
        };
        if let Some(c) = &checksum {
            nexus_store::fill_checksums!(out, &c.checksums());
        }
        Ok(S3Response::new(out))
    }

    async fn staged_keys(
        &self,
        like: &S3Request<()>,
        bucket: &str,
        id: &str,
    ) -> S3Result<Vec<String>> {
        let objects = list_all(&self.store, like, bucket, &format!("{STAGING}{id}/")).await?;
        Ok(objects.into_iter().filter_map(|o| o.key).collect())
    }

    async fn delete_staging(&self, like: &S3Request<()>, bucket: &str, id: &str) -> S3Result<()> {
        for key in self.staged_keys(like, bucket, id).await? {
            let input = DeleteObjectInput::builder()
                .bucket(bucket.to_owned())
                .key(key)
                .build()
                .map_err(internal_error)?;
            self.store.delete_object(internal(like, input)).await?;
        }
        Ok(())
    }
}
