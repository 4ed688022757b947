use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    CommonStatus, DatabaseDelivery, FileDelivery, Headers, HttpMethod, Poll, SecretValue, SoapCall,
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
/// element; with `format: cxml` the body is one cXML document, answered in cXML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = crate::v1alpha1::rules::rule(
    "!has(self.cxml) || (has(self.format) && self.format == 'cxml')",
    "`cxml` goes with `format: cxml`"
))]
#[x_kube(validation = crate::v1alpha1::rules::rule(
    "!has(self.format) || self.format != 'cxml' || !has(self.maxItems)",
    "`maxItems` does not apply to `format: cxml` (a cXML document is one item)"
))]
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
    /// What a request body is. Absent: `json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<WebhookBody>,
    /// For `format: cxml`: the SharedSecret a document's Sender must present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cxml: Option<CxmlWebhook>,
}

/// The body a webhook takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum WebhookBody {
    /// A JSON object (one item) or an array of objects (one item each), answered `202`
    /// with the task ids once they are committed.
    #[default]
    Json,
    /// One cXML request document (`Content-Type: text/xml` or `application/xml`) as one
    /// item, the JSON `parse: {format: cxml}` gives (credential secrets masked); every
    /// answer is a cXML `Response` whose `Status` says what happened (docs/b2b.md, "cXML").
    Cxml,
}

/// How a `format: cxml` webhook checks the Sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CxmlWebhook {
    /// The SharedSecret the document's `Header/Sender/Credential` must carry; a document
    /// without it or with another is answered `401` and nothing is queued.
    pub shared_secret: SecretValue,
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
