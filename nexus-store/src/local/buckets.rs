//! Buckets: CreateBucket, HeadBucket, ListBuckets, DeleteBucket, GetBucketLocation.

use s3s::dto::{
    Bucket, BucketLocationConstraint, CreateBucketInput, CreateBucketOutput, DeleteBucketInput,
    DeleteBucketOutput, GetBucketLocationInput, GetBucketLocationOutput, HeadBucketInput,
    HeadBucketOutput, ListBucketsInput, ListBucketsOutput, Owner,
};

use super::LocalStore;
use super::error::{Error, Result};
use super::index::{self, BUCKETS, OBJECTS, UPLOADS};
use super::records::BucketRecord;
use super::time;

/// The one owner of everything in this store.
pub(crate) fn owner() -> Owner {
    Owner {
        display_name: Some("nexus".to_owned()),
        id: Some("nexus".to_owned()),
    }
}

impl LocalStore {
    pub(crate) async fn create_bucket_impl(
        &self,
        input: CreateBucketInput,
    ) -> Result<CreateBucketOutput> {
        let location = input
            .create_bucket_configuration
            .and_then(|c| c.location_constraint)
            .map(|l| l.as_str().to_owned())
            .filter(|l| !l.is_empty());
        let name = input.bucket;
        let location_header = format!("/{name}");
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            {
                let mut buckets = txn.open_table(BUCKETS)?;
                if index::bucket(&buckets, &name)?.is_some() {
                    return Err(Error::BucketAlreadyOwnedByYou);
                }
                let record = BucketRecord {
                    created: time::now_secs(),
                    location,
                };
                buckets.insert(name.as_str(), index::encode(&record)?.as_slice())?;
            }
            txn.commit()?;
            Ok(())
        })
        .await?;
        Ok(CreateBucketOutput {
            location: Some(location_header),
        })
    }

    pub(crate) async fn head_bucket_impl(
        &self,
        input: HeadBucketInput,
    ) -> Result<HeadBucketOutput> {
        self.require_bucket(input.bucket).await?;
        Ok(HeadBucketOutput::default())
    }

    pub(crate) async fn get_bucket_location_impl(
        &self,
        input: GetBucketLocationInput,
    ) -> Result<GetBucketLocationOutput> {
        let bucket = input.bucket;
        let record = self
            .run(move |inner| {
                let txn = inner.db.begin_read()?;
                index::require_bucket(&txn.open_table(BUCKETS)?, &bucket)
            })
            .await?;
        Ok(GetBucketLocationOutput {
            location_constraint: record.location.map(BucketLocationConstraint::from),
        })
    }

    pub(crate) async fn list_buckets_impl(
        &self,
        input: ListBucketsInput,
    ) -> Result<ListBucketsOutput> {
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = input.continuation_token.clone().unwrap_or_default();
        let max = input
            .max_buckets
            .map_or(10_000, |m| usize::try_from(m).unwrap_or(0).clamp(1, 10_000));
        let (buckets, truncated) = self
            .run(move |inner| {
                let txn = inner.db.begin_read()?;
                let table = txn.open_table(BUCKETS)?;
                let mut out = Vec::new();
                let mut truncated = false;
                for item in table.range(prefix.as_str()..)? {
                    let (k, v) = item?;
                    let name = k.value();
                    if !name.starts_with(prefix.as_str()) {
                        break;
                    }
                    if !after.is_empty() && name <= after.as_str() {
                        continue;
                    }
                    if out.len() == max {
                        truncated = true;
                        break;
                    }
                    let record: BucketRecord = index::decode(v.value())?;
                    out.push((name.to_owned(), record));
                }
                Ok((out, truncated))
            })
            .await?;
        let continuation_token = truncated
            .then(|| buckets.last().map(|(n, _)| n.clone()))
            .flatten();
        Ok(ListBucketsOutput {
            buckets: Some(
                buckets
                    .into_iter()
                    .map(|(name, record)| Bucket {
                        bucket_region: None,
                        creation_date: time::timestamp(record.created),
                        name: Some(name),
                    })
                    .collect(),
            ),
            continuation_token,
            owner: Some(owner()),
            prefix: input.prefix,
        })
    }

    pub(crate) async fn delete_bucket_impl(
        &self,
        input: DeleteBucketInput,
    ) -> Result<DeleteBucketOutput> {
        let name = input.bucket;
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            {
                let mut buckets = txn.open_table(BUCKETS)?;
                index::require_bucket(&buckets, &name)?;
                if index::bucket_has_objects(&txn.open_table(OBJECTS)?, &name)?
                    || index::bucket_has_uploads(&txn.open_table(UPLOADS)?, &name)?
                {
                    return Err(Error::BucketNotEmpty);
                }
                buckets.remove(name.as_str())?;
            }
            txn.commit()?;
            Ok(())
        })
        .await?;
        Ok(DeleteBucketOutput::default())
    }
}
