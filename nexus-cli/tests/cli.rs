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

/// Runs `nexus --meta file:<dir>/meta.json ARGS…`.
fn nexus_at(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let meta = format!("file:{}", dir.join("meta.json").display());
    let mut all = vec!["--meta", meta.as_str()];
    all.extend_from_slice(args);
    nexus(&all)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes records the way a worker or `apply` would, through the library.
fn seed(dir: &std::path::Path, changes: Vec<nexus_core::meta::Change>) {
    use nexus_core::meta::{Batch, open};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let url = format!("file:{}", dir.join("meta.json").display());
        let store = open(&url).await.expect("open");
        store.apply(Batch::new(changes)).await.expect("apply");
    });
}

#[test]
fn resources_list_get_delete_against_the_embedded_file() {
    use nexus_core::meta::{Change, ResourceKind};
    let dir = tempfile::tempdir().expect("tempdir");
    let body =
        "apiVersion: nexus/v1\nkind: Swarmlet\nmetadata:\n  name: edge\nspec:\n  location: edge\n";
    seed(
        dir.path(),
        vec![
            Change::put(ResourceKind::Swarmlet, "edge", body),
            Change::put(
                ResourceKind::Swarmlet,
                "cloud",
                body.replace("edge", "cloud"),
            ),
        ],
    );

    let out = nexus_at(dir.path(), &["swarmlet", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let names: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["cloud", "edge"]);

    let out = nexus_at(dir.path(), &["swarmlet", "get", "edge", "-o", "yaml"]);
    assert_eq!(stdout(&out), body);
    let out = nexus_at(dir.path(), &["swarmlet", "get", "edge", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["name"], "edge");
    assert_eq!(v[0]["version"], 1);

    let out = nexus_at(dir.path(), &["swarmlet", "get", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("swarmlet `nope` not found"));

    let out = nexus_at(dir.path(), &["swarmlet", "delete", "edge"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = nexus_at(dir.path(), &["swarmlet", "delete", "edge"]);
    assert_eq!(out.status.code(), Some(1), "deleting twice fails");
    let out = nexus_at(
        dir.path(),
        &["swarmlet", "delete", "edge", "--ignore-not-found"],
    );
    assert!(out.status.success());

    let out = nexus_at(dir.path(), &["status", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["revision"], 2);
    assert_eq!(v["resources"]["swarmlet"], 1);
}

#[test]
fn unusable_metadata_urls_are_clear_errors() {
    let out = nexus(&["--meta", "memory", "status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("only inside one process"));
    let out = nexus(&["--meta", "redis://user:hunter2@127.0.0.1:1/", "status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
}

#[test]
fn completions_are_generated() {
    let out = nexus(&["completions", "bash"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("policy"));
}
