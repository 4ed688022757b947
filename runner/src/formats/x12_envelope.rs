//! X12 interchanges: reading and checking `ISA`…`IEA` with `GS`/`GE` groups and
//! `ST`/`SE` transaction sets, and writing them (the ISA at its fixed width) around
//! transaction set bodies.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::envelope::{
    EnvelopeError, Group, Interchange, Message, Party, Problem, Within, kind_name, message_parts,
    messages_of, segment, tag, text,
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
    EnvelopeError {
        format: FORMAT,
        segment: segment.to_owned(),
        position,
        problem,
        message,
        within: None,
    }
}

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
                    let mut error = fail(
                        name,
                        position,
                        Problem::Missing,
                        format!(
                            "transaction set {} has no SE before this {name}",
                            open.reference
                        ),
                    );
                    error.within = Some(Box::new(within));
                    return Err(error);
                }
                open.segments.push(segment.clone());
                continue;
            }
            let count = open.segments.len() + 2;
            let problem = if text(segment, 0) != count.to_string() {
                Some((
                    Problem::CountMismatch,
                    format!(
                        "segment count `{}`, but transaction set {} has {count} segments (ST to SE)",
                        text(segment, 0),
                        open.reference
                    ),
                ))
            } else if text(segment, 1) != open.reference {
                Some((
                    Problem::ReferenceMismatch,
                    format!(
                        "control number `{}` differs from its ST's `{}`",
                        text(segment, 1),
                        open.reference
                    ),
                ))
            } else {
                None
            };
            if let Some((problem, message)) = problem {
                let mut error = fail("SE", position, problem, message);
                error.within = Some(Box::new(within));
                return Err(error);
            }
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
                let count = interchange.messages.len() - first;
                if text(segment, 0) != count.to_string() {
                    return Err(fail(
                        "GE",
                        position,
                        Problem::CountMismatch,
                        format!(
                            "transaction set count `{}`, but group {reference} has {count}",
                            text(segment, 0)
                        ),
                    ));
                }
                if text(segment, 1) != reference {
                    return Err(fail(
                        "GE",
                        position,
                        Problem::ReferenceMismatch,
                        format!(
                            "group control number `{}` differs from its GS's `{reference}`",
                            text(segment, 1)
                        ),
                    ));
                }
                groups += 1;
            }
            "IEA" if group.is_none() => {
                if text(segment, 0) != groups.to_string() {
                    return Err(fail(
                        "IEA",
                        position,
                        Problem::CountMismatch,
                        format!(
                            "group count `{}`, but the interchange has {groups}",
                            text(segment, 0)
                        ),
                    ));
                }
                if text(segment, 1) != interchange.control {
                    return Err(fail(
                        "IEA",
                        position,
                        Problem::ReferenceMismatch,
                        format!(
                            "interchange control number `{}` differs from ISA13 `{}`",
                            text(segment, 1),
                            interchange.control
                        ),
                    ));
                }
                if let Some(extra) = segments.get(index + 1) {
                    return Err(fail(
                        tag(extra),
                        position + 1,
                        Problem::Unexpected,
                        "follows IEA, which ends the interchange".into(),
                    ));
                }
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

fn pad(text: &str, width: usize, field: &str) -> Result<String, String> {
    if text.chars().count() > width {
        return Err(format!(
            "{field} `{text}` is longer than its {width} characters"
        ));
    }
    Ok(format!("{text:<width$}"))
}

/// Writes the transaction sets of `value` (`{messages: [{type, segments}]}`, `type` the
/// set id such as `850`; an optional `functionalId` for sets not known here) as a
/// complete interchange: all in one GS group (one functional id per interchange).
pub fn write(value: &Value, header: &Header<'_>) -> Result<String, String> {
    let messages = messages_of(value)?;
    if messages.is_empty() {
        return Err("no transaction sets to send".into());
    }
    if !(1..=MAX_CONTROL).contains(&header.control) {
        return Err(format!(
            "control number {} does not fit ISA13's nine digits; reset the counter",
            header.control
        ));
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
            None => functional_id(kind_name(kind)).ok_or_else(|| {
                format!(
                    "message {}: no functional identifier code known for `{}`; give `functionalId`",
                    index + 1,
                    kind_name(kind)
                )
            })?,
        };
        if let Some(first) = group_id.filter(|first| *first != id) {
            return Err(format!(
                "message {}: functional group {id} differs from the first message's {first}; \
                 send each functional group in its own interchange",
                index + 1
            ));
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
    super::x12::render(&Value::Array(out))
}
