use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CommonStatus, Headers, SecretValue, Step};

/// A flow of items: an incoming side, transformers, the durable queue (one task per
/// item) and an outgoing side.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "switchyard.dev",
    version = "v1alpha1",
    kind = "Route",
    namespaced,
    status = "RouteStatus",
    shortname = "swroute",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Pending","type":"integer","jsonPath":".status.queue.pending"}"#,
    printcolumn = r#"{"name":"Failed","type":"integer","jsonPath":".status.queue.failed"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteSpec {
    /// Where items come from.
    pub incoming: Incoming,
    /// Steps applied before the queue (`incoming`) and before sending (`outgoing`).
    #[serde(default, skip_serializing_if = "Transformers::is_empty")]
    pub transformers: Transformers,
    /// Where items go.
    pub outgoing: Outgoing,
    /// How queued tasks are processed. Absent: real-time with the defaults below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing: Option<Processing>,
    /// Regions of the tenant this Route runs in (names from the Tenant's
    /// `spec.regions`). Empty: every region of the tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

/// Status of a Route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Task counts per state, as last reported by the runner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueCounts>,
}

/// Number of tasks per state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueCounts {
    pub pending: i64,
    pub processing: i64,
    pub done: i64,
    pub failed: i64,
    pub skipped: i64,
}

/// The incoming side. Exactly one of `webhook` and `poll` is set; every Route can also
/// be triggered by hand through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Incoming {
    /// Items are POSTed to `/webhooks/{namespace}/{route}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    /// Items are fetched from an HTTP Connection on a schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<Poll>,
}

/// A webhook endpoint. A JSON object body is one item; a JSON array is one item per
/// element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Webhook {
    /// How senders authenticate. Absent: anyone who can reach the port may post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<WebhookAuth>,
}

/// Webhook authentication. Exactly one method is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookAuth {
    /// A shared token, sent as `Authorization: Bearer <token>` or in the header
    /// `X-Switchyard-Token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretValue>,
    /// An HMAC signature of the raw body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac: Option<HmacAuth>,
}

/// HMAC-SHA256 signature of the raw request body, hex-encoded, in a header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HmacAuth {
    /// The shared key.
    pub secret: SecretValue,
    /// Header carrying the signature. Absent: `X-Signature-256` (GitHub's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Text before the hex digest in the header, e.g. `sha256=`. Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// Poll an HTTP Connection on a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Poll {
    /// Name of an HTTP Connection in the same namespace.
    pub connection: String,
    /// Cron expression (5 fields, or 6 with seconds first), in UTC.
    pub schedule: String,
    /// The request to send.
    #[serde(default)]
    pub request: PollRequest,
    /// JSON pointer (RFC 6901) to the array of items in the response, e.g. `/data`.
    /// Absent: the whole response is the array (or a single item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_pointer: Option<String>,
    /// How to fetch further pages. Absent: one request per run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// An HTTP request relative to a Connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PollRequest {
    /// HTTP method. Absent: `GET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
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

/// Pagination styles. Exactly one is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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
    pub limit: u64,
}

/// Next-link pagination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NextLinkPagination {
    /// JSON pointer to the next page's URL (absolute, or relative to the base URL).
    pub pointer: String,
}

/// Cursor pagination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CursorPagination {
    /// JSON pointer to the next cursor in the response.
    pub pointer: String,
    /// Query parameter the cursor is sent in.
    pub param: String,
}

/// Transformer steps on both sides of the queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Transformers {
    /// Applied to each incoming item before it is queued.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incoming: Vec<Step>,
    /// Applied to each task's item just before it is sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outgoing: Vec<Step>,
}

impl Transformers {
    pub fn is_empty(&self) -> bool {
        self.incoming.is_empty() && self.outgoing.is_empty()
    }
}

/// The outgoing side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Outgoing {
    /// Name of a Connection in the same namespace.
    pub connection: String,
    /// What to send over an HTTP Connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpDelivery>,
}

/// One HTTP request per task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpDelivery {
    /// HTTP method. Absent: `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path joined to the Connection's base URL; `{{ jq }}` placeholders are filled from
    /// the item and URL-encoded, e.g. `/orders/{{ .id }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Extra headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: Headers,
    /// jq expression computing the JSON body from the item. Absent: the item itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// How queued tasks are processed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Processing {
    /// `realtime` (as soon as queued) or `scheduled` (at each `schedule` tick). Absent:
    /// `realtime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ProcessingMode>,
    /// Cron expression for `scheduled` mode (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Tasks delivered at the same time. Absent: 16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// Retry policy for failed deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Stop intake and delivery; queued tasks wait. Absent: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// When tasks are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ProcessingMode {
    Realtime,
    Scheduled,
}

/// Exponential back-off with full jitter between attempts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts before a task is `failed`. Absent: 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Delay before the second attempt, in milliseconds. Absent: 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_backoff_ms: Option<u64>,
    /// Upper bound on the delay, in milliseconds. Absent: 300000 (5 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff_ms: Option<u64>,
}
