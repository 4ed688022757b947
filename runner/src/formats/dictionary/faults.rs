//! What a message can break in the dictionary: the faults with their segment position
//! (the header `UNH`/`ST` is 1), the group (loop) they are in and, for element faults,
//! the element and component position; and their codes in CONTRL, 997 and 999.

use serde_json::Value;

use super::CharType;
use crate::formats::envelope::kind_name;

/// What is wrong with a segment of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentProblem {
    /// A tag the dictionary does not know (X12 code 1, EDIFACT 15).
    Unrecognized,
    /// A segment of the directory this message type does not have (X12 2, EDIFACT 15).
    NotInMessage,
    /// A segment of this message out of its place (X12 7, EDIFACT 15).
    OutOfSequence,
    /// A mandatory segment (or the first segment of a mandatory group) that is not
    /// there (X12 3, EDIFACT 13).
    Missing,
    /// A segment repeated more than `max` times (X12 5, EDIFACT 35).
    TooManyRepetitions { max: usize },
    /// A group (loop) repeated more than `max` times (X12 4, EDIFACT 36).
    TooManyLoops { max: usize },
    /// Elements that break their definitions (X12 8).
    Elements(Vec<ElementFault>),
}

/// What is wrong with an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElementProblem {
    /// A mandatory element or component that is empty (X12 1, EDIFACT 13).
    Missing,
    /// More elements (or components) than the segment defines (X12 3, EDIFACT 16).
    TooMany { defined: usize },
    /// Shorter than its minimum (X12 4, EDIFACT 40).
    TooShort { min: usize },
    /// Longer than its maximum (X12 5, EDIFACT 39).
    TooLong { max: usize },
    /// Characters its type does not allow (X12 6, EDIFACT 37).
    InvalidCharacters { kind: CharType },
    /// Not a date (X12 8, EDIFACT 12).
    InvalidDate,
    /// Not a time (X12 9, EDIFACT 12).
    InvalidTime,
}

/// A fault of one element (1-based positions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementFault {
    pub position: usize,
    pub component: Option<usize>,
    /// The data element number (`1004`, `324`), empty for an undefined position.
    pub id: String,
    pub problem: ElementProblem,
    /// The value as received.
    pub value: String,
}

/// A fault of one segment: its position in the message (header = 1), its tag, the
/// group it is in and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub position: usize,
    pub tag: String,
    pub group: Option<String>,
    pub problem: SegmentProblem,
}

/// Why a message is rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The bundled dictionary has no such message type (X12 AK5 code 1, EDIFACT UCM 14
    /// on UNH's S009).
    NoDictionary,
    /// The message breaks its definition.
    Faults(Vec<Fault>),
}

/// A message of an interchange that breaks the dictionary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{standard} message {reference} ({}): {}",
    kind_name(kind),
    describe(reason, standard, kind)
)]
pub struct Rejection {
    /// The message's place in the interchange (0-based, as `Interchange::messages`).
    pub index: usize,
    pub standard: &'static str,
    /// UNH 0062 / ST02.
    pub reference: String,
    /// UNH S009 / ST01.
    pub kind: Value,
    pub reason: Reason,
}

/// The messages of an interchange that break the dictionary (none: all conform). An
/// error names the first few; the acknowledgement details every one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", shown_rejections(&self.0))]
pub struct Rejections(pub Vec<Rejection>);

/// How many rejected messages an error names.
const SHOWN_MESSAGES: usize = 5;

fn shown_rejections(rejections: &[Rejection]) -> String {
    let mut text = rejections
        .iter()
        .take(SHOWN_MESSAGES)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if rejections.len() > SHOWN_MESSAGES {
        text.push_str(&format!(
            "; and {} more messages",
            rejections.len() - SHOWN_MESSAGES
        ));
    }
    text
}

impl Rejections {
    /// A static label for metrics.
    pub fn category(&self) -> &'static str {
        "dictionary"
    }
}

fn describe(reason: &Reason, standard: &str, kind: &Value) -> String {
    match reason {
        Reason::NoDictionary => format!(
            "the bundled dictionary has no {} (it holds {})",
            version_name(kind),
            match standard {
                "X12" => "850, 856 and 810 of 004010",
                _ => "ORDERS, DESADV and INVOIC of D:96A",
            }
        ),
        Reason::Faults(faults) => {
            let mut text = faults
                .iter()
                .take(SHOWN_FAULTS)
                .map(Fault::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            if faults.len() > SHOWN_FAULTS {
                text.push_str(&format!(" and {} more", faults.len() - SHOWN_FAULTS));
            }
            text
        }
    }
}

/// How many faults of a message an error names (the acknowledgement lists more).
const SHOWN_FAULTS: usize = 10;

/// How much of a received value an error shows.
const SHOWN_CHARACTERS: usize = 35;

/// A received value as errors show it: at most [`SHOWN_CHARACTERS`], cut with `…`.
fn shown(value: &str) -> String {
    if value.chars().count() <= SHOWN_CHARACTERS {
        return value.to_owned();
    }
    let mut cut: String = value.chars().take(SHOWN_CHARACTERS).collect();
    cut.push('…');
    cut
}

fn version_name(kind: &Value) -> String {
    match kind {
        Value::Array(c) => c
            .iter()
            .take(3)
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(":"),
        other => kind_name(other).to_owned(),
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "segment {} ({})", self.position, self.tag)?;
        if let Some(group) = &self.group {
            write!(f, " in {group}")?;
        }
        match &self.problem {
            SegmentProblem::Unrecognized => write!(f, " is not a known segment"),
            SegmentProblem::NotInMessage => write!(f, " is not part of this message"),
            SegmentProblem::OutOfSequence => write!(f, " is out of sequence"),
            SegmentProblem::Missing => write!(f, ": a mandatory segment is missing here"),
            SegmentProblem::TooManyRepetitions { max } => {
                write!(f, " repeats more than its {max} times")
            }
            SegmentProblem::TooManyLoops { max } => {
                write!(f, " starts more groups than their {max}")
            }
            SegmentProblem::Elements(elements) => {
                for element in elements {
                    write!(f, ": element {}", element.position)?;
                    if let Some(component) = element.component {
                        write!(f, " component {component}")?;
                    }
                    if !element.id.is_empty() {
                        write!(f, " ({})", element.id)?;
                    }
                    match &element.problem {
                        ElementProblem::Missing => write!(f, " is mandatory and empty")?,
                        ElementProblem::TooMany { defined } => write!(
                            f,
                            " `{}` is beyond the {defined} defined",
                            shown(&element.value)
                        )?,
                        ElementProblem::TooShort { min } => write!(
                            f,
                            " `{}` is shorter than its {min} characters",
                            shown(&element.value)
                        )?,
                        ElementProblem::TooLong { max } => write!(
                            f,
                            " `{}` is longer than its {max} characters",
                            shown(&element.value)
                        )?,
                        ElementProblem::InvalidCharacters { kind } => {
                            write!(f, " `{}` is not {}", shown(&element.value), kind.noun())?
                        }
                        ElementProblem::InvalidDate => {
                            write!(f, " `{}` is not a date", shown(&element.value))?
                        }
                        ElementProblem::InvalidTime => {
                            write!(f, " `{}` is not a time", shown(&element.value))?
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

impl Reason {
    /// X12 AK502 / IK502 transaction set syntax error code: 1 not supported, 5 one or
    /// more segments in error.
    pub fn x12_code(&self) -> &'static str {
        match self {
            Self::NoDictionary => "1",
            Self::Faults(_) => "5",
        }
    }
}

impl SegmentProblem {
    /// X12 AK304 / IK304 segment syntax error code.
    pub fn x12_code(&self) -> &'static str {
        match self {
            Self::Unrecognized => "1",
            Self::NotInMessage => "2",
            Self::Missing => "3",
            Self::TooManyLoops { .. } => "4",
            Self::TooManyRepetitions { .. } => "5",
            Self::OutOfSequence => "7",
            Self::Elements(_) => "8",
        }
    }

    /// EDIFACT UCS 0085 syntax error code (none for element faults: the UCDs say).
    pub fn edifact_code(&self) -> Option<&'static str> {
        Some(match self {
            Self::Unrecognized | Self::NotInMessage | Self::OutOfSequence => "15",
            Self::Missing => "13",
            Self::TooManyRepetitions { .. } => "35",
            Self::TooManyLoops { .. } => "36",
            Self::Elements(_) => return None,
        })
    }
}

impl ElementProblem {
    /// X12 AK403 / IK403 data element syntax error code.
    pub fn x12_code(&self) -> &'static str {
        match self {
            Self::Missing => "1",
            Self::TooMany { .. } => "3",
            Self::TooShort { .. } => "4",
            Self::TooLong { .. } => "5",
            Self::InvalidCharacters { .. } => "6",
            Self::InvalidDate => "8",
            Self::InvalidTime => "9",
        }
    }

    /// EDIFACT UCD 0085 syntax error code.
    pub fn edifact_code(&self) -> &'static str {
        match self {
            Self::Missing => "13",
            Self::TooMany { .. } => "16",
            Self::TooShort { .. } => "40",
            Self::TooLong { .. } => "39",
            Self::InvalidCharacters { .. } => "37",
            Self::InvalidDate | Self::InvalidTime => "12",
        }
    }
}
