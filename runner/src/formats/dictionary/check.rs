//! Checking a received message against its segment table and segment directory.

use serde_json::Value;

use super::faults::{
    ElementFault, ElementProblem, Fault, Reason, Rejection, Rejections, SegmentProblem,
};
use super::{CharType, Dictionary, Element, ElementDef, Entry, Standard, bundled};
use crate::formats::envelope::{Interchange, Message, kind_name, tag};

/// Checks every message of `interchange` against the bundled dictionary of
/// `standard`: the messages that break it (none when all conform).
pub fn check(
    standard: Standard,
    interchange: &Interchange,
) -> Result<Rejections, super::DataError> {
    let dictionary = bundled(standard)?;
    let rejections = interchange
        .messages
        .iter()
        .enumerate()
        .filter_map(|(index, message)| {
            let reason = match table(dictionary, message) {
                None => Reason::NoDictionary,
                Some(entries) => {
                    let faults = faults(dictionary, entries, &message.segments);
                    if faults.is_empty() {
                        return None;
                    }
                    Reason::Faults(faults)
                }
            };
            Some(Rejection {
                index,
                standard: standard.name(),
                reference: message.reference.clone(),
                kind: message.kind.clone(),
                reason,
            })
        })
        .collect();
    Ok(Rejections(rejections))
}

/// The segment table of a message: EDIFACT by type and version (`ORDERS:D:96A`), X12 by
/// transaction set id.
fn table<'d>(dictionary: &'d Dictionary, message: &Message) -> Option<&'d Vec<Entry>> {
    let name = kind_name(&message.kind);
    if dictionary.standard == Standard::Edifact {
        let Value::Array(parts) = &message.kind else {
            return None;
        };
        let version: String = parts
            .iter()
            .skip(1)
            .take(2)
            .filter_map(Value::as_str)
            .collect();
        if version != dictionary.version {
            return None;
        }
    }
    dictionary.messages.get(name)
}

/// One level of the segment table being walked: a group's entries (or the message's).
struct Frame<'d> {
    entries: &'d [Entry],
    group: Option<&'d str>,
    /// The entry last matched.
    at: usize,
    counts: Vec<usize>,
}

impl<'d> Frame<'d> {
    fn new(entries: &'d [Entry], group: Option<&'d str>) -> Self {
        let mut counts = vec![0; entries.len()];
        if group.is_some() {
            // A group is entered by its trigger segment.
            counts[0] = 1;
        }
        Self {
            entries,
            group,
            at: 0,
            counts,
        }
    }

    /// The entry at or after the current one that `tag` starts. In a group the trigger
    /// only starts a new repetition, which the level above sees.
    fn find(&self, tag: &str) -> Option<usize> {
        let first = if self.group.is_some() {
            self.at.max(1)
        } else {
            self.at
        };
        (first..self.entries.len()).find(|&j| self.entries[j].trigger() == tag)
    }

    /// Mandatory entries in `from..to` not seen, as faults at `position`.
    fn missing(&self, from: usize, to: usize, position: usize, faults: &mut Vec<Fault>) {
        for j in from..to {
            if self.counts[j] == 0 && self.entries[j].mandatory() {
                let (tag, group) = match &self.entries[j] {
                    Entry::Segment { tag, .. } => (tag.as_str(), self.group),
                    entry @ Entry::Group { id, .. } => (entry.trigger(), Some(id.as_str())),
                };
                faults.push(Fault {
                    position,
                    tag: tag.to_owned(),
                    group: group.map(str::to_owned),
                    problem: SegmentProblem::Missing,
                });
            }
        }
    }
}

/// The faults of a message body (without its header and trailer) against `table`.
pub(crate) fn faults(dictionary: &Dictionary, table: &[Entry], body: &[Value]) -> Vec<Fault> {
    let mut faults = Vec::new();
    let mut stack = vec![Frame::new(table, None)];
    for (index, segment) in body.iter().enumerate() {
        let position = index + 2;
        let name = tag(segment);
        loop {
            let depth = stack.len();
            let Some(frame) = stack.last_mut() else { break };
            let here = frame.group;
            if let Some(j) = frame.find(name) {
                frame.missing(frame.at, j, position, &mut faults);
                frame.at = j;
                frame.counts[j] += 1;
                let count = frame.counts[j];
                let mut group = frame.group;
                let entries: &[Entry] = frame.entries;
                match &entries[j] {
                    Entry::Segment { max, .. } => {
                        if count > *max {
                            faults.push(fault(
                                position,
                                name,
                                group,
                                SegmentProblem::TooManyRepetitions { max: *max },
                            ));
                        }
                    }
                    Entry::Group {
                        id, max, entries, ..
                    } => {
                        if count > *max {
                            faults.push(fault(
                                position,
                                name,
                                Some(id),
                                SegmentProblem::TooManyLoops { max: *max },
                            ));
                        }
                        group = Some(id);
                        stack.push(Frame::new(entries, Some(id)));
                    }
                }
                let elements = dictionary.segments.get(name).map_or(&[][..], Vec::as_slice);
                let wrong = elements_of(elements, segment);
                if !wrong.is_empty() {
                    faults.push(fault(
                        position,
                        name,
                        group,
                        SegmentProblem::Elements(wrong),
                    ));
                }
                break;
            }
            let above = &stack[..depth - 1];
            if above.iter().any(|f| f.find(name).is_some()) {
                if let Some(done) = stack.pop() {
                    done.missing(done.at + 1, done.entries.len(), position, &mut faults);
                }
                continue;
            }
            let problem = if !dictionary.segments.contains_key(name) {
                SegmentProblem::Unrecognized
            } else if table.iter().any(|e| e.holds(name)) {
                SegmentProblem::OutOfSequence
            } else {
                SegmentProblem::NotInMessage
            };
            faults.push(fault(position, name, here, problem));
            break;
        }
    }
    let end = body.len() + 2;
    while let Some(frame) = stack.pop() {
        let from = if frame.group.is_some() || frame.counts.iter().any(|&c| c > 0) {
            frame.at + 1
        } else {
            0
        };
        frame.missing(from, frame.entries.len(), end, &mut faults);
    }
    faults
}

fn fault(position: usize, tag: &str, group: Option<&str>, problem: SegmentProblem) -> Fault {
    Fault {
        position,
        tag: tag.to_owned(),
        group: group.map(str::to_owned),
        problem,
    }
}

/// The text of a value: a string, or the components joined (for messages only).
fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::Array(components) => components
            .iter()
            .map(|c| c.as_str().unwrap_or(""))
            .collect(),
        Value::String(text) => vec![text.as_str()],
        _ => vec![""],
    }
}

/// The element faults of a segment.
fn elements_of(definitions: &[Element], segment: &Value) -> Vec<ElementFault> {
    let values = segment
        .get("elements")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut faults = Vec::new();
    for (index, value) in values.iter().enumerate() {
        let position = index + 1;
        let parts = strings(value);
        let Some(definition) = definitions.get(index) else {
            if parts.iter().any(|p| !p.is_empty()) {
                faults.push(ElementFault {
                    position,
                    component: None,
                    id: String::new(),
                    problem: ElementProblem::TooMany {
                        defined: definitions.len(),
                    },
                    value: parts.join(":"),
                });
            }
            continue;
        };
        match definition {
            Element::Simple(simple) => {
                if let Some(extra) = parts.iter().skip(1).position(|p| !p.is_empty()) {
                    faults.push(ElementFault {
                        position,
                        component: Some(extra + 2),
                        id: simple.id.clone(),
                        problem: ElementProblem::TooMany { defined: 1 },
                        value: parts[extra + 1].to_owned(),
                    });
                }
                faults.extend(value_fault(simple, parts[0], position, None));
            }
            Element::Composite {
                id,
                mandatory,
                components,
            } => {
                if parts.iter().all(|p| p.is_empty()) {
                    if *mandatory {
                        faults.push(missing(id, position, None));
                    }
                    continue;
                }
                for (k, component) in components.iter().enumerate() {
                    let text = parts.get(k).copied().unwrap_or("");
                    faults.extend(value_fault(component, text, position, Some(k + 1)));
                }
                if let Some(extra) = parts
                    .iter()
                    .skip(components.len())
                    .position(|p| !p.is_empty())
                {
                    let k = components.len() + extra;
                    faults.push(ElementFault {
                        position,
                        component: Some(k + 1),
                        id: id.clone(),
                        problem: ElementProblem::TooMany {
                            defined: components.len(),
                        },
                        value: parts[k].to_owned(),
                    });
                }
            }
        }
    }
    for (index, definition) in definitions.iter().enumerate().skip(values.len()) {
        let (id, mandatory) = match definition {
            Element::Simple(simple) => (&simple.id, simple.mandatory),
            Element::Composite { id, mandatory, .. } => (id, *mandatory),
        };
        if mandatory {
            faults.push(missing(id, index + 1, None));
        }
    }
    faults
}

fn missing(id: &str, position: usize, component: Option<usize>) -> ElementFault {
    ElementFault {
        position,
        component,
        id: id.to_owned(),
        problem: ElementProblem::Missing,
        value: String::new(),
    }
}

/// The fault of one value against its definition, if any.
fn value_fault(
    definition: &ElementDef,
    text: &str,
    position: usize,
    component: Option<usize>,
) -> Option<ElementFault> {
    if text.is_empty() {
        return definition
            .mandatory
            .then(|| missing(&definition.id, position, component));
    }
    let problem = problem(definition, text)?;
    Some(ElementFault {
        position,
        component,
        id: definition.id.clone(),
        problem,
        value: text.chars().take(99).collect(),
    })
}

fn problem(definition: &ElementDef, text: &str) -> Option<ElementProblem> {
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let length = match definition.kind {
        CharType::Alpha => {
            if text.chars().any(|c| c.is_ascii_digit()) {
                return Some(ElementProblem::InvalidCharacters {
                    kind: definition.kind,
                });
            }
            text.chars().count()
        }
        CharType::Integer => {
            if !digits(unsigned) {
                return Some(ElementProblem::InvalidCharacters {
                    kind: definition.kind,
                });
            }
            unsigned.len()
        }
        CharType::Decimal => {
            let mut marks = 0;
            let number: String = unsigned
                .chars()
                .filter(|c| {
                    let mark = matches!(c, '.' | ',');
                    marks += usize::from(mark);
                    !mark
                })
                .collect();
            if marks > 1 || !digits(&number) {
                return Some(ElementProblem::InvalidCharacters {
                    kind: definition.kind,
                });
            }
            number.len()
        }
        CharType::Text => text.chars().count(),
        CharType::Date => {
            let format = if text.len() == 6 { "%y%m%d" } else { "%Y%m%d" };
            if !digits(text) || chrono::NaiveDate::parse_from_str(text, format).is_err() {
                return Some(ElementProblem::InvalidDate);
            }
            text.len()
        }
        CharType::Time => {
            let valid = digits(text)
                && text.len() >= 4
                && text[..2].parse::<u32>().is_ok_and(|h| h < 24)
                && text[2..4].parse::<u32>().is_ok_and(|m| m < 60)
                && text
                    .get(4..6)
                    .is_none_or(|s| s.parse::<u32>().is_ok_and(|s| s < 60));
            if !valid {
                return Some(ElementProblem::InvalidTime);
            }
            text.len()
        }
    };
    if length > definition.max {
        Some(ElementProblem::TooLong {
            max: definition.max,
        })
    } else if length < definition.min {
        Some(ElementProblem::TooShort {
            min: definition.min,
        })
    } else {
        None
    }
}
