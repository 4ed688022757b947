use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CommonStatus, SecretValue};

/// Named values that `${{ vars.NAME }}` placeholders in the namespace's Connections,
/// Routes, Transformers, ValueTables and Notifications stand for, so that one catalog
/// runs against test and production systems with only the variables changed.
///
/// Names are letters, digits and `_`, not starting with a digit. One name is defined
/// once per namespace (across all its Variables resources); the runner's `--vars-file`
/// and `SWITCHYARD_VAR_<NAME>` override it locally.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "switchyard.dev",
    version = "v1alpha1",
    kind = "Variables",
    plural = "variables",
    category = "switchyard",
    doc = "A Switchyard Variables resource: named values (plain, from a ConfigMap or from a Secret) that ${{ vars.NAME }} placeholders in the namespace's resources stand for.",
    namespaced,
    status = "VariablesStatus",
    shortname = "swvars",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VariablesSpec {
    /// Plain values by name. Values are text (quote numbers: `PORT: "8443"`); a field that
    /// is only a placeholder and wants a number or a boolean gets one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// Secret values by name, each from a key of a Secret of the namespace. They are
    /// redacted like every credential: no log line, task log, API answer or error shows
    /// them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_values: BTreeMap<String, SecretValue>,
    /// ConfigMaps of the namespace whose every key is a plain variable (like a Pod's
    /// `envFrom`). A name in `values` wins over the same name in a ConfigMap; a later
    /// ConfigMap wins over an earlier one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_from: Vec<ValuesFrom>,
}

/// A source of plain variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValuesFrom {
    /// A ConfigMap of the namespace; each key of its `data` is a variable. Locally, a
    /// ConfigMap document in the manifests.
    pub config_map_ref: ConfigMapRef,
}

/// Names a ConfigMap of the resource's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigMapRef {
    /// Name of the ConfigMap.
    pub name: String,
}

/// Status of a Variables resource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariablesStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
}
