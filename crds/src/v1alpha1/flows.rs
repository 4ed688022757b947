//! Types of the flow features beyond one item → one request: outgoing batches and
//! tasks that wait for the receiver's acknowledgement.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::WebhookAuth;

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

/// Wait for a receiver that accepts work and confirms it later. After a successful
/// send the task is `waiting` (not `done`) until it is acknowledged — through
/// `POST /api/v1/namespaces/{namespace}/tasks/{id}/ack` or through the `callback`
/// endpoint — or until `timeoutSeconds` pass. After-delivery steps run at the send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Await {
    /// jq on the receiver's answer (HTTP: `{status, headers, body}`) yielding the value
    /// the acknowledgement will carry, e.g. `.body.jobId`: a string or a number. When it
    /// yields nothing or `null` the task fails (delivered, but it cannot be confirmed).
    pub correlation: String,
    /// How long to wait for the acknowledgement after the send, in seconds (1 to
    /// 2592000, 30 days).
    pub timeout_seconds: u64,
    /// What a timeout does. Absent: `fail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_timeout: Option<AwaitTimeout>,
    /// A callback endpoint, `POST /callbacks/{namespace}/{route}`, that acknowledges the
    /// waiting tasks whose correlation value the body carries. Absent: only the API
    /// acknowledges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<AwaitCallback>,
}

/// What happens to a task whose acknowledgement did not come in time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AwaitTimeout {
    /// The task fails and waits for a human.
    #[default]
    Fail,
    /// The task is sent again, while it has attempts left (`processing.retry`); then
    /// it fails.
    Retry,
}

/// How a callback request acknowledges waiting tasks. The body is a JSON object (or an
/// array of them); each names a task by its correlation value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwaitCallback {
    /// jq on the callback body yielding the correlation value, e.g. `.jobId`.
    pub correlation: String,
    /// jq on the callback body yielding the outcome: `true` or `"done"` (done), `false`
    /// or `"failed"` (failed), e.g. `.status == "completed"`. Absent: done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// jq on the callback body yielding a message for the task log (and the error of a
    /// failed task), e.g. `.error`. Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How the caller authenticates, as for webhooks. Absent: anyone who can reach the
    /// port may acknowledge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<WebhookAuth>,
}

/// Upper bound of `Await::timeout_seconds`.
pub const MAX_AWAIT_TIMEOUT_SECONDS: u64 = 2_592_000;
