//! Diagnostics: what validation reports, with file, line, column, field path and a hint.

use std::fmt;

use super::yaml::Pos;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The resource is wrong; nothing is applied.
    Error,
    /// The resource refers to something that is not there yet (it may arrive later).
    Warning,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file (or `-` for stdin, or `store` for what is already applied).
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// The field, as `spec.pipeline[0].location`; empty for the whole document.
    pub path: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    #[must_use]
    pub fn error(pos: Pos, path: &str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            file: String::new(),
            line: pos.line,
            col: pos.col,
            path: path.to_owned(),
            message: message.into(),
            help: None,
        }
    }

    #[must_use]
    pub fn warning(pos: Pos, path: &str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(pos, path, message)
        }
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn in_file(mut self, file: &str) -> Self {
        file.clone_into(&mut self.file);
        self
    }

    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Renders like a compiler:
///
/// ```text
/// error: unknown field `pipline`
///   --> policies/x.yaml:7:3 (spec.pipline)
///    = help: did you mean `pipeline`?
/// ```
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{level}: {}", self.message)?;
        write!(f, "  --> {}:{}:{}", self.file, self.line, self.col)?;
        if !self.path.is_empty() {
            write!(f, " ({})", self.path)?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n   = help: {help}")?;
        }
        Ok(())
    }
}

/// The closest candidate to `word` by edit distance, if it is close enough to be a likely typo.
#[must_use]
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&word.to_lowercase(), c), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1) + usize::from(c.len() > 6))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Renders all diagnostics, a blank line between them, and a summary line.
#[must_use]
pub fn render(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.to_string());
        out.push_str("\n\n");
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    out.push_str(&format!(
        "{errors} error{}, {warnings} warning{}\n",
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        let fields = ["pipeline", "target", "output", "system"];
        assert_eq!(suggest("pipline", fields), Some("pipeline"));
        assert_eq!(suggest("sytem", fields), Some("system"));
        assert_eq!(suggest("banana", fields), None);
        assert_eq!(suggest("edeg", ["edge", "cloud"]), Some("edge"));
    }
}
