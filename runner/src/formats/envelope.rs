//! What EDIFACT and X12 interchanges share once their envelopes are read: the parties,
//! the control reference, the groups and the messages (bodies without their header and
//! trailer), and the error naming the envelope segment that does not add up.

use serde_json::{Map, Value, json};

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
pub(crate) fn messages_of(value: &Value) -> Result<&[Value], String> {
    match value {
        Value::Object(object) => object.get("messages").and_then(Value::as_array),
        Value::Array(list) => Some(list),
        _ => None,
    }
    .map(Vec::as_slice)
    .ok_or_else(|| {
        "expected {\"messages\": [{\"type\", \"segments\"}]} or an array of messages".into()
    })
}

/// One message to wrap: its type (UNH S009 / ST01) and body segments. `reserved` are
/// the envelope tags the body must not hold (render writes them).
pub(crate) fn message_parts<'a>(
    index: usize,
    message: &'a Value,
    reserved: &[&str],
) -> Result<(&'a Value, &'a [Value]), String> {
    let at = |what: String| format!("message {}: {what}", index + 1);
    let kind = message
        .get("type")
        .filter(|t| match t {
            Value::String(s) => !s.is_empty(),
            Value::Array(c) => !c.is_empty(),
            _ => false,
        })
        .ok_or_else(|| {
            at("no `type` (e.g. [\"ORDERS\", \"D\", \"96A\", \"UN\"] or \"850\")".into())
        })?;
    let segments = message
        .get("segments")
        .and_then(Value::as_array)
        .ok_or_else(|| at("no `segments` array".into()))?;
    for (n, segment) in segments.iter().enumerate() {
        if reserved.contains(&tag(segment)) {
            return Err(at(format!(
                "segment {} is {}: give the message body, render writes the envelope",
                n + 1,
                tag(segment)
            )));
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
