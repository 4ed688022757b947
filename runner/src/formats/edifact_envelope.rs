//! EDIFACT interchanges: reading and checking `UNB`…`UNZ` (with `UNG`/`UNE` groups and
//! `UNH`/`UNT` messages), and writing them around message bodies.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::envelope::{
    Closed, EnvelopeError, Group, Interchange, Message, Party, Problem, RenderError, Trailer,
    Within, component, element, kind_name, message_parts, messages_of, segment, tag, text,
};

const FORMAT: &str = "EDIFACT";

/// The envelope of an interchange to write.
pub struct Header<'a> {
    pub sender: &'a Party,
    pub recipient: &'a Party,
    pub control: i64,
    pub now: DateTime<Utc>,
    pub una: bool,
    pub group: bool,
    pub test: bool,
}

fn fail(segment: &str, position: usize, problem: Problem, message: String) -> EnvelopeError {
    EnvelopeError::new(FORMAT, segment, position, problem, message)
}

const UNT: Trailer = Trailer {
    format: FORMAT,
    tag: "UNT",
    count: "segment count",
    reference: "message reference",
    header: "its UNH's",
};

const UNE: Trailer = Trailer {
    format: FORMAT,
    tag: "UNE",
    count: "message count",
    reference: "group reference",
    header: "its UNG's",
};

const UNZ: Trailer = Trailer {
    format: FORMAT,
    tag: "UNZ",
    count: "interchange control count",
    reference: "interchange control reference",
    header: "UNB's",
};

fn party(segment: &Value, index: usize) -> Party {
    let qualifier = component(segment, index, 1);
    Party {
        id: component(segment, index, 0).to_owned(),
        qualifier: (!qualifier.is_empty()).then(|| qualifier.to_owned()),
    }
}

/// Reads the envelopes of parsed segments (as [`super::edifact::parse`] gives them):
/// the interchange as far as it could be read, and the first fault if any.
pub fn read(segments: &[Value]) -> (Interchange, Option<EnvelopeError>) {
    let mut interchange = Interchange::default();
    let error = walk(segments, &mut interchange).err();
    (interchange, error)
}

fn walk(segments: &[Value], interchange: &mut Interchange) -> Result<(), EnvelopeError> {
    let Some(unb) = segments.first().filter(|s| tag(s) == "UNB") else {
        let found = segments.first().map_or("", |s| tag(s));
        return Err(fail(
            found,
            1,
            Problem::Missing,
            "an interchange starts with UNB".into(),
        ));
    };
    interchange.sender = party(unb, 1);
    interchange.recipient = party(unb, 2);
    interchange.date = component(unb, 3, 0).to_owned();
    interchange.time = component(unb, 3, 1).to_owned();
    interchange.control = text(unb, 4).to_owned();
    interchange.test = text(unb, 10) == "1";
    let mut group: Option<(String, usize)> = None;
    let mut message: Option<(Message, usize)> = None;
    let mut closed = 0usize;
    for (index, segment) in segments.iter().enumerate().skip(1) {
        let position = index + 1;
        let name = tag(segment);
        if let Some((open, start)) = message.as_mut() {
            if name != "UNT" {
                if matches!(name, "UNB" | "UNZ" | "UNG" | "UNE" | "UNH") {
                    return Err(fail(
                        name,
                        position,
                        Problem::Missing,
                        format!(
                            "message {} (UNH at segment {start}) has no UNT before this {name}",
                            open.reference
                        ),
                    )
                    .within(Within {
                        kind: open.kind.clone(),
                        reference: open.reference.clone(),
                    }));
                }
                open.segments.push(segment.clone());
                continue;
            }
            let (open, _) = message.take().unwrap_or_else(|| unreachable!());
            let within = Within {
                kind: open.kind.clone(),
                reference: open.reference.clone(),
            };
            let body = Closed {
                holder: &format!("message {}", open.reference),
                count: open.segments.len() + 2,
                unit: "segments (UNH to UNT)",
                reference: &open.reference,
            };
            UNT.check(segment, position, &body, Some(&within))?;
            interchange.messages.push(open);
            continue;
        }
        match name {
            "UNH" => {
                message = Some((
                    Message {
                        reference: text(segment, 0).to_owned(),
                        kind: element(segment, 1).cloned().unwrap_or(Value::Null),
                        group: group.as_ref().map(|(reference, _)| reference.clone()),
                        segments: Vec::new(),
                    },
                    position,
                ));
            }
            "UNG" if group.is_none() => {
                let reference = text(segment, 4).to_owned();
                interchange.groups.push(Group {
                    id: text(segment, 0).to_owned(),
                    reference: reference.clone(),
                });
                group = Some((reference, interchange.messages.len()));
            }
            "UNE" if group.is_some() => {
                let (reference, first) = group.take().unwrap_or_else(|| unreachable!());
                let count = interchange.messages.len() - first;
                let holder = format!("group {reference}");
                let group = Closed {
                    holder: &holder,
                    count,
                    unit: "",
                    reference: &reference,
                };
                UNE.check(segment, position, &group, None)?;
                closed += 1;
            }
            "UNZ" => {
                if let Some((reference, _)) = &group {
                    return Err(fail(
                        "UNZ",
                        position,
                        Problem::Missing,
                        format!("group {reference} has no UNE"),
                    ));
                }
                let count = if interchange.groups.is_empty() {
                    interchange.messages.len()
                } else {
                    closed
                };
                let unit = if interchange.groups.is_empty() {
                    "messages"
                } else {
                    "groups"
                };
                let all = Closed {
                    holder: "the interchange",
                    count,
                    unit,
                    reference: &interchange.control,
                };
                UNZ.check(segment, position, &all, None)?;
                UNZ.last(segments, index)?;
                return Ok(());
            }
            other => {
                return Err(fail(
                    other,
                    position,
                    Problem::Unexpected,
                    "outside a message (expected UNH, UNG, UNE or UNZ)".into(),
                ));
            }
        }
    }
    let (tag, message) = match &message {
        Some((open, _)) => ("UNT", format!("message {} has no UNT", open.reference)),
        None => ("UNZ", "the interchange has no UNZ".into()),
    };
    Err(fail(tag, segments.len(), Problem::Missing, message))
}

fn id(party: &Party) -> Value {
    match &party.qualifier {
        Some(qualifier) => json!([party.id, qualifier]),
        None => json!(party.id),
    }
}

/// Writes the messages of `value` (`{messages: [{type, segments}]}`) as a complete
/// interchange.
pub fn write(value: &Value, header: &Header<'_>) -> Result<String, RenderError> {
    let messages = messages_of(value)?;
    if messages.is_empty() {
        return Err(RenderError::NoMessages);
    }
    let date = header.now.format("%y%m%d").to_string();
    let time = header.now.format("%H%M").to_string();
    let control = header.control.to_string();
    let mut unb = vec![
        json!(["UNOC", "3"]),
        id(header.sender),
        id(header.recipient),
        json!([date, time]),
        json!(control),
    ];
    if header.test {
        unb.extend([
            json!(""),
            json!(""),
            json!(""),
            json!(""),
            json!(""),
            json!("1"),
        ]);
    }
    let mut out = vec![segment("UNB", unb)];
    let reserved = ["UNA", "UNB", "UNZ", "UNG", "UNE", "UNH", "UNT"];
    let mut group_kind = None;
    let mut body = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let (kind, segments) = message_parts(index, message, &reserved)?;
        let reference = (index + 1).to_string();
        group_kind.get_or_insert(kind);
        body.push(segment("UNH", vec![json!(reference), kind.clone()]));
        body.extend(segments.iter().cloned());
        body.push(segment(
            "UNT",
            vec![json!(segments.len() + 2), json!(reference)],
        ));
    }
    if header.group {
        let kind = group_kind.unwrap_or(&Value::Null);
        let version = match kind {
            Value::Array(c) if c.len() >= 3 => json!([c[1], c[2]]),
            _ => return Err(RenderError::NoGroupVersion),
        };
        let agency = match kind {
            Value::Array(c) => c.get(3).cloned().unwrap_or(json!("UN")),
            _ => json!("UN"),
        };
        out.push(segment(
            "UNG",
            vec![
                json!(kind_name(kind)),
                id(header.sender),
                id(header.recipient),
                json!([date, time]),
                json!(control),
                agency,
                version,
            ],
        ));
        out.append(&mut body);
        out.push(segment("UNE", vec![json!(messages.len()), json!(control)]));
        out.push(segment("UNZ", vec![json!(1), json!(control)]));
    } else {
        out.append(&mut body);
        out.push(segment("UNZ", vec![json!(messages.len()), json!(control)]));
    }
    let text = super::edifact::render(&Value::Array(out))?;
    Ok(if header.una {
        format!("UNA:+.? '{text}")
    } else {
        text
    })
}
