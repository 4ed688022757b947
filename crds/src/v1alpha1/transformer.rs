use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::CommonStatus;
use super::edi::AcknowledgeStep;
use super::steps::*;

/// A reusable, named list of steps that reshape items. Routes refer to it by name.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "switchyard.dev",
    version = "v1alpha1",
    kind = "Transformer",
    category = "switchyard",
    doc = "A Switchyard Transformer: a reusable, named list of steps that reshape items; Routes and other Transformers call it by name.",
    namespaced,
    status = "TransformerStatus",
    shortname = "swtf",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransformerSpec {
    /// The steps, applied in order. Each step takes one item and returns zero (the item
    /// is filtered out), one or many items.
    pub steps: Vec<Step>,
}

/// Status of a Transformer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransformerStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
}

/// One transformer step. Write exactly one of the keys, e.g. `- jq: '.order'`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Step {
    /// A jq program. Each output becomes an item; no output drops the item (a filter).
    Jq(String),
    /// Set a field to a constant value.
    Set(SetStep),
    /// Rename (move) a field.
    Rename(RenameStep),
    /// Remove fields.
    Remove(RemoveStep),
    /// Split the array at a path into one item per element.
    Split(SplitStep),
    /// Run the steps of another Transformer in the same namespace.
    Transformer(String),
    /// Keep only the items for which a jq condition is true (not `false` or `null`).
    Filter(String),
    /// Build the item from field mappings (source path or jq expression, with defaults).
    Map(MapStep),
    /// Copy a field to another path.
    Copy(CopyStep),
    /// Convert field types: string, number, integer, boolean, date (formats, time zones).
    Convert(ConvertStep),
    /// Translate a field's value through a table (inline, a ValueTable or storage), with a
    /// default.
    ValueMap(ValueMapStep),
    /// Run steps only on the items for which a jq condition holds (others take `else`).
    When(WhenStep),
    /// Sort the items of a batch (one fetch or one webhook request) by a field.
    Sort(SortStep),
    /// Drop items of a batch whose key fields repeat an earlier item's.
    Dedupe(DedupeStep),
    /// Group the items of a batch by a key: collect, count, sum.
    Aggregate(AggregateStep),
    /// Validate items against a JSON Schema (draft 2020-12).
    Validate(ValidateStep),
    /// Parse a text field (CSV, XML, JSON Lines, EDIFACT, X12) into JSON.
    Parse(ParseStep),
    /// Render a field as text (CSV, XML, JSON Lines, EDIFACT, X12; EDI optionally as a
    /// complete interchange).
    Render(RenderStep),
    /// Acknowledge a received EDI interchange: a CONTRL (EDIFACT) or 997 (X12).
    Acknowledge(AcknowledgeStep),
    /// Read a storage entry into the item.
    StorageGet(StorageGetStep),
    /// Write a storage entry, now or once the item is safe (queued, or delivered).
    StoragePut(StoragePutStep),
    /// Delete a storage entry.
    StorageDelete(StorageDeleteStep),
    /// Drop items whose content hash under their key is unchanged since last time.
    OnlyChanged(OnlyChangedStep),
    /// Drop items at or below the stored incremental cursor; advance it once they are safe.
    Cursor(CursorStep),
    /// Queue an item for another Route of the namespace (only in
    /// `spec.transformers.afterDelivery`).
    Trigger(TriggerStep),
    /// Enrich the item from another Connection (HTTP GET or database query), cached.
    Lookup(LookupStep),
}

/// Set `path` to `value`, creating objects along the way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetStep {
    /// Dotted path of the field, e.g. `meta.source`.
    pub path: String,
    /// Any JSON value.
    pub value: serde_json::Value,
}

/// Move the field at `from` to `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenameStep {
    /// Dotted path of the field to move.
    pub from: String,
    /// Dotted path it moves to.
    pub to: String,
}

/// Remove the fields at `paths`; missing fields are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveStep {
    /// Dotted paths of the fields to remove.
    pub paths: Vec<String>,
}

/// Turn the array at `path` into one item per element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SplitStep {
    /// Dotted path of the array.
    pub path: String,
}
