//! Configuration of the transformer steps beyond jq/set/rename/remove/split. Paths are
//! dotted (`customer.address.city`, `lines.0.sku`); conditions and expressions are jq.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DictionaryCheck, Step};

/// Build the item from field mappings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MapStep {
    /// The mappings, applied in order.
    pub fields: Vec<FieldMapping>,
    /// Start from a copy of the item (`true`) instead of an empty object (`false`, the
    /// default: the output has only the mapped fields).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep: bool,
}

/// One target field and where its value comes from: `from` or `jq`, else `default`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldMapping {
    /// Dotted path of the field to write.
    pub to: String,
    /// Dotted path of the source field in the input item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// A jq expression on the input item; its first output is the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jq: Option<String>,
    /// The value when the source is missing or `null`. Without one, the field is left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

/// Copy the field at `from` to `to` (a missing source leaves the item unchanged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyStep {
    /// Dotted path of the field to copy.
    pub from: String,
    /// Dotted path of the copy.
    pub to: String,
}

/// Convert field types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConvertStep {
    /// The fields to convert; missing and `null` fields are left alone.
    pub fields: Vec<FieldConversion>,
}

/// The target type of a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ConvertTo {
    /// Text; numbers and booleans print as in JSON.
    String,
    /// A number; strings are parsed (`"12.50"` → `12.5`).
    Number,
    /// A whole number; fractions are rounded half away from zero.
    Integer,
    /// `true`/`false`; also `"yes"`/`"no"`, `"1"`/`"0"`, `"y"`/`"n"`, 1/0.
    Boolean,
    /// A date-time, written with `format` in `outputTimezone`.
    Date,
}

/// One field conversion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldConversion {
    /// Dotted path of the field.
    pub path: String,
    /// The type to convert to.
    pub to: ConvertTo,
    /// Dates: the input's strftime format (e.g. `%d-%m-%Y %H:%M`), or `unix` (seconds)
    /// or `unixMillis`. Default: RFC 3339, or a number of Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_format: Option<String>,
    /// Dates: the zone of an input without an offset: `UTC`, an offset such as `+01:00`
    /// or an IANA name such as `Europe/Amsterdam` (daylight saving time applies; a local
    /// time that occurs twice reads as the first, one that does not exist fails).
    /// Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Dates: the output's strftime format, or `unix`/`unixMillis`. Default: RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Dates: the zone of the output: `UTC`, an offset or an IANA name. Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_timezone: Option<String>,
}

/// Translate a value through a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValueMapStep {
    /// Dotted path of the field to translate.
    pub path: String,
    /// Dotted path to write the translation to. Default: `path` (in place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<String>,
    /// The table: value (as text) → replacement.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub table: BTreeMap<String, serde_json::Value>,
    /// A ValueTable of the namespace whose entries extend `table` (the inline table
    /// wins); its `default` applies when the step sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_table: Option<String>,
    /// A storage whose entries (key: the value as text) extend the tables; `table` and
    /// `valueTable` win.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    /// The replacement for values in neither table. Without one they are kept as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

/// Steps that apply only to items matching a condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WhenStep {
    /// A jq condition on the item; true unless `false` or `null`.
    pub condition: String,
    /// Steps for matching items (any step kind except `transformer`).
    #[schemars(with = "Vec<serde_json::Value>")]
    pub steps: Vec<Step>,
    /// Steps for the other items. Default: none (they pass unchanged).
    #[serde(default, rename = "else", skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub otherwise: Vec<Step>,
}

/// Sort a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SortStep {
    /// Dotted path of the sort key. Numbers sort numerically, text lexically; missing
    /// keys sort first.
    pub by: String,
    /// Largest first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub descending: bool,
}

/// De-duplicate a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DedupeStep {
    /// Dotted paths that together identify an item. Empty: the whole item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by: Vec<String>,
}

/// Group a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AggregateStep {
    /// Dotted path of the grouping key. Groups come out in order of first appearance.
    pub group_by: String,
    /// Output field holding the key. Default: `key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_as: Option<String>,
    /// Output field collecting the group's items. Default: `items`; empty: not collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collect: Option<String>,
    /// Output field with the number of items in the group, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<String>,
    /// Output field → dotted path of a number to sum over the group.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sum: BTreeMap<String, String>,
}

/// What to do with an item that does not match its schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OnInvalid {
    /// Fail (the webhook answers 422; at delivery the task fails), listing violations.
    #[default]
    Fail,
    /// Drop the item.
    Drop,
}

/// Validate against a JSON Schema, written inline or named: one of `schema` and `entity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidateStep {
    /// The JSON Schema (draft 2020-12 unless `$schema` says otherwise). It may `$ref` the
    /// canonical entities (`https://switchyard.dev/entities/v1/address`); nothing else is
    /// fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<serde_json::Value>,
    /// A canonical entity (`order`, `product`, `stockLevel`, `customer`, `company`,
    /// `address`, `invoice`, `creditNote`, `shipment`, `payment`): its bundled schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<super::Entity>,
    /// `fail` (default) or `drop`.
    #[serde(default)]
    pub on_invalid: OnInvalid,
}

/// A text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Format {
    /// Comma (or other delimiter) separated values.
    Csv,
    /// XML: elements by local name (namespace prefixes dropped), attributes as `@name`,
    /// text beside attributes or children as `#text`, repeated elements as arrays, an
    /// empty element `""` (see docs/transformers.md, "XML and JSON").
    Xml,
    /// One JSON value per line.
    JsonLines,
    /// UN/EDIFACT interchange (written with the default separators `:+.? '`).
    Edifact,
    /// ANSI X12 interchange (written with `*`, ISA16 or `:`, and `~`).
    X12,
    /// cXML 1.2 (procurement): an `OrderRequest`, `ConfirmationRequest` or
    /// `ShipNoticeRequest` document as `{payloadId, timestamp, version, header: {from, to,
    /// sender}, request: {type, deploymentMode, body}}`; credential secrets are masked
    /// (see docs/b2b.md, "cXML").
    Cxml,
}

/// Character encodings of text given as base64 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TextEncoding {
    /// UTF-8 (the default).
    #[default]
    Utf8,
    /// ISO-8859-1.
    Latin1,
}

/// Options of CSV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CsvOptions {
    /// The field delimiter, one character. Default: `,`.
    #[serde(default = "default_delimiter")]
    #[schemars(regex(pattern = crate::v1alpha1::rules::ONE_ASCII_CHARACTER))]
    pub delimiter: String,
    /// The quote character. Default: `"`.
    #[serde(default = "default_quote")]
    #[schemars(regex(pattern = crate::v1alpha1::rules::ONE_ASCII_CHARACTER))]
    pub quote: String,
    /// Whether the first row names the columns (rows become objects) or not (rows
    /// become arrays). Default: true.
    #[serde(default = "default_true")]
    pub header: bool,
}

/// Options of reading XML.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct XmlOptions {
    /// Elements (by local name) that always become an array, even when they occur once
    /// (or not at all inside their parent, which then still has no such key), e.g.
    /// `[Order, Line]`. Absent: an element is an array only when it repeats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = crate::v1alpha1::rules::NOT_BLANK)))]
    pub arrays: Vec<String>,
}

/// `,`: the delimiter of RFC 4180.
fn default_delimiter() -> String {
    ",".into()
}

/// `"`: the quote of RFC 4180.
fn default_quote() -> String {
    "\"".into()
}

/// Headers are the common case.
fn default_true() -> bool {
    true
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: default_delimiter(),
            quote: default_quote(),
            header: true,
        }
    }
}

/// Parse text into JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParseStep {
    /// The format of the text.
    pub format: Format,
    /// Dotted path of the text field.
    pub path: String,
    /// Dotted path of the result. Default: `path` (replaced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<String>,
    /// The text is base64 bytes in this encoding. Default: plain UTF-8 text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64_encoding: Option<TextEncoding>,
    /// CSV options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<CsvOptions>,
    /// XML options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xml: Option<XmlOptions>,
    /// EDIFACT, X12: check the envelopes (counts and control references match; a
    /// mismatch fails naming the segment and its position) and give `{sender,
    /// recipient, controlReference, date, time, messages: [{reference, type, group,
    /// segments}]}` (message bodies without `UNH`/`UNT`, `ST`/`SE`) instead of the flat
    /// segments. Default: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interchange: bool,
    /// With `interchange: true`: also check each message against the bundled dictionary
    /// (`strict`: a message of a type it lacks fails too; `knownTypes`: such messages
    /// pass unchecked); a message that breaks it fails naming its reference, the
    /// segment, its position and the element. Default: envelopes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dictionary: Option<DictionaryCheck>,
}

/// Render JSON as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenderStep {
    /// `csv` (an array of objects or arrays), `xml` (an object), `jsonLines` (an
    /// array), `edifact` or `x12` (`{segments: [{tag, elements}]}`, as `parse` reads them).
    pub format: Format,
    /// Dotted path of the value to render.
    pub path: String,
    /// Dotted path of the text. Default: `path` (replaced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<String>,
    /// CSV options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<CsvOptions>,
    /// XML: the name of the root element. Absent: the value must be an object with one
    /// key, the root element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// EDIFACT, X12: wrap messages in a complete interchange with control numbers from
    /// storage. Without it the value is written as the segments it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<super::EnvelopeOptions>,
}

/// Read a storage entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageGetStep {
    /// The storage (a named key space of the namespace).
    pub storage: String,
    /// A jq expression giving the key, e.g. `"customer-" + (.customerId | tostring)`.
    pub key: String,
    /// Dotted path to write the value to.
    pub into: String,
    /// The value when there is no entry. Without one the field is left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

/// When a storage write happens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum WriteAt {
    /// While the step runs.
    #[default]
    Now,
    /// Once the item is safe: after its task is committed (incoming steps) or after it
    /// was delivered (outgoing steps: an after-delivery write).
    Committed,
}

/// Write a storage entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoragePutStep {
    /// The storage.
    pub storage: String,
    /// A jq expression giving the key.
    pub key: String,
    /// A jq expression giving the value. Default: `.` (the whole item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Seconds until the entry expires. Default: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    /// `now` (default) or `committed`.
    #[serde(default)]
    pub at: WriteAt,
}

/// Delete a storage entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageDeleteStep {
    /// The storage.
    pub storage: String,
    /// A jq expression giving the key.
    pub key: String,
}

/// Pass only new or changed items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OnlyChangedStep {
    /// The storage holding the hashes.
    pub storage: String,
    /// A jq expression giving the item's key, e.g. `.id | tostring`.
    pub key: String,
    /// A jq expression selecting what counts as a change. Default: `.` (the whole item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// Incremental cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CursorStep {
    /// The storage holding the cursor.
    pub storage: String,
    /// The cursor's key in the storage. Default: `cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Dotted path of the cursor value (e.g. `updatedAt` or `id`).
    pub field: String,
    /// Dotted path of the item's identity, so items sharing a cursor value are told
    /// apart (e.g. `id`). Recommended when values can repeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Queue an item for another Route of the same namespace once this route's delivery
/// succeeded, e.g. "when the ERP accepted the order, notify the shop". The new task is
/// committed in the same transaction that records this one as delivered, and goes
/// through the other route's incoming transformers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TriggerStep {
    /// The Route to queue the item for.
    pub route: String,
    /// A jq expression computing the item from `{item, response}`. Default: `.item`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
}

/// Enrich the item from another Connection: an HTTP GET or a database query, its answer
/// written under `into`. Answers are cached per route, keyed by the rendered request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["http"]}, {"required": ["database"]}]))]
pub struct LookupStep {
    /// The Connection to ask, in the same namespace: an HTTP Connection (with `http`) or
    /// a database Connection (with `database`). Its credentials and limits apply.
    pub connection: String,
    /// Ask an HTTP Connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<LookupHttp>,
    /// Ask a database Connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<LookupQuery>,
    /// Dotted path the answer is written to (replacing what was there).
    pub into: String,
    /// A jq expression picking what to keep of the answer, e.g. `.data` or
    /// `{name, tier}`. Default: the whole answer. No output (or `null`) counts as not
    /// found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<String>,
    /// Seconds an answer (found or not found, never an error) is reused for the same
    /// request. Default: 60; `0` turns the cache off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_ttl_seconds: Option<u64>,
    /// The most answers kept; the oldest are dropped first. Default: 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub cache_size: Option<u32>,
    /// When the answer is HTTP 404 or no row: `omit` (default: `into` is left out),
    /// `default` (write `default`) or `fail` (fail the item).
    #[serde(default)]
    pub on_not_found: OnNotFound,
    /// The value written when not found and `onNotFound` is `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

/// The request of an HTTP lookup: always a GET.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LookupHttp {
    /// Path below the Connection's base URL; `{{ jq }}` placeholders are filled from the
    /// item, each value percent-encoded (e.g. `/customers/{{ .customerId }}`).
    pub path: String,
    /// Query parameters; values may hold `{{ jq }}` placeholders.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
}

/// The query of a database lookup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LookupQuery {
    /// SQL; `:name` reads the item's field `name` (dotted paths walk into objects) and is
    /// always bound as a parameter, never spliced into the text.
    pub sql: String,
    /// Write every row as an array (`true`) instead of the first row as an object.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_rows: bool,
}

/// What a lookup does when there is nothing to find.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OnNotFound {
    /// Leave `into` out; the item goes on.
    #[default]
    Omit,
    /// Write the step's `default`.
    Default,
    /// Fail the item (the webhook answers 422; at delivery the task fails).
    Fail,
}
