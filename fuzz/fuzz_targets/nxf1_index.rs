//! A stored object's tail as the reader parses it: trailer, then index. Whatever the bytes,
//! parsing never panics, and an index that parses is self-consistent: it re-encodes to the same
//! bytes, its ranges tile the logical and stored sizes, and range lookups land on the frames
//! that cover them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nexus_core::format::{FrameEntry, Index, TRAILER_LEN, Trailer};

/// Builds a valid object tail from the input (frame sizes, part starts), then damages it at
/// the positions the rest of the input names: most inputs then reach the index parser with
/// a valid trailer, which random bytes almost never do.
fn built(data: &[u8]) -> Vec<u8> {
    let (shape, damage) = data.split_at(data.len().min(64));
    let mut index = Index::default();
    index.start_part();
    let mut stored = 0u64;
    for pair in shape.chunks(2) {
        let plain_len = u64::from(pair[0]) * 997 + 1;
        let stored_len = u64::from(*pair.get(1).unwrap_or(&1)) + 1;
        if pair[0] % 7 == 0 {
            index.start_part();
        }
        index.push(FrameEntry {
            plain_len,
            stored_len,
            crc32c: u32::from(pair[0]) << 8,
        });
        stored += stored_len;
    }
    let mut object = vec![0u8; stored as usize];
    object.extend_from_slice(&index.encode_tail());
    for d in damage.chunks(3) {
        if let [at_hi, at_lo, value] = d {
            let at = (usize::from(*at_hi) << 8 | usize::from(*at_lo)) % object.len();
            object[at] ^= value;
        }
    }
    object
}

fuzz_target!(|input: &[u8]| {
    let owned;
    let data = match input.split_first() {
        Some((0, rest)) => rest,
        Some((_, rest)) => {
            owned = built(rest);
            &owned
        }
        None => return,
    };
    if data.len() < TRAILER_LEN {
        return;
    }
    let size = data.len() as u64;
    let Ok(trailer) = Trailer::parse(&data[data.len() - TRAILER_LEN..], size) else {
        return;
    };
    let r = trailer.index_range();
    assert!(
        r.start <= r.end && r.end <= size,
        "index range outside the object"
    );
    let Ok(index) = Index::parse(&data[r.start as usize..r.end as usize], &trailer) else {
        return;
    };
    let tail = index.encode_tail();
    assert_eq!(
        tail[..tail.len() - TRAILER_LEN],
        data[r.start as usize..r.end as usize],
        "a parsed index re-encodes to the stored bytes"
    );
    let (mut plain, mut stored) = (0u64, 0u64);
    for i in 0..index.frames().len() {
        assert_eq!(index.plain_range(i).start, plain);
        assert_eq!(index.stored_range(i).start, stored);
        plain = index.plain_range(i).end;
        stored = index.stored_range(i).end;
    }
    assert_eq!(plain, index.logical_size());
    assert_eq!(stored, index.stored_len());
    let n = index.logical_size();
    for (lo, hi) in [
        (0, n),
        (n / 3, (n / 2 + 1).min(n)),
        (n.saturating_sub(1), n),
    ] {
        if lo >= hi {
            continue;
        }
        let (first, last) = index
            .frames_for(&(lo..hi))
            .expect("a range inside the object");
        assert!(index.plain_range(first).start <= lo && lo < index.plain_range(first).end);
        assert!(index.plain_range(last).start < hi && hi <= index.plain_range(last).end);
    }
});
