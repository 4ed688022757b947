//! What EDIFACT and X12 interchanges share once their envelopes are read: the parties,
//! the control reference, the groups and the messages (bodies without their header and
//! trailer), and the error naming the envelope segment that does not add up.

use serde_json::{Map, Value, json};

use super::segments::SegmentsError;

/// What is wrong with an envelope segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A header or trailer is missing.
    Missing,
    /// A trailer's reference differs from its header's.
    ReferenceMismatch,
    /// A trailer's count differs from what it closes.
    CountMismatch,
    /// A segment where none (or another) belongs.
    Unexpected,
}

/// The message (transaction set) an error is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Within {
    /// UNH S009 / ST01, as JSON (a string or components).
    pub kind: Value,
    /// UNH 0062 / ST02.
    pub reference: String,
}

/// A received interchange whose envelopes do not add up, naming the segment and its
/// position (1-based, counting every segment of the interchange).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{format} {segment} (segment {position}): {message}")]
pub struct EnvelopeError {
    pub format: &'static str,
    pub segment: String,
    pub position: usize,
    pub problem: Problem,
    pub message: String,
    /// The message the fault is in, if any.
    pub within: Option<Box<Within>>,
}

impl EnvelopeError {
    /// A fault of `segment` (its tag) at `position`, outside any message.
    pub(crate) fn new(
        format: &'static str,
        segment: &str,
        position: usize,
        problem: Problem,
        message: String,
    ) -> Self {
        Self {
            format,
            segment: segment.to_owned(),
            position,
            problem,
            message,
            within: None,
        }
    }

    /// The same fault, inside the message `within`.
    pub(crate) fn within(mut self, within: Within) -> Self {
        self.within = Some(Box::new(within));
        self
    }

    /// A static label for metrics.
    pub fn category(&self) -> &'static str {
        match self.problem {
            Problem::Missing => "missing",
            Problem::ReferenceMismatch => "reference_mismatch",
            Problem::CountMismatch => "count_mismatch",
            Problem::Unexpected => "unexpected",
        }
    }
}

/// A trailer (EDIFACT `UNT`/`UNE`/`UNZ`, X12 `SE`/`GE`/`IEA`): a count (element 1) and
/// the reference of its header (element 2), with the names its errors use.
pub(crate) struct Trailer {
    pub format: &'static str,
    pub tag: &'static str,
    /// Element 1, e.g. `segment count`.
    pub count: &'static str,
    /// Element 2, e.g. `message reference`.
    pub reference: &'static str,
    /// Whose reference it repeats, e.g. `its UNH's`.
    pub header: &'static str,
}

/// What a trailer closes: `holder` (e.g. `message 1`) has `count` `unit` (e.g.
/// `segments (UNH to UNT)`, or empty) and the header's `reference`.
pub(crate) struct Closed<'a> {
    pub holder: &'a str,
    pub count: usize,
    pub unit: &'a str,
    pub reference: &'a str,
}

impl Trailer {
    /// Checks the trailer `segment` at `position` against what it closes; a fault in a
    /// message names it (`within`).
    pub(crate) fn check(
        &self,
        segment: &Value,
        position: usize,
        closed: &Closed<'_>,
        within: Option<&Within>,
    ) -> Result<(), EnvelopeError> {
        let fail = |problem, message| {
            let error = EnvelopeError::new(self.format, self.tag, position, problem, message);
            match within {
                Some(within) => error.within(within.clone()),
                None => error,
            }
        };
        let unit = if closed.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", closed.unit)
        };
        if text(segment, 0) != closed.count.to_string() {
            return Err(fail(
                Problem::CountMismatch,
                format!(
                    "{} `{}`, but {} has {}{unit}",
                    self.count,
                    text(segment, 0),
                    closed.holder,
                    closed.count
                ),
            ));
        }
        if text(segment, 1) != closed.reference {
            return Err(fail(
                Problem::ReferenceMismatch,
                format!(
                    "{} `{}` differs from {} `{}`",
                    self.reference,
                    text(segment, 1),
                    self.header,
                    closed.reference
                ),
            ));
        }
        Ok(())
    }

    /// The interchange trailer must be the last segment: the fault if one follows it.
    pub(crate) fn last(&self, segments: &[Value], index: usize) -> Result<(), EnvelopeError> {
        match segments.get(index + 1) {
            Some(extra) => Err(EnvelopeError::new(
                self.format,
                tag(extra),
                index + 2,
                Problem::Unexpected,
                format!("follows {}, which ends the interchange", self.tag),
            )),
            None => Ok(()),
        }
    }
}

/// Why messages could not be written as an interchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The value is neither `{messages: [...]}` nor an array of messages.
    #[error("expected {{\"messages\": [{{\"type\", \"segments\"}}]}} or an array of messages")]
    NotMessages,
    /// An empty list of messages: an interchange holds at least one.
    #[error("no messages to send")]
    NoMessages,
    /// A message (1-based) without its type.
    #[error("message {message}: no `type` (e.g. [\"ORDERS\", \"D\", \"96A\", \"UN\"] or \"850\")")]
    NoType { message: usize },
    /// A message without its `segments` array.
    #[error("message {message}: no `segments` array")]
    NoSegments { message: usize },
    /// A message body holding an envelope segment.
    #[error(
        "message {message}: segment {segment} is {tag}: give the message body, render writes the envelope"
    )]
    Reserved {
        message: usize,
        segment: usize,
        tag: String,
    },
    /// EDIFACT `group: true` with a message type without version.
    #[error(
        "a group needs a message type with a version, e.g. [\"ORDERS\", \"D\", \"96A\", \"UN\"]"
    )]
    NoGroupVersion,
    /// X12: the control number does not fit ISA13.
    #[error("control number {control} does not fit ISA13's nine digits; reset the counter")]
    ControlOverflow { control: i64 },
    /// X12: a value longer than its fixed-width ISA field.
    #[error("{field} `{text}` is longer than its {width} characters")]
    TooWide {
        field: &'static str,
        text: String,
        width: usize,
    },
    /// X12: a transaction set whose GS01 code is not known.
    #[error(
        "message {message}: no functional identifier code known for `{kind}`; give `functionalId`"
    )]
    NoFunctionalId { message: usize, kind: String },
    /// X12: sets of different functional groups in one interchange.
    #[error(
        "message {message}: functional group {id} differs from the first message's {first}; send each functional group in its own interchange"
    )]
    MixedGroups {
        message: usize,
        id: String,
        first: String,
    },
    /// The segments cannot be written.
    #[error(transparent)]
    Segments(#[from] SegmentsError),
}

impl RenderError {
    /// A static label for metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Segments(error) => error.category(),
            Self::ControlOverflow { .. } => "control_overflow",
            _ => "messages",
        }
    }
}

/// One party of the interchange: its id and the id's qualifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party {
    pub id: String,
    pub qualifier: Option<String>,
}

/// A functional group (EDIFACT UNG, X12 GS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// UNG message group id / GS01 functional identifier code.
    pub id: String,
    /// UNG 0048 / GS06.
    pub reference: String,
}

/// One message with its body segments.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub reference: String,
    pub kind: Value,
    /// The reference of its group, if any.
    pub group: Option<String>,
    pub segments: Vec<Value>,
}

/// An interchange as read (as far as it could be read, when an error is returned too).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interchange {
    pub sender: Party,
    pub recipient: Party,
    pub date: String,
    pub time: String,
    pub control: String,
    pub test: bool,
    pub groups: Vec<Group>,
    pub messages: Vec<Message>,
}

impl Interchange {
    /// The JSON the `parse` step gives with `interchange: true`.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("sender".into(), json!(self.sender.id));
        if let Some(q) = &self.sender.qualifier {
            out.insert("senderQualifier".into(), json!(q));
        }
        out.insert("recipient".into(), json!(self.recipient.id));
        if let Some(q) = &self.recipient.qualifier {
            out.insert("recipientQualifier".into(), json!(q));
        }
        out.insert("date".into(), json!(self.date));
        out.insert("time".into(), json!(self.time));
        out.insert("controlReference".into(), json!(self.control));
        out.insert("test".into(), json!(self.test));
        if !self.groups.is_empty() {
            let groups: Vec<Value> = self
                .groups
                .iter()
                .map(|g| json!({"id": g.id, "reference": g.reference}))
                .collect();
            out.insert("groups".into(), Value::Array(groups));
        }
        let messages: Vec<Value> = self
            .messages
            .iter()
            .map(|m| {
                let mut message = Map::new();
                message.insert("reference".into(), json!(m.reference));
                message.insert("type".into(), m.kind.clone());
                if let Some(group) = &m.group {
                    message.insert("group".into(), json!(group));
                }
                message.insert("segments".into(), Value::Array(m.segments.clone()));
                Value::Object(message)
            })
            .collect();
        out.insert("messages".into(), Value::Array(messages));
        Value::Object(out)
    }
}

/// A segment of parsed JSON: its tag and elements.
pub(crate) fn tag(segment: &Value) -> &str {
    segment.get("tag").and_then(Value::as_str).unwrap_or("")
}

/// Element `index` (0-based) of a segment: a string, or components.
pub(crate) fn element(segment: &Value, index: usize) -> Option<&Value> {
    segment.get("elements")?.as_array()?.get(index)
}

/// Element `index` as text: a string, or the first component of a composite.
pub(crate) fn text(segment: &Value, index: usize) -> &str {
    match element(segment, index) {
        Some(Value::String(text)) => text,
        Some(Value::Array(components)) => components.first().and_then(Value::as_str).unwrap_or(""),
        _ => "",
    }
}

/// Component `component` of element `index` (a plain string is its own first component).
pub(crate) fn component(segment: &Value, index: usize, component: usize) -> &str {
    match element(segment, index) {
        Some(Value::String(text)) if component == 0 => text,
        Some(Value::Array(components)) => components
            .get(component)
            .and_then(Value::as_str)
            .unwrap_or(""),
        _ => "",
    }
}

/// A segment as JSON.
pub(crate) fn segment(tag: &str, elements: Vec<Value>) -> Value {
    json!({"tag": tag, "elements": elements})
}

/// The messages to wrap, read from the value to render: `{messages: [...]}` or an array.
pub(crate) fn messages_of(value: &Value) -> Result<&[Value], RenderError> {
    match value {
        Value::Object(object) => object.get("messages").and_then(Value::as_array),
        Value::Array(list) => Some(list),
        _ => None,
    }
    .map(Vec::as_slice)
    .ok_or(RenderError::NotMessages)
}

/// One message to wrap: its type (UNH S009 / ST01) and body segments. `reserved` are
/// the envelope tags the body must not hold (render writes them).
pub(crate) fn message_parts<'a>(
    index: usize,
    message: &'a Value,
    reserved: &[&str],
) -> Result<(&'a Value, &'a [Value]), RenderError> {
    let number = index + 1;
    let kind = message
        .get("type")
        .filter(|t| match t {
            Value::String(s) => !s.is_empty(),
            Value::Array(c) => !c.is_empty(),
            _ => false,
        })
        .ok_or(RenderError::NoType { message: number })?;
    let segments = message
        .get("segments")
        .and_then(Value::as_array)
        .ok_or(RenderError::NoSegments { message: number })?;
    for (n, segment) in segments.iter().enumerate() {
        if reserved.contains(&tag(segment)) {
            return Err(RenderError::Reserved {
                message: number,
                segment: n + 1,
                tag: tag(segment).to_owned(),
            });
        }
    }
    Ok((kind, segments))
}

/// The first component of a message type: `ORDERS` of `ORDERS:D:96A:UN`, `850`.
pub(crate) fn kind_name(kind: &Value) -> &str {
    match kind {
        Value::String(text) => text,
        Value::Array(c) => c.first().and_then(Value::as_str).unwrap_or(""),
        _ => "",
    }
}
