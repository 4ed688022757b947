use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    AfterRead, CommonStatus, FileFormat, FileSplit, Headers, HttpMethod, OutputFormat, SecretValue,
    Step,
};

/// A flow of items: an incoming side, transformers, the durable queue (one task per
/// item) and an outgoing side.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "switchyard.dev",
    version = "v1alpha1",
    kind = "Route",
    validation = crate::v1alpha1::rules::rule(
        "self.metadata.name.size() <= 63 && !self.metadata.name.contains('.')",
        "the name must be a DNS label (at most 63 characters, no `.`): it is part of the webhook URL"
    ),
    category = "switchyard",
    doc = "A Switchyard Route: items come in (webhook, poll or another Route), are reshaped by transformers, wait as tasks in a durable queue and are delivered to an outgoing Connection, with retries; or calls pass through its synchronous HTTP proxy, each recorded as a task.",
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
    /// The route's queue, as last reported by its runner (every 30–60 s, or sooner on a
    /// change; written by the runner, not the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueSnapshot>,
}

/// A data-plane snapshot of one route's queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueSnapshot {
    /// Tasks waiting for their (next) attempt.
    pub pending: i64,
    /// Tasks being delivered.
    pub processing: i64,
    /// Tasks delivered.
    pub done: i64,
    /// Tasks out of attempts or rejected; they wait for a human.
    pub failed: i64,
    /// Tasks filtered out or discarded.
    pub skipped: i64,
    /// Tasks delivered and waiting for the receiver's acknowledgement (`outgoing.await`).
    #[serde(default)]
    pub waiting: i64,
    /// Age in seconds of the oldest pending task; absent when none is pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_pending_age_seconds: Option<i64>,
    /// When a task of this route was last delivered (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_time: Option<String>,
    /// The most recent delivery error still standing (a task waiting to retry, or failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
    /// When the runner took this snapshot (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_time: Option<String>,
}

/// A delivery error, with the task it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastError {
    /// When it happened (RFC 3339).
    pub time: String,
    /// What went wrong (secrets masked).
    pub message: String,
    /// The task; inspect or retry it through the runner API.
    pub task_id: String,
}

/// The incoming side. Exactly one of `webhook`, `poll`, `route` and `proxy` is set;
/// every Route but a proxy can also be triggered by hand through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = crate::v1alpha1::rules::exactly_one(&["webhook", "poll", "route", "proxy"]))]
pub struct Incoming {
    /// Items are POSTed to `/webhooks/{namespace}/{route}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    /// Items are fetched from a Connection on a schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<Poll>,
    /// Fan-out: take the items that another Route of the namespace receives (through its
    /// webhook, poll or manual trigger), as they came in, before that Route's incoming
    /// transformers. One intake then yields a task per Route, each with its own
    /// retries and state, all committed in one transaction: if any Route's incoming
    /// transformers refuse an item, none is queued. The named Route must have a
    /// `webhook` or `poll` and run in every region this one runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Content-based routing: a jq condition on each incoming item (as received,
    /// before the incoming transformers); the Route takes only the items for which it is
    /// true (not `false` or `null`), e.g. `.country == "NL"`. Absent: every item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Calls to `/proxy/{namespace}/{route}/{path}` are forwarded synchronously through
    /// the outgoing HTTP Connection, answered with the receiver's answer and recorded
    /// as tasks (`done` or `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<super::Proxy>,
}

/// A webhook endpoint. A JSON object body is one item; a JSON array is one item per
/// element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Webhook {
    /// How senders authenticate. Absent: anyone who can reach the port may post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<WebhookAuth>,
    /// Most items one request may carry (the elements of a JSON array); a request with
    /// more gets `413` naming this bound, and none of its items is queued. The runner
    /// holds about this many items in memory per request in flight. At least 1. Absent:
    /// the runner's `--webhook-max-items` (10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_items: Option<u32>,
}

/// Webhook authentication. Exactly one method is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = crate::v1alpha1::rules::exactly_one(&["token", "hmac"]))]
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
    /// Run once the receiver accepted an item, on `{item, response}`: the item as sent
    /// and the receiver's answer (HTTP: `{status, headers, body}`; database:
    /// `{rowsAffected}`; files: `{path}`; SOAP: the response as JSON). Use them to write
    /// the receiver's id to storage or to `trigger` another Route. If a step fails, the
    /// task fails with the delivery noted in its log (a retry delivers again, with the
    /// same Idempotency-Key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_delivery: Vec<Step>,
}

impl Transformers {
    pub fn is_empty(&self) -> bool {
        self.incoming.is_empty() && self.outgoing.is_empty() && self.after_delivery.is_empty()
    }
}

/// The outgoing side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = crate::v1alpha1::rules::at_most_one(&["http", "database", "file", "soap"]))]
pub struct Outgoing {
    /// Name of a Connection in the same namespace.
    pub connection: String,
    /// What to send over an HTTP Connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpDelivery>,
    /// What to write to a database Connection (required for one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseDelivery>,
    /// What file to write to a file system Connection (required for one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileDelivery>,
    /// The operation to call on a SOAP Connection (required for one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soap: Option<SoapCall>,
    /// Wait for the receiver's acknowledgement after each send (state `waiting`).
    /// Absent: a task is `done` once the receiver accepted it.
    #[serde(default, rename = "await", skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<super::Await>,
}

/// One HTTP request per task (or per batch).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpDelivery {
    /// HTTP method. Absent: `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HttpMethod>,
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
    /// Send the items of several tasks in one request. Absent: one request per item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<super::HttpBatch>,
}

/// How queued tasks are processed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = crate::v1alpha1::rules::rule(
    "!has(self.mode) || self.mode != 'scheduled' || has(self.schedule)",
    "`schedule` is required when `mode` is `scheduled`"
))]
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
    #[schemars(range(min = 1))]
    pub max_concurrency: Option<u32>,
    /// Retry policy for failed deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Stop intake and delivery; queued tasks wait. Absent: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Back-pressure: the most tasks of this Route that may wait undelivered (`pending`
    /// or `processing`). Past it, webhooks answer `429 Too Many Requests` with
    /// `Retry-After` and polls skip their tick, until deliveries bring the count down;
    /// tasks already queued are never touched. Absent: the tenant's default
    /// (`spec.backPressure.maxPendingPerRoute` on the Tenant, `--max-pending` on a local
    /// runner), else no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_pending: Option<u64>,
    /// Which tasks keep the item after each incoming step (besides the item as
    /// received, which every task of a Route with incoming steps keeps), for the task
    /// detail and for replaying a task from a step. At most 64 KiB of items are kept
    /// per task; a step past that is marked as left out. Absent: `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_steps: Option<KeepSteps>,
}

/// Which tasks keep the item after each incoming step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum KeepSteps {
    /// No task keeps them (the item as received is still kept).
    Never,
    /// Every task keeps them until it is `done`; then they are dropped.
    #[default]
    Failed,
    /// Every task keeps them for as long as the task is kept.
    Always,
}

impl KeepSteps {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::Failed => "failed",
            Self::Always => "always",
        }
    }
}

/// When tasks are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ProcessingMode {
    Realtime,
    Scheduled,
}

/// Exponential back-off with full jitter between attempts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = crate::v1alpha1::rules::rule(
    "!has(self.initialBackoffMs) || !has(self.maxBackoffMs) || self.initialBackoffMs <= self.maxBackoffMs",
    "`initialBackoffMs` must not exceed `maxBackoffMs`"
))]
pub struct RetryPolicy {
    /// Attempts before a task is `failed`. Absent: 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_attempts: Option<u32>,
    /// Delay before the second attempt, in milliseconds. Absent: 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_backoff_ms: Option<u64>,
    /// Upper bound on the delay, in milliseconds. Absent: 300000 (5 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff_ms: Option<u64>,
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
    /// object or an array of objects; the header comes from the first one). Absent:
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
    /// jq expression computing the operation's content (an object: keys become child
    /// elements, arrays repeat them). Absent: the item itself (for polls: empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// For polls: JSON pointer to the items in the response (converted to JSON), e.g.
    /// `/GetOrdersResponse/Order`. Absent: the whole response is one item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::v1alpha1::rules::JSON_POINTER))]
    pub items_pointer: Option<String>,
}
