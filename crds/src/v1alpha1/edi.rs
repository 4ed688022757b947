//! Configuration of EDI interchanges (EDIFACT, X12): the envelope `render` writes around
//! messages, the `acknowledge` step (CONTRL, 997) and the check of received messages
//! against the bundled message dictionary.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Format;

/// Wrap messages in a complete interchange: EDIFACT `UNB`…`UNZ` (optionally `UNA`,
/// `UNG`/`UNE`) with `UNH`/`UNT` per message, X12 `ISA`…`IEA` with `GS`/`GE` and
/// `ST`/`SE`. Counts and references are computed; the value to render is
/// `{messages: [{type, segments}]}` (or the bare array of messages), the segments being
/// the message body without `UNH`/`UNT` (`ST`/`SE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvelopeOptions {
    /// Our id: EDIFACT `UNB` sender (S002), X12 `ISA06`/`GS02`. Default: the value's
    /// `sender` field (an acknowledgement sets it); one of the two is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// The sender id's qualifier: EDIFACT S002 code qualifier (e.g. `14` for a GLN;
    /// default none), X12 `ISA05` (default `ZZ`, mutually defined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_qualifier: Option<String>,
    /// The partner's id: EDIFACT `UNB` recipient (S003), X12 `ISA08`/`GS03`. Default: the
    /// value's `recipient` field; one of the two is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// The recipient id's qualifier, as `senderQualifier`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_qualifier: Option<String>,
    /// The storage (of the namespace) keeping the interchange control numbers: one
    /// counter per format, sender and recipient (key `edifact:SENDER:RECIPIENT` or
    /// `x12:SENDER:RECIPIENT`), so numbers increase across runs, runners and restarts.
    pub control_numbers: String,
    /// EDIFACT: start with the service string advice `UNA:+.? '`. Default: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub una: bool,
    /// EDIFACT: wrap the messages in one `UNG`/`UNE` functional group (X12 always has
    /// `GS`/`GE`). Default: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub group: bool,
    /// Mark the interchange as a test: EDIFACT `UNB` 0035 `1`, X12 `ISA15` `T` (else `P`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
}

/// Which X12 acknowledgement the `acknowledge` step writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum X12Acknowledgement {
    /// 997 functional acknowledgement: `AK1`, `AK2`/`AK5` per transaction set, `AK9`.
    #[default]
    #[serde(rename = "997")]
    Functional,
    /// 999 implementation acknowledgement (HIPAA and other implementation guides):
    /// `AK1`, `AK2`/`IK5` per transaction set, `AK9`.
    #[serde(rename = "999")]
    Implementation,
}

/// Check each message of a received interchange against the bundled message dictionary
/// (EDIFACT D.96A ORDERS, DESADV, INVOIC; X12 004010 850, 856, 810): mandatory segments
/// and groups, their order and repetitions, element lengths, character types and
/// mandatory elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DictionaryCheck {
    /// Every message must be of a type the dictionary holds, and conform to it: a
    /// message of another type (or directory version) fails `parse` and is rejected by
    /// `acknowledge`.
    Strict,
    /// Messages of a type the dictionary holds must conform to it; messages of other
    /// types pass unchecked.
    KnownTypes,
}

/// Acknowledge a received interchange: checks its envelopes (counts, control
/// references) and writes `{accepted, reason, sender, recipient, messages}` to `into`,
/// the messages being one CONTRL (EDIFACT) or 997/999 (X12) ready for `render` with an
/// `envelope` (sender and recipient are the received ones swapped). A rejected
/// interchange does not fail the item: the acknowledgement says why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcknowledgeStep {
    /// `edifact` (a CONTRL) or `x12` (a 997 or a 999, see `x12Acknowledgement`).
    pub format: Format,
    /// X12: `"997"` (default) or `"999"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x12_acknowledgement: Option<X12Acknowledgement>,
    /// Dotted path of the received interchange (text).
    pub path: String,
    /// Dotted path of the acknowledgement.
    pub into: String,
    /// Also check each message against the bundled dictionary (`strict` or
    /// `knownTypes`): a message that breaks it is rejected with the detail segments
    /// (CONTRL `UCM`/`UCS`/`UCD`, 997 `AK3`/`AK4`, 999 `IK3`/`IK4`). Default: envelopes
    /// only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dictionary: Option<DictionaryCheck>,
}
