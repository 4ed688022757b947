//! Reading the bundled JSON files into a [`Dictionary`], once per standard.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use serde::Deserialize;

use super::{CharType, DataError, Dictionary, Element, ElementDef, Entry, Standard};

const EDIFACT_FILE: &str = "edifact_d96a.json";
const X12_FILE: &str = "x12_004010.json";

pub(super) static EDIFACT: LazyLock<Result<Dictionary, DataError>> = LazyLock::new(|| {
    read(
        Standard::Edifact,
        EDIFACT_FILE,
        include_str!("edifact_d96a.json"),
    )
});

pub(super) static X12: LazyLock<Result<Dictionary, DataError>> =
    LazyLock::new(|| read(Standard::X12, X12_FILE, include_str!("x12_004010.json")));

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: String,
    segments: BTreeMap<String, Vec<String>>,
    messages: BTreeMap<String, Vec<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawEntry {
    Segment(String),
    Group {
        group: String,
        segments: Vec<RawEntry>,
    },
}

fn read(standard: Standard, file: &'static str, text: &str) -> Result<Dictionary, DataError> {
    let fail = |message: String| DataError { file, message };
    let raw: File = serde_json::from_str(text).map_err(|e| fail(e.to_string()))?;
    let mut segments = HashMap::new();
    for (tag, elements) in raw.segments {
        let elements = elements
            .iter()
            .map(|spec| element(standard, spec))
            .collect::<Result<Vec<_>, SpecError>>()
            .map_err(|e| fail(format!("segment {tag}: {e}")))?;
        segments.insert(tag, elements);
    }
    let mut messages = HashMap::new();
    for (name, entries) in raw.messages {
        let entries = entries
            .iter()
            .map(|e| entry(e, &segments))
            .collect::<Result<Vec<_>, SpecError>>()
            .map_err(|e| fail(format!("message {name}: {e}")))?;
        messages.insert(name, entries);
    }
    Ok(Dictionary {
        standard,
        version: raw.version,
        segments,
        messages,
    })
}

/// A definition of the data that cannot be read; `read` names its file and segment
/// or message.
#[derive(Debug, thiserror::Error)]
enum SpecError {
    /// A definition with a field that is not as the module documentation says.
    #[error("`{spec}`: {what}")]
    Field { spec: String, what: String },
    /// A message naming a segment the directory does not define.
    #[error("`{0}` is not in the segment directory")]
    UnknownSegment(String),
    /// A group whose first entry is not a mandatory segment.
    #[error("group {0} does not start with a mandatory segment")]
    GroupTrigger(String),
}

fn bad(spec: &str, what: impl Into<String>) -> SpecError {
    SpecError::Field {
        spec: spec.to_owned(),
        what: what.into(),
    }
}

/// `"DTM M 35"`: tag (or group id), usage and maximum.
fn usage(spec: &str) -> Result<(String, bool, usize), SpecError> {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    let [tag, usage, max] = parts[..] else {
        return Err(bad(spec, "is not `TAG USAGE MAX`"));
    };
    let max = match max {
        ">1" => usize::MAX,
        n => n.parse().map_err(|_| bad(spec, "bad maximum"))?,
    };
    Ok((tag.to_owned(), mandatory(usage, spec)?, max))
}

fn mandatory(usage: &str, spec: &str) -> Result<bool, SpecError> {
    match usage {
        "M" => Ok(true),
        "C" | "O" | "X" => Ok(false),
        _ => Err(bad(spec, format!("usage `{usage}` is not M, C, O or X"))),
    }
}

fn entry(raw: &RawEntry, segments: &HashMap<String, Vec<Element>>) -> Result<Entry, SpecError> {
    match raw {
        RawEntry::Segment(spec) => {
            let (tag, mandatory, max) = usage(spec)?;
            if !segments.contains_key(&tag) {
                return Err(SpecError::UnknownSegment(tag));
            }
            Ok(Entry::Segment {
                tag,
                mandatory,
                max,
            })
        }
        RawEntry::Group {
            group,
            segments: list,
        } => {
            let (id, mandatory, max) = usage(group)?;
            let entries = list
                .iter()
                .map(|e| entry(e, segments))
                .collect::<Result<Vec<_>, SpecError>>()?;
            match entries.first() {
                Some(Entry::Segment {
                    mandatory: true, ..
                }) => {}
                _ => return Err(SpecError::GroupTrigger(id)),
            }
            Ok(Entry::Group {
                id,
                mandatory,
                max,
                entries,
            })
        }
    }
}

/// `"1004 C an..35"`, `"324 M AN 1/22"` or a composite `"C507 M [2005 M an..3, ...]"`.
fn element(standard: Standard, spec: &str) -> Result<Element, SpecError> {
    if let Some((head, rest)) = spec.split_once('[') {
        let mut head = head.split_whitespace();
        let (Some(id), Some(usage)) = (head.next(), head.next()) else {
            return Err(bad(spec, "is not `ID USAGE [components]`"));
        };
        let components = rest
            .trim_end()
            .strip_suffix(']')
            .ok_or_else(|| bad(spec, "no closing `]`"))?
            .split(',')
            .map(|c| simple(standard, c.trim()))
            .collect::<Result<Vec<_>, SpecError>>()?;
        return Ok(Element::Composite {
            id: id.to_owned(),
            mandatory: mandatory(usage, spec)?,
            components,
        });
    }
    simple(standard, spec).map(Element::Simple)
}

fn simple(standard: Standard, spec: &str) -> Result<ElementDef, SpecError> {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    let (id, usage, kind, min, max) = match (standard, &parts[..]) {
        (Standard::Edifact, [id, usage, format]) => {
            let digits = format.trim_start_matches(|c: char| c.is_ascii_alphabetic());
            let kind = match &format[..format.len() - digits.len()] {
                "a" => CharType::Alpha,
                "n" => CharType::Decimal,
                "an" => CharType::Text,
                other => return Err(bad(spec, format!("type `{other}` is not a, n or an"))),
            };
            let (min, length) = match digits.strip_prefix("..") {
                Some(max) => (1, max),
                None => (0, digits),
            };
            let max: usize = length.parse().map_err(|_| bad(spec, "bad length"))?;
            (*id, *usage, kind, if min == 0 { max } else { min }, max)
        }
        (Standard::X12, [id, usage, kind, range]) => {
            let kind = match *kind {
                "ID" | "AN" => CharType::Text,
                "DT" => CharType::Date,
                "TM" => CharType::Time,
                "R" => CharType::Decimal,
                n if n.len() == 2 && n.starts_with('N') => CharType::Integer,
                other => return Err(bad(spec, format!("type `{other}` is not known"))),
            };
            let (min, max) = range
                .split_once('/')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                .ok_or_else(|| bad(spec, format!("`{range}` is not MIN/MAX")))?;
            (*id, *usage, kind, min, max)
        }
        _ => return Err(bad(spec, "is not an element definition")),
    };
    Ok(ElementDef {
        id: id.to_owned(),
        mandatory: mandatory(usage, spec)?,
        kind,
        min,
        max,
    })
}
