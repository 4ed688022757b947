//! Types of the flow features beyond one item → one request: outgoing batches.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Tasks sent together as one HTTP request. Tasks already leased together go out in one
/// request (up to `maxItems` and `maxBytes`); each task ends with the outcome of the
/// request (or, with `results`, with its own result). The body is the items (after the
/// outgoing transformers and `body`) as a JSON array or as JSON Lines. `path` must not
/// hold `{{ }}` placeholders: one request serves many items.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpBatch {
    /// Most items in one request, 2 to 1000. Absent: 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u32>,
    /// Most bytes in one request body; a request is closed before the item that would
    /// pass it (an item larger on its own goes alone). Absent: 1048576 (1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// How long a batch that is not full waits for more tasks, in milliseconds, at
    /// most 10000 (the tasks are leased meanwhile). Absent: 0, send what is queued and
    /// never hold a task back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_ms: Option<u64>,
    /// How the items are written in the body. Absent: `json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<BatchFormat>,
    /// jq on a successful response (`{status, headers, body}`) that yields an array with
    /// one result per item, in the order sent: `true` (delivered), `false` (failed), or
    /// `{ok, message, retry}` (`retry: true` when another attempt may succeed), e.g.
    /// `[.body.items[] | {ok: (.status < 300), message: .error, retry: (.status >= 500)}]`.
    /// Absent: every item takes the outcome of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<String>,
}

/// How a batch's items are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum BatchFormat {
    /// A JSON array, `Content-Type: application/json`.
    #[default]
    Json,
    /// One JSON value per line, `Content-Type: application/x-ndjson`.
    JsonLines,
}

/// Tasks written together as one file: the path's placeholders are filled from the
/// batch's first item, and the file holds every item (`json`: an array, `jsonLines`: a
/// line per item, `csv`: a row per item). Each task ends with the outcome of the write.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileBatch {
    /// Most items in one file, 2 to 10000. Absent: 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u32>,
    /// How long a batch that is not full waits for more tasks, in milliseconds, at most
    /// 10000. Absent: 0, write what is queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_ms: Option<u64>,
}

/// Default of `HttpBatch::max_items`.
pub const DEFAULT_HTTP_BATCH_ITEMS: u32 = 100;
/// Upper bound of `HttpBatch::max_items`.
pub const MAX_HTTP_BATCH_ITEMS: u32 = 1_000;
/// Default of `HttpBatch::max_bytes`.
pub const DEFAULT_HTTP_BATCH_BYTES: u64 = 1_048_576;
/// Default of `FileBatch::max_items`.
pub const DEFAULT_FILE_BATCH_ITEMS: u32 = 1_000;
/// Upper bound of `FileBatch::max_items`.
pub const MAX_FILE_BATCH_ITEMS: u32 = 10_000;
/// Upper bound of `maxWaitMs`: far below the shortest sensible lease.
pub const MAX_BATCH_WAIT_MS: u64 = 10_000;
