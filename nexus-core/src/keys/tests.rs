use proptest::prelude::*;

use super::*;

fn class(
    system: System,
    kind: ObjectKind,
    stream: Option<&str>,
    partition: Option<u64>,
    sequence: Option<u64>,
) -> ObjectClass {
    ObjectClass {
        system,
        kind,
        stream: stream.map(str::to_owned),
        partition,
        sequence,
    }
}

#[test]
fn kafka_aiven_keys() {
    let g = KeyGrammar::new(System::Kafka).with_prefix("someprefix/");
    let base =
        "someprefix/topic-MWJ6FHTfRYy67jzwZdeqSQ/7/00000000000000001234-tqimKeZwStOEOwRzT3L5oQ";
    for (suffix, kind) in [
        ("log", ObjectKind::Chunk),
        ("indexes", ObjectKind::Aux),
        ("rsm-manifest", ObjectKind::Metadata),
    ] {
        assert_eq!(
            g.classify(&format!("{base}.{suffix}"), None),
            class(System::Kafka, kind, Some("topic"), Some(7), Some(1234))
        );
    }
    // Topic names with '-' and '.'; the topic id is the last 22 characters.
    let k =
        "logs.app-eu-1-MWJ6FHTfRYy67jzwZdeqSQ/12/00000000000000000000-tqimKeZwStOEOwRzT3L5oQ.log";
    assert_eq!(
        KeyGrammar::new(System::Kafka).classify(k, None),
        class(
            System::Kafka,
            ObjectKind::Chunk,
            Some("logs.app-eu-1"),
            Some(12),
            Some(0)
        )
    );
    // A prefix without '/' (concatenated with no separator).
    let g = KeyGrammar::new(System::Kafka).with_prefix("tiered");
    let k = "tieredt-MWJ6FHTfRYy67jzwZdeqSQ/0/00000000000000000005-tqimKeZwStOEOwRzT3L5oQ.log";
    assert_eq!(g.classify(k, None).stream.as_deref(), Some("t"));
    // Unknown prefix, no prefix configured: still recognised.
    let k = "a/b/t-MWJ6FHTfRYy67jzwZdeqSQ/3/00000000000000000009-tqimKeZwStOEOwRzT3L5oQ.indexes";
    assert_eq!(
        KeyGrammar::new(System::Kafka).classify(k, None).kind,
        ObjectKind::Aux
    );
    // Not Aiven: generic.
    let c = KeyGrammar::new(System::Kafka).classify("topic/7/segment.log", None);
    assert_eq!(c.system, System::Generic);
    assert_eq!(c.stream.as_deref(), Some("topic"));
}

#[test]
fn pulsar_keys_and_ledger_names() {
    let g = KeyGrammar::new(System::Pulsar);
    let uuid = "3b5b5a8e-1f2c-4d3e-9a7b-0c1d2e3f4a5b";
    let name = "public/default/persistent/orders-partition-3";
    assert_eq!(
        g.classify(&format!("{uuid}-ledger-42"), Some(name)),
        class(
            System::Pulsar,
            ObjectKind::Chunk,
            Some("public/default/orders"),
            Some(3),
            Some(42)
        )
    );
    assert_eq!(
        g.classify(
            &format!("{uuid}-ledger-42-index"),
            Some("t/ns/persistent/events")
        ),
        class(
            System::Pulsar,
            ObjectKind::Metadata,
            Some("t/ns/events"),
            None,
            Some(42)
        )
    );
    assert_eq!(
        g.classify(uuid, None),
        class(System::Pulsar, ObjectKind::Chunk, None, None, None)
    );
    assert_eq!(
        g.classify(&format!("{uuid}-index"), None).kind,
        ObjectKind::Metadata
    );
    assert_eq!(
        g.classify(&format!("{uuid}-ledger-x"), None).system,
        System::Generic
    );
}

#[test]
fn pravega_chunks_and_system_objects() {
    let uuid = "0a1b2c3d-0000-4000-8000-000000000000";
    let g = KeyGrammar::new(System::Pravega).with_prefix("/");
    let k = format!("/scope1/stream-a/5.#epoch.2.E-1-O-4194304.{uuid}");
    assert_eq!(
        g.classify(&k, None),
        class(
            System::Pravega,
            ObjectKind::Chunk,
            Some("scope1/stream-a"),
            Some((2 << 32) | 5),
            Some(4_194_304)
        )
    );
    let txn =
        format!("/s/st/0.#epoch.0#transaction.0123456789abcdef0123456789abcdef.E-3-O-0.{uuid}");
    assert_eq!(g.classify(&txn, None).kind, ObjectKind::Chunk);
    for meta in [
        format!("/s/st/0.#epoch.0$attributes.index.E-1-O-0.{uuid}"),
        format!("/s/_RGreaders/0.#epoch.0.E-1-O-0.{uuid}"),
        "/_system/containers/metadata_3".to_owned(),
        "/_system/_sysjournal.epoch2.container1.file0".to_owned(),
        "/scope/_tables/kvt/0.#epoch.0.E-1-O-0.x".to_owned(),
    ] {
        let c = g.classify(&meta, None);
        assert_eq!(
            (c.system, c.kind),
            (System::Pravega, ObjectKind::Metadata),
            "{meta}"
        );
    }
    // A configured prefix, with the `//` that a trailing '/' produces.
    let g = KeyGrammar::new(System::Pravega).with_prefix("/pravega/");
    let c = g.classify(&format!("/pravega/s/st/1.#epoch.0.E-1-O-8.{uuid}"), None);
    assert_eq!((c.kind, c.sequence), (ObjectKind::Chunk, Some(8)));
    let c = KeyGrammar::new(System::Pravega)
        .classify(&format!("/pravega/s/st/1.#epoch.0.E-1-O-8.{uuid}"), None);
    assert_eq!(c.stream.as_deref(), Some("s/st"));
}

#[test]
fn redpanda_segments_and_manifests() {
    let g = KeyGrammar::new(System::Redpanda);
    assert_eq!(
        g.classify(
            "a1b2c3d4/kafka/orders/3_17/1000-1999-65536-5-v1.log.5",
            None
        ),
        class(
            System::Redpanda,
            ObjectKind::Chunk,
            Some("orders"),
            Some(3),
            Some(1000)
        )
    );
    assert_eq!(
        g.classify("a1b2c3d4/kafka/orders/3_17/1000-5-v1.log", None)
            .kind,
        ObjectKind::Chunk
    );
    assert_eq!(
        g.classify("a1b2c3d4/kafka/orders/3_17/1000-5-v1.log.index", None)
            .kind,
        ObjectKind::Aux
    );
    assert_eq!(
        g.classify("a1b2c3d4/kafka/orders/3_17/1000-5-v1.log.5.tx", None)
            .kind,
        ObjectKind::Aux
    );
    let labelled = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/ns2/t/0_1/0-1-v1.log";
    assert_eq!(g.classify(labelled, None).stream.as_deref(), Some("ns2/t"));
    for m in [
        "d0000000/meta/kafka/orders/3_17/manifest.bin",
        "e0000000/meta/kafka/orders/topic_manifest.json",
    ] {
        assert_eq!(g.classify(m, None).kind, ObjectKind::Metadata, "{m}");
    }
}

#[test]
fn generic_keys() {
    let g = KeyGrammar::new(System::Generic);
    assert_eq!(
        g.classify("a/b/c", None),
        class(System::Generic, ObjectKind::Chunk, Some("a"), None, None)
    );
    assert_eq!(g.classify("//x//y", None).stream.as_deref(), Some("x"));
    assert_eq!(g.classify("flat", None).stream, None);
    assert_eq!(g.classify("", None).stream, None);
    assert_eq!(
        g.classify("ünï cødé/#$", None).stream.as_deref(),
        Some("ünï cødé")
    );
}

#[test]
fn systems_parse_and_print() {
    for s in System::ALL {
        assert_eq!(s.as_str().parse::<System>(), Ok(s));
        assert_eq!(s.to_string(), s.as_str());
    }
    let e = "kafak".parse::<System>().unwrap_err();
    assert!(e.to_string().contains("kafka, pulsar"));
}

proptest! {
    #[test]
    fn arbitrary_keys_never_panic_and_are_deterministic(key in "\\PC{0,300}", meta in proptest::option::of("\\PC{0,80}")) {
        for s in System::ALL {
            let g = KeyGrammar::new(s).with_prefix("p/");
            let a = g.classify(&key, meta.as_deref());
            prop_assert_eq!(&a, &g.classify(&key, meta.as_deref()));
            prop_assert!(a.system == s || a.system == System::Generic);
            let _ = KeyGrammar::new(s).classify(&key, meta.as_deref());
        }
    }

    #[test]
    fn kafka_keys_round_trip(
        topic in "[A-Za-z0-9._-]{1,40}",
        id in "[A-Za-z0-9_-]{22}",
        seg in "[A-Za-z0-9_-]{22}",
        partition in 0u64..100_000,
        offset in 0u64..99_999_999_999_999_999,
    ) {
        let key = format!("tiered/{topic}-{id}/{partition}/{offset:020}-{seg}.log");
        let c = KeyGrammar::new(System::Kafka).with_prefix("tiered/").classify(&key, None);
        prop_assert_eq!(c, ObjectClass {
            system: System::Kafka, kind: ObjectKind::Chunk, stream: Some(topic),
            partition: Some(partition), sequence: Some(offset),
        });
    }

    #[test]
    fn pravega_keys_round_trip(scope in "[a-z0-9]{1,12}", stream in "[a-z0-9-]{1,12}", n in 0u64..1_000, e in 0u64..1_000, off in 0u64..1u64 << 40) {
        let key = format!("/{scope}/{stream}/{n}.#epoch.{e}.E-7-O-{off}.0a1b2c3d-0000-4000-8000-000000000000");
        let c = KeyGrammar::new(System::Pravega).with_prefix("/").classify(&key, None);
        prop_assert_eq!(c.kind, ObjectKind::Chunk);
        prop_assert_eq!(c.stream, Some(format!("{scope}/{stream}")));
        prop_assert_eq!(c.partition, Some((e << 32) | n));
        prop_assert_eq!(c.sequence, Some(off));
    }
}
