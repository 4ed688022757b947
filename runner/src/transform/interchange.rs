//! EDI interchanges in steps: `render` with an `envelope` (control numbers from
//! storage, so this is an asynchronous step), `parse` with `interchange: true`, and the
//! `acknowledge` step (CONTRL, 997, 999); both may check the messages against the
//! bundled dictionary.

use async_trait::async_trait;
use serde_json::Value;
use switchyard_crds::path::FieldPath;
use switchyard_crds::v1alpha1::{DictionaryCheck, EnvelopeOptions, Format, X12Acknowledgement};

use super::{AsyncTransform, Context, Transform, TransformError, paths};
use crate::formats::dictionary::{self, Reason, Rejections, Standard};
use crate::formats::envelope::{EnvelopeError, Interchange, Party};
use crate::formats::{acks, edifact, edifact_envelope, x12, x12_envelope};

/// Reads and checks the envelopes of parsed segments (`{segments: [...]}`).
fn read(format: Format, parsed: &Value) -> (Interchange, Option<EnvelopeError>) {
    let segments = parsed
        .get("segments")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    match format {
        Format::X12 => x12_envelope::read(segments),
        _ => edifact_envelope::read(segments),
    }
}

/// The messages of `interchange` that break the bundled dictionary under `check` (none
/// without a check; `knownTypes` leaves the types it lacks unchecked).
fn nonconforming(
    format: Format,
    interchange: &Interchange,
    check: Option<DictionaryCheck>,
) -> Result<Rejections, TransformError> {
    let Some(check) = check else {
        return Ok(Rejections(Vec::new()));
    };
    let standard = match format {
        Format::X12 => Standard::X12,
        _ => Standard::Edifact,
    };
    let mut found = dictionary::check(standard, interchange)?;
    if check == DictionaryCheck::KnownTypes {
        found.0.retain(|r| r.reason != Reason::NoDictionary);
    }
    Ok(found)
}

/// The checked interchange of parsed segments, as JSON: a mismatch names the envelope
/// segment, a message breaking the dictionary (under `check`) its segment and element.
pub(crate) fn checked(
    format: Format,
    parsed: &Value,
    check: Option<DictionaryCheck>,
) -> Result<Value, TransformError> {
    match read(format, parsed) {
        (_, Some(error)) => Err(TransformError::Envelope(Box::new(error))),
        (interchange, None) => {
            let rejections = nonconforming(format, &interchange, check)?;
            if rejections.0.is_empty() {
                Ok(interchange.to_json())
            } else {
                Err(TransformError::Dictionary(Box::new(rejections)))
            }
        }
    }
}

/// `render` with an envelope.
pub struct RenderInterchange {
    pub format: Format,
    pub path: FieldPath,
    pub into: FieldPath,
    pub envelope: EnvelopeOptions,
}

impl RenderInterchange {
    /// A party from the options, else from the value's `field` (and `fieldQualifier`).
    fn party(
        &self,
        value: &Value,
        field: &str,
        id: &Option<String>,
        qualifier: &Option<String>,
    ) -> Result<Party, TransformError> {
        let from_value = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        let id = id
            .clone()
            .or_else(|| from_value(field))
            .ok_or_else(|| TransformError::Path {
                path: self.path.to_string(),
                reason: format!(
                    "no {field}: set `envelope.{field}` or give the value a `{field}` field"
                ),
            })?;
        let qualifier = qualifier
            .clone()
            .or_else(|| from_value(&format!("{field}Qualifier")));
        Ok(Party { id, qualifier })
    }
}

#[async_trait]
impl AsyncTransform for RenderInterchange {
    fn kind(&self) -> &'static str {
        "render"
    }

    async fn apply(
        &self,
        mut item: Value,
        context: &Context,
        out: &mut Vec<Value>,
    ) -> Result<(), TransformError> {
        let fail = |reason: String| TransformError::Path {
            path: self.path.to_string(),
            reason,
        };
        let value =
            paths::take(&mut item, &self.path).ok_or_else(|| fail("no such field".into()))?;
        let options = &self.envelope;
        let sender = self.party(&value, "sender", &options.sender, &options.sender_qualifier)?;
        let recipient = self.party(
            &value,
            "recipient",
            &options.recipient,
            &options.recipient_qualifier,
        )?;
        let prefix = match self.format {
            Format::X12 => "x12",
            _ => "edifact",
        };
        let key = format!("{prefix}:{}:{}", sender.id, recipient.id);
        let control = context
            .storage
            .next_number(&context.scope(&options.control_numbers), &key)
            .await?;
        let now = chrono::Utc::now();
        let text = match self.format {
            Format::X12 => x12_envelope::write(
                &value,
                &x12_envelope::Header {
                    sender: &sender,
                    recipient: &recipient,
                    control,
                    now,
                    test: options.test,
                },
            ),
            _ => edifact_envelope::write(
                &value,
                &edifact_envelope::Header {
                    sender: &sender,
                    recipient: &recipient,
                    control,
                    now,
                    una: options.una,
                    group: options.group,
                    test: options.test,
                },
            ),
        }
        .map_err(|e| fail(e.to_string()))?;
        paths::set(&mut item, &self.into, Value::String(text))?;
        out.push(item);
        Ok(())
    }
}

/// The `acknowledge` step.
pub struct Acknowledge {
    pub format: Format,
    pub x12: X12Acknowledgement,
    pub path: FieldPath,
    pub into: FieldPath,
    /// Also reject the messages that break the bundled dictionary.
    pub dictionary: Option<DictionaryCheck>,
}

impl Transform for Acknowledge {
    fn kind(&self) -> &'static str {
        "acknowledge"
    }

    fn apply(&self, mut item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        let text = match paths::get(&item, &self.path) {
            Some(Value::String(text)) => text.clone(),
            Some(other) => {
                return Err(TransformError::Path {
                    path: self.path.to_string(),
                    reason: format!("expected the interchange as text, found {other}"),
                });
            }
            None => {
                return Err(TransformError::Path {
                    path: self.path.to_string(),
                    reason: "no such field".into(),
                });
            }
        };
        // Text that is not EDI at all cannot be acknowledged: there is no sender to answer.
        let parsed = match self.format {
            Format::X12 => x12::parse(&text)?,
            _ => edifact::parse(&text)?,
        };
        let (interchange, error) = read(self.format, &parsed);
        let rejections = nonconforming(self.format, &interchange, self.dictionary)?;
        let ack = match self.format {
            Format::X12 => acks::x12_ack(&interchange, error.as_ref(), &rejections, self.x12),
            _ => acks::contrl(&interchange, error.as_ref(), &rejections),
        };
        paths::set(&mut item, &self.into, ack)?;
        out.push(item);
        Ok(())
    }
}

#[cfg(test)]
#[path = "interchange_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "interchange_x12_tests.rs"]
mod x12_tests;

#[cfg(test)]
#[path = "interchange_dictionary_tests.rs"]
mod dictionary_tests;
