//! `diff -f`: what applying would change, as line diffs of the canonical YAML.

use nexus_core::resource::Resource;

use super::files::Loaded;
use super::output::print_json;
use super::{Ctx, Output};

/// Prints the differences; returns whether there are any.
pub fn show(ctx: &Ctx, loaded: &[Loaded], stored: &[Resource]) -> anyhow::Result<bool> {
    let mut changes = Vec::new();
    for r in loaded.iter().flat_map(|l| &l.resources) {
        let new = r.to_yaml();
        let old = stored
            .iter()
            .find(|s| s.kind() == r.kind() && s.name() == r.name())
            .map(Resource::to_yaml);
        let state = match &old {
            None => "created",
            Some(o) if *o == new => "unchanged",
            Some(_) => "configured",
        };
        changes.push((r, state, old, new));
    }
    let any = changes.iter().any(|(_, s, ..)| *s != "unchanged");
    match ctx.output {
        Output::Json | Output::Yaml => {
            let v: Vec<_> = changes
                .iter()
                .map(|(r, state, old, new)| {
                    serde_json::json!({
                        "kind": r.kind(), "name": r.name(), "change": state,
                        "diff": lines(old.as_deref().unwrap_or(""), new),
                    })
                })
                .collect();
            print_json(&v)?;
        }
        Output::Table => {
            for (r, state, old, new) in &changes {
                println!("{}/{} {state}", r.kind().as_str(), r.name());
                if *state != "unchanged" {
                    for l in lines(old.as_deref().unwrap_or(""), new) {
                        println!("  {l}");
                    }
                }
            }
        }
    }
    Ok(any)
}

/// A line diff (`-` removed, `+` added, ` ` kept) by longest common subsequence.
#[must_use]
pub fn lines(old: &str, new: &str) -> Vec<String> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(format!("  {}", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("- {}", a[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_diff_removes_before_adding() {
        assert_eq!(
            super::lines("a\nb\nc\n", "a\nx\nc\n"),
            ["  a", "- b", "+ x", "  c"]
        );
        assert_eq!(super::lines("", "a\n"), ["+ a"]);
    }
}
