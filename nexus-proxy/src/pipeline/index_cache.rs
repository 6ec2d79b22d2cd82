//! Frame indexes of transformed objects, kept per worker so that a broker's run of ranged GETs
//! on one segment (one per 4 MiB chunk for Kafka, 1 MiB windows for Pulsar) reads the index
//! once. One entry per store, bucket and key (the store: `""` for the bucket's own, else the
//! name of the `Store` resource the bytes are in), with the **stored** ETag it was read at: an overwrite
//! has another ETag, so a stale index is never used, and the entry also tells the next read
//! which ETag to ask the backend for (`If-Match`), so that it can skip its HEAD
//! ([`super::decode::get_known`]). Bounded by the number of frame entries held; when full,
//! arbitrary entries make room (the map's order), which is enough for a cache this cheap to
//! refill.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nexus_core::format::Index;
use s3s::dto::ETag;

/// Frame entries held at most (about 40 bytes each: 160 Ki entries ≈ 6 MiB, the indexes of
/// 160 GiB of 1 MiB frames).
pub const MAX_FRAMES: usize = 160 << 10;

/// (store, bucket, key).
type Key = (String, String, String);

#[derive(Default)]
pub struct IndexCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Key, (ETag, Arc<Index>)>,
    frames: usize,
}

fn weight(index: &Index) -> usize {
    index.frames().len().max(1)
}

impl IndexCache {
    /// The index of `bucket/key` in `store` as stored with `etag`, if cached.
    pub fn get(&self, store: &str, bucket: &str, key: &str, etag: &ETag) -> Option<Arc<Index>> {
        self.latest(store, bucket, key)
            .filter(|(e, _)| e.value() == etag.value())
            .map(|(_, i)| i)
    }

    /// The last index read of `bucket/key` in `store` and the stored ETag it was read at.
    pub fn latest(&self, store: &str, bucket: &str, key: &str) -> Option<(ETag, Arc<Index>)> {
        let inner = self.inner.lock().ok()?;
        inner
            .map
            .get(&(store.to_owned(), bucket.to_owned(), key.to_owned()))
            .map(|(e, i)| (e.clone(), Arc::clone(i)))
    }

    /// Remembers an index, replacing the key's previous one (not if it alone exceeds the
    /// bound).
    pub fn insert(&self, store: &str, bucket: &str, key: &str, etag: &ETag, index: &Arc<Index>) {
        let n = weight(index);
        if n > MAX_FRAMES {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let k = (store.to_owned(), bucket.to_owned(), key.to_owned());
        if let Some((_, old)) = inner.map.remove(&k) {
            inner.frames -= weight(&old);
        }
        while inner.frames + n > MAX_FRAMES {
            let Some(victim) = inner.map.keys().next().cloned() else {
                break;
            };
            if let Some((_, old)) = inner.map.remove(&victim) {
                inner.frames -= weight(&old);
            }
        }
        inner.map.insert(k, (etag.clone(), Arc::clone(index)));
        inner.frames += n;
    }

    /// Forgets the index of `bucket/key` in `store` (a read at its ETag found another object).
    pub fn forget(&self, store: &str, bucket: &str, key: &str) {
        if let Ok(mut inner) = self.inner.lock()
            && let Some((_, old)) =
                inner
                    .map
                    .remove(&(store.to_owned(), bucket.to_owned(), key.to_owned()))
        {
            inner.frames -= weight(&old);
        }
    }

    /// Number of cached indexes.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.map.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use nexus_core::format::FrameEntry;

    use super::*;

    fn index(frames: usize) -> Index {
        let mut i = Index::default();
        i.start_part();
        for n in 0..frames as u64 {
            i.push(FrameEntry {
                stored_len: 10,
                plain_len: 100,
                crc32c: n as u32,
            });
        }
        i
    }

    fn etag(s: &str) -> ETag {
        ETag::Strong(s.to_owned())
    }

    #[test]
    fn one_entry_per_key_checked_by_stored_etag_and_bounded() {
        let c = IndexCache::default();
        c.insert("", "b", "k", &etag("e1"), &Arc::new(index(3)));
        assert_eq!(c.get("", "b", "k", &etag("e1")).as_deref(), Some(&index(3)));
        assert_eq!(c.get("cold", "b", "k", &etag("e1")), None, "another store");
        assert_eq!(
            c.get("", "b", "k", &etag("e2")),
            None,
            "another stored object"
        );
        c.insert("", "b", "k", &etag("e2"), &Arc::new(index(4)));
        assert_eq!(
            c.get("", "b", "k", &etag("e1")),
            None,
            "the overwritten one is gone"
        );
        let (e, i) = c.latest("", "b", "k").expect("latest");
        assert_eq!((e.value(), i.frames().len()), ("e2", 4));
        assert_eq!(c.len(), 1);
        c.forget("", "b", "k");
        assert!(c.latest("", "b", "k").is_none());
        for n in 0..100 {
            c.insert(
                "",
                "b",
                &format!("k{n}"),
                &etag("e"),
                &Arc::new(index(MAX_FRAMES / 10)),
            );
        }
        assert!(c.len() <= 10, "{} indexes", c.len());
        c.insert(
            "",
            "b",
            "huge",
            &etag("e"),
            &Arc::new(index(MAX_FRAMES + 1)),
        );
        assert_eq!(c.get("", "b", "huge", &etag("e")), None);
    }
}
