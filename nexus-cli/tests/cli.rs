//! The `nexus` binary, run as a user would.

use std::process::Command;

fn nexus(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nexus"))
        .args(args)
        .output()
        .expect("run nexus")
}

const KEY: &str =
    "tiered/logs-MWJ6FHTfRYy67jzwZdeqSQ/7/00000000000000001234-tqimKeZwStOEOwRzT3L5oQ.log";

#[test]
fn version_prints_the_package_version() {
    let out = nexus(&["version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("nexus {}", env!("CARGO_PKG_VERSION"))
    );
    let out = nexus(&["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn classify_kafka_key_as_table_and_json() {
    let out = nexus(&["classify", "--system", "kafka", "--prefix", "tiered/", KEY]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text.lines().nth(1).expect("a row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells, [KEY, "kafka", "chunk", "logs", "7", "1234"]);

    let out = nexus(&[
        "classify",
        "--system",
        "kafka",
        "-o",
        "json",
        KEY,
        "not/aiven",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["stream"], "logs");
    assert_eq!(v[0]["partition"], 7);
    assert_eq!(v[1]["system"], "generic");
    assert_eq!(v[1]["stream"], "not");
}

#[test]
fn bad_system_is_a_usage_error() {
    let out = nexus(&["classify", "--system", "kafak", KEY]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("kafka, pulsar"));
}
