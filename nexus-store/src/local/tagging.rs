//! Object tags: S3's limits, the `x-amz-tagging` header, and Get/Put/DeleteObjectTagging.

use s3s::dto::{
    DeleteObjectTaggingInput, DeleteObjectTaggingOutput, GetObjectTaggingInput,
    GetObjectTaggingOutput, PutObjectTaggingInput, PutObjectTaggingOutput, Tag, Tagging,
};

use super::LocalStore;
use super::error::{Error, Result};
use super::index::{self, BUCKETS, OBJECTS};
use super::props;
use super::urlenc;

/// Most tags an object may have.
const MAX_TAGS: usize = 10;
/// Longest tag key, in characters.
const MAX_KEY: usize = 128;
/// Longest tag value, in characters.
const MAX_VALUE: usize = 256;

/// A tag set: (key, value) in the order given.
pub(crate) type Tags = Vec<(String, String)>;

/// Checks S3's limits on a tag set.
fn validate(tags: &Tags) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(Error::InvalidTag(
            "Object tags cannot be greater than 10".into(),
        ));
    }
    for (i, (key, value)) in tags.iter().enumerate() {
        if key.is_empty() {
            return Err(Error::InvalidTag(
                "The TagKey you have provided is invalid".into(),
            ));
        }
        if key.chars().count() > MAX_KEY {
            return Err(Error::InvalidTag(
                "The TagKey you have provided is too long, max 128".into(),
            ));
        }
        if value.chars().count() > MAX_VALUE {
            return Err(Error::InvalidTag(
                "The TagValue you have provided is too long, max 256".into(),
            ));
        }
        if key.starts_with("aws:") {
            return Err(Error::InvalidTag(
                "Your TagKey cannot be prefixed with aws:".into(),
            ));
        }
        if tags[..i].iter().any(|(k, _)| k == key) {
            return Err(Error::InvalidTag(
                "Cannot provide multiple Tags with the same key".into(),
            ));
        }
    }
    Ok(())
}

/// Parses and validates an `x-amz-tagging` header (`k1=v1&k2=v2`, form-encoded).
pub(crate) fn parse_header(value: Option<&str>) -> Result<Tags> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let invalid = || {
        Error::InvalidArgument(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.".into(),
        )
    };
    let mut tags = Vec::new();
    for pair in value.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = urlenc::decode_form(k).ok_or_else(invalid)?;
        let v = urlenc::decode_form(v).ok_or_else(invalid)?;
        tags.push((k, v));
    }
    validate(&tags)?;
    Ok(tags)
}

/// Validates a tag set from a PutObjectTagging document.
pub(crate) fn from_dto(tagging: &Tagging) -> Result<Tags> {
    let tags: Tags = tagging
        .tag_set
        .iter()
        .map(|t| {
            (
                t.key.clone().unwrap_or_default(),
                t.value.clone().unwrap_or_default(),
            )
        })
        .collect();
    validate(&tags)?;
    Ok(tags)
}

/// A tag set as s3s's DTO.
pub(crate) fn to_dto(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

impl LocalStore {
    pub(crate) async fn get_object_tagging_impl(
        &self,
        input: GetObjectTaggingInput,
    ) -> Result<GetObjectTaggingOutput> {
        props::check_version(input.version_id.as_deref())?;
        let (bucket, key) = (input.bucket, input.key);
        let tags = self
            .run(move |inner| {
                let txn = inner.db.begin_read()?;
                index::require_bucket(&txn.open_table(BUCKETS)?, &bucket)?;
                let record = index::object(&txn.open_table(OBJECTS)?, &bucket, &key)?
                    .ok_or(Error::NoSuchKey)?;
                Ok(record.props.tags)
            })
            .await?;
        Ok(GetObjectTaggingOutput {
            tag_set: to_dto(&tags),
            version_id: None,
        })
    }

    pub(crate) async fn put_object_tagging_impl(
        &self,
        input: PutObjectTaggingInput,
    ) -> Result<PutObjectTaggingOutput> {
        props::check_version(input.version_id.as_deref())?;
        let tags = from_dto(&input.tagging)?;
        self.set_tags(input.bucket, input.key, tags).await?;
        Ok(PutObjectTaggingOutput::default())
    }

    pub(crate) async fn delete_object_tagging_impl(
        &self,
        input: DeleteObjectTaggingInput,
    ) -> Result<DeleteObjectTaggingOutput> {
        props::check_version(input.version_id.as_deref())?;
        self.set_tags(input.bucket, input.key, Vec::new()).await?;
        Ok(DeleteObjectTaggingOutput::default())
    }

    /// Replaces an object's tags (ETag and Last-Modified stay, as in S3).
    async fn set_tags(&self, bucket: String, key: String, tags: Tags) -> Result<()> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            {
                index::require_bucket(&txn.open_table(BUCKETS)?, &bucket)?;
                let mut objects = txn.open_table(OBJECTS)?;
                let mut record = index::object(&objects, &bucket, &key)?.ok_or(Error::NoSuchKey)?;
                record.props.tags = tags;
                objects.insert(
                    (bucket.as_str(), key.as_str()),
                    index::encode(&record)?.as_slice(),
                )?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }
}
