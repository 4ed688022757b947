//! A linear pre-scan for deeply nested flow collections (`[[[[…` or `{a: {a: …`).
//!
//! libyaml's scanner does work proportional to the current flow depth for every token
//! (it revisits every open level's possible simple key), so a text of depth `n` costs
//! `n²`: a 100 KB file of `[` kept the loader busy for minutes (found by
//! crds/tests/manifest_fuzz.rs). serde_yaml refuses more than 128 levels of nesting
//! anyway, but only after libyaml has scanned the whole document, so the depth is checked
//! here first, in one pass.
//!
//! The scan knows just enough YAML to count flow levels: quoted scalars and comments are
//! skipped, and in block context a `[` or `{` opens a collection only where a value
//! starts (a plain scalar such as `.items[0]` holds brackets as text). It may miscount
//! inside block scalars or odd plain scalars; the bound is above serde_yaml's own, so a
//! small miscount does not refuse a file serde_yaml would read.

use crate::problem::Position;

/// Deepest nesting of flow collections a file may have (serde_yaml stops at 128 levels of
/// any nesting).
pub const MAX_FLOW_DEPTH: usize = 160;

/// Where a text first nests flow collections deeper than [`MAX_FLOW_DEPTH`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooDeep {
    /// 1-based index of the document it is in.
    pub document: usize,
    /// Byte offset where that document starts (its `---` line).
    pub document_start: usize,
    pub position: Position,
}

/// Where `text` first nests flow collections deeper than [`MAX_FLOW_DEPTH`], if it does.
pub fn too_deep(text: &str) -> Option<TooDeep> {
    let bytes = text.as_bytes();
    let blank = |at: usize| bytes.get(at).is_none_or(|b| b.is_ascii_whitespace());
    let mut depth = 0usize;
    let (mut document, mut document_start) = (1, 0);
    let (mut line, mut line_start) = (1, 0);
    // Whether a value may start here: only indentation, spaces and indicators (`- `,
    // `: `, `[`, `,`…) precede it on its line.
    let mut value_start = true;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'\n' => {
                line += 1;
                line_start = i + 1;
                value_start = true;
                if depth == 0 && text[i + 1..].starts_with("---") && blank(i + 4) {
                    document += 1;
                    document_start = i + 1;
                }
            }
            b'#' if value_start || i == 0 || blank(i - 1) => {
                while bytes.get(i + 1).is_some_and(|&b| b != b'\n') {
                    i += 1;
                }
            }
            b'\'' | b'"' if value_start => {
                i = end_of_quoted(bytes, i, &mut line, &mut line_start);
                value_start = false;
            }
            b'[' | b'{' if depth > 0 || value_start => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Some(TooDeep {
                        document,
                        document_start,
                        position: Position {
                            line,
                            column: i - line_start + 1,
                        },
                    });
                }
                value_start = true;
            }
            b']' | b'}' if depth > 0 => {
                depth -= 1;
                value_start = false;
            }
            b',' if depth > 0 => value_start = true,
            b':' | b'-' | b'?' if depth > 0 || blank(i + 1) => value_start = true,
            // An anchor or a tag before a value: the value may still start after it.
            b'&' | b'!' if value_start => {
                while !blank(i + 1) {
                    i += 1;
                }
            }
            b' ' | b'\t' | b'\r' => {}
            _ => value_start = false,
        }
        i += 1;
    }
    None
}

/// The offset of the quote closing the quoted scalar opened at `open`, counting the lines
/// it spans; the end of the text when it is not closed.
fn end_of_quoted(bytes: &[u8], open: usize, line: &mut usize, line_start: &mut usize) -> usize {
    let quote = bytes[open];
    let mut i = open + 1;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'\n' => {
                *line += 1;
                *line_start = i + 1;
            }
            b'\\' if quote == b'"' => i += 1,
            // `''` is an escaped quote inside a single-quoted scalar.
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
            b if b == quote => return i,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_error(text: &str) -> Option<(usize, usize, usize)> {
        too_deep(text).map(|t| (t.document, t.position.line, t.position.column))
    }

    #[test]
    fn flow_nesting_past_the_bound_is_found_in_its_document() {
        let deep = format!("{}x{}", "[".repeat(MAX_FLOW_DEPTH + 1), "]".repeat(300));
        assert_eq!(
            depth_error(&format!("a: 1\n---\nb: {deep}\n")),
            Some((2, 3, 4 + MAX_FLOW_DEPTH))
        );
        let mapping = format!("a: {}x", "{a: ".repeat(MAX_FLOW_DEPTH + 1));
        assert!(depth_error(&mapping).is_some());
        let at_bound = format!(
            "{}x{}",
            "[".repeat(MAX_FLOW_DEPTH),
            "]".repeat(MAX_FLOW_DEPTH)
        );
        assert_eq!(depth_error(&at_bound), None);
    }

    #[test]
    fn brackets_in_text_are_not_collections() {
        let many = "[".repeat(MAX_FLOW_DEPTH + 1);
        for text in [
            format!("filter: .items{many}\n"),
            format!("a: '{many}'\nb: \"{many}\\\"{many}\"\n"),
            format!("a: 1 # {many}\n"),
            format!("a: 'it''s {many}'\n"),
            format!("a: x {many}\n"),
        ] {
            assert_eq!(depth_error(&text), None, "{text}");
        }
        // Balanced collections, however many, stay shallow.
        let flat = "- [a, {b: [c]}, 'd]']\n".repeat(1_000);
        assert_eq!(depth_error(&flat), None);
    }
}
