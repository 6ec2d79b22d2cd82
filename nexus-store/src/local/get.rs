//! GetObject and HeadObject: lookup, conditionals, Range and partNumber, headers, body.

use std::fs::File;

use http::StatusCode;
use s3s::S3Response;
use s3s::dto::{
    ChecksumMode, GetObjectInput, GetObjectOutput, HeadObjectInput, HeadObjectOutput, Range,
};

use super::LocalStore;
use super::conditions;
use super::error::{Error, Result};
use super::files::{self, FileStream};
use super::index::{self, BUCKETS, OBJECTS};
use super::props::{self, fill_checksum, fill_object_output};
use super::records::ObjectRecord;

/// How many times a read retries when a concurrent commit unlinked the blob it looked up.
const OPEN_RETRIES: usize = 8;

/// The bytes of an object a request asks for.
#[derive(Debug)]
struct Slice {
    start: u64,
    len: u64,
    content_range: Option<String>,
    parts_count: Option<i32>,
    whole: bool,
}

/// Resolves Range or partNumber against the object.
fn slice(record: &ObjectRecord, range: Option<&Range>, part_number: Option<i32>) -> Result<Slice> {
    let size = record.size;
    let whole = Slice {
        start: 0,
        len: size,
        content_range: None,
        parts_count: None,
        whole: true,
    };
    let content_range =
        |start: u64, len: u64| Some(format!("bytes {start}-{}/{size}", start + len - 1));
    match (range, part_number) {
        (Some(_), Some(_)) => Err(Error::InvalidRequest(
            "Cannot specify both Range header and partNumber query parameter".into(),
        )),
        (None, None) => Ok(whole),
        (Some(range), None) => {
            let r = range.check(size).map_err(|_| Error::InvalidRange)?;
            let len = r.end - r.start;
            Ok(Slice {
                start: r.start,
                len,
                content_range: content_range(r.start, len),
                parts_count: None,
                whole: len == size,
            })
        }
        (None, Some(n)) => {
            if !(1..=10_000).contains(&n) {
                return Err(Error::InvalidArgument(
                    "Part number must be an integer between 1 and 10000, inclusive".into(),
                ));
            }
            let index = usize::try_from(n - 1).unwrap_or(usize::MAX);
            if record.parts.is_empty() {
                if n != 1 {
                    return Err(Error::InvalidPartNumber);
                }
                if size == 0 {
                    return Ok(whole);
                }
                return Ok(Slice {
                    content_range: content_range(0, size),
                    parts_count: Some(1),
                    ..whole
                });
            }
            let len = *record.parts.get(index).ok_or(Error::InvalidPartNumber)?;
            let start: u64 = record.parts[..index].iter().sum();
            Ok(Slice {
                start,
                len,
                content_range: if len == 0 {
                    None
                } else {
                    content_range(start, len)
                },
                parts_count: i32::try_from(record.parts.len()).ok(),
                whole: record.parts.len() == 1,
            })
        }
    }
}

fn checksum_enabled(mode: Option<&ChecksumMode>) -> bool {
    mode.is_some_and(|m| m.as_str().eq_ignore_ascii_case("ENABLED"))
}

impl LocalStore {
    /// Looks an object up (NoSuchBucket, NoSuchKey).
    pub(crate) async fn lookup(&self, bucket: String, key: String) -> Result<ObjectRecord> {
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            index::require_bucket(&txn.open_table(BUCKETS)?, &bucket)?;
            index::object(&txn.open_table(OBJECTS)?, &bucket, &key)?.ok_or(Error::NoSuchKey)
        })
        .await
    }

    /// Looks an object up and opens its blob, retrying if a concurrent write replaced it in
    /// between (the new record then names the new blob).
    pub(crate) async fn open_object(
        &self,
        bucket: String,
        key: String,
    ) -> Result<(ObjectRecord, File)> {
        self.run(move |inner| {
            for _ in 0..OPEN_RETRIES {
                let txn = inner.db.begin_read()?;
                index::require_bucket(&txn.open_table(BUCKETS)?, &bucket)?;
                let record = index::object(&txn.open_table(OBJECTS)?, &bucket, &key)?
                    .ok_or(Error::NoSuchKey)?;
                match files::open(&inner.blob_path(&record.blob)) {
                    Ok(file) => return Ok((record, file)),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
            Err(Error::Inconsistent(format!(
                "the blob of {bucket}/{key} keeps disappearing"
            )))
        })
        .await
    }

    pub(crate) async fn get_object_impl(&self, input: GetObjectInput) -> Result<GetObjectOutput> {
        props::check_version(input.version_id.as_deref())?;
        let (record, file) = self
            .open_object(input.bucket.clone(), input.key.clone())
            .await?;
        conditions::check_read(&record, crate::read_conditions!(input))?;
        let slice = slice(&record, input.range.as_ref(), input.part_number)?;

        let mut out = GetObjectOutput::default();
        fill_object_output!(out, &record);
        if slice.whole && checksum_enabled(input.checksum_mode.as_ref()) {
            fill_checksum!(out, record.checksum.as_ref());
            out.checksum_type = record.checksum.as_ref().map(props::checksum_type);
        }
        out.content_length = i64::try_from(slice.len).ok();
        out.content_range = slice.content_range;
        out.parts_count = slice.parts_count;
        out.tag_count = i32::try_from(record.props.tags.len())
            .ok()
            .filter(|n| *n > 0);
        out.body = Some(FileStream::new(file, slice.start, slice.len).into_blob());
        Ok(out)
    }

    pub(crate) async fn head_object_impl(
        &self,
        input: HeadObjectInput,
    ) -> Result<S3Response<HeadObjectOutput>> {
        props::check_version(input.version_id.as_deref())?;
        let record = self.lookup(input.bucket.clone(), input.key.clone()).await?;
        conditions::check_read(&record, crate::read_conditions!(input))?;
        let slice = slice(&record, input.range.as_ref(), input.part_number)?;

        let mut out = HeadObjectOutput::default();
        fill_object_output!(out, &record);
        if slice.whole && checksum_enabled(input.checksum_mode.as_ref()) {
            fill_checksum!(out, record.checksum.as_ref());
            out.checksum_type = record.checksum.as_ref().map(props::checksum_type);
        }
        out.content_length = i64::try_from(slice.len).ok();
        let partial = slice.content_range.is_some();
        out.content_range = slice.content_range;
        out.parts_count = slice.parts_count;
        Ok(if partial {
            S3Response::with_status(out, StatusCode::PARTIAL_CONTENT)
        } else {
            S3Response::new(out)
        })
    }
}
