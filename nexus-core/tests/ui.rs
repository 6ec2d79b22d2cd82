//! Golden tests of validation: every `tests/ui/{valid,invalid}/*.yaml` is validated (structural
//! then referential, against nothing stored) and the rendered diagnostics are compared with the
//! `.out` file next to it. `NEXUS_BLESS=1 cargo test -p nexus-core --test ui` rewrites them.
//! Also: every example in `policies/` validates without errors.

use std::path::{Path, PathBuf};

use nexus_core::resource::{check_references, parse_str, render};

fn validate(file: &str, text: &str) -> (String, usize) {
    let parsed = parse_str(file, text);
    let mut diags = parsed.diags;
    if diags.iter().all(|d| !d.is_error()) {
        diags.extend(check_references(file, &parsed.resources, &[]));
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    (render(&diags), errors)
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn run_dir(sub: &str, expect_errors: bool) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/ui").join(sub);
    let bless = std::env::var_os("NEXUS_BLESS").is_some();
    let files = yaml_files(&dir);
    assert!(!files.is_empty(), "no cases in {}", dir.display());
    let mut failures = Vec::new();
    for path in files {
        let name = format!(
            "tests/ui/{sub}/{}",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
        let text = std::fs::read_to_string(&path).expect("read case");
        let (out, errors) = validate(&name, &text);
        if expect_errors == (errors == 0) {
            failures.push(format!(
                "{name}: expected {} errors, got {errors}:\n{out}",
                if expect_errors { "some" } else { "no" }
            ));
        }
        let expected_path = path.with_extension("out");
        if bless {
            std::fs::write(&expected_path, &out).expect("bless");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != out {
            failures.push(format!("{name}: output differs (NEXUS_BLESS=1 to accept)\n--- expected\n{expected}--- actual\n{out}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn valid_cases() {
    run_dir("valid", false);
}

#[test]
fn invalid_cases() {
    run_dir("invalid", true);
}

#[test]
fn example_policies_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let files = yaml_files(&dir);
    assert!(files.len() >= 4, "one policy per broker");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read");
        let (out, errors) = validate(&path.display().to_string(), &text);
        assert_eq!(errors, 0, "{out}");
    }
}
