//! The fast path of [`use_context`](super::use_context): change two scalars in place instead of parsing and
//! re-serialising whole files.
//!
//! Switching contexts is the most frequent write and kubeconfigs get big (DESIGN.md §8: 2,000 contexts,
//! ~2 MB, where kubectl needs ~580 ms and Signet may take a fifth of that). A full typed parse of such a file
//! alone costs more than that budget, yet `use` only needs `current-context` and one context's
//! `namespace`. So each file is cut into its top-level sections by a line scan (a top-level key of a block
//! mapping starts at column 0; every line of its value is indented, a `- ` item, a comment or blank), only
//! the `current-context` and `contexts` sections go through the YAML parser, and the edit splices the new
//! scalar text into the original. Comments, key order and formatting are kept, which the full path cannot
//! do.
//!
//! It must never guess: whenever a file does not have the plain shape it understands (a `---` after the
//! start, directives, flow style where a line must be inserted, anchors, aliases or tags in those sections,
//! quoted or duplicate top-level keys, a missing file that would have to be created, clearing a namespace…)
//! [`plan`] answers `None` and the caller takes the full path, which handles every valid kubeconfig.

use std::borrow::Cow;
use std::ops::Range;

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, StructureStyle};

/// Replace `range` of a file's text with `with` (an insertion when the range is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Splice {
    pub range: Range<usize>,
    pub with: String,
}

/// Applies non-overlapping splices to `text`.
pub(super) fn apply(text: &str, mut splices: Vec<Splice>) -> String {
    splices.sort_by_key(|s| s.range.start);
    let extra: usize = splices.iter().map(|s| s.with.len()).sum();
    let mut out = String::with_capacity(text.len() + extra);
    let mut at = 0;
    for splice in splices {
        out.push_str(&text[at..splice.range.start]);
        out.push_str(&splice.with);
        at = splice.range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Where a value can be written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    /// Replace this scalar's source text.
    Replace(Range<usize>),
    /// Insert a `key: value` line at this offset (a line start), indented like its siblings.
    InsertLine { at: usize, indent: String },
    /// The shape is not one the fast path edits.
    Unsure,
}

impl Slot {
    fn set(&self, key: &str, value: &str) -> Option<Splice> {
        match self {
            Slot::Replace(range) => Some(Splice {
                range: range.clone(),
                with: yaml_scalar(value),
            }),
            Slot::InsertLine { at, indent } => Some(Splice {
                range: *at..*at,
                with: format!("{indent}{key}: {}\n", yaml_scalar(value)),
            }),
            Slot::Unsure => None,
        }
    }
}

/// What `use_context` needs to know about one file.
#[derive(Debug)]
pub(super) struct Skim {
    /// `current-context`, when set to a non-empty value.
    pub current: Option<String>,
    current_slot: Slot,
    /// The first context with the name asked for, when this file defines it.
    pub context: Option<ContextSkim>,
}

#[derive(Debug)]
pub(super) struct ContextSkim {
    pub name: String,
    pub namespace: Option<String>,
    /// Whether the context carries a well-formed `signet` extension.
    pub signet: bool,
    namespace_slot: Slot,
}

impl Skim {
    /// The splice that makes `current-context` be `context`.
    pub fn set_current(&self, context: &str) -> Option<Splice> {
        self.current_slot.set("current-context", context)
    }
}

impl ContextSkim {
    /// The splice that sets this context's namespace (never used to clear one).
    pub fn set_namespace(&self, namespace: &str) -> Option<Splice> {
        self.namespace_slot.set("namespace", namespace)
    }
}

/// Skims one file's text (without a byte-order mark) for `current-context` and the context named `name`;
/// `None` when the fast path should not touch the file.
pub(super) fn skim(text: &str, name: &str) -> Option<Skim> {
    let sections = top_level_sections(text)?;
    let mut current_section = None;
    let mut contexts_section = None;
    for (key, range) in &sections.list {
        let slot = match *key {
            "current-context" => &mut current_section,
            "contexts" => &mut contexts_section,
            _ => continue,
        };
        if slot.replace(range.clone()).is_some() {
            return None; // a duplicate key: leave it to the full parser's rules
        }
    }

    let (current, current_slot) = match current_section {
        None => (
            None,
            Slot::InsertLine {
                at: sections.first_key_at?,
                indent: String::new(),
            },
        ),
        Some(range) => {
            let value = section_value(text, range)?;
            let Node::Scalar(scalar) = value else {
                return None;
            };
            (scalar.string(), scalar.slot())
        }
    };

    let context = match contexts_section {
        None => None,
        Some(range) => find_context(text, range, name)?,
    };
    Some(Skim {
        current,
        current_slot,
        context,
    })
}

/// The first item of the `contexts:` section named `name` (`Some(None)`: there is none).
///
/// A block sequence is cut into items by lines (an item starts with `- ` at the sequence's indentation), and
/// only items that can hold that name are parsed: its text must contain the name, unless the name has
/// characters a YAML writer might escape or the item has an escape. With thousands of contexts that is
/// the difference between parsing one item and parsing them all.
fn find_context(text: &str, section: Range<usize>, name: &str) -> Option<Option<ContextSkim>> {
    let Some(items) = block_items(text, section.clone())? else {
        // Not a plain block sequence (flow style, null…): parse the whole section.
        return match section_value(text, section)? {
            Node::Seq(items) => {
                for item in &items {
                    let found = context_skim(text, item)?;
                    if found.name == name {
                        return Some(Some(found));
                    }
                }
                Some(None)
            }
            Node::Scalar(s) if s.string().is_none() => Some(None),
            _ => None,
        };
    };
    // Written plain or single-quoted, such a name appears as is (a `'` would be doubled, a space could be
    // folded); written double-quoted, it appears as is unless the item uses an escape.
    let literal = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'\\' && b != b'\'');
    for item in items {
        let source = &text[item.clone()];
        if literal && !source.contains(name) && !source.contains('\\') {
            continue;
        }
        let found = context_skim(text, &item_value(text, item)?)?;
        if found.name == name {
            return Some(Some(found));
        }
    }
    Some(None)
}

/// The items of a block sequence written under `key:` on the section's first line: `Some(None)` when the
/// value is written another way, `None` when the lines do not look like valid YAML.
fn block_items(text: &str, section: Range<usize>) -> Option<Option<Vec<Range<usize>>>> {
    let body = &text[section.clone()];
    let first_line_end = body.find('\n').map_or(body.len(), |i| i + 1);
    let after_key = body[..first_line_end]
        .split_once(':')
        .map(|(_, rest)| rest.trim());
    if !after_key.is_some_and(|rest| rest.is_empty() || rest.starts_with('#')) {
        return Some(None);
    }
    let mut items: Vec<Range<usize>> = Vec::new();
    let mut item_indent = None;
    let mut at = section.start + first_line_end;
    while at < section.end {
        let end = text[at..section.end]
            .find('\n')
            .map_or(section.end, |i| at + i + 1);
        let line = text[at..end].trim_end_matches(['\n', '\r']);
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        if content.trim().is_empty() || content.starts_with('#') {
            at = end;
            continue;
        }
        if content.starts_with('\t') {
            return None;
        }
        let starts_item = content.starts_with("- ") || content == "-";
        match item_indent {
            None if starts_item => item_indent = Some(indent),
            None => return Some(None),
            Some(n) if indent < n => return None,
            Some(_) => {}
        }
        if starts_item && Some(indent) == item_indent {
            if let Some(last) = items.last_mut() {
                last.end = at;
            }
            items.push(at..section.end);
        }
        at = end;
    }
    Some(Some(items))
}

/// Parses one sequence item (its lines at `range` of `text`) and returns it, with spans in `text`.
fn item_value(text: &str, range: Range<usize>) -> Option<Node<'_>> {
    let mut events = Tree::new(text, range);
    if !matches!(events.next()?.0, Event::StreamStart)
        || !matches!(events.next()?.0, Event::DocumentStart(false, None))
    {
        return None;
    }
    let Node::Seq(mut items) = events.node()? else {
        return None;
    };
    if items.len() != 1
        || !matches!(events.next()?.0, Event::DocumentEnd)
        || !matches!(events.next()?.0, Event::StreamEnd)
    {
        return None;
    }
    items.pop()
}

fn context_skim(text: &str, item: &Node<'_>) -> Option<ContextSkim> {
    let Node::Map { entries, .. } = item else {
        return None;
    };
    let name = match unique(entries, "name")? {
        Some(Node::Scalar(s)) => s.value.clone().into_owned(),
        _ => return None,
    };
    let Some(Node::Map {
        entries: ctx,
        block,
    }) = unique(entries, "context")?
    else {
        return None;
    };
    let (namespace, namespace_slot) = match unique(ctx, "namespace")? {
        Some(Node::Scalar(s)) => (s.string(), s.slot()),
        Some(_) => return None,
        None => (None, insert_before_first_key(text, ctx, *block)),
    };
    let signet = match unique(ctx, "extensions")? {
        Some(Node::Seq(list)) => list.iter().any(is_signet_extension),
        _ => false,
    };
    Some(ContextSkim {
        name,
        namespace,
        signet,
        namespace_slot,
    })
}

/// `{name: signet, extension: {provider: <str>, cluster: <str>}}`, as the full path's check wants it.
fn is_signet_extension(node: &Node<'_>) -> bool {
    let Node::Map { entries, .. } = node else {
        return false;
    };
    let named_signet = matches!(
        unique(entries, "name"),
        Some(Some(Node::Scalar(s))) if s.value == super::EXTENSION_NAME
    );
    let Some(Some(Node::Map { entries: ext, .. })) = unique(entries, "extension") else {
        return false;
    };
    let is_str =
        |key| matches!(unique(ext, key), Some(Some(Node::Scalar(s))) if s.string().is_some());
    named_signet && is_str("provider") && is_str("cluster")
}

/// A line can go before the first key of a block mapping whose first key starts its own line.
fn insert_before_first_key(text: &str, entries: &[(Node<'_>, Node<'_>)], block: bool) -> Slot {
    let Some((Node::Scalar(first), _)) = entries.first() else {
        return Slot::Unsure;
    };
    if !block {
        return Slot::Unsure;
    }
    let key_at = first.span.start;
    let line_start = text[..key_at].rfind('\n').map_or(0, |i| i + 1);
    let indent = &text[line_start..key_at];
    if indent.bytes().all(|b| b == b' ') {
        Slot::InsertLine {
            at: line_start,
            indent: indent.to_owned(),
        }
    } else {
        Slot::Unsure
    }
}

/// The value under `key`: `Some(None)` when absent, `None` when the key is there twice.
fn unique<'n, 'a>(entries: &'n [(Node<'a>, Node<'a>)], key: &str) -> Option<Option<&'n Node<'a>>> {
    let mut found = None;
    for (k, v) in entries {
        if matches!(k, Node::Scalar(s) if s.value == key) {
            if found.is_some() {
                return None;
            }
            found = Some(v);
        }
    }
    Some(found)
}

// ----- top-level sections ----------------------------------------------------------------------------------

struct Sections<'t> {
    list: Vec<(&'t str, Range<usize>)>,
    /// Start of the first top-level key's line: where a new top-level line may go.
    first_key_at: Option<usize>,
}

/// Cuts the text into top-level `key: …` sections by lines. In a block mapping at column 0, every line of a
/// value is indented, a `- ` sequence entry, a comment or blank (YAML 1.2 §8.2.2: continuation lines of a
/// top-level value are indented at least one space), so a line with a plain key at column 0 starts the next
/// section. Anything else at column 0 (flow style, quoted or complex keys, directives, a second document)
/// makes the scan give up.
fn top_level_sections(text: &str) -> Option<Sections<'_>> {
    let mut list: Vec<(&str, Range<usize>)> = Vec::new();
    let mut seen_document_start = false;
    let mut at = 0;
    while at < text.len() {
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
        let line = text[at..end].trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            at = end;
            continue;
        }
        match line.as_bytes()[0] {
            // Part of the current section's value (or a comment): nothing starts here.
            b' ' | b'#' => {
                if list.is_empty() && !line.trim_start().starts_with('#') {
                    return None; // indented content before the first key
                }
            }
            b'-' if line.starts_with("- ") || line == "-" => {
                if list.is_empty() {
                    return None; // a top-level sequence
                }
            }
            b'-' if is_marker(line, "---") => {
                if seen_document_start || !list.is_empty() {
                    return None;
                }
                seen_document_start = true;
            }
            _ => {
                let key = plain_key(line)?;
                if let Some(last) = list.last_mut() {
                    last.1.end = at;
                }
                list.push((key, at..text.len()));
            }
        }
        at = end;
    }
    let first_key_at = list.first().map(|(_, r)| r.start);
    Some(Sections { list, first_key_at })
}

/// `---` alone on its line (maybe with a comment); `--- value` is a different shape.
fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker).is_some_and(|rest| {
        let rest = rest.trim();
        rest.is_empty() || rest.starts_with('#')
    })
}

/// `key` from a `key:` line whose key is a simple plain scalar (kubeconfig keys all are).
fn plain_key(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    if !bytes.first()?.is_ascii_alphanumeric() && bytes[0] != b'_' {
        return None;
    }
    let len = bytes
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/')))?;
    let rest = &line[len..];
    let after_colon = rest.strip_prefix(':')?;
    if after_colon.is_empty() || after_colon.starts_with([' ', '\t']) {
        Some(&line[..len])
    } else {
        None
    }
}

// ----- a small YAML tree of one section --------------------------------------------------------------------

struct Scalar<'a> {
    value: Cow<'a, str>,
    style: ScalarStyle,
    /// Byte range in the whole file.
    span: Range<usize>,
}

impl Scalar<'_> {
    /// The value as a string, `None` for YAML null and for the empty string (both mean "unset" here).
    fn string(&self) -> Option<String> {
        let null = self.style == ScalarStyle::Plain
            && matches!(&*self.value, "" | "~" | "null" | "Null" | "NULL");
        (!null && !self.value.is_empty()).then(|| self.value.clone().into_owned())
    }

    fn slot(&self) -> Slot {
        let styled = matches!(
            self.style,
            ScalarStyle::Plain | ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted
        );
        if styled && !self.span.is_empty() {
            Slot::Replace(self.span.clone())
        } else {
            Slot::Unsure
        }
    }
}

enum Node<'a> {
    Scalar(Scalar<'a>),
    Seq(Vec<Node<'a>>),
    Map {
        entries: Vec<(Node<'a>, Node<'a>)>,
        block: bool,
    },
}

/// Parses one `key: value` section (at `range` of `text`) and returns the value, with spans in `text`.
fn section_value(text: &str, range: Range<usize>) -> Option<Node<'_>> {
    let mut events = Tree::new(text, range);
    if !matches!(events.next()?.0, Event::StreamStart)
        || !matches!(events.next()?.0, Event::DocumentStart(false, None))
    {
        return None;
    }
    let Node::Map { mut entries, .. } = events.node()? else {
        return None;
    };
    if entries.len() != 1
        || !matches!(events.next()?.0, Event::DocumentEnd)
        || !matches!(events.next()?.0, Event::StreamEnd)
    {
        return None;
    }
    entries.pop().map(|(_, value)| value)
}

struct Tree<'a> {
    parser: Parser<'a, serde_saphyr::granit_parser::StrInput<'a>>,
    offset: usize,
}

impl<'a> Tree<'a> {
    /// Events of `text[range]`, with spans in `text`.
    fn new(text: &'a str, range: Range<usize>) -> Tree<'a> {
        let mut options = serde_saphyr::granit_parser::Options::default();
        options.set_emit_comments(false);
        Tree {
            parser: Parser::new_from_str_with_options(&text[range.clone()], options),
            offset: range.start,
        }
    }

    fn next(&mut self) -> Option<(Event<'a>, Range<usize>)> {
        let (event, span) = self.parser.next()?.ok()?;
        let start = span.start.byte_offset()? + self.offset;
        let end = span.end.byte_offset()? + self.offset;
        Some((event, start..end))
    }

    /// The next node; `None` on anything the fast path does not edit around (anchors, aliases, tags).
    fn node(&mut self) -> Option<Node<'a>> {
        match self.next()? {
            (Event::Scalar(value, style, 0, None), span) => {
                Some(Node::Scalar(Scalar { value, style, span }))
            }
            (Event::SequenceStart(_, 0, None), _) => {
                let mut items = Vec::new();
                loop {
                    if self.peek_end() {
                        self.next()?;
                        return Some(Node::Seq(items));
                    }
                    items.push(self.node()?);
                }
            }
            (Event::MappingStart(style, 0, None), _) => {
                let mut entries = Vec::new();
                loop {
                    if self.peek_end() {
                        self.next()?;
                        return Some(Node::Map {
                            entries,
                            block: style == StructureStyle::Block,
                        });
                    }
                    let key = self.node()?;
                    let value = self.node()?;
                    entries.push((key, value));
                }
            }
            _ => None,
        }
    }

    fn peek_end(&mut self) -> bool {
        matches!(
            self.parser.peek(),
            Some(Ok((Event::SequenceEnd | Event::MappingEnd, _)))
        )
    }
}

/// `value` as YAML: plain when that cannot be read as anything but this string (also by YAML 1.1 readers
/// such as kubectl's), else a double-quoted JSON string (valid YAML).
fn yaml_scalar(value: &str) -> String {
    let plain_safe = value
        .as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'@'))
        && !matches!(
            value.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain_safe {
        value.to_owned()
    } else {
        serde_json::to_string(value).unwrap_or_else(|_| format!("{value:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_split_on_plain_top_level_keys_only() {
        let text = "---\napiVersion: v1\nclusters:\n- name: a\n  cluster: {server: x}\n# note\ncontexts: []\ncurrent-context: a\n";
        let s = top_level_sections(text).expect("plain shape");
        let keys: Vec<&str> = s.list.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            ["apiVersion", "clusters", "contexts", "current-context"]
        );
        assert_eq!(
            &text[s.list[1].1.clone()],
            "clusters:\n- name: a\n  cluster: {server: x}\n# note\n"
        );
        for weird in [
            "{\"apiVersion\": \"v1\"}\n",
            "a: 1\n---\nb: 2\n",
            "%YAML 1.2\n---\na: 1\n",
            "\"quoted\": 1\n",
            "? complex\n: 1\n",
            "  indented: 1\n",
            "a: 1\n...\n",
        ] {
            assert!(
                top_level_sections(weird).is_none(),
                "should give up on {weird:?}"
            );
        }
    }

    #[test]
    fn scalar_spans_cover_the_quotes() {
        let text = "current-context: \"a b\"\ncontexts: []\n";
        let skim = skim(text, "a").expect("plain shape");
        assert_eq!(skim.current.as_deref(), Some("a b"));
        let splice = skim.set_current("prod").expect("replaceable");
        assert_eq!(
            apply(text, vec![splice]),
            "current-context: prod\ncontexts: []\n"
        );
    }

    #[test]
    fn finds_the_first_context_with_the_name_however_it_is_quoted() {
        let text = "contexts:\n- name: other\n  context: {cluster: prod, user: u}\n- name: 'it''s'\n  context:\n    cluster: c1\n- name: \"p\\x72od\"\n  context:\n    cluster: c2\n- name: prod\n  context:\n    cluster: c3\n";
        let found = skim(text, "prod")
            .expect("plain shape")
            .context
            .expect("prod is defined");
        let escaped_item = text.find("    cluster: c2").expect("fixture");
        assert_eq!(
            found.namespace_slot,
            Slot::InsertLine {
                at: escaped_item,
                indent: "    ".into()
            },
            "the escaped \"prod\" comes first"
        );
        assert!(
            skim(text, "it's").expect("plain shape").context.is_some(),
            "a single-quoted name with a doubled quote"
        );
        assert!(
            skim(text, "missing")
                .expect("plain shape")
                .context
                .is_none()
        );
        let indented = "contexts:\n  - name: a\n    context:\n      cluster: a\n  - name: b\n    context:\n      cluster: b\n";
        let b = skim(indented, "b")
            .expect("plain shape")
            .context
            .expect("b");
        assert_eq!(b.name, "b");
    }

    #[test]
    fn yaml_scalars_are_quoted_when_they_could_mean_something_else() {
        assert_eq!(yaml_scalar("prod-eu.1"), "prod-eu.1");
        assert_eq!(yaml_scalar("yes"), "\"yes\"");
        assert_eq!(yaml_scalar("0123"), "\"0123\"");
        assert_eq!(yaml_scalar("arn:aws:eks:x"), "\"arn:aws:eks:x\"");
        assert_eq!(yaml_scalar("a\"b"), "\"a\\\"b\"");
    }
}
