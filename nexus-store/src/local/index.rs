//! The redb index: table layout, record encoding and the lookups every operation shares.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{Error, Result};
use super::records::{BucketRecord, ObjectRecord, PartRecord, UploadRecord};

/// Format version of the index, in [`META`] under `format`.
const FORMAT_VERSION: u64 = 1;

/// redb's page cache (its default is 1 GiB; the index is small and the OS caches the file).
const CACHE_SIZE: usize = 64 * 1024 * 1024;

/// `meta`: `format` → [`FORMAT_VERSION`].
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// `buckets`: name → [`BucketRecord`].
pub(crate) const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
/// `objects`: (bucket, key) → [`ObjectRecord`]. Keys sort byte-wise, so a LIST is a range scan.
pub(crate) const OBJECTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("objects");
/// `uploads`: (bucket, key, upload id) → [`UploadRecord`], in ListMultipartUploads order.
pub(crate) const UPLOADS: TableDefinition<(&str, &str, &str), &[u8]> =
    TableDefinition::new("uploads");
/// `parts`: (upload id, part number) → [`PartRecord`].
pub(crate) const PARTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("parts");

/// Opens (or creates) the index and makes sure every table exists.
pub(crate) fn open(path: &Path) -> Result<Database> {
    let db = Database::builder()
        .set_cache_size(CACHE_SIZE)
        .create(path)?;
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        let format = meta.get("format")?.map(|v| v.value());
        match format {
            None => {
                meta.insert("format", FORMAT_VERSION)?;
            }
            Some(FORMAT_VERSION) => {}
            Some(other) => {
                return Err(Error::Inconsistent(format!(
                    "index format {other}, this build reads {FORMAT_VERSION}"
                )));
            }
        }
        txn.open_table(BUCKETS)?;
        txn.open_table(OBJECTS)?;
        txn.open_table(UPLOADS)?;
        txn.open_table(PARTS)?;
    }
    txn.commit()?;
    Ok(db)
}

/// Encodes a record.
pub(crate) fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(record)?)
}

/// Decodes a record.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    Ok(serde_json::from_slice(bytes)?)
}

/// The bucket record, if the bucket exists.
pub(crate) fn bucket(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    name: &str,
) -> Result<Option<BucketRecord>> {
    table.get(name)?.map(|v| decode(v.value())).transpose()
}

/// Fails with NoSuchBucket unless the bucket exists.
pub(crate) fn require_bucket(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    name: &str,
) -> Result<BucketRecord> {
    bucket(table, name)?.ok_or(Error::NoSuchBucket)
}

/// The object record, if the object exists.
pub(crate) fn object(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    bucket: &str,
    key: &str,
) -> Result<Option<ObjectRecord>> {
    table
        .get((bucket, key))?
        .map(|v| decode(v.value()))
        .transpose()
}

/// The upload record, if the upload exists for this bucket and key.
pub(crate) fn upload(
    table: &impl ReadableTable<(&'static str, &'static str, &'static str), &'static [u8]>,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<Option<UploadRecord>> {
    table
        .get((bucket, key, upload_id))?
        .map(|v| decode(v.value()))
        .transpose()
}

/// Every part of an upload, ascending by part number.
pub(crate) fn parts(
    table: &impl ReadableTable<(&'static str, u32), &'static [u8]>,
    upload_id: &str,
) -> Result<Vec<(u32, PartRecord)>> {
    let mut out = Vec::new();
    for item in table.range((upload_id, 0_u32)..=(upload_id, u32::MAX))? {
        let (k, v) = item?;
        out.push((k.value().1, decode(v.value())?));
    }
    Ok(out)
}

/// Whether the bucket holds any object.
pub(crate) fn bucket_has_objects(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    bucket: &str,
) -> Result<bool> {
    let mut range = table.range((bucket, "")..)?;
    match range.next() {
        Some(item) => Ok(item?.0.value().0 == bucket),
        None => Ok(false),
    }
}

/// Whether the bucket has any upload in progress.
pub(crate) fn bucket_has_uploads(
    table: &impl ReadableTable<(&'static str, &'static str, &'static str), &'static [u8]>,
    bucket: &str,
) -> Result<bool> {
    let mut range = table.range((bucket, "", "")..)?;
    match range.next() {
        Some(item) => Ok(item?.0.value().0 == bucket),
        None => Ok(false),
    }
}
