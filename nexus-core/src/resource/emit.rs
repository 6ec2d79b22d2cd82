//! A small YAML emitter for canonical resource text (block style, two-space indent). Strings
//! that YAML could read as something else are written double-quoted (JSON escaping, which is
//! valid YAML).

use serde_json::Value;

/// Renders `value` as a YAML document.
#[must_use]
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => seq(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn map(out: &mut String, m: &serde_json::Map<String, Value>, indent: usize) {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        out.push_str(&string(k));
        out.push(':');
        value_after_key(out, v, indent);
    }
}

fn seq(out: &mut String, a: &[Value], indent: usize) {
    for v in a {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // First entry on the dash line, the rest aligned under it.
                let mut first = true;
                for (k, v) in m {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        out.push_str(&" ".repeat(indent + 2));
                    }
                    out.push_str(&string(k));
                    out.push(':');
                    value_after_key(out, v, indent + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                seq(out, inner, indent + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn value_after_key(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            map(out, m, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            seq(out, a, indent + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string, plain when YAML reads it back as the same string, else double-quoted.
fn string(s: &str) -> String {
    let plain_chars = s
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '/' | '@' | '-' | ' ' | '*' | '?'));
    let starts_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '/'));
    let keyword = matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "null" | "~" | "yes" | "no" | "on" | "off" | "y" | "n" | ".inf" | ".nan"
    );
    let numeric = s.parse::<f64>().is_ok() || s.starts_with(|c: char| c.is_ascii_digit());
    if plain_chars && starts_ok && !keyword && !numeric && !s.ends_with(' ') {
        s.to_owned()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::decode::to_json;
    use crate::resource::yaml::parse;

    #[test]
    fn round_trips_through_the_reader() {
        let v = serde_json::json!({
            "apiVersion": "nexus/v1",
            "spec": {
                "streams": ["logs-*", "*"],
                "partitions": [1, "0-7"],
                "pipeline": [{"streamlet": "compress-zstd@1.0.0", "params": {"level": 3, "s": "true", "e": ""}}],
                "empty": {},
                "list": [],
                "odd": "a: b # c",
                "nested": [[1, 2], ["x"]],
            }
        });
        let text = yaml(&v);
        let docs = parse(&text).expect(&text);
        assert_eq!(to_json(&docs[0].root), v, "{text}");
    }
}
