//! The `nexus` binary, run as a user would.

use std::process::Command;

use nexus_core::meta::test_util::RedisServer;

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
    nexus_on(&file_meta(dir), args)
}

fn file_meta(dir: &std::path::Path) -> String {
    format!("file:{}", dir.join("meta.json").display())
}

/// Runs `nexus --meta META ARGS…`.
fn nexus_on(meta: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--meta", meta];
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
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["cloud", "edge"]);
    // Below the resources, the live workers: none without a Redis metadata store.
    assert!(text.contains("workers: none (single-node mode"), "{text}");

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

fn policies_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

#[test]
fn apply_validate_diff_and_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    apply_validate_diff_and_versions_on(&file_meta(dir.path()), dir.path());
}

#[test]
fn apply_validate_diff_and_versions_on_redis() {
    let Some(redis) = RedisServer::start("cli apply on redis") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    apply_validate_diff_and_versions_on(&redis.url(), dir.path());
}

/// The policy workflow against the store at `meta`; `dir` is scratch space for edited files.
fn apply_validate_diff_and_versions_on(meta: &str, dir: &std::path::Path) {
    let p = policies_dir();
    let p = p.to_str().expect("utf-8 path");

    let out = nexus_on(meta, &["policy", "validate", "-f", p]);
    assert!(out.status.success(), "{}", stderr(&out));
    let examples = std::fs::read_dir(p)
        .expect("policies/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| f.extension().is_some_and(|x| x == "yaml"))
        .map(|f| {
            std::fs::read_to_string(f)
                .expect("read")
                .lines()
                .filter(|l| *l == "kind: Policy")
                .count()
        })
        .sum::<usize>();
    assert!(
        stdout(&out).contains(&format!("{examples} policy resource(s) valid")),
        "{}",
        stdout(&out)
    );
    // Streamlets are not deployed: warnings, not errors.
    assert!(stderr(&out).contains("warning: streamlet `compress-zstd` is not deployed yet"));

    let out = nexus_on(meta, &["apply", "-f", p, "--dry-run"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("policy/kafka-logs-zstd created"));
    let out = nexus_on(meta, &["policy", "list", "-o", "json"]);
    assert_eq!(stdout(&out).trim(), "[]", "a dry run changes nothing");

    let out = nexus_on(meta, &["apply", "-f", p]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("policy/kafka-logs-zstd created (version 1)"));
    assert!(stdout(&out).contains("revision 1"));
    let out = nexus_on(meta, &["apply", "-f", p]);
    assert!(stdout(&out).contains("policy/kafka-logs-zstd unchanged (version 1)"));
    assert!(
        stdout(&out).contains("revision 1"),
        "re-applying is idempotent"
    );

    let changed = dir.join("k.yaml");
    let text = std::fs::read_to_string(policies_dir().join("kafka-logs-zstd.yaml")).expect("read");
    std::fs::write(&changed, text.replace("level: 3", "level: 5")).expect("write");
    let changed = changed.to_str().expect("utf-8");
    let out = nexus_on(meta, &["policy", "diff", "-f", changed]);
    assert!(stdout(&out).contains("policy/kafka-logs-zstd configured"));
    assert!(
        stdout(&out).contains("-         level: 3\n  +         level: 5"),
        "{}",
        stdout(&out)
    );
    let out = nexus_on(meta, &["policy", "apply", "-f", changed]);
    assert!(
        stdout(&out).contains("configured (version 2)"),
        "{}",
        stdout(&out)
    );

    let out = nexus_on(meta, &["policy", "list"]);
    let text = stdout(&out);
    let row = text
        .lines()
        .find(|l| l.starts_with("kafka-logs-zstd"))
        .expect("row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[..6],
        [
            "kafka-logs-zstd",
            "2",
            "kafka",
            "kafka-tiered",
            "logs-*",
            "compress-zstd@edge"
        ]
    );

    let out = nexus_on(meta, &["policy", "get", "kafka-logs-zstd", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        v[0]["resource"]["spec"]["pipeline"][0]["params"]["level"],
        5
    );

    // Delete: gone from list and get, the revision moves, deleting again is an error.
    let out = nexus_on(meta, &["policy", "delete", "kafka-logs-zstd"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = nexus_on(meta, &["policy", "list", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let names: Vec<&str> = v
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(!names.contains(&"kafka-logs-zstd"), "{names:?}");
    assert_eq!(names.len(), examples - 1, "{names:?}");
    let out = nexus_on(meta, &["policy", "get", "kafka-logs-zstd"]);
    assert_eq!(out.status.code(), Some(1));
    let out = nexus_on(meta, &["policy", "delete", "kafka-logs-zstd"]);
    assert_eq!(out.status.code(), Some(1));
    let out = nexus_on(meta, &["status", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["revision"], 3, "create (1), configure (2), delete (3)");
}

#[test]
fn invalid_files_exit_3_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    invalid_files_exit_3_and_change_nothing_on(&file_meta(dir.path()));
}

#[test]
fn invalid_files_exit_3_and_change_nothing_on_redis() {
    let Some(redis) = RedisServer::start("cli invalid files on redis") else {
        return;
    };
    invalid_files_exit_3_and_change_nothing_on(&redis.url());
}

fn invalid_files_exit_3_and_change_nothing_on(meta: &str) {
    let bad = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../nexus-core/tests/ui/invalid/several-errors.yaml");
    let out = nexus_on(meta, &["apply", "-f", bad.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("several-errors.yaml:9:5 (spec.target.streems)"),
        "{err}"
    );
    assert!(err.contains("did you mean `streams`?"));
    assert!(err.contains("7 errors"));
    let out = nexus_on(meta, &["status", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["revision"], 0);

    // `policy apply` takes policies only.
    let mixed = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../nexus-core/tests/ui/valid/full-set.yaml");
    let out = nexus_on(
        meta,
        &["policy", "apply", "-f", mixed.to_str().expect("utf-8")],
    );
    assert_eq!(out.status.code(), Some(3));
    let out = nexus_on(meta, &["apply", "-f", mixed.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = nexus_on(meta, &["store", "get", "archive", "-o", "yaml"]);
    assert!(stdout(&out).contains("accessKeyId: ARCHIVE_ACCESS_KEY_ID"));
    let out = nexus_on(meta, &["apply", "-f", "/nonexistent.yaml"]);
    assert_eq!(out.status.code(), Some(1));
}

/// The built streamlets (`scripts/build-streamlets.sh`).
fn dist() -> std::path::PathBuf {
    let dir = std::env::var_os("NEXUS_STREAMLETS_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../streamlets/dist"),
        std::path::PathBuf::from,
    );
    assert!(
        dir.join("noop.wasm").is_file(),
        "{} has no built streamlets: run `bash scripts/build-streamlets.sh`",
        dir.display()
    );
    dir
}

#[test]
fn streamlet_deploy_stores_checked_components_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let noop = dist().join("noop.wasm");
    let noop = noop.to_str().expect("utf-8");

    let out = nexus_at(
        dir.path(),
        &["streamlet", "deploy", "--module", noop, "--dry-run"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("streamlet/noop valid (module sha256:"),
        "{}",
        stdout(&out)
    );
    let out = nexus_at(dir.path(), &["streamlet", "list", "-o", "json"]);
    assert_eq!(stdout(&out).trim(), "[]", "a dry run stores nothing");

    let out = nexus_at(dir.path(), &["streamlet", "deploy", "--module", noop]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("streamlet/noop deployed (module sha256:"),
        "{}",
        stdout(&out)
    );
    let out = nexus_at(dir.path(), &["streamlet", "get", "noop", "-o", "yaml"]);
    assert!(
        stdout(&out).contains("module: \"sha256:"),
        "{}",
        stdout(&out)
    );
    let out = nexus_at(dir.path(), &["streamlet", "deploy", "--module", noop]);
    assert!(
        stdout(&out).contains("Unchanged"),
        "re-deploying is idempotent: {}",
        stdout(&out)
    );

    // Not a component, garbage, a mismatched descriptor: exit 3, nothing stored.
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").expect("write");
    std::fs::copy(dist().join("noop.yaml"), dir.path().join("core.yaml")).expect("copy");
    let out = nexus_at(
        dir.path(),
        &[
            "streamlet",
            "deploy",
            "--module",
            core.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("not a component"), "{}", stderr(&out));
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"definitely not wasm").expect("write");
    let desc = dist().join("noop.yaml");
    let out = nexus_at(
        dir.path(),
        &[
            "streamlet",
            "deploy",
            "--module",
            junk.to_str().expect("utf-8"),
            "--descriptor",
            desc.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let events = dir.path().join("events.yaml");
    let text = std::fs::read_to_string(&desc)
        .expect("read")
        .replace("interface: bytes", "interface: events");
    std::fs::write(&events, text).expect("write");
    let out = nexus_at(
        dir.path(),
        &[
            "streamlet",
            "deploy",
            "--module",
            noop,
            "--descriptor",
            events.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("does not export `nexus:streamlet/events@0.1.0`"),
        "{}",
        stderr(&out)
    );
    let out = nexus_at(dir.path(), &["status", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["revision"], 1, "only the first deploy changed anything");
}
