//! DeleteObject (idempotent) and DeleteObjects (quiet mode, per-key errors).

use s3s::dto::{
    DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, DeletedObject,
    ETagCondition, Error as KeyError,
};

use super::LocalStore;
use super::conditions;
use super::error::{Error, Result};
use super::files;
use super::index::{self, BUCKETS, OBJECTS};

/// Most keys one DeleteObjects may name.
const MAX_KEYS: usize = 1000;

/// Longest key S3 accepts, in bytes.
const MAX_KEY_LEN: usize = 1024;

/// One key of a delete and its optional ETag condition.
struct Target {
    key: String,
    if_match: Option<ETagCondition>,
}

impl LocalStore {
    pub(crate) async fn delete_object_impl(
        &self,
        input: DeleteObjectInput,
    ) -> Result<DeleteObjectOutput> {
        if let Some(v) = input.version_id.as_deref()
            && v != "null"
        {
            return Err(Error::InvalidArgument(
                "Invalid version id specified".into(),
            ));
        }
        let targets = vec![Target {
            key: input.key,
            if_match: input.if_match,
        }];
        let mut results = self.delete_keys(input.bucket, targets).await?;
        match results.pop() {
            Some(Err(e)) => Err(e),
            _ => Ok(DeleteObjectOutput::default()),
        }
    }

    pub(crate) async fn delete_objects_impl(
        &self,
        input: DeleteObjectsInput,
    ) -> Result<DeleteObjectsOutput> {
        let quiet = input.delete.quiet.unwrap_or(false);
        let objects = input.delete.objects;
        if objects.is_empty() || objects.len() > MAX_KEYS {
            return Err(Error::MalformedXml(
                "The XML you provided was not well-formed or did not validate against our published schema"
                    .into(),
            ));
        }
        let keys: Vec<(String, Option<String>)> = objects
            .iter()
            .map(|o| (o.key.clone(), o.version_id.clone()))
            .collect();
        let targets = objects
            .into_iter()
            .map(|o| Target {
                key: o.key,
                if_match: o.e_tag.map(ETagCondition::ETag),
            })
            .collect();
        let results = self.delete_keys(input.bucket, targets).await?;

        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for ((key, version_id), result) in keys.into_iter().zip(results) {
            match result {
                Ok(()) if !quiet => deleted.push(DeletedObject {
                    key: Some(key),
                    version_id,
                    ..DeletedObject::default()
                }),
                Ok(()) => {}
                Err(e) => {
                    let s3 = s3s::S3Error::from(e);
                    errors.push(KeyError {
                        code: Some(s3.code().as_str().to_owned()),
                        key: Some(key),
                        message: s3.message().map(str::to_owned),
                        version_id,
                    });
                }
            }
        }
        Ok(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..DeleteObjectsOutput::default()
        })
    }

    /// Deletes keys in one transaction; a missing key is a success. Returns one result per key;
    /// fails as a whole only for a missing bucket or a store failure.
    async fn delete_keys(&self, bucket: String, targets: Vec<Target>) -> Result<Vec<Result<()>>> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let mut results = Vec::with_capacity(targets.len());
            let mut unlinked = Vec::new();
            {
                index::require_bucket(&txn.open_table(BUCKETS)?, &bucket)?;
                let mut objects = txn.open_table(OBJECTS)?;
                for target in &targets {
                    if target.key.is_empty() || target.key.len() > MAX_KEY_LEN {
                        results.push(Err(Error::InvalidArgument(
                            "The specified key is not valid.".into(),
                        )));
                        continue;
                    }
                    let current = index::object(&objects, &bucket, &target.key)?;
                    let Some(record) = current else {
                        results.push(match target.if_match {
                            Some(_) => Err(Error::NoSuchKey),
                            None => Ok(()),
                        });
                        continue;
                    };
                    if let Err(e) =
                        conditions::check_write(Some(&record), target.if_match.as_ref(), None)
                    {
                        results.push(Err(e));
                        continue;
                    }
                    objects.remove((bucket.as_str(), target.key.as_str()))?;
                    unlinked.push(record.blob);
                    results.push(Ok(()));
                }
            }
            txn.commit()?;
            for blob in unlinked {
                files::remove_quietly(&inner.blob_path(&blob));
            }
            Ok(results)
        })
        .await
    }
}
