//! The delivery blocks of a Route's outgoing side, one per non-HTTP Connection kind.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::OutputFormat;

/// Writing items to a database. Exactly one of `insert`, `upsert` and `statement` is set.
/// Values are always bound as parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = crate::v1alpha1::rules::exactly_one(&["insert", "upsert", "statement"]))]
#[x_kube(validation = crate::v1alpha1::rules::rule(
    "!has(self.upsert) || (has(self.upsert.key) && size(self.upsert.key) > 0)",
    "`upsert.key` must name the key columns (a primary key or unique index)"
))]
pub struct DatabaseDelivery {
    /// Insert a row per item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insert: Option<TableWrite>,
    /// Insert a row per item, or update the row with the same key (`ON CONFLICT … DO
    /// UPDATE` on PostgreSQL and SQLite, `ON DUPLICATE KEY UPDATE` on MySQL/MariaDB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upsert: Option<TableWrite>,
    /// A statement or stored procedure call per item, with `:name` parameters taken from
    /// the item's fields, e.g. `CALL book_order(:id, :total)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::v1alpha1::rules::NOT_BLANK))]
    pub statement: Option<String>,
    /// Most tasks written in one transaction (each row in its own savepoint, so a row
    /// the database refuses fails only its task). Tasks already waiting are batched;
    /// a lone task is not held back. At least 1 (each task on its own). Absent: 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub batch_size: Option<u32>,
}

/// A table written from items' fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TableWrite {
    /// Table name, optionally schema-qualified (`sales.orders`).
    #[schemars(regex(pattern = crate::v1alpha1::rules::QUALIFIED_IDENTIFIER))]
    pub table: String,
    /// Columns written, each from the item field of the same name (a missing field is
    /// NULL). Absent: the item's top-level fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = crate::v1alpha1::rules::IDENTIFIER)))]
    pub columns: Vec<String>,
    /// Key columns for `upsert` (a primary key or unique index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = crate::v1alpha1::rules::IDENTIFIER)))]
    pub key: Vec<String>,
}

/// One file per task (or per batch), written atomically (a temporary name, then a
/// rename).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileDelivery {
    /// File path relative to the Connection's root; `{{ jq }}` placeholders are filled
    /// from the item, e.g. `outbox/order-{{ .id }}.json`.
    pub path: String,
    /// `json`, `jsonLines` (an array item becomes one line per element) or `csv` (an
    /// object or an array of objects; the header names every key they have). Absent:
    /// `json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<OutputFormat>,
    /// Write the items of several tasks into one file. Absent: one file per task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<super::FileBatch>,
}

/// A SOAP operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SoapCall {
    /// Name of the operation element in the body, e.g. `CreateOrder`.
    #[schemars(regex(pattern = crate::v1alpha1::rules::IDENTIFIER))]
    pub operation: String,
    /// XML namespace of the operation element.
    pub namespace: String,
    /// SOAPAction (1.1 header, 1.2 `action` parameter). Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// jq expression computing the operation's content, written as XML the way the
    /// `render` step writes it (an object: keys become child elements, `@name` keys
    /// attributes of the operation element, arrays repeat an element). Absent: the item
    /// itself (for polls: empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// For polls: JSON pointer to the items in the response (converted to JSON), e.g.
    /// `/GetOrdersResponse/Order`. Absent: the whole response is one item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::v1alpha1::rules::JSON_POINTER))]
    pub items_pointer: Option<String>,
    /// How the response is read (elements that always become arrays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xml: Option<super::XmlOptions>,
}
