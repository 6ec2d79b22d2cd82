//! Reading `-f FILE|DIR`: every `.yaml`/`.yml` file of a directory (sorted, not recursive), or
//! one file, or `-` for stdin; structural validation of each.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use nexus_core::meta::MetaStore;
use nexus_core::resource::{
    Diagnostic, PolicySet, Resource, check_files, parse_str, read_sources, render,
};

use super::ValidationFailed;

/// The resources of one file.
pub struct Loaded {
    pub file: String,
    pub resources: Vec<Resource>,
}

/// Reads and structurally validates every file named by `-f` arguments. Every error of every
/// file is reported before failing.
pub fn load(paths: &[PathBuf]) -> anyhow::Result<(Vec<Loaded>, Vec<Diagnostic>)> {
    let mut files = Vec::new();
    for p in paths {
        files.extend(expand(p)?);
    }
    let mut loaded = Vec::new();
    let mut diags = Vec::new();
    for (name, text) in files {
        let parsed = parse_str(&name, &text);
        diags.extend(parsed.diags);
        loaded.push(Loaded {
            file: name,
            resources: parsed.resources,
        });
    }
    Ok((loaded, diags))
}

fn expand(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read stdin")?;
        return Ok(vec![("-".into(), text)]);
    }
    let sources = read_sources(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(sources.into_iter().map(|s| (s.name, s.text)).collect())
}

/// The resources the store holds now, parsed, and its revision.
pub async fn stored(store: &dyn MetaStore) -> anyhow::Result<(u64, Vec<Resource>)> {
    let snapshot = store.snapshot().await?;
    let (set, problems) = PolicySet::compile(&snapshot);
    for p in problems {
        eprintln!("warning: stored resource {p}");
    }
    Ok((snapshot.revision, set.resources))
}

/// Referential checks of every loaded file against the others and the stored resources.
#[must_use]
pub fn check_all(loaded: &[Loaded], stored: &[Resource]) -> Vec<Diagnostic> {
    let files: Vec<(String, Vec<Resource>)> = loaded
        .iter()
        .map(|l| (l.file.clone(), l.resources.clone()))
        .collect();
    check_files(&files, stored)
}

/// Prints diagnostics to stderr; fails with exit code 3 when any is an error.
pub fn report(diags: &[Diagnostic]) -> anyhow::Result<()> {
    if diags.is_empty() {
        return Ok(());
    }
    eprint!("{}", render(diags));
    let errors = diags.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        return Err(ValidationFailed(format!(
            "validation failed with {errors} error(s); nothing was applied"
        ))
        .into());
    }
    Ok(())
}
