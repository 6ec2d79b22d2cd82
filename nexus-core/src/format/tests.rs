use super::*;

fn object(frames: &[(&[u8], &[u8])], parts: &[usize]) -> (Vec<u8>, Index) {
    let mut index = Index::default();
    let mut out = Vec::new();
    if frames.is_empty() && parts.contains(&0) {
        index.start_part();
    }
    for (i, (plain, stored)) in frames.iter().enumerate() {
        if parts.contains(&i) {
            index.start_part();
        }
        index.push(FrameEntry {
            plain_len: plain.len() as u64,
            stored_len: stored.len() as u64,
            crc32c: crc32c::crc32c(stored),
        });
        out.extend_from_slice(stored);
    }
    out.extend_from_slice(&index.encode_tail());
    (out, index)
}

fn read_back(bytes: &[u8]) -> Result<Index, FormatError> {
    let size = bytes.len() as u64;
    if bytes.len() < TRAILER_LEN {
        return Err(FormatError("short".into()));
    }
    let trailer = Trailer::parse(&bytes[bytes.len() - TRAILER_LEN..], size)?;
    let r = trailer.index_range();
    Index::parse(&bytes[r.start as usize..r.end as usize], &trailer)
}

#[test]
fn round_trip_and_range_lookup() {
    let (bytes, index) = object(
        &[(b"aaaa", b"xy"), (b"bbbb", b"zzz"), (b"cc", b"w")],
        &[0, 2],
    );
    let back = read_back(&bytes).expect("parses");
    assert_eq!(back, index);
    assert_eq!(back.logical_size(), 10);
    assert_eq!(back.stored_len(), 6);
    assert_eq!(back.part_starts(), &[0, 2]);
    assert_eq!(back.frames_for(&(0..1)), Some((0, 0)));
    assert_eq!(back.frames_for(&(3..5)), Some((0, 1)));
    assert_eq!(back.frames_for(&(4..8)), Some((1, 1)));
    assert_eq!(back.frames_for(&(9..10)), Some((2, 2)));
    assert_eq!(back.frames_for(&(0..10)), Some((0, 2)));
    assert_eq!(back.frames_for(&(0..11)), None);
    assert_eq!(back.frames_for(&(5..5)), None);
    assert_eq!(back.stored_range(1), 2..5);
    assert_eq!(back.plain_range(2), 8..10);
}

#[test]
fn empty_object_is_valid() {
    let (bytes, index) = object(&[], &[0]);
    assert_eq!(bytes.len(), TRAILER_LEN + 3);
    assert_eq!(read_back(&bytes).expect("parses"), index);
    assert_eq!(index.frames_for(&(0..1)), None);
}

#[test]
fn every_single_byte_corruption_is_detected() {
    let (bytes, _) = object(
        &[(b"hello world", b"compressed"), (b"again", b"more")],
        &[0],
    );
    let tail_start = 14; // frames are not covered here (their CRC is checked on read)
    for i in tail_start..bytes.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            assert!(
                read_back(&bad).is_err(),
                "flip {flip:#x} at {i} not detected"
            );
        }
    }
    assert!(read_back(&bytes[1..]).is_err(), "truncated head");
    assert!(
        read_back(&bytes[..bytes.len() - 1]).is_err(),
        "truncated tail"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        let _ = read_back(&bytes);
        if bytes.len() >= TRAILER_LEN {
            let _ = Trailer::parse(&bytes[..TRAILER_LEN], bytes.len() as u64);
        }
    }

    #[test]
    fn valid_objects_round_trip_and_ranges_cover_exactly(
        frames in proptest::collection::vec((1u64..5000, 1u64..5000), 0..40),
        a in 0u64..200_000,
        b in 0u64..200_000,
    ) {
        let mut index = Index::default();
        index.start_part();
        for (p, s) in &frames {
            index.push(FrameEntry { plain_len: *p, stored_len: *s, crc32c: (*p ^ *s) as u32 });
        }
        let mut bytes = vec![0u8; index.stored_len() as usize];
        bytes.extend_from_slice(&index.encode_tail());
        let back = read_back(&bytes).expect("valid");
        proptest::prop_assert_eq!(&back, &index);
        let (lo, hi) = (a.min(b), a.max(b));
        match back.frames_for(&(lo..hi)) {
            None => proptest::prop_assert!(lo == hi || hi > back.logical_size()),
            Some((f, l)) => {
                proptest::prop_assert!(back.plain_range(f).start <= lo && lo < back.plain_range(f).end);
                proptest::prop_assert!(back.plain_range(l).start < hi && hi <= back.plain_range(l).end);
            }
        }
    }
}
