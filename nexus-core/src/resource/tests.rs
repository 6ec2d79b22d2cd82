use crate::keys::{KeyGrammar, System};
use crate::meta::{Record, ResourceKind, Snapshot};

use super::*;

fn policy(name: &str, target: &str) -> String {
    format!(
        "apiVersion: nexus/v1\nkind: Policy\nmetadata:\n  name: {name}\nspec:\n  system: kafka\n  target:\n    bucket: kafka-tiered\n    keyPrefix: tiered/\n{target}  pipeline:\n    - streamlet: compress-zstd\n      location: edge\n      params: {{level: 3}}\n"
    )
}

fn snapshot(bodies: &[(&str, String)]) -> Snapshot {
    Snapshot {
        revision: 7,
        records: bodies
            .iter()
            .map(|(name, body)| Record {
                kind: ResourceKind::Policy,
                name: (*name).to_owned(),
                version: 2,
                revision: 7,
                digest: crate::meta::Digest::of(body.as_bytes()),
                updated_ms: 0,
                body: body.clone(),
            })
            .collect(),
    }
}

fn key(topic: &str, partition: u32, suffix: &str) -> String {
    format!(
        "tiered/{topic}-MWJ6FHTfRYy67jzwZdeqSQ/{partition}/00000000000000001234-tqimKeZwStOEOwRzT3L5oQ.{suffix}"
    )
}

#[test]
fn the_most_specific_policy_wins() {
    let snap = snapshot(&[
        ("all", policy("all", "")),
        ("logs", policy("logs", "    streams: [\"logs-*\"]\n")),
        (
            "logs-app",
            policy("logs-app", "    streams: [\"logs-app\"]\n"),
        ),
        (
            "logs-p0",
            policy(
                "logs-p0",
                "    streams: [\"logs-*\"]\n    partitions: [0]\n",
            ),
        ),
    ]);
    let (set, problems) = PolicySet::compile(&snap);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(set.len(), 4);
    assert_eq!(set.revision, 7);
    let grammar = set.grammar_for("kafka-tiered").expect("grammar");
    assert_eq!(grammar.system(), System::Kafka);
    assert!(set.grammar_for("other").is_none());

    let resolve = |k: &str| {
        let class = grammar.classify(k, None);
        set.resolve("kafka-tiered", &class)
            .map(|p| p.name.to_string())
    };
    assert_eq!(
        resolve(&key("logs-app", 3, "log")).as_deref(),
        Some("logs-app")
    );
    assert_eq!(
        resolve(&key("logs-web", 0, "log")).as_deref(),
        Some("logs-p0")
    );
    assert_eq!(resolve(&key("logs-web", 1, "log")).as_deref(), Some("logs"));
    assert_eq!(resolve(&key("metrics", 1, "log")).as_deref(), Some("all"));
    // Aux objects and unknown keys are not data chunks: no policy.
    assert_eq!(resolve(&key("metrics", 1, "indexes")), None);
    assert_eq!(resolve("not/a/kafka/key"), None);
    assert_eq!(
        set.resolve(
            "other-bucket",
            &KeyGrammar::new(System::Kafka).classify(&key("a", 1, "log"), None)
        ),
        None
    );
}

#[test]
fn bad_records_are_skipped_not_fatal() {
    let snap = snapshot(&[
        ("good", policy("good", "")),
        ("broken", "apiVersion: nexus/v1\nkind: Policy\n".to_owned()),
        ("renamed", policy("other-name", "    streams: [x]\n")),
    ]);
    let (set, problems) = PolicySet::compile(&snap);
    assert_eq!(set.len(), 1);
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn canonical_yaml_reads_back_identically() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/ui/valid/full-set.yaml"
    ))
    .expect("case");
    let parsed = parse_str("full-set.yaml", &text);
    assert!(parsed.diags.is_empty(), "{:?}", parsed.diags);
    for r in &parsed.resources {
        let canonical = r.to_yaml();
        let again = parse_str("canonical", &canonical);
        assert!(again.diags.is_empty(), "{canonical}\n{:?}", again.diags);
        assert_eq!(again.resources.len(), 1);
        assert_eq!(again.resources[0].to_yaml(), canonical, "stable");
        assert_eq!(
            serde_json::to_value(&again.resources[0]).ok(),
            serde_json::to_value(r).ok(),
            "{canonical}"
        );
    }
    // Defaults are left out and the order is fixed.
    let first = parsed.resources[0].to_yaml();
    assert!(
        first.starts_with(
            "apiVersion: nexus/v1\nkind: Streamlet\nmetadata:\n  name: compress-zstd\n"
        ),
        "{first}"
    );
}

#[test]
fn secrets_never_appear_in_debug_or_yaml() {
    let text = "apiVersion: nexus/v1\nkind: Store\nmetadata:\n  name: s\nspec:\n  s3:\n    endpoint: http://127.0.0.1:9000\n    bucket: out\n    credentials:\n      secret: s3-keys\n";
    let parsed = parse_str("s.yaml", text);
    assert!(parsed.diags.is_empty(), "{:?}", parsed.diags);
    assert!(parsed.resources[0].to_yaml().contains("secret: s3-keys"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let parsed = parse_str("fuzz.yaml", &text);
        let _ = check_references("fuzz.yaml", &parsed.resources, &[]);
    }

    #[test]
    fn mutated_policies_never_panic(cut in 0usize..400, insert in "[ :\\-\\[\\]{}a-z0-9\\n\"']{0,8}") {
        let base = policy("p", "    streams: [\"logs-*\"]\n    partitions: [0, \"2-5\"]\n");
        let cut = cut.min(base.len());
        let cut = (0..=cut).rev().find(|i| base.is_char_boundary(*i)).unwrap_or(0);
        let text = format!("{}{insert}{}", &base[..cut], &base[cut..]);
        let parsed = parse_str("m.yaml", &text);
        for r in &parsed.resources {
            let again = parse_str("again", &r.to_yaml());
            proptest::prop_assert!(again.diags.is_empty(), "{:?}", again.diags);
        }
    }
}

const STREAM_GLOBS: [&str; 12] = [
    "a*", "ab*", "*b", "a?", "ab", "b", "*", "?", "a*b*", "*ab", "?b", "*a*",
];
const TOPICS: [&str; 7] = ["a", "ab", "abb", "b", "ba", "aab", "zz"];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    #[test]
    fn the_matcher_agrees_with_a_scan(
        targets in proptest::collection::vec(
            (
                proptest::collection::vec(0usize..STREAM_GLOBS.len(), 0..3),
                0u8..3,
                0u8..3,
            ),
            1..12,
        ),
        topic in 0usize..TOPICS.len(),
        partition in 0u32..4,
        aux in proptest::bool::ANY,
    ) {
        let bodies: Vec<(String, String)> = targets
            .iter()
            .enumerate()
            .map(|(i, (globs, parts, kinds))| {
                let mut t = String::new();
                if !globs.is_empty() {
                    let list: Vec<String> = globs.iter().map(|g| format!("\"{}\"", STREAM_GLOBS[*g])).collect();
                    t.push_str(&format!("    streams: [{}]\n", list.join(", ")));
                }
                match parts {
                    1 => t.push_str("    partitions: [0]\n"),
                    2 => t.push_str("    partitions: [\"1-2\"]\n"),
                    _ => {}
                }
                match kinds {
                    1 => t.push_str("    kinds: [chunk]\n"),
                    2 => t.push_str("    kinds: [chunk, aux]\n"),
                    _ => {}
                }
                let name = format!("p{i:02}");
                let body = policy(&name, &t);
                (name, body)
            })
            .collect();
        let refs: Vec<(&str, String)> = bodies.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
        let (set, problems) = PolicySet::compile(&snapshot(&refs));
        proptest::prop_assert!(problems.is_empty(), "{:?}", problems);
        let suffix = if aux { "indexes" } else { "log" };
        let class = KeyGrammar::new(System::Kafka)
            .with_prefix("tiered/".to_owned())
            .classify(&key(TOPICS[topic], partition, suffix), None);
        let got = set.resolve("kafka-tiered", &class).map(|p| p.name.to_string());
        let want = set.resolve_by_scan("kafka-tiered", &class).map(|p| p.name.to_string());
        proptest::prop_assert_eq!(got, want, "{:?}", class);
    }
}
