//! Frame indexes of transformed objects, kept per worker so that a broker's run of ranged GETs
//! on one segment (one per 4 MiB chunk for Kafka, 1 MiB windows for Pulsar) reads the index
//! once. Keyed by bucket, key and **stored** ETag: an overwrite has another ETag, so a stale
//! index is never used. Bounded by the number of frame entries held; when full, arbitrary
//! entries make room (the map's order), which is enough for a cache this cheap to refill.

use std::collections::HashMap;
use std::sync::Mutex;

use nexus_core::format::Index;

/// Frame entries held at most (about 40 bytes each: 160 Ki entries ≈ 6 MiB, the indexes of
/// 160 GiB of 1 MiB frames).
pub const MAX_FRAMES: usize = 160 << 10;

type Key = (String, String, String);

#[derive(Default)]
pub struct IndexCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Key, Index>,
    frames: usize,
}

impl IndexCache {
    /// The index of `bucket/key` as stored with `etag`, if cached.
    pub fn get(&self, bucket: &str, key: &str, etag: &str) -> Option<Index> {
        let inner = self.inner.lock().ok()?;
        inner
            .map
            .get(&(bucket.to_owned(), key.to_owned(), etag.to_owned()))
            .cloned()
    }

    /// Remembers an index (not if it alone exceeds the bound).
    pub fn insert(&self, bucket: &str, key: &str, etag: &str, index: &Index) {
        let n = index.frames().len().max(1);
        if n > MAX_FRAMES {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        while inner.frames + n > MAX_FRAMES {
            let Some(victim) = inner.map.keys().next().cloned() else {
                break;
            };
            if let Some(old) = inner.map.remove(&victim) {
                inner.frames -= old.frames().len().max(1);
            }
        }
        let k = (bucket.to_owned(), key.to_owned(), etag.to_owned());
        if let Some(old) = inner.map.insert(k, index.clone()) {
            inner.frames -= old.frames().len().max(1);
        }
        inner.frames += n;
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

    #[test]
    fn keyed_by_stored_etag_and_bounded() {
        let c = IndexCache::default();
        c.insert("b", "k", "e1", &index(3));
        assert_eq!(c.get("b", "k", "e1"), Some(index(3)));
        assert_eq!(c.get("b", "k", "e2"), None, "another stored object");
        c.insert("b", "k", "e1", &index(4));
        assert_eq!(c.get("b", "k", "e1"), Some(index(4)), "replaced");
        for n in 0..100 {
            c.insert("b", &format!("k{n}"), "e", &index(MAX_FRAMES / 10));
        }
        assert!(c.len() <= 10, "{} indexes", c.len());
        c.insert("b", "huge", "e", &index(MAX_FRAMES + 1));
        assert_eq!(c.get("b", "huge", "e"), None);
    }
}
