//! A YAML reader that keeps positions: every node knows its line and column, so validation can
//! point at the exact place of each error. Built on `saphyr-parser` events.
//!
//! Only what resource files need: mappings with string keys, sequences, scalars; several
//! documents per file. Anchors and aliases, tags and complex keys are refused with a clear
//! message rather than half-supported.

use std::borrow::Cow;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// A position in the source: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar and whether it was quoted (quoted scalars are always strings).
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Keys in source order, each with its own position.
    Map(Vec<(Key, Node)>),
}

/// A mapping key.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub pos: Pos,
    pub text: String,
}

/// A document of a multi-document file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 0-based index in the file.
    pub index: usize,
    pub root: Node,
}

/// Why a file is not YAML at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Reads every document of `src`. Empty documents are skipped.
///
/// # Errors
/// The first syntax error, or a construct resource files do not use (anchors, tags, non-string
/// keys), with its position.
pub fn parse(src: &str) -> Result<Vec<Document>, SyntaxError> {
    let mut reader = Reader {
        parser: Parser::new_from_str(src),
    };
    let mut docs = Vec::new();
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => return Ok(docs),
            Event::DocumentStart(_) => {
                let (event, span) = reader.next()?;
                if matches!(event, Event::DocumentEnd) {
                    continue;
                }
                let root = reader.node(event, span, 0)?;
                if !is_null(&root) {
                    docs.push(Document {
                        index: docs.len(),
                        root,
                    });
                }
            }
            other => return Err(unexpected(&other, span)),
        }
    }
}

/// Nesting deeper than this is refused (resource files are shallow; this bounds recursion).
const MAX_DEPTH: usize = 64;

struct Reader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), SyntaxError> {
        match self.parser.next_event() {
            Some(Ok(pair)) => Ok(pair),
            Some(Err(e)) => Err(SyntaxError {
                pos: Pos {
                    line: e.marker().line(),
                    col: e.marker().col() + 1,
                },
                message: e.info().to_owned(),
            }),
            None => Err(SyntaxError {
                pos: Pos::default(),
                message: "unexpected end of input".into(),
            }),
        }
    }

    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<Node, SyntaxError> {
        let pos = pos(span);
        if depth > MAX_DEPTH {
            return Err(SyntaxError {
                pos,
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            });
        }
        let value = match event {
            Event::Scalar(text, style, anchor, tag) => {
                refuse_anchor_or_tag(anchor, tag.is_some(), pos)?;
                Value::Scalar {
                    text: text.into_owned(),
                    quoted: !matches!(style, ScalarStyle::Plain),
                }
            }
            Event::SequenceStart(anchor, tag) => {
                refuse_anchor_or_tag(anchor, tag.is_some(), pos)?;
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span, depth + 1)?);
                }
                Value::Seq(items)
            }
            Event::MappingStart(anchor, tag) => {
                refuse_anchor_or_tag(anchor, tag.is_some(), pos)?;
                let mut entries: Vec<(Key, Node)> = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    let key = match event {
                        Event::MappingEnd => break,
                        Event::Scalar(text, ..) => Key {
                            pos: self::pos(span),
                            text: text.into_owned(),
                        },
                        other => {
                            return Err(SyntaxError {
                                pos: self::pos(span),
                                message: format!(
                                    "mapping keys must be plain strings, found {}",
                                    describe(&other)
                                ),
                            });
                        }
                    };
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.text == key.text) {
                        return Err(SyntaxError {
                            pos: key.pos,
                            message: format!(
                                "duplicate key `{}` (first at line {})",
                                key.text, first.pos.line
                            ),
                        });
                    }
                    let (event, span) = self.next()?;
                    let value = self.node(event, span, depth + 1)?;
                    entries.push((key, value));
                }
                Value::Map(entries)
            }
            Event::Alias(_) => {
                return Err(SyntaxError {
                    pos,
                    message: "aliases (`*name`) are not supported in resource files".into(),
                });
            }
            other => return Err(unexpected(&other, span)),
        };
        Ok(Node { pos, value })
    }
}

fn refuse_anchor_or_tag(anchor: usize, tagged: bool, pos: Pos) -> Result<(), SyntaxError> {
    if anchor != 0 {
        return Err(SyntaxError {
            pos,
            message: "anchors (`&name`) are not supported in resource files".into(),
        });
    }
    if tagged {
        return Err(SyntaxError {
            pos,
            message: "tags (`!tag`) are not supported in resource files".into(),
        });
    }
    Ok(())
}

fn pos(span: Span) -> Pos {
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

fn unexpected(event: &Event<'_>, span: Span) -> SyntaxError {
    SyntaxError {
        pos: pos(span),
        message: format!("unexpected {}", describe(event)),
    }
}

fn describe(event: &Event<'_>) -> Cow<'static, str> {
    match event {
        Event::Scalar(..) => "scalar".into(),
        Event::SequenceStart(..) => "sequence".into(),
        Event::MappingStart(..) => "mapping".into(),
        Event::Alias(_) => "alias".into(),
        other => format!("{other:?}").into(),
    }
}

/// Whether a node is YAML null (`~`, `null`, or empty), unquoted.
#[must_use]
pub fn is_null(node: &Node) -> bool {
    matches!(&node.value, Value::Scalar { text, quoted: false } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
}

impl Value {
    /// A short name of the node's type for messages.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_documents() {
        let docs = parse("a: 1\nb:\n  - x\n  - 'y'\n---\n---\nc: {d: e}\n").expect("parses");
        assert_eq!(docs.len(), 2);
        let Value::Map(entries) = &docs[0].root.value else {
            panic!("map")
        };
        assert_eq!(entries[1].0.text, "b");
        assert_eq!(entries[1].0.pos, Pos { line: 2, col: 1 });
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("seq")
        };
        assert_eq!(items[1].pos, Pos { line: 4, col: 5 });
        assert!(matches!(
            &items[1].value,
            Value::Scalar { quoted: true, .. }
        ));
    }

    #[test]
    fn refusals_have_positions() {
        let e = parse("a: &x 1\nb: *x\n").unwrap_err();
        assert!(e.message.contains("anchors"), "{e}");
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(e.pos.line, 2);
        assert!(e.message.contains("duplicate"));
        let e = parse("a: [1, 2\n").unwrap_err();
        assert!(e.pos.line >= 1);
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse(&deep).is_err());
    }
}
