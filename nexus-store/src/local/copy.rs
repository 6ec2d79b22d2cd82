//! CopyObject, and the copy-source handling UploadPartCopy shares.

use std::fs::File;

use s3s::dto::{
    CopyObjectInput, CopyObjectOutput, CopyObjectResult, CopySource, ETag, ETagCondition, Timestamp,
};

use super::conditions::{self, Conditions};
use super::error::{Error, Result};
use super::files::{self, PendingFile};
use super::props::{self, MAX_OBJECT_PART, fill_checksums, props_from_input};
use super::put::{NewObject, commit_object, stored_checksum};
use super::records::ObjectRecord;
use super::tagging;
use super::time;
use super::{Inner, LocalStore};
use crate::checksum::{BodyDigests, ChecksumAlgorithm, Digests};

/// The `x-amz-copy-source-if-*` headers of a request.
pub(crate) struct SourceConditions {
    pub if_match: Option<ETagCondition>,
    pub if_none_match: Option<ETagCondition>,
    pub if_modified_since: Option<Timestamp>,
    pub if_unmodified_since: Option<Timestamp>,
}

/// Whether a `COPY`/`REPLACE` directive says REPLACE (anything else is InvalidArgument).
fn replace(directive: Option<&str>, what: &str) -> Result<bool> {
    match directive {
        None | Some("COPY") => Ok(false),
        Some("REPLACE") => Ok(true),
        Some(_) => Err(Error::InvalidArgument(format!("Unknown {what} directive."))),
    }
}

/// Copies `len` bytes of `src` from `offset` into a new fsynced file at `dst`. Blocking.
pub(crate) fn copy_to_new_file(
    src: &File,
    offset: u64,
    len: u64,
    dst: std::path::PathBuf,
    mut digests: BodyDigests,
) -> Result<(PendingFile, Digests)> {
    let (pending, mut file) = PendingFile::create(dst)?;
    let context = || format!("copying into {}", pending.path().display());
    files::copy_range(src, offset, len, &mut file, &mut digests)
        .map_err(|e| Error::io(context(), e))?;
    file.sync_all().map_err(|e| Error::io(context(), e))?;
    Ok((pending, digests.finish()))
}

impl LocalStore {
    /// Opens a copy source and checks its conditions.
    pub(crate) async fn open_copy_source(
        &self,
        source: &CopySource,
        conds: &SourceConditions,
    ) -> Result<(ObjectRecord, File)> {
        let CopySource::Bucket {
            bucket,
            key,
            version_id,
        } = source
        else {
            return Err(Error::NotImplemented(
                "Copy sources other than bucket/key are not supported".into(),
            ));
        };
        props::check_version(version_id.as_deref())?;
        let (record, file) = self
            .open_object(bucket.to_string(), key.to_string())
            .await?;
        conditions::check_copy_source(
            &record,
            Conditions {
                if_match: conds.if_match.as_ref(),
                if_none_match: conds.if_none_match.as_ref(),
                if_modified_since: conds.if_modified_since.as_ref(),
                if_unmodified_since: conds.if_unmodified_since.as_ref(),
            },
        )?;
        Ok((record, file))
    }

    pub(crate) async fn copy_object_impl(
        &self,
        input: CopyObjectInput,
    ) -> Result<CopyObjectOutput> {
        let replace_metadata = replace(
            input.metadata_directive.as_ref().map(|d| d.as_str()),
            "metadata",
        )?;
        let replace_tags = replace(
            input.tagging_directive.as_ref().map(|d| d.as_str()),
            "tagging",
        )?;
        let storage_class = props::storage_class(input.storage_class.as_ref())?;
        let new_tags = tagging::parse_header(input.tagging.as_deref())?;
        let requested = props::algorithm(input.checksum_algorithm.as_ref())?;
        if let CopySource::Bucket { bucket, key, .. } = &input.copy_source
            && **bucket == *input.bucket
            && **key == *input.key
            && !replace_metadata
            && input.storage_class.is_none()
        {
            return Err(Error::InvalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.".into(),
            ));
        }
        let conds = SourceConditions {
            if_match: input.copy_source_if_match.clone(),
            if_none_match: input.copy_source_if_none_match.clone(),
            if_modified_since: input.copy_source_if_modified_since.clone(),
            if_unmodified_since: input.copy_source_if_unmodified_since.clone(),
        };
        let (source, file) = self.open_copy_source(&input.copy_source, &conds).await?;
        if source.size > MAX_OBJECT_PART {
            return Err(Error::InvalidRequest(format!(
                "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_OBJECT_PART}"
            )));
        }
        self.require_bucket(input.bucket.clone()).await?;

        let mut object_props = if replace_metadata {
            props_from_input!(input, storage_class.clone())
        } else {
            source.props.clone()
        };
        object_props.storage_class = storage_class;
        object_props.tags = if replace_tags {
            new_tags
        } else {
            source.props.tags.clone()
        };
        let algorithm: Option<ChecksumAlgorithm> =
            requested.or_else(|| source.checksum.as_ref().and_then(|c| c.algorithm()));

        let name = files::new_name();
        let (bucket, key) = (input.bucket, input.key);
        let (etag, last_modified, kept) = self
            .run(move |inner: &Inner| {
                let (blob, digests) = copy_to_new_file(
                    &file,
                    0,
                    source.size,
                    inner.blob_path(&name),
                    BodyDigests::with_md5(algorithm),
                )?;
                let etag = digests.md5_hex();
                let last_modified = time::now_secs();
                let object = NewObject {
                    bucket,
                    key,
                    record: ObjectRecord {
                        blob: name,
                        size: digests.len,
                        etag: etag.clone(),
                        last_modified,
                        props: object_props,
                        checksum: stored_checksum(&digests.checksums),
                        parts: Vec::new(),
                    },
                    if_match: None,
                    if_none_match: None,
                };
                commit_object(inner, object, Some(blob), |_| Ok(()))?;
                Ok((etag, last_modified, digests.checksums))
            })
            .await?;

        let mut result = CopyObjectResult {
            e_tag: Some(ETag::Strong(etag)),
            last_modified: time::timestamp(last_modified),
            ..CopyObjectResult::default()
        };
        fill_checksums!(result, &kept);
        Ok(CopyObjectOutput {
            copy_object_result: Some(result),
            ..CopyObjectOutput::default()
        })
    }
}
