//! The consistent-hash ring of one swarmlet: [`VNODES`] points per worker, each the first eight
//! bytes of SHA-256 over `worker id ‖ 0x00 ‖ vnode index`; a key's owner is the worker of the
//! first point at or after the key's own hash (wrapping). SHA-256 rather than `std`'s hasher,
//! whose output may change between Rust releases: workers of different builds must agree.

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};

/// Virtual nodes per worker: with 128, the largest of 3 workers' shares stays within a few
/// percent of a third.
pub const VNODES: u32 = 128;

/// A ring over worker ids.
#[derive(Debug, Clone, Default)]
pub struct Ring {
    points: Vec<(u64, usize)>,
    ids: Vec<String>,
}

fn hash(parts: &[&[u8]]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    let d = h.finalize();
    u64::from_be_bytes(d[..8].try_into().unwrap_or_default())
}

impl Ring {
    /// The ring of `ids` (order does not matter; duplicates count once).
    #[must_use]
    pub fn new<'a>(ids: impl IntoIterator<Item = &'a str>) -> Self {
        let mut ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
        ids.sort();
        ids.dedup();
        let mut points = Vec::with_capacity(ids.len() * VNODES as usize);
        for (i, id) in ids.iter().enumerate() {
            for v in 0..VNODES {
                points.push((hash(&[id.as_bytes(), &[0], &v.to_be_bytes()]), i));
            }
        }
        points.sort_unstable();
        Self { points, ids }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The owner of `key`, or `None` for an empty ring.
    #[must_use]
    pub fn owner(&self, key: &[u8]) -> Option<&str> {
        if self.points.is_empty() {
            return None;
        }
        let h = hash(&[key]);
        let i = self.points.partition_point(|(p, _)| *p < h);
        let (_, w) = self.points[i % self.points.len()];
        Some(&self.ids[w])
    }

    /// Each worker's share of the hash space (sums to 1).
    #[must_use]
    pub fn shares(&self) -> BTreeMap<String, f64> {
        let mut out: BTreeMap<String, f64> = self.ids.iter().map(|i| (i.clone(), 0.0)).collect();
        let n = self.points.len();
        for (k, &(p, _)) in self.points.iter().enumerate() {
            // The arc (previous point, p] belongs to p's worker.
            let prev = if k == 0 {
                self.points[n - 1].0
            } else {
                self.points[k - 1].0
            };
            let arc = p.wrapping_sub(prev) as f64 / 2f64.powi(64);
            let (_, w) = self.points[k];
            *out.entry(self.ids[w].clone()).or_default() += arc;
        }
        if n == 1 {
            out.values_mut().for_each(|v| *v = 1.0);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_stable_balanced_and_move_little() {
        let three = Ring::new(["a", "b", "c"]);
        let shares = three.shares();
        assert!((shares.values().sum::<f64>() - 1.0).abs() < 1e-9);
        for s in shares.values() {
            assert!((0.2..0.46).contains(s), "{shares:?}");
        }
        // Same members in another order: same owners.
        let again = Ring::new(["c", "a", "b"]);
        let four = Ring::new(["a", "b", "c", "d"]);
        let mut moved = 0;
        for k in 0..2000u32 {
            let key = format!("kafka\0topic-{k}\0{}", k % 7);
            let o3 = three.owner(key.as_bytes()).unwrap();
            assert_eq!(o3, again.owner(key.as_bytes()).unwrap());
            let o4 = four.owner(key.as_bytes()).unwrap();
            if o3 != o4 {
                // A join only moves keys to the new worker.
                assert_eq!(o4, "d");
                moved += 1;
            }
        }
        assert!((200..800).contains(&moved), "{moved} of 2000 moved");
        assert!(Ring::new([]).owner(b"x").is_none());
        assert_eq!(Ring::new(["solo"]).owner(b"x"), Some("solo"));
        assert!((Ring::new(["solo"]).shares()["solo"] - 1.0).abs() < 1e-9);
    }
}
