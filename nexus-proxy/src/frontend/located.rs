//! Objects whose bytes are in another store than the bucket's: the policy's
//! `spec.output.store`, or the alternative a routing stage picked (`docs/formats.md` §8).
//!
//! The stored object goes to that store, under the same key in the store's bucket; the bucket
//! keeps a **locator**: an empty object with the same metadata (so HEAD, LIST and tagging
//! answer from it as from the object itself) plus [`STORE`] and [`STORE_BUCKET`], which name
//! where the bytes are. Reads and copies follow the locator to the bytes; deletes remove the
//! bytes first, then the locator (a retried delete still finds them). Locators are resolved by
//! the `Store` resource's name, never through the current policy, so changing or deleting the
//! policy keeps every object readable.

use std::sync::Arc;

use nexus_core::resource::PolicySet;
use s3s::dto::{DeleteObjectInput, HeadObjectOutput, Metadata, PutObjectInput, PutObjectOutput};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::transformed::shell;
use super::{Frontend, Observed};
use crate::named_stores::{Named, NamedStores};
use crate::pipeline::decode::{self, internal};
use crate::pipeline::spool::exact;

/// On a locator: the name of the `Store` resource that holds the object's bytes.
pub const STORE: &str = "nexus-store";
/// On a locator: the bucket in that store (the store's bucket when the object was written).
pub const STORE_BUCKET: &str = "nexus-store-bucket";

/// A write's destination other than the bucket's own store.
pub(super) struct Destination {
    pub name: String,
    pub store: Arc<dyn S3>,
    pub bucket: String,
}

impl Destination {
    /// The store a routing stage picked; the policy must name it in `spec.output`.
    ///
    /// # Errors
    /// `InternalError` naming the store and why it cannot be used.
    pub(super) fn routed(
        named: &NamedStores,
        obs: &Observed,
        bucket: &str,
        name: &str,
    ) -> S3Result<Option<Self>> {
        obs.policy(bucket)
            .ok_or_else(|| "the policy is gone".to_owned())
            .and_then(|p| named.resolve(&obs.set, p, name))
            .map(|n| Self::of(name, n))
            .map_err(|why| {
                unusable(
                    &format!("a stage routed the object to store `{name}`"),
                    &why,
                )
            })
    }

    /// The plan's output store, if it has one.
    ///
    /// # Errors
    /// As [`Self::routed`].
    pub(super) fn output(
        named: &NamedStores,
        set: &PolicySet,
        name: Option<&str>,
    ) -> S3Result<Option<Self>> {
        let Some(name) = name else {
            return Ok(None);
        };
        named
            .open(set, name)
            .map(|n| Self::of(name, n))
            .map_err(|why| unusable(&format!("output store `{name}`"), &why))
    }

    /// A store a routing stage picked earlier, when its policy allowed it (the parts of a
    /// multipart upload, at Complete).
    ///
    /// # Errors
    /// As [`Self::routed`].
    pub(super) fn picked(
        named: &NamedStores,
        set: &PolicySet,
        name: &str,
    ) -> S3Result<Option<Self>> {
        named
            .open(set, name)
            .map(|n| Self::of(name, n))
            .map_err(|why| {
                unusable(
                    &format!("a stage routed the upload to store `{name}`"),
                    &why,
                )
            })
    }

    /// `None` when `named` is the bucket itself (an embedded store on an embedded worker).
    fn of(name: &str, named: Named) -> Option<Self> {
        named.bucket.map(|bucket| Self {
            name: name.to_owned(),
            store: named.store,
            bucket,
        })
    }
}

fn unusable(what: &str, why: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InternalError, format!("{what}: {why}"))
}

/// The store and bucket an object's bytes are in, and their HEAD there.
pub(super) struct Stored {
    pub store: Arc<dyn S3>,
    /// The `Store` resource (`""`: the bucket's own store).
    pub name: String,
    pub bucket: String,
    pub head: HeadObjectOutput,
}

/// Whether a delete in `bucket` must look for a locator first (a HEAD per key): when a policy
/// targets the bucket, or any `Store` resource is applied (an object written under a policy
/// deleted since may still be located elsewhere). Without stores there are no locators.
pub(super) fn may_hold_locators(set: &PolicySet, bucket: &str) -> bool {
    set.grammar_for(bucket).is_some()
        || set
            .of_kind(nexus_core::meta::ResourceKind::Store)
            .next()
            .is_some()
}

/// The locator of the object `input` describes, stored in `dest`: empty, with the object's
/// metadata and headers plus [`STORE`] and [`STORE_BUCKET`].
fn locator_for(input: &PutObjectInput, dest: &Destination) -> S3Result<PutObjectInput> {
    let mut metadata = input.metadata.clone().unwrap_or_default();
    metadata.insert(STORE.to_owned(), dest.name.clone());
    metadata.insert(STORE_BUCKET.to_owned(), dest.bucket.clone());
    PutObjectInput::builder()
        .bucket(input.bucket.clone())
        .key(input.key.clone())
        .content_length(Some(0))
        .content_type(input.content_type.clone())
        .cache_control(input.cache_control.clone())
        .content_disposition(input.content_disposition.clone())
        .content_encoding(input.content_encoding.clone())
        .content_language(input.content_language.clone())
        .tagging(input.tagging.clone())
        .metadata(Some(metadata))
        .body(Some(exact(
            futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>(),
            0,
        )))
        .build()
        .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))
}

/// Where a locator's metadata says the bytes are: (store, bucket).
pub(super) fn location(metadata: Option<&Metadata>) -> Option<(String, String)> {
    let m = metadata?;
    Some((m.get(STORE)?.clone(), m.get(STORE_BUCKET)?.clone()))
}

impl Frontend {
    /// Stores a (transformed) object: in the bucket's own store, or in `dest` with a locator
    /// in the bucket, written after the bytes. The write succeeds only if both did; a failed
    /// locator takes the bytes back (best effort), so nothing unreachable is acknowledged.
    pub(super) async fn store_at(
        &self,
        mut req: S3Request<PutObjectInput>,
        dest: Option<&Destination>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let Some(dest) = dest else {
            return self.store.put_object(req).await;
        };
        let like = shell(&req);
        let locator = locator_for(&req.input, dest)?;
        req.input.bucket.clone_from(&dest.bucket);
        let res = dest.store.put_object(req).await?;
        self.write_locator(&like, locator, dest).await?;
        Ok(res)
    }

    /// Keeps the frame index of an object just written to `bucket/key` (or to `dest`, if not
    /// the bucket's own store) under the stored ETag the store answered, so that its first
    /// read needs no HEAD and no index read ([`crate::pipeline::decode::get_known`]).
    pub(super) fn remember_index(
        &self,
        dest: Option<&Destination>,
        bucket: &str,
        key: &str,
        stored_etag: Option<&s3s::dto::ETag>,
        index: nexus_core::format::Index,
    ) {
        let Some(etag) = stored_etag else {
            return;
        };
        // The (store, bucket) the bytes are in.
        let (store, bucket) = dest.map_or(("", bucket), |d| (d.name.as_str(), d.bucket.as_str()));
        self.pipelines
            .indexes
            .insert(store, bucket, key, etag, &Arc::new(index));
    }

    /// Writes the locator of the object `put` describes, whose bytes are already in `dest`
    /// (a staged upload assembled there); as in [`Self::store_at`], a failed locator takes
    /// the bytes back.
    ///
    /// # Errors
    /// The locator could not be written.
    pub(super) async fn locate(
        &self,
        like: &S3Request<()>,
        put: &PutObjectInput,
        dest: &Destination,
    ) -> S3Result<()> {
        self.write_locator(like, locator_for(put, dest)?, dest)
            .await
    }

    async fn write_locator(
        &self,
        like: &S3Request<()>,
        locator: PutObjectInput,
        dest: &Destination,
    ) -> S3Result<()> {
        let key = locator.key.clone();
        if let Err(e) = self.store.put_object(internal(like, locator)).await {
            tracing::warn!(store = %dest.name, %key, error = %e, "The locator could not be written; taking the stored bytes back.");
            if let Ok(undo) = DeleteObjectInput::builder()
                .bucket(dest.bucket.clone())
                .key(key)
                .build()
            {
                let _ = dest.store.delete_object(internal(like, undo)).await;
            }
            return Err(e);
        }
        tracing::debug!(store = %dest.name, bucket = %dest.bucket, "Stored in another store; the bucket keeps a locator.");
        Ok(())
    }

    /// The bytes of `bucket/key`, whose HEAD in the bucket's store is `head`: there, or where
    /// its locator points.
    ///
    /// # Errors
    /// The locator's store is not applied or cannot be opened, or the bytes are missing there
    /// (`InternalError`, naming the store); the store's own errors.
    pub(super) async fn follow<U>(
        &self,
        set: &PolicySet,
        like: &S3Request<U>,
        bucket: &str,
        key: &str,
        head: HeadObjectOutput,
    ) -> S3Result<Stored> {
        let Some((name, in_bucket)) = location(head.metadata.as_ref()) else {
            return Ok(Stored {
                store: Arc::clone(&self.store),
                name: String::new(),
                bucket: bucket.to_owned(),
                head,
            });
        };
        let what = format!("the object's bytes are in store `{name}` (bucket {in_bucket})");
        let named = self
            .named
            .open(set, &name)
            .map_err(|why| unusable(&what, &why))?;
        let there = decode::head(&named.store, like, &in_bucket, key)
            .await
            .map_err(|e| {
                if e.status_code() == Some(http::StatusCode::NOT_FOUND) {
                    tracing::error!(%bucket, %key, store = %name, "A locator points at missing bytes.");
                    unusable(&what, "they are missing there")
                } else {
                    e
                }
            })?;
        Ok(Stored {
            store: named.store,
            name,
            bucket: in_bucket,
            head: there,
        })
    }

    /// Before `bucket/key` is deleted: deletes the bytes its locator points to. Nothing when
    /// it is absent or not a locator; only a warning when the locator's store cannot be opened
    /// any more (the client's delete is not held hostage by a removed store).
    ///
    /// # Errors
    /// The HEAD or the delete failed for another reason than a missing key (the client's
    /// delete then fails too, and is retried: nothing is left unreachable).
    pub(super) async fn delete_located<U>(
        &self,
        set: &PolicySet,
        like: &S3Request<U>,
        bucket: &str,
        key: &str,
    ) -> S3Result<()> {
        let missing = |e: &S3Error| e.status_code() == Some(http::StatusCode::NOT_FOUND);
        let head = match decode::head(&self.store, like, bucket, key).await {
            Ok(h) => h,
            Err(e) if missing(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some((name, in_bucket)) = location(head.metadata.as_ref()) else {
            return Ok(());
        };
        let named = match self.named.open(set, &name) {
            Ok(n) => n,
            Err(why) => {
                // The store is no longer usable from here (its resource was deleted, or its
                // credentials are not set): the client's delete still goes ahead.
                tracing::warn!(%bucket, %key, store = %name, "Deleting a locator whose bytes cannot be reached; they stay in store `{name}` (bucket {in_bucket}): {why}.");
                return Ok(());
            }
        };
        let input = DeleteObjectInput::builder()
            .bucket(in_bucket)
            .key(key.to_owned())
            .build()
            .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
        match named.store.delete_object(internal(like, input)).await {
            Ok(_) => Ok(()),
            Err(e) if missing(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
