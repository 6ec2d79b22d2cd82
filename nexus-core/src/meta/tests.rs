//! Unit tests without a server: key layout, migration plans, URLs, digests, names, planning.
//! The conformance suite against both stores is in `nexus-core/tests/meta/`.

use std::time::Duration;

use super::redis_keys::{
    Keys, MIGRATIONS, MigrationPlan, SCHEMA_VERSION, SchemaState, escape, plan_migration,
};
use super::*;

#[test]
fn key_layout_v1() {
    let k = Keys::default();
    assert_eq!(k.schema(), "nexus:schema");
    assert_eq!(k.revision(), "nexus:revision");
    assert_eq!(k.events(), "nexus:events");
    assert_eq!(
        k.resource(ResourceKind::Policy, "a:b"),
        "nexus:res:policy:a:b"
    );
    assert_eq!(k.index(ResourceKind::Swarmlet), "nexus:idx:swarmlet");
    assert_eq!(k.tombstones(ResourceKind::Store), "nexus:tomb:store");
    let d = Digest::of(b"x");
    assert_eq!(k.module(&d), format!("nexus:module:{d}"));
    assert_eq!(
        k.state("count", "logs:a%b", 7),
        "nexus:state:count:logs%3Aa%25b:7"
    );
    assert_eq!(k.upload("b", "u:1"), "nexus:upload:b:u%3A1");
    assert_eq!(Keys::new("{t}:").revision(), "{t}:revision");
    assert_eq!(escape("%:"), "%25%3A");
}

#[test]
fn migration_plans() {
    let empty = plan_migration(&SchemaState::Empty);
    let MigrationPlan::Migrate(steps) = empty else {
        panic!("empty namespace must migrate: {empty:?}");
    };
    assert_eq!(
        (steps[0].from, steps.last().map(|s| s.to)),
        (0, Some(SCHEMA_VERSION))
    );
    assert_eq!(
        plan_migration(&SchemaState::Version(SCHEMA_VERSION)),
        MigrationPlan::UpToDate
    );
    assert_eq!(
        plan_migration(&SchemaState::Version(SCHEMA_VERSION + 1)),
        MigrationPlan::TooNew(SCHEMA_VERSION + 1)
    );
    assert!(matches!(
        plan_migration(&SchemaState::Unmarked),
        MigrationPlan::Unknown(_)
    ));
    assert_eq!(
        SchemaState::from_values(Some("x"), true),
        SchemaState::Unparsable("x".into())
    );
    assert_eq!(SchemaState::from_values(None, false), SchemaState::Empty);
    // Every version below the current one has a way up.
    for v in 0..SCHEMA_VERSION {
        assert!(MIGRATIONS.iter().any(|m| m.from == v && m.to > v));
    }
}

#[test]
fn schema_too_new_message() {
    let e = MetaError::SchemaTooNew {
        target: "redis://127.0.0.1:6379 (prefix nexus:)".into(),
        found: 2,
        supported: 1,
    };
    let msg = e.to_string();
    assert!(
        msg.contains("schema version 2") && msg.contains("upgrade nexus"),
        "{msg}"
    );
}

#[test]
fn redis_url_options() {
    let (url, o) = RedisOptions::default()
        .with_url(
            "redis://:pw@h:1/2?prefix=t:&connect_timeout=250ms&response_timeout=3&protocol=resp3",
        )
        .unwrap();
    assert_eq!(url, "redis://:pw@h:1/2?protocol=resp3");
    assert_eq!(o.prefix, "t:");
    assert_eq!(o.connect_timeout, Duration::from_millis(250));
    assert_eq!(o.response_timeout, Duration::from_secs(3));
    let (url, _) = RedisOptions::default().with_url("redis://h").unwrap();
    assert_eq!(url, "redis://h");
    for bad in [
        "redis://h?connect_timeout=fast",
        "redis://h?prefix=",
        "redis://h/#insecure",
        "redis://h?tls_ca=/x.pem",
        "redis://:secret@h?connect_timeout=0",
    ] {
        let err = RedisOptions::default()
            .with_url(bad)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(err.contains("invalid metadata URL"), "{bad}: {err}");
    }
}

#[tokio::test]
async fn open_refuses_unknown_urls() {
    for url in ["mysql://x", "", "file:", "etcd://h", "memory:x"] {
        let err = open(url).await.unwrap_err().to_string();
        assert!(err.contains("metadata URL"), "{url}: {err}");
    }
    let err = open("postgres://u:hunter2@h/db")
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains("hunter2"), "{err}");
    assert!(
        err.contains("redis://"),
        "the message lists what is supported: {err}"
    );
}

#[test]
fn redaction() {
    assert_eq!(redact_url("redis://u:p@h:1/0"), "redis://u:***@h:1/0");
    assert_eq!(redact_url("redis://h:1"), "redis://h:1");
    assert_eq!(redact_url("x://u:p w@h"), "x://u:***@h");
}

#[test]
fn digests() {
    let d = Digest::of(b"");
    assert_eq!(
        d.as_str(),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(d.as_str().parse::<Digest>().unwrap(), d);
    for bad in [
        "sha256:E3B0",
        "md5:00",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ] {
        assert!(bad.parse::<Digest>().is_err(), "{bad}");
    }
}

#[test]
fn names_and_batches() {
    assert!(validate_name(ResourceKind::Policy, "ok-name").is_ok());
    assert!(validate_name(ResourceKind::Policy, "").is_err());
    assert!(validate_name(ResourceKind::Policy, "a\nb").is_err());
    assert!(validate_name(ResourceKind::Policy, &"x".repeat(254)).is_err());
    let dup = Batch::new(vec![
        Change::put(ResourceKind::Policy, "a", "x"),
        Change::delete(ResourceKind::Policy, "a"),
    ]);
    let err = dup.validate().unwrap_err().to_string();
    assert!(err.contains("more than once"), "{err}");
    // The same name under two kinds is two records.
    let ok = Batch::new(vec![
        Change::put(ResourceKind::Policy, "a", "x"),
        Change::put(ResourceKind::Store, "a", "x"),
    ]);
    assert!(ok.validate().is_ok());
    assert_eq!(
        "Policy".parse::<ResourceKind>().unwrap(),
        ResourceKind::Policy
    );
    assert!("module".parse::<ResourceKind>().is_err());
}

#[test]
fn snapshot_accessors() {
    let rec = |kind, name: &str| Record {
        kind,
        name: name.into(),
        version: 1,
        revision: 1,
        digest: Digest::of(b""),
        updated_ms: 0,
        body: String::new(),
    };
    let mut s = Snapshot {
        revision: 1,
        records: vec![
            rec(ResourceKind::Swarmlet, "s"),
            rec(ResourceKind::Policy, "b"),
            rec(ResourceKind::Policy, "a"),
        ],
    };
    s.sort();
    assert_eq!(s.get(ResourceKind::Policy, "b").unwrap().name, "b");
    assert!(s.get(ResourceKind::Store, "b").is_none());
    let names: Vec<_> = s
        .of_kind(ResourceKind::Policy)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(s.of_kind(ResourceKind::Streamlet).count(), 0);
}
