//! PutObject, and the one commit path every object write ends in.

use bytes::Bytes;
use s3s::S3Request;
use s3s::dto::{ETag, ETagCondition, PutObjectInput, PutObjectOutput, StreamingBlob};

use super::conditions;
use super::error::{Error, Result};
use super::files::{self, PendingFile};
use super::index::{self, BUCKETS, OBJECTS};
use super::props::{self, MAX_OBJECT_PART, fill_checksums, props_from_input};
use super::records::{ObjectRecord, StoredChecksum};
use super::tagging;
use super::time;
use super::verify::BodyCheck;
use super::{Inner, LocalStore};
use crate::checksum::Checksums;

/// A new version of an object, ready to commit.
pub(crate) struct NewObject {
    pub bucket: String,
    pub key: String,
    pub record: ObjectRecord,
    /// Conditional write: the object to replace must match.
    pub if_match: Option<ETagCondition>,
    /// Conditional write: no object (`*`) or none with this ETag may exist.
    pub if_none_match: Option<ETagCondition>,
}

/// Makes `object` visible in one index transaction and returns the record it replaced. `blob`
/// is the new data file (fsynced), kept once the transaction committed and removed otherwise;
/// `also` adds work to the same transaction. The replaced blob is unlinked after the commit.
/// Blocking.
pub(crate) fn commit_object(
    inner: &Inner,
    object: NewObject,
    blob: Option<PendingFile>,
    also: impl FnOnce(&redb::WriteTransaction) -> Result<()>,
) -> Result<Option<ObjectRecord>> {
    if let Some(blob) = &blob {
        blob.sync_dir()?;
    }
    let txn = inner.db.begin_write()?;
    let old = {
        index::require_bucket(&txn.open_table(BUCKETS)?, &object.bucket)?;
        let mut objects = txn.open_table(OBJECTS)?;
        let old = index::object(&objects, &object.bucket, &object.key)?;
        conditions::check_write(
            old.as_ref(),
            object.if_match.as_ref(),
            object.if_none_match.as_ref(),
        )?;
        objects.insert(
            (object.bucket.as_str(), object.key.as_str()),
            index::encode(&object.record)?.as_slice(),
        )?;
        old
    };
    also(&txn)?;
    txn.commit()?;
    if let Some(blob) = blob {
        blob.keep();
    }
    if let Some(old) = &old
        && old.blob != object.record.blob
    {
        files::remove_quietly(&inner.blob_path(&old.blob));
    }
    Ok(old)
}

/// The checksum an object keeps, from the verified values.
pub(crate) fn stored_checksum(kept: &Checksums) -> Option<StoredChecksum> {
    kept.iter().next().map(|(algorithm, value)| StoredChecksum {
        algorithm: algorithm.as_str().to_owned(),
        value: value.to_owned(),
        composite: false,
    })
}

/// A missing body is an empty one.
pub(crate) fn body_or_empty(body: Option<StreamingBlob>) -> StreamingBlob {
    body.unwrap_or_else(|| {
        StreamingBlob::wrap(futures::stream::empty::<Result<Bytes, std::io::Error>>())
    })
}

/// IncompleteBody unless the body had the announced length.
pub(crate) fn check_length(announced: Option<i64>, received: u64) -> Result<()> {
    match announced {
        Some(n) if u64::try_from(n).ok() != Some(received) => Err(Error::IncompleteBody(
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
                .into(),
        )),
        _ => Ok(()),
    }
}

/// EntityTooLarge when a body announces more than S3 accepts in one request.
pub(crate) fn check_announced(announced: Option<i64>) -> Result<()> {
    match announced {
        Some(n) if u64::try_from(n).unwrap_or(0) > MAX_OBJECT_PART => Err(Error::EntityTooLarge(
            "Your proposed upload exceeds the maximum allowed size".into(),
        )),
        _ => Ok(()),
    }
}

impl LocalStore {
    /// NoSuchBucket unless `bucket` exists (checked before reading a body).
    pub(crate) async fn require_bucket(&self, bucket: String) -> Result<()> {
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            index::require_bucket(&txn.open_table(BUCKETS)?, &bucket)?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn put_object_impl(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> Result<PutObjectOutput> {
        let S3Request {
            input,
            headers,
            trailing_headers,
            ..
        } = req;
        let storage_class = props::storage_class(input.storage_class.as_ref())?;
        let mut object_props = props_from_input!(input, storage_class);
        object_props.tags = tagging::parse_header(input.tagging.as_deref())?;
        let check = BodyCheck::new(
            &headers,
            input.content_md5.as_deref(),
            input.checksum_algorithm.as_ref(),
            None,
        )?;
        check_announced(input.content_length)?;
        self.require_bucket(input.bucket.clone()).await?;

        let name = files::new_name();
        let (blob, digests) = files::write_body(
            self.inner.blob_path(&name),
            body_or_empty(input.body),
            check.digests(None),
            MAX_OBJECT_PART,
        )
        .await?;
        let verified = check_length(input.content_length, digests.len)
            .and_then(|()| check.verify(&digests, trailing_headers.as_ref()));
        let kept = match verified {
            Ok(kept) => kept,
            Err(e) => {
                files::discard(blob).await;
                return Err(e);
            }
        };

        let etag = digests.md5_hex();
        let object = NewObject {
            bucket: input.bucket,
            key: input.key,
            record: ObjectRecord {
                blob: name,
                size: digests.len,
                etag: etag.clone(),
                last_modified: time::now_secs(),
                props: object_props,
                checksum: stored_checksum(&kept),
                parts: Vec::new(),
            },
            if_match: input.if_match,
            if_none_match: input.if_none_match,
        };
        self.run(move |inner| commit_object(inner, object, Some(blob), |_| Ok(())))
            .await?;

        let mut out = PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..PutObjectOutput::default()
        };
        fill_checksums!(out, &kept);
        if !kept.is_empty() {
            out.checksum_type = Some(s3s::dto::ChecksumType::from("FULL_OBJECT".to_owned()));
        }
        Ok(out)
    }
}
