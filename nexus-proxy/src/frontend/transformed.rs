//! Object operations that policies change: PutObject through a pipeline, and GET, HEAD,
//! CopyObject and UploadPartCopy of objects stored transformed. Objects without
//! `nexus-format` and writes no pipeline applies to never come here (pass-through).

use std::collections::BTreeMap;
use std::sync::Arc;

use nexus_core::resource::CompiledPolicy;
use nexus_store::conditions::{self, Conditions};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::ingest::Verdict;
use super::located::{self, Destination};
use super::{Frontend, Observed, recorded, request_ctx};
use crate::pipeline::checksum::LogicalChecksum;
use crate::pipeline::decode::{self, Source, Transformed, internal, is_transformed};
use crate::pipeline::encode::encode;
use crate::pipeline::plan::{Plan, encode_ctx, keys};
use crate::pipeline::{PipelineRequest, StageRun, clear_checksums};
use crate::streamlet::{ChunkInfo, Direction, ObjectRef, SharedContext};

/// The `x-amz-copy-source-if-*` conditions of a copy `input` against the logical object `t`
/// (every failure is 412).
macro_rules! check_copy_source {
    ($input:expr, $t:expr) => {
        conditions::check_read(
            &$t.logical_etag,
            $t.last_modified_secs,
            Conditions {
                if_match: $input.copy_source_if_match.as_ref(),
                if_none_match: $input.copy_source_if_none_match.as_ref(),
                if_modified_since: $input.copy_source_if_modified_since.as_ref(),
                if_unmodified_since: $input.copy_source_if_unmodified_since.as_ref(),
            },
        )
        .map_err(|_| S3Error::new(S3ErrorCode::PreconditionFailed))
    };
}

/// S3's limit on user metadata (keys and values, UTF-8 bytes).
const METADATA_LIMIT: usize = 2048;

pub(super) fn request_id<T>(req: &S3Request<T>) -> Arc<str> {
    request_ctx(req).map_or_else(|| Arc::from("-"), |c| Arc::from(c.id.as_str()))
}

/// What streamlets are told about the object.
pub(super) fn chunk_info(
    bucket: &str,
    key: &str,
    obs: &Observed,
    size: Option<i64>,
    content_type: Option<String>,
) -> Arc<ChunkInfo> {
    Arc::new(ChunkInfo {
        object: ObjectRef {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        },
        system: obs.class.system.as_str().to_owned(),
        stream_name: obs.class.stream.clone(),
        partition: obs.class.partition,
        size: size.and_then(|l| u64::try_from(l).ok()),
        content_type,
    })
}

/// Records a transformed object's Nexus metadata next to the client's (`docs/formats.md` §2).
///
/// # Errors
/// `MetadataTooLarge` when the whole would exceed S3's 2 KiB.
pub(super) fn record_transformed(
    m: &mut Metadata,
    plan: &Plan,
    logical_size: u64,
    logical_etag: &str,
    checksum: Option<&LogicalChecksum>,
    ctx: &BTreeMap<String, String>,
) -> S3Result<()> {
    let recorded = plan.recorded();
    let (pipeline, params) = recorded.to_metadata();
    if let Some(p) = recorded.placement_metadata() {
        m.insert(keys::PLACEMENT.to_owned(), p);
    }
    m.insert(keys::FORMAT.to_owned(), keys::FORMAT_NXF1.to_owned());
    m.insert(keys::SIZE.to_owned(), logical_size.to_string());
    m.insert(keys::ETAG.to_owned(), logical_etag.to_owned());
    m.insert(keys::PIPELINE.to_owned(), pipeline);
    m.insert(keys::PARAMS.to_owned(), params);
    if let Some(c) = checksum {
        m.insert(keys::CHECKSUM.to_owned(), c.encode());
    }
    if let Some(c) = encode_ctx(ctx) {
        m.insert(keys::CTX.to_owned(), c);
    }
    let size: usize = m.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > METADATA_LIMIT {
        return Err(S3Error::with_message(
            S3ErrorCode::MetadataTooLarge,
            format!(
                "user metadata and what Nexus records with the object take {size} bytes; S3 allows {METADATA_LIMIT}"
            ),
        ));
    }
    Ok(())
}

impl Frontend {
    /// The plan's stages with their modules loaded.
    pub(super) async fn stage_runs(&self, plan: &Plan) -> S3Result<Arc<[StageRun]>> {
        let mut stages = Vec::with_capacity(plan.stages.len());
        for (i, s) in plan.stages.iter().enumerate() {
            let loaded = self
                .pipelines
                .loaded(&s.digest)
                .await
                .map_err(|e| e.to_s3(&s.name, i))?;
            stages.push(StageRun {
                name: Arc::clone(&s.name),
                index: i,
                loaded,
                params: Arc::clone(&s.params),
                limits: s.limits.clone(),
                placement: s.placement.clone(),
                stateful: s.stateful,
            });
        }
        Ok(stages.into())
    }

    fn source<'a>(
        &'a self,
        obs: &'a Observed,
        like: &'a S3Request<()>,
        request_id: Arc<str>,
    ) -> Source<'a> {
        Source {
            pipelines: &self.pipelines,
            store: &self.store,
            store_name: "",
            set: &obs.set,
            like,
            request_id,
        }
    }

    /// The write plan for `policy`, or `None` (pass-through) when it has no byte stages and
    /// no output store, or its streamlets are not deployed yet (logged and counted; the write
    /// still succeeds). A policy with an output store and no byte stages frames the object
    /// unchanged, so that it reads back through its locator like any other.
    pub(super) fn plan(&self, obs: &Observed, policy: &CompiledPolicy) -> Option<Plan> {
        if policy.spec.pipeline.is_empty() && policy.spec.output.store.is_none() {
            return None;
        }
        match Plan::for_policy(&obs.set, policy) {
            Ok(plan) if plan.stages.is_empty() && plan.store.is_none() => None,
            Ok(plan) => Some(plan),
            Err(why) => {
                self.metrics.pipeline_skipped(policy.name.as_str());
                // Once per policy version, not once per write (brokers write many segments).
                if self.warned_once(&format!("{}@{}", policy.name, policy.version)) {
                    tracing::warn!(policy = %policy.name, "Pipeline not run, objects are stored as sent (counted in nexus_pipeline_skipped_total): {why}.");
                } else {
                    tracing::debug!(policy = %policy.name, "Pipeline not run: {why}.");
                }
                None
            }
        }
    }

    /// PutObject through `plan`.
    pub(super) async fn put_transformed(
        &self,
        mut req: S3Request<PutObjectInput>,
        verdict: &Verdict,
        obs: &Observed,
        plan: Plan,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let id = request_id(&req);
        let stages = self.stage_runs(&plan).await?;
        let state = self.state_scope(&req, obs);
        let input = &mut req.input;
        let info = chunk_info(
            &input.bucket,
            &input.key,
            obs,
            input.content_length,
            input.content_type.clone(),
        );
        let ctx = SharedContext::writable(BTreeMap::new());
        let preq = PipelineRequest {
            direction: Direction::Put,
            info,
            ctx: ctx.clone(),
            request_id: id,
            state: state.clone(),
        };
        let encoded = encode(
            &self.pipelines,
            stages,
            plan.frame_size,
            &preq,
            input.body.take(),
        )
        .await
        .map_err(|e| verdict.explain(e))?;
        verdict.confirm()?;
        let checksum = verdict.checksum().map(LogicalChecksum::new);
        record_transformed(
            input.metadata.get_or_insert_with(Metadata::default),
            &plan,
            encoded.logical_size,
            &encoded.md5_hex,
            checksum.as_ref(),
            &ctx.entries(),
        )?;
        // What the client declared describes the plaintext, which was checked above; the
        // stored bytes are new.
        input.content_length = i64::try_from(encoded.spool.len()).ok();
        input.content_md5 = None;
        input.checksum_algorithm = None;
        clear_checksums!(input);
        strip_body_headers(&mut req.headers);
        req.trailing_headers = None;
        let stored = encoded.spool.len();
        req.input.body = Some(encoded.spool.into_blob().map_err(|e| {
            S3Error::with_message(S3ErrorCode::ServiceUnavailable, format!("spool: {e}"))
        })?);
        // A routing stage may have picked another output store of the policy.
        let dest = match ctx.entries().get(ROUTE_STORE) {
            Some(name) => Destination::routed(&self.named, obs, &req.input.bucket, name)?,
            None => Destination::output(&self.named, &obs.set, plan.store.as_deref())?,
        };
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let mut res = self.store_at(req, dest.as_ref()).await?;
        self.remember_index(
            dest.as_ref(),
            &bucket,
            &key,
            res.output.e_tag.as_ref(),
            encoded.index,
        );
        // The object is stored; its state is committed before the broker hears of it.
        if let Some(state) = &state {
            state.commit().await?;
        }
        let out = &mut res.output;
        out.e_tag = Some(ETag::Strong(encoded.md5_hex));
        clear_checksums!(out);
        out.checksum_type = checksum.as_ref().map(LogicalChecksum::checksum_type);
        if let Some(c) = &checksum {
            nexus_store::fill_checksums!(out, &c.checksums());
        }
        out.size = i64::try_from(encoded.logical_size).ok();
        self.metrics
            .pipeline_bytes(plan.policy_name(), encoded.logical_size, stored);
        tracing::debug!(policy = %plan.policy, logical = encoded.logical_size, stored, frames = encoded.frames, "Stored through the pipeline.");
        Ok(res)
    }

    /// GetObject, decoding transformed objects. Buckets no policy targets now take the plain
    /// path for unconditional full reads (a HEAD first would cost every pass-through GET); a
    /// transformed object found there (its policy was deleted since) is re-read properly.
    pub(super) async fn get(
        &self,
        req: S3Request<GetObjectInput>,
        obs: &Observed,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = &req.input;
        let plain = input.range.is_none()
            && input.if_match.is_none()
            && input.if_none_match.is_none()
            && input.if_modified_since.is_none()
            && input.if_unmodified_since.is_none()
            && input.part_number.is_none()
            && obs.set.grammar_for(&input.bucket).is_none();
        let like = shell(&req);
        let (bucket, key) = (input.bucket.clone(), input.key.clone());
        let id = request_id(&req);
        if input.part_number.is_none() {
            let src = self.source(obs, &like, Arc::clone(&id));
            let in_bucket = |h: &HeadObjectOutput| located::location(h.metadata.as_ref()).is_none();
            if let Some(answer) = decode::get_known(&src, input, in_bucket).await {
                return answer.map(S3Response::new);
            }
        }
        if plain {
            let copy = req.input.clone();
            let mut res = self.store.get_object(req).await?;
            if !is_transformed(res.output.metadata.as_ref()) {
                recorded::hide(&mut res.output.metadata);
                return Ok(res);
            }
            drop(res);
            let head = decode::head_for_get(&self.store, &like, &bucket, &key).await?;
            return self.get_decoded(&like, copy, head, obs, id).await;
        }
        let head = decode::head_for_get(&self.store, &like, &bucket, &key).await?;
        if !is_transformed(head.metadata.as_ref()) {
            let mut res = self.store.get_object(req).await?;
            recorded::hide(&mut res.output.metadata);
            return Ok(res);
        }
        if req.input.part_number.is_some() {
            return Err(S3Error::with_message(
                S3ErrorCode::NotImplemented,
                "GetObject with partNumber on an object Nexus stores transformed",
            ));
        }
        let input = req.input;
        self.get_decoded(&like, input, head, obs, id).await
    }

    async fn get_decoded(
        &self,
        like: &S3Request<()>,
        input: GetObjectInput,
        head: HeadObjectOutput,
        obs: &Observed,
        id: Arc<str>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let mut input = input;
        let stored = self
            .follow(&obs.set, like, &input.bucket, &input.key, head)
            .await?;
        input.bucket = stored.bucket;
        let t = Transformed::from_head(&stored.head, &input.bucket, &input.key)?;
        let src = Source {
            store: &stored.store,
            store_name: &stored.name,
            ..self.source(obs, like, id)
        };
        let out = decode::get(&src, &input, stored.head, t).await?;
        Ok(S3Response::new(out))
    }

    /// HeadObject: the logical size and ETag of transformed objects, preconditions evaluated
    /// against them.
    pub(super) async fn head(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = &req.input;
        let conditional = input.if_match.is_some()
            || input.if_none_match.is_some()
            || input.if_modified_since.is_some()
            || input.if_unmodified_since.is_some();
        let checksum = decode::wants_checksum(
            input.checksum_mode.as_ref(),
            input.range.as_ref(),
            input.part_number,
        );
        if !conditional {
            let (bucket, key) = (input.bucket.clone(), input.key.clone());
            let mut res = self.store.head_object(req).await?;
            if is_transformed(res.output.metadata.as_ref()) {
                let t = Transformed::from_head(&res.output, &bucket, &key)?;
                t.logical_head(&mut res.output, checksum);
            }
            recorded::hide(&mut res.output.metadata);
            return Ok(res);
        }
        let like = shell(&req);
        let mut head = decode::head(&self.store, &like, &input.bucket, &input.key).await?;
        if !is_transformed(head.metadata.as_ref()) {
            let mut res = self.store.head_object(req).await?;
            recorded::hide(&mut res.output.metadata);
            return Ok(res);
        }
        let t = Transformed::from_head(&head, &input.bucket, &input.key)?;
        conditions::check_read(
            &t.logical_etag,
            t.last_modified_secs,
            nexus_store::read_conditions!(input),
        )?;
        t.logical_head(&mut head, checksum);
        recorded::hide(&mut head.metadata);
        Ok(S3Response::new(head))
    }

    /// CopyObject: a transformed source copies server-side with its Nexus metadata (the
    /// stored bytes describe themselves); with `x-amz-metadata-directive: REPLACE` the new
    /// client metadata is merged with the source's Nexus keys, so the copy stays readable.
    pub(super) async fn copy(
        &self,
        mut req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let replace = req
            .input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let source = match &req.input.copy_source {
            CopySource::Bucket { bucket, key, .. } => Some((bucket.to_string(), key.to_string())),
            CopySource::AccessPoint { .. } | CopySource::Outpost { .. } => None,
        };
        let mut logical = None;
        let requested = req.input.checksum_algorithm.clone();
        if let Some((bucket, key)) = source {
            let like = shell(&req);
            if let Ok(head) = decode::head(&self.store, &like, &bucket, &key).await
                && is_transformed(head.metadata.as_ref())
            {
                if located::location(head.metadata.as_ref()).is_some() {
                    return self.copy_located(req, head, &bucket, &key, replace).await;
                }
                let t = Transformed::from_head(&head, &bucket, &key)?;
                // A copy is one object: S3 gives it a full-object checksum. A composite one
                // (of the source's parts) is not carried over, and the copy reports none.
                let composite = t.checksum.as_ref().is_some_and(LogicalChecksum::composite);
                logical = Some((t.logical_etag, t.checksum.filter(|_| !composite)));
                if replace {
                    let nexus: Vec<(String, String)> = head
                        .metadata
                        .iter()
                        .flatten()
                        .filter(|(k, _)| {
                            k.starts_with("nexus-")
                                && k.as_str() != recorded::POLICY_KEY
                                && !(composite && k.as_str() == keys::CHECKSUM)
                        })
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    req.input
                        .metadata
                        .get_or_insert_with(Metadata::default)
                        .extend(nexus);
                } else if composite {
                    // Copy everything but that checksum: a REPLACE with the source's own.
                    let i = &mut req.input;
                    i.metadata_directive =
                        Some(MetadataDirective::from_static(MetadataDirective::REPLACE));
                    i.metadata = head.metadata.clone().map(|mut m| {
                        m.remove(keys::CHECKSUM);
                        m
                    });
                    i.content_type.clone_from(&head.content_type);
                    i.cache_control.clone_from(&head.cache_control);
                    i.content_disposition.clone_from(&head.content_disposition);
                    i.content_encoding.clone_from(&head.content_encoding);
                    i.content_language.clone_from(&head.content_language);
                    i.expires.clone_from(&head.expires);
                }
            }
        }
        let mut res = self.store.copy_object(req).await?;
        if let (Some((etag, checksum)), Some(r)) = (logical, res.output.copy_object_result.as_mut())
        {
            r.e_tag = Some(ETag::Strong(etag));
            copy_checksum(r, checksum.as_ref(), requested.as_ref());
        }
        Ok(res)
    }

    /// CopyObject of a located source: its stored bytes are read from their store and
    /// written under the destination key in the bucket's own store (a server-side copy would
    /// copy the locator, and two locators would share the bytes one delete removes).
    async fn copy_located(
        &self,
        req: S3Request<CopyObjectInput>,
        head: HeadObjectOutput,
        bucket: &str,
        key: &str,
        replace: bool,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let like = shell(&req);
        let set = self.grammars.policies();
        let stored = self.follow(&set, &like, bucket, key, head).await?;
        let t = Transformed::from_head(&stored.head, &stored.bucket, key)?;
        let input = &req.input;
        check_copy_source!(input, t)?;
        let requested = input.checksum_algorithm.clone();
        let mut metadata = stored.head.metadata.clone().unwrap_or_default();
        // As in `copy`: a composite checksum does not describe the copy.
        let checksum = t.checksum.clone().filter(|c| !c.composite());
        if checksum.is_none() {
            metadata.remove(keys::CHECKSUM);
        }
        let content_type = if replace {
            metadata.retain(|k, _| k.starts_with("nexus-") && k.as_str() != recorded::POLICY_KEY);
            metadata.extend(input.metadata.clone().unwrap_or_default());
            input.content_type.clone()
        } else {
            stored.head.content_type.clone()
        };
        let body = decode::get_stored(
            &stored.store,
            &like,
            &stored.bucket,
            key,
            0..t.stored_size,
            t.stored_etag.as_ref(),
        )
        .await?
        .body;
        let put = PutObjectInput::builder()
            .bucket(input.bucket.clone())
            .key(input.key.clone())
            .content_length(i64::try_from(t.stored_size).ok())
            .content_type(content_type)
            .metadata(Some(metadata))
            .body(body)
            .build()
            .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
        self.store.put_object(internal(&like, put)).await?;
        let mut result = CopyObjectResult {
            e_tag: Some(ETag::Strong(t.logical_etag)),
            last_modified: Some(Timestamp::from(std::time::SystemTime::now())),
            ..CopyObjectResult::default()
        };
        copy_checksum(&mut result, checksum.as_ref(), requested.as_ref());
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(result),
            ..CopyObjectOutput::default()
        }))
    }

    /// UploadPartCopy into a backend upload: a transformed source range is decoded and
    /// uploaded as the part (the stored bytes of a range are not the bytes the client asked
    /// for); any other source is copied server-side.
    pub(super) async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
        obs: &Observed,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let like = shell(&req);
        let Some(body) = self
            .transformed_copy_source(&like, &req.input, obs, request_id(&req))
            .await?
        else {
            return self.store.upload_part_copy(req).await;
        };
        let input = &req.input;
        let part = UploadPartInput::builder()
            .bucket(input.bucket.clone())
            .key(input.key.clone())
            .upload_id(input.upload_id.clone())
            .part_number(input.part_number)
            .content_length(body.content_length)
            .body(body.body)
            .build()
            .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
        let out = self.store.upload_part(internal(&like, part)).await?.output;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: out.e_tag,
                last_modified: Some(Timestamp::from(std::time::SystemTime::now())),
                ..CopyPartResult::default()
            }),
            ..UploadPartCopyOutput::default()
        }))
    }

    /// The plaintext of an UploadPartCopy source range: decoded when the source is stored
    /// transformed (`None` when it is not), with the `x-amz-copy-source-if-*` conditions
    /// checked against the logical object (every failure is 412).
    pub(super) async fn transformed_copy_source(
        &self,
        like: &S3Request<()>,
        input: &UploadPartCopyInput,
        obs: &Observed,
        request_id: Arc<str>,
    ) -> S3Result<Option<GetObjectOutput>> {
        let CopySource::Bucket { bucket, key, .. } = &input.copy_source else {
            return Ok(None);
        };
        let (src_bucket, src_key) = (bucket.to_string(), key.to_string());
        let head = match decode::head(&self.store, like, &src_bucket, &src_key).await {
            Ok(h) if is_transformed(h.metadata.as_ref()) => h,
            _ => return Ok(None),
        };
        let stored = self
            .follow(&obs.set, like, &src_bucket, &src_key, head)
            .await?;
        let (src_bucket, head) = (stored.bucket, stored.head);
        let t = Transformed::from_head(&head, &src_bucket, &src_key)?;
        check_copy_source!(input, t)?;
        let range = match &input.copy_source_range {
            None => None,
            Some(r) => Some(parse_copy_range(r)?),
        };
        let get = GetObjectInput::builder()
            .bucket(src_bucket)
            .key(src_key)
            .range(range)
            .build()
            .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
        let src = Source {
            store: &stored.store,
            store_name: &stored.name,
            ..self.source(obs, like, request_id)
        };
        Ok(Some(decode::get(&src, &get, head, t).await?))
    }

    /// The plaintext of an UploadPartCopy source range, transformed or not.
    pub(super) async fn copy_source_body(
        &self,
        like: &S3Request<()>,
        input: &UploadPartCopyInput,
        obs: &Observed,
        request_id: Arc<str>,
    ) -> S3Result<Option<StreamingBlob>> {
        if let Some(out) = self
            .transformed_copy_source(like, input, obs, request_id)
            .await?
        {
            return Ok(out.body);
        }
        let CopySource::Bucket { bucket, key, .. } = &input.copy_source else {
            return Err(S3Error::with_message(
                S3ErrorCode::NotImplemented,
                "copy sources other than bucket/key",
            ));
        };
        let range = match &input.copy_source_range {
            None => None,
            Some(r) => Some(parse_copy_range(r)?),
        };
        let get = GetObjectInput::builder()
            .bucket(bucket.to_string())
            .key(key.to_string())
            .range(range)
            .if_match(input.copy_source_if_match.clone())
            .if_none_match(input.copy_source_if_none_match.clone())
            .if_modified_since(input.copy_source_if_modified_since.clone())
            .if_unmodified_since(input.copy_source_if_unmodified_since.clone())
            .build()
            .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
        match self.store.get_object(internal(like, get)).await {
            Ok(out) => Ok(out.output.body),
            Err(e) if *e.code() == S3ErrorCode::NotModified => {
                Err(S3Error::new(S3ErrorCode::PreconditionFailed))
            }
            Err(e) => Err(e),
        }
    }
}

/// HEADs in flight while a listing is rewritten.
const LIST_HEADS: usize = 16;

impl Frontend {
    /// Rewrites listing entries of transformed objects to their logical size and ETag. Only
    /// buckets a policy targets now are looked at (a HEAD per entry, 16 at a time); objects
    /// written under a policy that was deleted since list with their stored size until a policy
    /// targets the bucket again (see the issue note: an object index would remove the HEADs).
    pub(super) async fn logical_listing(
        &self,
        like: &S3Request<()>,
        bucket: &str,
        contents: Option<&mut ObjectList>,
    ) {
        use futures::StreamExt as _;
        let Some(contents) = contents else {
            return;
        };
        if self.grammars.policies().grammar_for(bucket).is_none() || contents.is_empty() {
            return;
        }
        let keys: Vec<String> = contents.iter().filter_map(|o| o.key.clone()).collect();
        let heads: Vec<Option<HeadObjectOutput>> = futures::stream::iter(keys)
            .map(|k| async move { decode::head(&self.store, like, bucket, &k).await.ok() })
            .buffered(LIST_HEADS)
            .collect()
            .await;
        for (o, head) in contents.iter_mut().zip(heads) {
            let Some(head) = head.filter(|h| is_transformed(h.metadata.as_ref())) else {
                continue;
            };
            if let Ok(t) = Transformed::from_head(&head, bucket, o.key.as_deref().unwrap_or("-")) {
                // Only if the listing and the HEAD saw the same stored object.
                if o.e_tag.is_none() || o.e_tag == head.e_tag {
                    o.size = i64::try_from(t.logical_size).ok();
                    o.e_tag = Some(ETag::Strong(t.logical_etag));
                    o.checksum_algorithm = t.checksum.as_ref().map(|c| {
                        vec![s3s::dto::ChecksumAlgorithm::from(
                            c.algorithm.as_str().to_owned(),
                        )]
                    });
                    o.checksum_type = t.checksum.as_ref().map(LogicalChecksum::checksum_type);
                }
            }
        }
    }
}

/// The checksum a copy of a transformed object reports, as S3 reports the source's: the
/// client's full-object checksum of the logical object, kept with it (the backend's describe
/// stored bytes). None when the copy asked for another algorithm, which Nexus does not compute
/// on a copy.
fn copy_checksum(
    r: &mut CopyObjectResult,
    logical: Option<&LogicalChecksum>,
    requested: Option<&ChecksumAlgorithm>,
) {
    clear_checksums!(r);
    r.checksum_type = None;
    let Some(c) = logical.filter(|c| {
        requested.is_none_or(|a| a.as_str().eq_ignore_ascii_case(c.algorithm.as_str()))
    }) else {
        return;
    };
    nexus_store::fill_checksums!(r, &c.checksums());
    r.checksum_type = Some(c.checksum_type());
}

/// `bytes=a-b` of `x-amz-copy-source-range`.
fn parse_copy_range(r: &str) -> S3Result<Range> {
    let bad = || {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("invalid x-amz-copy-source-range `{r}`"),
        )
    };
    let spec = r.strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let first: u64 = a.parse().map_err(|_| bad())?;
    let last: u64 = b.parse().map_err(|_| bad())?;
    if last < first {
        return Err(bad());
    }
    Ok(Range::Int {
        first,
        last: Some(last),
    })
}

/// The parts of a request that internal requests reuse (no input, no body, no headers).
pub(super) fn shell<T>(req: &S3Request<T>) -> S3Request<()> {
    internal(req, ())
}

/// The context entry with which a routing stage sends a single PUT to another output store
/// of its policy (a `Store` the policy names in `spec.output`).
pub const ROUTE_STORE: &str = "nexus.store";

/// Removes what described the client's body from the headers forwarded with the stored one.
fn strip_body_headers(h: &mut http::HeaderMap) {
    let drop: Vec<http::HeaderName> = h
        .keys()
        .filter(|k| {
            let k = k.as_str();
            k == "content-md5"
                || k.starts_with("x-amz-checksum-")
                || k == "x-amz-trailer"
                || k == "x-amz-sdk-checksum-algorithm"
                || k == "x-amz-decoded-content-length"
        })
        .cloned()
        .collect();
    for k in drop {
        h.remove(k);
    }
}
