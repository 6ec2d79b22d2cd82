//! Typed reading of a positioned YAML tree that reports every problem, not just the first.
//!
//! Each reader returns `Option<T>`: `None` means "wrong, already reported"; the caller goes on
//! with the other fields so one pass finds all errors.

use super::diag::{Diagnostic, suggest};
use super::yaml::{Node, Pos, Value, is_null};

/// Collects diagnostics while a document is read.
#[derive(Debug, Default)]
pub struct Cx {
    pub diags: Vec<Diagnostic>,
}

/// A mapping whose keys were checked against the allowed field names.
pub struct Map<'n> {
    pub pos: Pos,
    pub path: String,
    entries: &'n [(super::yaml::Key, Node)],
}

/// `parent.field`, or `field` at the top.
#[must_use]
pub fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// `parent[i]`.
#[must_use]
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

impl Cx {
    pub fn error(&mut self, pos: Pos, path: &str, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(pos, path, message));
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Reads a mapping; every key not in `allowed` is an error with a suggestion.
    pub fn map<'n>(&mut self, node: &'n Node, path: &str, allowed: &[&str]) -> Option<Map<'n>> {
        let Value::Map(entries) = &node.value else {
            self.error(
                node.pos,
                path,
                format!("expected a mapping, found {}", node.value.type_name()),
            );
            return None;
        };
        for (key, _) in entries {
            if !allowed.contains(&key.text.as_str()) {
                let mut d = Diagnostic::error(
                    key.pos,
                    &join(path, &key.text),
                    format!("unknown field `{}`", key.text),
                );
                d = match suggest(&key.text, allowed.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("expected one of: {}", allowed.join(", "))),
                };
                self.push(d);
            }
        }
        Some(Map {
            pos: node.pos,
            path: path.to_owned(),
            entries,
        })
    }

    /// Reads a mapping whose keys are free (parameters).
    pub fn any_map<'n>(&mut self, node: &'n Node, path: &str) -> Option<Map<'n>> {
        let Value::Map(entries) = &node.value else {
            self.error(
                node.pos,
                path,
                format!("expected a mapping, found {}", node.value.type_name()),
            );
            return None;
        };
        Some(Map {
            pos: node.pos,
            path: path.to_owned(),
            entries,
        })
    }

    /// A required field: missing is an error at the mapping.
    pub fn required<'n>(&mut self, map: &Map<'n>, field: &str) -> Option<&'n Node> {
        let found = map.get(field);
        if found.is_none() {
            self.error(
                map.pos,
                &join(&map.path, field),
                format!("missing field `{field}`"),
            );
        }
        found
    }

    /// A string scalar (numbers and booleans written plainly are refused where a name is
    /// expected only if `strict`; here any scalar text is a string).
    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } if !is_null(node) => Some(text.clone()),
            Value::Scalar { .. } => {
                self.error(node.pos, path, "expected a value, found null");
                None
            }
            other => {
                self.error(
                    node.pos,
                    path,
                    format!("expected a string, found {}", other.type_name()),
                );
                None
            }
        }
    }

    /// A non-negative integer, also written with a binary unit (`64MiB`, `512KiB`).
    pub fn size(&mut self, node: &Node, path: &str) -> Option<u64> {
        let text = self.string(node, path)?;
        match parse_size(&text) {
            Some(n) => Some(n),
            None => {
                self.error(
                    node.pos,
                    path,
                    format!("expected a size such as 1048576 or 64MiB, found `{text}`"),
                );
                None
            }
        }
    }

    /// `true` or `false`, unquoted.
    pub fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } if text == "true" || text == "false" => Some(text == "true"),
            other => {
                self.error(
                    node.pos,
                    path,
                    format!("expected true or false, found {}", describe(other)),
                );
                None
            }
        }
    }

    /// One of `options` (case-sensitive, as written in the docs), with a suggestion otherwise.
    pub fn one_of<T: Copy>(&mut self, node: &Node, path: &str, options: &[(&str, T)]) -> Option<T> {
        let text = self.string(node, path)?;
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == text) {
            return Some(*v);
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let mut d = Diagnostic::error(node.pos, path, format!("unknown value `{text}`"));
        d = match suggest(&text, names.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!("expected one of: {}", names.join(", "))),
        };
        self.push(d);
        None
    }

    /// A list; each item read by `item` (items that fail are dropped, already reported).
    pub fn list<T>(
        &mut self,
        node: &Node,
        path: &str,
        mut item: impl FnMut(&mut Self, &Node, &str) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Value::Seq(items) = &node.value else {
            self.error(
                node.pos,
                path,
                format!("expected a list, found {}", node.value.type_name()),
            );
            return None;
        };
        let before = self.diags.len();
        let out: Vec<T> = items
            .iter()
            .enumerate()
            .filter_map(|(i, n)| item(self, n, &index(path, i)))
            .collect();
        (self.diags.len() == before).then_some(out)
    }
}

impl<'n> Map<'n> {
    /// The field's node, if present.
    #[must_use]
    pub fn get(&self, field: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.text == field)
            .map(|(_, v)| v)
    }

    /// The path of one of this mapping's fields.
    #[must_use]
    pub fn path_of(&self, field: &str) -> String {
        join(&self.path, field)
    }

    /// All entries in source order.
    #[must_use]
    pub fn entries(&self) -> &'n [(super::yaml::Key, Node)] {
        self.entries
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Scalar { text, quoted: true } => format!("the string \"{text}\""),
        Value::Scalar { text, .. } => format!("`{text}`"),
        other => other.type_name().to_owned(),
    }
}

/// Parses `123`, `64KiB`, `1MiB`, `2GiB` (binary units; `KB`/`MB`/`GB` are decimal).
#[must_use]
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim().replace('_', "");
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Turns a YAML node into JSON (for free-form `params`): plain scalars become numbers, booleans
/// or null where they look like one, quoted scalars stay strings.
#[must_use]
pub fn to_json(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Scalar { text, quoted: true } => serde_json::Value::String(text.clone()),
        Value::Scalar { text, .. } => {
            if is_null(node) {
                serde_json::Value::Null
            } else if text == "true" || text == "false" {
                serde_json::Value::Bool(text == "true")
            } else if let Ok(i) = text.parse::<i64>() {
                i.into()
            } else if let Some(f) = text
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && text.chars().any(|c| c.is_ascii_digit()))
            {
                serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into)
            } else {
                serde_json::Value::String(text.clone())
            }
        }
        Value::Seq(items) => items.iter().map(to_json).collect(),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| (k.text.clone(), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1MiB"), Some(1 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("64 MiB"), Some(64 << 20));
        assert_eq!(parse_size("1XB"), None);
        assert_eq!(parse_size("99999999999999GiB"), None);
    }
}
