//! UN/EDIFACT ↔ JSON.
//!
//! JSON: `{"segments": [{"tag": "UNH", "elements": ["1", ["ORDERS", "D", "96A", "UN"]]}]}`
//! — an element with one component is a string, with several an array. When reading,
//! the service string advice (`UNA`) sets the separators; without it the defaults
//! `:+.? '` apply. Writing uses the defaults (no `UNA` needed) and escapes separators in
//! values with the release character `?`. No maintained Rust crate covers this, and the
//! syntax is small enough to own: the two directions are tested against each other.

use serde_json::{Map, Value};

use super::segments::{SegmentsError, Syntax, segments};
use super::{FormatError, error_at, split_released, unrelease};

struct Separators {
    component: char,
    element: char,
    release: Option<char>,
    segment: char,
}

pub fn parse(text: &str) -> Result<Value, FormatError> {
    let mut body = text.trim_start();
    let mut base = text.len() - body.len();
    let mut separators = Separators {
        component: ':',
        element: '+',
        release: Some('?'),
        segment: '\'',
    };
    if let Some(rest) = body.strip_prefix("UNA") {
        let advice: Vec<char> = rest.chars().take(6).collect();
        if advice.len() < 6 {
            return Err(error_at(
                "EDIFACT",
                text,
                base,
                "UNA must be followed by six characters",
            ));
        }
        separators = Separators {
            component: advice[0],
            element: advice[1],
            release: (advice[3] != ' ').then_some(advice[3]),
            segment: advice[5],
        };
        let skip = 3 + advice.iter().map(|c| c.len_utf8()).sum::<usize>();
        base += skip;
        body = &body[skip..];
    }
    let mut segments = Vec::new();
    for (offset, raw) in split_released(body, base, separators.segment, separators.release) {
        let trimmed = raw.trim_matches(|c: char| c == '\r' || c == '\n' || c == ' ');
        if trimmed.is_empty() {
            continue;
        }
        let lead = raw.len() - raw.trim_start_matches(['\r', '\n', ' ']).len();
        let at = offset + lead;
        let mut elements = split_released(trimmed, at, separators.element, separators.release)
            .into_iter()
            .map(|(_, element)| element);
        let tag = elements.next().unwrap_or_default();
        if tag.len() != 3
            || !tag
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Err(error_at(
                "EDIFACT",
                text,
                at,
                format!("`{}` does not start with a segment tag", truncate(trimmed)),
            ));
        }
        let release = separators.release;
        let elements: Vec<Value> = elements
            .map(|element| {
                let components = split_released(element, 0, separators.component, release);
                if components.len() == 1 {
                    Value::String(unrelease(element, release))
                } else {
                    Value::Array(
                        components
                            .into_iter()
                            .map(|(_, c)| Value::String(unrelease(c, release)))
                            .collect(),
                    )
                }
            })
            .collect();
        let mut segment = Map::new();
        segment.insert("tag".into(), Value::String(tag.to_owned()));
        segment.insert("elements".into(), Value::Array(elements));
        segments.push(Value::Object(segment));
    }
    if segments.is_empty() {
        return Err(error_at("EDIFACT", text, 0, "no segments"));
    }
    let mut out = Map::new();
    out.insert("segments".into(), Value::Array(segments));
    Ok(Value::Object(out))
}

/// The default EDIFACT syntax (UNA `:+.? '`).
const DEFAULT_SYNTAX: Syntax = Syntax {
    name: "EDIFACT",
    component: ':',
    element: '+',
    segment: '\'',
    release: Some('?'),
};

/// Writes segments (as [`parse`] reads them) with the default separators.
pub fn render(value: &Value) -> Result<String, SegmentsError> {
    DEFAULT_SYNTAX.write(&segments(value)?)
}

fn truncate(text: &str) -> String {
    text.chars().take(20).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn writes_what_it_reads_escaping_separators() {
        let source = "UNH+1+ORDERS:D:96A:UN'FTX+AAA+++50?+ off?: really?? yes?''UNT+3+1'";
        let value = parse(source).unwrap_or_else(|e| panic!("{e}"));
        let written = render(&value).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written, source);
        assert_eq!(parse(&written), Ok(value));
        // Numbers and nulls are written too; objects are not values.
        assert_eq!(
            render(
                &json!([{"tag": "QTY", "elements": [["21", 5]]}, {"tag": "UNS", "elements": ["S", null]}])
            ),
            Ok("QTY+21:5'UNS+S+'".into())
        );
        assert!(
            render(&json!([{"tag": "BGM", "elements": [{"a": 1}]}]))
                .is_err_and(|e| e.to_string().contains("segment 1 (BGM): element 1"))
        );
        assert!(render(&json!({"nope": 1})).is_err());
    }

    #[test]
    fn reads_segments_with_release_characters() {
        let value = parse("UNA:+.? 'UNH+1+ORDERS:D:96A:UN'\nFTX+AAA+++50?+ off'UNT+3+1'");
        assert_eq!(
            value,
            Ok(json!({"segments": [
                {"tag": "UNH", "elements": ["1", ["ORDERS", "D", "96A", "UN"]]},
                {"tag": "FTX", "elements": ["AAA", "", "", "50+ off"]},
                {"tag": "UNT", "elements": ["3", "1"]}
            ]}))
        );
        assert!(matches!(
            parse("UNH+1'\nbad+2'"),
            Err(FormatError::Parse {
                line: 2,
                column: 1,
                ..
            })
        ));
    }
}
