//! X12 interchanges: reading and checking `ISA`…`IEA` with `GS`/`GE` groups and
//! `ST`/`SE` transaction sets, and writing them (the ISA at its fixed width) around
//! transaction set bodies.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::envelope::{
    Closed, EnvelopeError, Group, Interchange, Message, Party, Problem, RenderError, Trailer,
    Within, kind_name, message_parts, messages_of, segment, tag, text,
};

const FORMAT: &str = "X12";

/// The envelope of an interchange to write.
pub struct Header<'a> {
    pub sender: &'a Party,
    pub recipient: &'a Party,
    pub control: i64,
    pub now: DateTime<Utc>,
    pub test: bool,
}

/// The largest ISA13 / GS06 control number (nine digits).
const MAX_CONTROL: i64 = 999_999_999;

fn fail(segment: &str, position: usize, problem: Problem, message: String) -> EnvelopeError {
    EnvelopeError::new(FORMAT, segment, position, problem, message)
}

const SE: Trailer = Trailer {
    format: FORMAT,
    tag: "SE",
    count: "segment count",
    reference: "control number",
    header: "its ST's",
};

const GE: Trailer = Trailer {
    format: FORMAT,
    tag: "GE",
    count: "transaction set count",
    reference: "group control number",
    header: "its GS's",
};

const IEA: Trailer = Trailer {
    format: FORMAT,
    tag: "IEA",
    count: "group count",
    reference: "interchange control number",
    header: "ISA13",
};

/// Reads the envelopes of parsed segments (as [`super::x12::parse`] gives them): the
/// interchange as far as it could be read, and the first fault if any.
pub fn read(segments: &[Value]) -> (Interchange, Option<EnvelopeError>) {
    let mut interchange = Interchange::default();
    let error = walk(segments, &mut interchange).err();
    (interchange, error)
}

fn walk(segments: &[Value], interchange: &mut Interchange) -> Result<(), EnvelopeError> {
    let Some(isa) = segments.first().filter(|s| tag(s) == "ISA") else {
        return Err(fail("", 1, Problem::Missing, "no ISA".into()));
    };
    let trimmed = |index| text(isa, index).trim().to_owned();
    interchange.sender = Party {
        id: trimmed(5),
        qualifier: Some(trimmed(4)),
    };
    interchange.recipient = Party {
        id: trimmed(7),
        qualifier: Some(trimmed(6)),
    };
    interchange.date = trimmed(8);
    interchange.time = trimmed(9);
    interchange.control = trimmed(12);
    interchange.test = trimmed(14) == "T";
    let mut group: Option<(String, usize)> = None;
    let mut message: Option<Message> = None;
    let mut groups = 0usize;
    for (index, segment) in segments.iter().enumerate().skip(1) {
        let position = index + 1;
        let name = tag(segment);
        if let Some(open) = message.as_mut() {
            let within = Within {
                kind: json!(kind_name(&open.kind)),
                reference: open.reference.clone(),
            };
            if name != "SE" {
                if matches!(name, "ISA" | "IEA" | "GS" | "GE" | "ST") {
                    return Err(fail(
                        name,
                        position,
                        Problem::Missing,
                        format!(
                            "transaction set {} has no SE before this {name}",
                            open.reference
                        ),
                    )
                    .within(within));
                }
                open.segments.push(segment.clone());
                continue;
            }
            let body = Closed {
                holder: &format!("transaction set {}", open.reference),
                count: open.segments.len() + 2,
                unit: "segments (ST to SE)",
                reference: &open.reference,
            };
            SE.check(segment, position, &body, Some(&within))?;
            interchange.messages.extend(message.take());
            continue;
        }
        match name {
            "GS" if group.is_none() => {
                let reference = text(segment, 5).to_owned();
                interchange.groups.push(Group {
                    id: text(segment, 0).to_owned(),
                    reference: reference.clone(),
                });
                group = Some((reference, interchange.messages.len()));
            }
            "ST" if group.is_some() => {
                message = Some(Message {
                    reference: text(segment, 1).to_owned(),
                    kind: json!(text(segment, 0)),
                    group: group.as_ref().map(|(reference, _)| reference.clone()),
                    segments: Vec::new(),
                });
            }
            "GE" if group.is_some() => {
                let (reference, first) = group.take().unwrap_or_else(|| unreachable!());
                let holder = format!("group {reference}");
                let closed = Closed {
                    holder: &holder,
                    count: interchange.messages.len() - first,
                    unit: "",
                    reference: &reference,
                };
                GE.check(segment, position, &closed, None)?;
                groups += 1;
            }
            "IEA" if group.is_none() => {
                let all = Closed {
                    holder: "the interchange",
                    count: groups,
                    unit: "",
                    reference: &interchange.control,
                };
                IEA.check(segment, position, &all, None)?;
                IEA.last(segments, index)?;
                return Ok(());
            }
            other => {
                let expected = if group.is_some() {
                    "ST or GE"
                } else {
                    "GS or IEA"
                };
                return Err(fail(
                    other,
                    position,
                    Problem::Unexpected,
                    format!("expected {expected} here"),
                ));
            }
        }
    }
    let (tag, message) = match (&message, &group) {
        (Some(open), _) => (
            "SE",
            format!("transaction set {} has no SE", open.reference),
        ),
        (None, Some((reference, _))) => ("GE", format!("group {reference} has no GE")),
        (None, None) => ("IEA", "the interchange has no IEA".into()),
    };
    Err(fail(tag, segments.len(), Problem::Missing, message))
}

/// GS01 for a transaction set: the functional identifier code of the common sets.
fn functional_id(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "850" => "PO",
        "855" => "PR",
        "856" => "SH",
        "810" => "IN",
        "846" => "IB",
        "860" => "PC",
        "820" => "RA",
        "940" => "OW",
        "945" => "SW",
        "997" | "999" => "FA",
        _ => return None,
    })
}

fn pad(text: &str, width: usize, field: &'static str) -> Result<String, RenderError> {
    if text.chars().count() > width {
        return Err(RenderError::TooWide {
            field,
            text: text.to_owned(),
            width,
        });
    }
    Ok(format!("{text:<width$}"))
}

/// Writes the transaction sets of `value` (`{messages: [{type, segments}]}`, `type` the
/// set id such as `850`; an optional `functionalId` for sets not known here) as a
/// complete interchange: all in one GS group (one functional id per interchange).
pub fn write(value: &Value, header: &Header<'_>) -> Result<String, RenderError> {
    let messages = messages_of(value)?;
    if messages.is_empty() {
        return Err(RenderError::NoMessages);
    }
    if !(1..=MAX_CONTROL).contains(&header.control) {
        return Err(RenderError::ControlOverflow {
            control: header.control,
        });
    }
    let control = format!("{:09}", header.control);
    let qualifier = |party: &Party| party.qualifier.clone().unwrap_or_else(|| "ZZ".into());
    let isa = vec![
        json!("00"),
        json!(" ".repeat(10)),
        json!("00"),
        json!(" ".repeat(10)),
        json!(pad(&qualifier(header.sender), 2, "ISA05")?),
        json!(pad(&header.sender.id, 15, "ISA06 (sender)")?),
        json!(pad(&qualifier(header.recipient), 2, "ISA07")?),
        json!(pad(&header.recipient.id, 15, "ISA08 (recipient)")?),
        json!(header.now.format("%y%m%d").to_string()),
        json!(header.now.format("%H%M").to_string()),
        json!("U"),
        json!("00401"),
        json!(control),
        json!("0"),
        json!(if header.test { "T" } else { "P" }),
        json!(">"),
    ];
    let mut out = vec![segment("ISA", isa)];
    let reserved = ["ISA", "IEA", "GS", "GE", "ST", "SE"];
    let mut group_id: Option<&str> = None;
    let mut sets = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let (kind, segments) = message_parts(index, message, &reserved)?;
        let id = match message.get("functionalId").and_then(Value::as_str) {
            Some(id) => id,
            None => functional_id(kind_name(kind)).ok_or_else(|| RenderError::NoFunctionalId {
                message: index + 1,
                kind: kind_name(kind).to_owned(),
            })?,
        };
        if let Some(first) = group_id.filter(|first| *first != id) {
            return Err(RenderError::MixedGroups {
                message: index + 1,
                id: id.to_owned(),
                first: first.to_owned(),
            });
        }
        group_id = Some(id);
        sets.push((kind, segments));
    }
    // One group per interchange, so the interchange's number is unique for GS06 too.
    let group_control = header.control.to_string();
    out.push(segment(
        "GS",
        vec![
            json!(group_id.unwrap_or_default()),
            json!(header.sender.id),
            json!(header.recipient.id),
            json!(header.now.format("%Y%m%d").to_string()),
            json!(header.now.format("%H%M").to_string()),
            json!(group_control),
            json!("X"),
            json!("004010"),
        ],
    ));
    for (index, (kind, segments)) in sets.iter().enumerate() {
        let reference = format!("{:04}", index + 1);
        out.push(segment(
            "ST",
            vec![json!(kind_name(kind)), json!(reference)],
        ));
        out.extend(segments.iter().cloned());
        out.push(segment(
            "SE",
            vec![json!(segments.len() + 2), json!(reference)],
        ));
    }
    out.push(segment("GE", vec![json!(sets.len()), json!(group_control)]));
    out.push(segment("IEA", vec![json!(1), json!(control)]));
    Ok(super::x12::render(&Value::Array(out))?)
}
