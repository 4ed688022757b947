use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::CommonStatus;

/// A translation table that `valueMap` steps of the namespace use by name
/// (`valueTable: <name>`), kept apart from the steps so that one table serves many
/// routes and can be edited on its own, like a ConfigMap.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "switchyard.dev",
    version = "v1alpha1",
    kind = "ValueTable",
    category = "switchyard",
    doc = "A Switchyard ValueTable: a translation table (value to replacement) that valueMap steps of the namespace use by name.",
    namespaced,
    status = "ValueTableStatus",
    shortname = "swvt",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValueTableSpec {
    /// The table: value (as text; numbers and booleans as written in JSON) → replacement
    /// (any JSON value).
    #[serde(default)]
    pub entries: BTreeMap<String, serde_json::Value>,
    /// The replacement for values not in the table, used when the step sets no `default`
    /// of its own. Without either, unknown values are kept as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

/// Status of a ValueTable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValueTableStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
}
