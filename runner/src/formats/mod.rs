//! Text formats ↔ JSON, one file per format. Parse errors carry a line and a column
//! (1-based) so a human can find the fault in the source file.

pub mod acks;
pub mod csv;
pub mod edifact;
pub mod edifact_envelope;
pub mod envelope;
pub mod jsonl;
mod segments;
pub mod x12;
pub mod x12_envelope;
pub mod xml;

use crate::transform::TransformError;

/// A parse error at a byte offset of `text`.
pub(crate) fn error_at(
    format: &'static str,
    text: &str,
    offset: usize,
    message: impl Into<String>,
) -> TransformError {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() as u64 + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |l| l.chars().count() as u64)
        + 1;
    TransformError::Parse {
        format,
        line,
        column,
        message: message.into(),
    }
}

/// Splits `text` at `separator` unless escaped by `release`, keeping the text as it
/// is (release characters included). Returns the pieces with their byte offsets.
pub(crate) fn split_released(
    text: &str,
    base: usize,
    separator: char,
    release: Option<char>,
) -> Vec<(usize, &str)> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if Some(c) == release {
            chars.next();
        } else if c == separator {
            pieces.push((base + start, &text[start..i]));
            start = i + c.len_utf8();
        }
    }
    pieces.push((base + start, &text[start..]));
    pieces
}

/// Drops release characters: `50?+` → `50+`.
pub(crate) fn unrelease(text: &str, release: Option<char>) -> String {
    let Some(release) = release else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == release {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}
