//! The polling side of a Route: what to fetch from each kind of Connection.

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AfterRead, FileFormat, FileSplit, Headers, HttpMethod, SoapCall};

/// Poll a Connection on a schedule. An HTTP Connection uses `request`, `itemsPointer`
/// and `pagination`; a database Connection needs `query`, a file system Connection
/// `files`, a SOAP Connection `soap`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = crate::v1alpha1::rules::rule(
    "(has(self.query) ? 1 : 0) + (has(self.files) ? 1 : 0) + (has(self.soap) ? 1 : 0) + ((has(self.itemsPointer) || has(self.pagination) || has(self.cursor)) ? 1 : 0) <= 1",
    "set at most one of: query (database), files (file system), soap, or the HTTP fields (itemsPointer, pagination, cursor)"
))]
pub struct Poll {
    /// Name of a Connection in the same namespace.
    pub connection: String,
    /// Cron expression (5 fields, or 6 with seconds first), in UTC.
    pub schedule: String,
    /// The query to run on a database Connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<PollQuery>,
    /// The files to read from a file system Connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<PollFiles>,
    /// The operation to call on a SOAP Connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soap: Option<SoapCall>,
    /// The request to send (HTTP Connections).
    #[serde(default, skip_serializing_if = "PollRequest::is_empty")]
    pub request: PollRequest,
    /// JSON pointer (RFC 6901) to the array of items in the response, e.g. `/data`.
    /// Absent: the whole response is the array (or a single item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::v1alpha1::rules::JSON_POINTER))]
    pub items_pointer: Option<String>,
    /// How to fetch further pages. Absent: one request per run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
    /// Fetch only records changed since the last run (HTTP Connections). Absent: every
    /// run fetches everything the request returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<HttpCursor>,
    /// Most items one run may fetch over all its pages (HTTP Connections); a run that
    /// finds more fails (the poll error names this bound) and queues nothing, so nothing
    /// is lost. At least 1. Absent: the runner's `--poll-max-items`
    /// (100000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_items: Option<u32>,
    /// Largest response body of one page, in bytes (HTTP Connections); a larger one fails
    /// the run, which queues nothing. At least 1. Absent: the runner's
    /// `--poll-max-response-bytes` (32 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_response_bytes: Option<u64>,
}

/// An incremental cursor for an HTTP poll, kept in the route's storage. The greatest
/// value of `field` among the queued items is sent as the query parameter `param` on
/// the next run, and moves only after those items are committed. The server should
/// answer records with a value `>=` the parameter: records sharing the last value are
/// fetched again and dropped by their `key`, so one written later with the same
/// timestamp is not lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCursor {
    /// Query parameter carrying the cursor, e.g. `updated_since`.
    #[schemars(regex(pattern = crate::v1alpha1::rules::NOT_BLANK))]
    pub param: String,
    /// Dotted path of each item's cursor value, e.g. `updatedAt` or `meta.version`.
    #[schemars(regex(pattern = crate::v1alpha1::rules::DOTTED_PATH))]
    pub field: String,
    /// Dotted path of each item's identity, e.g. `id`, to drop items already queued
    /// that share the last cursor value.
    #[schemars(regex(pattern = crate::v1alpha1::rules::DOTTED_PATH))]
    pub key: String,
    /// The parameter's value before the first run, e.g. `1970-01-01T00:00:00Z` or `0`.
    pub initial: String,
}

/// An HTTP request relative to a Connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PollRequest {
    /// HTTP method. Absent: `GET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HttpMethod>,
    /// Path joined to the Connection's base URL. Absent: the base URL itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Query parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// Extra headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: Headers,
}

impl PollRequest {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Pagination styles. Exactly one is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = crate::v1alpha1::rules::exactly_one(&["pageNumber", "offset", "nextLink", "cursor"]))]
pub struct Pagination {
    /// `?page=1`, `?page=2`, … until a page has no items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_number: Option<PageNumberPagination>,
    /// `?offset=0&limit=100`, `?offset=100&limit=100`, … until a page is short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<OffsetPagination>,
    /// Follow the URL found at a JSON pointer in each response until it is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<NextLinkPagination>,
    /// Send the cursor found at a JSON pointer in each response as a query parameter
    /// until it is absent or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<CursorPagination>,
    /// Upper bound on pages per run, against servers that never stop. Absent: 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_pages: Option<u32>,
}

/// Page-number pagination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageNumberPagination {
    /// Query parameter carrying the page number.
    pub param: String,
    /// Number of the first page. Absent: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
}

/// Offset/limit pagination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OffsetPagination {
    /// Query parameter carrying the offset.
    pub offset_param: String,
    /// Query parameter carrying the page size.
    pub limit_param: String,
    /// Page size.
    #[schemars(range(min = 1))]
    pub limit: u64,
}

/// Next-link pagination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NextLinkPagination {
    /// JSON pointer to the next page's URL (absolute, or relative to the base URL).
    #[schemars(regex(pattern = crate::v1alpha1::rules::JSON_POINTER))]
    pub pointer: String,
}

/// Cursor pagination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CursorPagination {
    /// JSON pointer to the next cursor in the response.
    #[schemars(regex(pattern = crate::v1alpha1::rules::JSON_POINTER))]
    pub pointer: String,
    /// Query parameter the cursor is sent in.
    pub param: String,
}

/// A query run on each poll; every row is an item (column names are keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = crate::v1alpha1::rules::rule(
    "!has(self.cursor) || self.sql.contains(':cursor')",
    "`sql` must use `:cursor` (e.g. `WHERE updated_at >= :cursor`) when `cursor` is set"
))]
pub struct PollQuery {
    /// SQL `SELECT`. `:cursor` stands for the last cursor value (always bound as a
    /// parameter, never spliced), e.g.
    /// `SELECT * FROM orders WHERE updated_at >= :cursor ORDER BY updated_at, id`.
    #[schemars(regex(pattern = crate::v1alpha1::rules::NOT_BLANK))]
    pub sql: String,
    /// Incremental reading. Absent: every run returns the whole result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<QueryCursor>,
}

/// An incremental cursor, kept in the route's storage. It moves only after the rows it
/// covers are queued. Write the query with `>=` on the cursor column: rows that share the
/// last cursor value are read again and dropped by their `key`, so rows committed later
/// with the same value are not lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueryCursor {
    /// Column whose greatest value in the result becomes the next `:cursor`.
    #[schemars(regex(pattern = crate::v1alpha1::rules::IDENTIFIER))]
    pub column: String,
    /// Column that identifies a row (a primary key), to drop rows already queued that
    /// share the last cursor value.
    #[schemars(regex(pattern = crate::v1alpha1::rules::IDENTIFIER))]
    pub key: String,
    /// `:cursor` before the first run, e.g. `1970-01-01 00:00:00` or `0`.
    pub initial: String,
}

/// Files to read on each poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PollFiles {
    /// Directory to list, relative to the Connection's root, e.g. `inbox/`.
    pub path: String,
    /// Glob the file names must match, e.g. `*.csv`. Absent: every file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glob: Option<String>,
    /// `csv`, `json`, `jsonLines` or `xml`.
    pub format: FileFormat,
    /// `record` (one task per CSV row, JSON array element or JSON line) or `file` (one
    /// task per file). Absent: `record`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<FileSplit>,
    /// CSV field delimiter (one character). Absent: `,`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::v1alpha1::rules::ONE_ASCII_CHARACTER))]
    pub delimiter: Option<String>,
    /// XML options (elements that always become arrays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xml: Option<super::XmlOptions>,
    /// What happens to a file once its tasks are queued: `move` (to `processedPath`),
    /// `delete` or `keep`. Absent: `move`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_read: Option<AfterRead>,
    /// Where read files go, relative to the Connection's root. Absent: `processed/`
    /// inside `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_path: Option<String>,
    /// Where files that cannot be parsed go. Absent: `failed/` inside `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_path: Option<String>,
    /// Largest file read, in bytes. A larger file is not read: it is recorded as a
    /// `failed` task naming its size and this bound, and moved to `failedPath` (nothing
    /// is lost). One run reads files until their sizes add up to this bound; the rest
    /// wait for the next run. At least 1. Absent: the runner's `--file-max-bytes`
    /// (64 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_file_bytes: Option<u64>,
}
