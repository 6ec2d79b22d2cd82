//! Garbage collection of staged multipart uploads (`.nexus-staging/<id>/`, see
//! [`super::multipart`]). S3 keeps an incomplete upload until it is aborted; brokers abort
//! theirs on failure, but a broker that dies mid-upload never does, and a part that was still
//! being staged while its upload completed is left without an upload. So every worker sweeps
//! now and then, in every bucket of the store:
//!
//! - an upload whose newest staged object is older than `--staging-ttl` is deleted (parts
//!   first, the upload record last, as Abort does), as an S3 lifecycle rule
//!   `AbortIncompleteMultipartUpload` would;
//! - staged parts without an upload record are deleted once they are older than the ttl or
//!   10 minutes, whichever is shorter (long enough for any Complete or Abort in progress).
//!
//! Several workers sweeping at once only delete the same keys twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use s3s::dto::{DeleteObjectInput, ListBucketsInput, Timestamp};
use s3s::{S3, S3Request, S3Result};

use super::multipart::{STAGING, list_all};

/// How long a record-less staged part may exist (a Complete or Abort deleting it, a part
/// upload racing them).
const ORPHAN_GRACE: Duration = Duration::from_secs(600);

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub uploads: usize,
    pub objects: usize,
}

#[derive(Default)]
struct Group {
    keys: Vec<String>,
    has_record: bool,
    newest: Option<SystemTime>,
}

fn request<T>(input: T) -> S3Request<T> {
    S3Request {
        input,
        method: http::Method::GET,
        uri: http::Uri::from_static("/"),
        headers: http::HeaderMap::new(),
        extensions: http::Extensions::new(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    }
}

fn internal(e: impl std::fmt::Display) -> s3s::S3Error {
    s3s::S3Error::with_message(s3s::S3ErrorCode::InternalError, e.to_string())
}

fn system_time(t: &Timestamp) -> Option<SystemTime> {
    let secs = nexus_store::conditions::secs(t);
    u64::try_from(secs)
        .ok()
        .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
}

/// One sweep over every bucket of `store`, as of `now`.
///
/// # Errors
/// The store could not list its buckets; a bucket that fails is logged and skipped.
pub async fn sweep(store: &Arc<dyn S3>, ttl: Duration, now: SystemTime) -> S3Result<Swept> {
    let buckets = store
        .list_buckets(request(ListBucketsInput::default()))
        .await?
        .output
        .buckets
        .unwrap_or_default();
    let mut swept = Swept::default();
    for bucket in buckets.into_iter().filter_map(|b| b.name) {
        match sweep_bucket(store, &bucket, ttl, now).await {
            Ok(s) => {
                swept.uploads += s.uploads;
                swept.objects += s.objects;
            }
            Err(e) => tracing::warn!(%bucket, error = %e, "Staging sweep of the bucket failed."),
        }
    }
    Ok(swept)
}

async fn sweep_bucket(
    store: &Arc<dyn S3>,
    bucket: &str,
    ttl: Duration,
    now: SystemTime,
) -> S3Result<Swept> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for o in list_all(store, &request(()), bucket, STAGING).await? {
        let Some(key) = o.key else { continue };
        let Some((id, name)) = key[STAGING.len()..].split_once('/') else {
            continue;
        };
        let g = groups.entry(id.to_owned()).or_default();
        g.has_record |= name == "upload";
        let t = o.last_modified.as_ref().and_then(system_time);
        g.newest = g.newest.max(t);
        g.keys.push(key);
    }
    let mut swept = Swept::default();
    for (id, mut g) in groups {
        let limit = if g.has_record {
            ttl
        } else {
            ttl.min(ORPHAN_GRACE)
        };
        let old = g
            .newest
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age >= limit);
        if !old {
            continue;
        }
        // Parts before the record, so an interrupted sweep leaves a findable upload.
        g.keys.sort_by_key(|k| k.ends_with("/upload"));
        for key in &g.keys {
            let input = DeleteObjectInput::builder()
                .bucket(bucket.to_owned())
                .key(key.clone())
                .build()
                .map_err(internal)?;
            store.delete_object(request(input)).await?;
        }
        tracing::info!(%bucket, upload = %id, objects = g.keys.len(), with_record = g.has_record, "Staged upload garbage-collected.");
        swept.uploads += 1;
        swept.objects += g.keys.len();
    }
    Ok(swept)
}

/// Sweeps every `interval` until `stop` resolves.
pub async fn run(
    store: Arc<dyn S3>,
    ttl: Duration,
    interval: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {}
        }
        match sweep(&store, ttl, SystemTime::now()).await {
            Ok(s) if s.uploads > 0 => tracing::info!(
                uploads = s.uploads,
                objects = s.objects,
                "Staging sweep done."
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "Staging sweep failed."),
        }
    }
}
