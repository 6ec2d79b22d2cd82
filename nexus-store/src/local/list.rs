//! ListObjects (v1) and ListObjectsV2, over one paging engine that ListMultipartUploads shares.

use std::ops::Bound;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;
use s3s::dto::{
    ChecksumAlgorithm as DtoAlgorithm, CommonPrefix, EncodingType, ListObjectsInput,
    ListObjectsOutput, ListObjectsV2Input, ListObjectsV2Output, Object, ObjectStorageClass,
};

use super::LocalStore;
use super::buckets::owner;
use super::error::{Error, Result};
use super::index::{self, BUCKETS, OBJECTS};
use super::props;
use super::records::ObjectRecord;
use super::time;
use super::urlenc;

/// Default and largest page.
const MAX_PAGE: usize = 1000;

/// Sorts after every key that has the given prefix (barring keys with U+10FFFF right after it,
/// which the pager still handles correctly, only less quickly).
const PAST: char = '\u{10FFFF}';

/// What [`Pager::offer`] tells the scan to do next.
pub(crate) enum Step {
    Continue,
    /// Restart the scan after this key (all keys under the common prefix just rolled up).
    SeekPast(String),
    Stop,
}

/// One page of a listing in key order: entries and common prefixes, up to `max` of them.
pub(crate) struct Pager<'a, T> {
    prefix: &'a str,
    delimiter: Option<&'a str>,
    /// Common prefixes not above this were returned on an earlier page.
    after: &'a str,
    max: usize,
    pub items: Vec<T>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix returned: where the next page starts.
    pub last: Option<String>,
}

impl<'a, T> Pager<'a, T> {
    pub(crate) fn new(
        prefix: &'a str,
        delimiter: Option<&'a str>,
        after: &'a str,
        max: usize,
    ) -> Self {
        Self {
            prefix,
            delimiter: delimiter.filter(|d| !d.is_empty()),
            after,
            max,
            items: Vec::new(),
            prefixes: Vec::new(),
            truncated: false,
            last: None,
        }
    }

    /// The page, without the borrowed parameters.
    pub(crate) fn detach(self) -> Pager<'static, T> {
        Pager {
            prefix: "",
            delimiter: None,
            after: "",
            max: self.max,
            items: self.items,
            prefixes: self.prefixes,
            truncated: self.truncated,
            last: self.last,
        }
    }

    fn full(&mut self) -> bool {
        if self.items.len() + self.prefixes.len() >= self.max {
            self.truncated = true;
            return true;
        }
        false
    }

    /// Offers the next key in order (`make` builds its entry). The key must start with the
    /// prefix and sort after the marker.
    pub(crate) fn offer(&mut self, key: &str, make: impl FnOnce() -> Result<T>) -> Result<Step> {
        if let Some(d) = self.delimiter
            && let Some(i) = key[self.prefix.len()..].find(d)
        {
            let cp = &key[..self.prefix.len() + i + d.len()];
            let seek = || {
                let past = format!("{cp}{PAST}");
                if key < past.as_str() {
                    Step::SeekPast(past)
                } else {
                    Step::Continue
                }
            };
            if cp <= self.after || self.prefixes.last().is_some_and(|p| p == cp) {
                return Ok(seek());
            }
            if self.full() {
                return Ok(Step::Stop);
            }
            self.prefixes.push(cp.to_owned());
            self.last = Some(cp.to_owned());
            return Ok(seek());
        }
        if self.full() {
            return Ok(Step::Stop);
        }
        self.items.push(make()?);
        self.last = Some(key.to_owned());
        Ok(Step::Continue)
    }
}

/// Lists a bucket's objects: keys under `prefix` sorting after `after`. Blocking.
fn scan(
    inner: &super::Inner,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    after: &str,
    max: usize,
) -> Result<Pager<'static, (String, ObjectRecord)>> {
    let txn = inner.db.begin_read()?;
    index::require_bucket(&txn.open_table(BUCKETS)?, bucket)?;
    let table = txn.open_table(OBJECTS)?;
    let mut pager: Pager<'_, (String, ObjectRecord)> = Pager::new(prefix, delimiter, after, max);
    let mut lower: Bound<String> = if after >= prefix {
        Bound::Excluded(after.to_owned())
    } else {
        Bound::Included(prefix.to_owned())
    };
    if max == 0 {
        return Ok(pager.detach());
    }
    'scan: loop {
        let start = match &lower {
            Bound::Included(k) => Bound::Included((bucket, k.as_str())),
            Bound::Excluded(k) => Bound::Excluded((bucket, k.as_str())),
            Bound::Unbounded => Bound::Unbounded,
        };
        let range = table.range::<(&str, &str)>((start, Bound::Unbounded))?;
        for item in range {
            let (k, v) = item?;
            let (b, key) = k.value();
            if b != bucket || !key.starts_with(prefix) {
                break 'scan;
            }
            match pager.offer(key, || Ok((key.to_owned(), index::decode(v.value())?)))? {
                Step::Continue => {}
                Step::SeekPast(past) => {
                    lower = Bound::Excluded(past);
                    continue 'scan;
                }
                Step::Stop => break 'scan,
            }
        }
        break;
    }
    Ok(pager.detach())
}

/// Page size from `max-keys` (default and cap 1000).
pub(crate) fn page_size(max: Option<i32>, what: &str) -> Result<usize> {
    match max {
        None => Ok(MAX_PAGE),
        Some(n) if n < 0 => Err(Error::InvalidArgument(format!(
            "Argument {what} must be an integer between 0 and 2147483647"
        ))),
        Some(n) => Ok(usize::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE)),
    }
}

/// Whether `encoding-type=url` applies (any other value is InvalidArgument).
pub(crate) fn url_encoding(encoding: Option<&EncodingType>) -> Result<bool> {
    match encoding.map(EncodingType::as_str) {
        None => Ok(false),
        Some(e) if e.eq_ignore_ascii_case("url") => Ok(true),
        Some(_) => Err(Error::InvalidArgument(
            "Invalid Encoding Method specified in Request".into(),
        )),
    }
}

/// Encodes a value for the response when `encoding-type=url`.
pub(crate) fn enc(url: bool, s: String) -> String {
    if url { urlenc::encode(&s) } else { s }
}

fn entry(key: String, record: &ObjectRecord, url: bool, with_owner: bool) -> Object {
    Object {
        checksum_algorithm: record
            .checksum
            .as_ref()
            .map(|c| vec![DtoAlgorithm::from(c.algorithm.clone())]),
        checksum_type: record.checksum.as_ref().map(props::checksum_type),
        e_tag: Some(props::etag(record)),
        key: Some(enc(url, key)),
        last_modified: time::timestamp(record.last_modified),
        owner: with_owner.then(owner),
        restore_status: None,
        size: i64::try_from(record.size).ok(),
        storage_class: Some(ObjectStorageClass::from(
            record
                .props
                .storage_class
                .clone()
                .unwrap_or_else(|| "STANDARD".to_owned()),
        )),
    }
}

fn common_prefixes(prefixes: Vec<String>, url: bool) -> Option<Vec<CommonPrefix>> {
    (!prefixes.is_empty()).then(|| {
        prefixes
            .into_iter()
            .map(|p| CommonPrefix {
                prefix: Some(enc(url, p)),
            })
            .collect()
    })
}

impl LocalStore {
    async fn list_page(
        &self,
        bucket: String,
        prefix: String,
        delimiter: Option<String>,
        after: String,
        max: usize,
    ) -> Result<Pager<'static, (String, ObjectRecord)>> {
        self.run(move |inner| scan(inner, &bucket, &prefix, delimiter.as_deref(), &after, max))
            .await
    }

    pub(crate) async fn list_objects_impl(
        &self,
        input: ListObjectsInput,
    ) -> Result<ListObjectsOutput> {
        let url = url_encoding(input.encoding_type.as_ref())?;
        let max = page_size(input.max_keys, "max-keys")?;
        let page = self
            .list_page(
                input.bucket.clone(),
                input.prefix.clone().unwrap_or_default(),
                input.delimiter.clone(),
                input.marker.clone().unwrap_or_default(),
                max,
            )
            .await?;
        let has_delimiter = input.delimiter.as_deref().is_some_and(|d| !d.is_empty());
        let next_marker = (page.truncated && has_delimiter)
            .then(|| page.last.clone().map(|m| enc(url, m)))
            .flatten();
        Ok(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(enc(url, input.prefix.unwrap_or_default())),
            marker: Some(enc(url, input.marker.unwrap_or_default())),
            max_keys: i32::try_from(max).ok(),
            is_truncated: Some(page.truncated),
            contents: (!page.items.is_empty()).then(|| {
                page.items
                    .iter()
                    .map(|(k, r)| entry(k.clone(), r, url, true))
                    .collect()
            }),
            common_prefixes: common_prefixes(page.prefixes, url),
            delimiter: input.delimiter.map(|d| enc(url, d)),
            next_marker,
            encoding_type: input.encoding_type,
            request_charged: None,
        })
    }

    pub(crate) async fn list_objects_v2_impl(
        &self,
        input: ListObjectsV2Input,
    ) -> Result<ListObjectsV2Output> {
        let url = url_encoding(input.encoding_type.as_ref())?;
        let max = page_size(input.max_keys, "max-keys")?;
        let after = match input.continuation_token.as_deref() {
            Some(token) => TOKEN
                .decode(token)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .ok_or_else(|| {
                    Error::InvalidArgument("The continuation token provided is incorrect".into())
                })?,
            None => input.start_after.clone().unwrap_or_default(),
        };
        let page = self
            .list_page(
                input.bucket.clone(),
                input.prefix.clone().unwrap_or_default(),
                input.delimiter.clone(),
                after,
                max,
            )
            .await?;
        let with_owner = input.fetch_owner.unwrap_or(false);
        let key_count = page.items.len() + page.prefixes.len();
        let next_continuation_token = page
            .truncated
            .then(|| page.last.as_ref().map(|l| TOKEN.encode(l)))
            .flatten();
        Ok(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(enc(url, input.prefix.unwrap_or_default())),
            max_keys: i32::try_from(max).ok(),
            key_count: i32::try_from(key_count).ok(),
            continuation_token: input.continuation_token,
            is_truncated: Some(page.truncated),
            next_continuation_token,
            contents: (!page.items.is_empty()).then(|| {
                page.items
                    .iter()
                    .map(|(k, r)| entry(k.clone(), r, url, with_owner))
                    .collect()
            }),
            common_prefixes: common_prefixes(page.prefixes, url),
            delimiter: input.delimiter.map(|d| enc(url, d)),
            encoding_type: input.encoding_type,
            start_after: input.start_after.map(|s| enc(url, s)),
            request_charged: None,
        })
    }
}
