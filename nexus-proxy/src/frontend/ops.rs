//! The S3 operations the front end serves (ARCHITECTURE §3.1). Anything else answers
//! NotImplemented (s3s's default).

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

use super::ingest::{self, Verdict};
use super::located;
use super::multipart::{self, is_ours};
use super::recorded;
use super::{Frontend, request_ctx, stamp};

/// Metadata key under which Pulsar names the managed ledger (the stream).
const MANAGED_LEDGER_NAME: &str = "managedledgername";

/// Writes the `S3` impl: operations that do not name one object go straight to the store;
/// operations on one object classify the key first; `special` holds hand-written operations.
/// (One macro emits the whole impl so that `async_trait` sees every method.)
macro_rules! s3_impl {
    (
        bucket { $($bop:ident($bin:ident) -> $bout:ident;)* }
        object { $($oop:ident($oin:ident) -> $oout:ident;)* }
        special { $($special:tt)* }
    ) => {
        #[async_trait::async_trait]
        impl S3 for Frontend {
            $(
                async fn $bop(&self, req: S3Request<$bin>) -> S3Result<S3Response<$bout>> {
                    let ctx = request_ctx(&req);
                    self.store.$bop(req).await.map_err(|e| stamp(ctx.as_deref(), e))
                }
            )*
            $(
                async fn $oop(&self, req: S3Request<$oin>) -> S3Result<S3Response<$oout>> {
                    self.observe(&req.input.bucket, &req.input.key, None);
                    let ctx = request_ctx(&req);
                    self.store.$oop(req).await.map_err(|e| stamp(ctx.as_deref(), e))
                }
            )*
            $($special)*
        }
    };
}

/// A backend that verified and stored the client's checksum but did not echo it (moto does
/// not without `x-amz-sdk-checksum-algorithm`): the answer carries the value Nexus verified
/// on the same bytes, as S3 answers.
macro_rules! echo_checksum {
    ($out:expr, $verdict:expr) => {{
        let out = &mut $out;
        let echoed = !nexus_store::read_checksums!(out).is_empty();
        if let Some((algorithm, value)) = $verdict.checksum().filter(|_| !echoed) {
            let mut c = nexus_store::checksum::Checksums::default();
            c.set(algorithm, value);
            nexus_store::fill_checksums!(out, &c);
        }
    }};
}

/// Wraps the request body of a write in checksum verification ([`ingest`]).
fn verified<T>(
    mut req: S3Request<T>,
    body: impl FnOnce(&mut T) -> &mut Option<StreamingBlob>,
) -> S3Result<(S3Request<T>, Verdict)> {
    let ctx = request_ctx(&req);
    let slot = body(&mut req.input);
    let (wrapped, verdict) =
        ingest::verify(slot.take(), &req.headers, req.trailing_headers.clone())
            .map_err(|e| stamp(ctx.as_deref(), e))?;
    *slot = wrapped;
    Ok((req, verdict))
}

/// Drops staged uploads (`.nexus-staging/`) from a listing page; returns how many entries
/// (keys and common prefixes) it dropped. S3 clients accept pages shorter than MaxKeys.
fn hide_staging(contents: &mut Option<ObjectList>, prefixes: &mut Option<CommonPrefixList>) -> i32 {
    let mut hidden = 0;
    if let Some(c) = contents {
        let before = c.len();
        c.retain(|o| !o.key.as_deref().is_some_and(multipart::is_staging));
        hidden += before - c.len();
    }
    if let Some(p) = prefixes {
        let before = p.len();
        p.retain(|cp| !cp.prefix.as_deref().is_some_and(multipart::is_staging));
        hidden += before - p.len();
    }
    i32::try_from(hidden).unwrap_or(i32::MAX)
}

/// The Pulsar stream name a write carries in its user metadata.
fn managed_ledger_name(metadata: Option<&Metadata>) -> Option<&str> {
    metadata?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(MANAGED_LEDGER_NAME))
        .map(|(_, v)| v.as_str())
}

s3_impl! {
    bucket {
        create_bucket(CreateBucketInput) -> CreateBucketOutput;
        head_bucket(HeadBucketInput) -> HeadBucketOutput;
        list_buckets(ListBucketsInput) -> ListBucketsOutput;
        delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
        get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
    }

    object {
        get_object_tagging(GetObjectTaggingInput) -> GetObjectTaggingOutput;
        put_object_tagging(PutObjectTaggingInput) -> PutObjectTaggingOutput;
        delete_object_tagging(DeleteObjectTaggingInput) -> DeleteObjectTaggingOutput;
    }
    special {
    /// DeleteObject; a locator's bytes go first.
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let obs = self.observe(&req.input.bucket, &req.input.key, None);
        let ctx = request_ctx(&req);
        async {
            if located::may_hold_locators(&obs.set, &req.input.bucket) {
                self.delete_located(&obs.set, &req, &req.input.bucket, &req.input.key)
                    .await?;
            }
            self.store.delete_object(req).await
        }
        .await
        .map_err(|e| stamp(ctx.as_deref(), e))
    }

    /// DeleteObjects; the bytes of every locator go first (16 at a time), and a key whose
    /// bytes could not be deleted is reported as an error of the batch and kept.
    async fn delete_objects(
        &self,
        mut req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        use futures::StreamExt as _;
        let ctx = request_ctx(&req);
        let set = self.grammars.policies();
        if !located::may_hold_locators(&set, &req.input.bucket) {
            return self.store.delete_objects(req).await.map_err(|e| stamp(ctx.as_deref(), e));
        }
        let bucket = req.input.bucket.clone();
        let objects = std::mem::take(&mut req.input.delete.objects);
        let checked: Vec<(ObjectIdentifier, S3Result<()>)> = futures::stream::iter(objects)
            .map(|o| {
                let (set, req, bucket) = (&set, &req, &bucket);
                async move {
                    let r = self.delete_located(set, req, bucket, &o.key).await;
                    (o, r)
                }
            })
            .buffered(16)
            .collect()
            .await;
        let mut failed = Vec::new();
        for (o, r) in checked {
            match r {
                Ok(()) => req.input.delete.objects.push(o),
                Err(e) => failed.push(Error {
                    code: Some(e.code().as_str().to_owned()),
                    key: Some(o.key),
                    message: e.message().map(str::to_owned),
                    version_id: o.version_id,
                }),
            }
        }
        let mut res = if req.input.delete.objects.is_empty() {
            S3Response::new(DeleteObjectsOutput::default())
        } else {
            self.store.delete_objects(req).await.map_err(|e| stamp(ctx.as_deref(), e))?
        };
        if !failed.is_empty() {
            res.output.errors.get_or_insert_with(Vec::new).extend(failed);
        }
        Ok(res)
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let ctx = request_ctx(&req);
        self.list_uploads(req).await.map_err(|e| stamp(ctx.as_deref(), e))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let ctx = request_ctx(&req);
        let like = super::transformed::shell(&req);
        let bucket = req.input.bucket.clone();
        let mut res = self.store.list_objects(req).await.map_err(|e| stamp(ctx.as_deref(), e))?;
        hide_staging(&mut res.output.contents, &mut res.output.common_prefixes);
        self.logical_listing(&like, &bucket, res.output.contents.as_mut()).await;
        Ok(res)
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let ctx = request_ctx(&req);
        let like = super::transformed::shell(&req);
        let bucket = req.input.bucket.clone();
        let mut res = self.store.list_objects_v2(req).await.map_err(|e| stamp(ctx.as_deref(), e))?;
        let hidden = hide_staging(&mut res.output.contents, &mut res.output.common_prefixes);
        if hidden > 0 {
            res.output.key_count = res.output.key_count.map(|n| n - hidden);
        }
        self.logical_listing(&like, &bucket, res.output.contents.as_mut()).await;
        Ok(res)
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let obs = self.observe(&req.input.bucket, &req.input.key, None);
        let ctx = request_ctx(&req);
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let routed = self
            .pre_get(&req, &obs, &bucket, &key, req.input.range.as_ref())
            .await
            .map_err(|e| stamp(ctx.as_deref(), e))?;
        if let Some(routed) = routed {
            return self
                .get_routed(&req, &obs, routed)
                .await
                .map(S3Response::new)
                .map_err(|e| stamp(ctx.as_deref(), e));
        }
        self.get(req, &obs).await.map_err(|e| stamp(ctx.as_deref(), e))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let obs = self.observe(&req.input.bucket, &req.input.key, None);
        let ctx = request_ctx(&req);
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let routed = self
            .pre_get(&req, &obs, &bucket, &key, req.input.range.as_ref())
            .await
            .map_err(|e| stamp(ctx.as_deref(), e))?;
        if let Some(routed) = routed {
            return self
                .head_routed(&req, routed)
                .await
                .map(S3Response::new)
                .map_err(|e| stamp(ctx.as_deref(), e));
        }
        self.head(req).await.map_err(|e| stamp(ctx.as_deref(), e))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.observe(&req.input.bucket, &req.input.key, None);
        let ctx = request_ctx(&req);
        recorded::refuse_reserved(req.input.metadata.as_ref()).map_err(|e| stamp(ctx.as_deref(), e))?;
        multipart::refuse_staging_key(&req.input.key).map_err(|e| stamp(ctx.as_deref(), e))?;
        self.copy(req).await.map_err(|e| stamp(ctx.as_deref(), e))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let obs = self.observe(&req.input.bucket, &req.input.key, None);
        let ctx = request_ctx(&req);
        let res = if is_ours(&req.input.upload_id) {
            self.copy_staged_part(req, &obs).await
        } else {
            self.upload_part_copy(req, &obs).await
        };
        res.map_err(|e| stamp(ctx.as_deref(), e))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.observe(&req.input.bucket, &req.input.key, None);
        let ctx = request_ctx(&req);
        let res = if is_ours(&req.input.upload_id) {
            self.list_staged_parts(req).await
        } else {
            self.store.list_parts(req).await
        };
        res.map_err(|e| stamp(ctx.as_deref(), e))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.observe(&req.input.bucket, &req.input.key, None);
        let ctx = request_ctx(&req);
        let res = if is_ours(&req.input.upload_id) {
            self.complete_staged(req).await
        } else {
            self.store.complete_multipart_upload(req).await
        };
        res.map_err(|e| stamp(ctx.as_deref(), e))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.observe(&req.input.bucket, &req.input.key, None);
        let ctx = request_ctx(&req);
        let res = if is_ours(&req.input.upload_id) {
            self.abort_staged(req).await
        } else {
            self.store.abort_multipart_upload(req).await
        };
        res.map_err(|e| stamp(ctx.as_deref(), e))
    }

    async fn put_object(
        &self,
        mut req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let ctx = request_ctx(&req);
        let input = &mut req.input;
        recorded::refuse_reserved(input.metadata.as_ref()).map_err(|e| stamp(ctx.as_deref(), e))?;
        let obs = self.observe(
            &input.bucket,
            &input.key,
            managed_ledger_name(input.metadata.as_ref()),
        );
        recorded::record_policy(&mut input.metadata, obs.policy_label(&input.bucket));
        multipart::refuse_staging_key(&input.key).map_err(|e| stamp(ctx.as_deref(), e))?;
        let plan = obs.policy(&input.bucket).and_then(|p| self.plan(&obs, p));
        let (req, verdict) = verified(req, |i| &mut i.body)?;
        if let Some(plan) = plan {
            return self
                .put_transformed(req, &verdict, &obs, plan)
                .await
                .map_err(|e| stamp(ctx.as_deref(), e));
        }
        self.store
            .put_object(req)
            .await
            .map_err(|e| verdict.explain(e))
            .and_then(|out| verdict.confirm().map(|()| out))
            .map(|mut res| {
                echo_checksum!(res.output, verdict);
                res
            })
            .map_err(|e| stamp(ctx.as_deref(), e))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let obs = self.observe(&req.input.bucket, &req.input.key, None);
        let ctx = request_ctx(&req);
        let (req, verdict) = verified(req, |i| &mut i.body)?;
        if is_ours(&req.input.upload_id) {
            return self
                .upload_staged_part(req, &verdict, &obs)
                .await
                .map_err(|e| stamp(ctx.as_deref(), e));
        }
        self.store
            .upload_part(req)
            .await
            .map_err(|e| verdict.explain(e))
            .and_then(|out| verdict.confirm().map(|()| out))
            .map(|mut res| {
                echo_checksum!(res.output, verdict);
                res
            })
            .map_err(|e| stamp(ctx.as_deref(), e))
    }

    async fn create_multipart_upload(
        &self,
        mut req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let ctx = request_ctx(&req);
        let input = &mut req.input;
        recorded::refuse_reserved(input.metadata.as_ref()).map_err(|e| stamp(ctx.as_deref(), e))?;
        let obs = self.observe(
            &input.bucket,
            &input.key,
            managed_ledger_name(input.metadata.as_ref()),
        );
        recorded::record_policy(&mut input.metadata, obs.policy_label(&input.bucket));
        multipart::refuse_staging_key(&input.key).map_err(|e| stamp(ctx.as_deref(), e))?;
        if let Some(plan) = obs.policy(&input.bucket).and_then(|p| self.plan(&obs, p)) {
            return self
                .create_staged_upload(req, &obs, &plan)
                .await
                .map_err(|e| stamp(ctx.as_deref(), e));
        }
        self.store
            .create_multipart_upload(req)
            .await
            .map_err(|e| stamp(ctx.as_deref(), e))
    }
}
}
