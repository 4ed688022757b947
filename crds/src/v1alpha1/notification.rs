//! `Notification`: a rule a tenant declares (N failed tasks in a window, a task waiting
//! too long, a Connection probe failing, a circuit breaker open) and where to send a message when it fires and
//! when it clears (e-mail over SMTP, a webhook). A kind of its own rather than a Tenant
//! field: the local runner reads it from the same manifest directory as Routes, the
//! operator ships it to the runner like the other kinds, and a team edits its rules
//! without touching the Tenant (which platform teams own).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CommonStatus, PemValue, SecretValue};

/// A notification rule and its channels. Exactly one condition of `rule` is set; at
/// least one of `email` and `webhook`.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "switchyard.dev",
    version = "v1alpha1",
    kind = "Notification",
    category = "switchyard",
    doc = "A Switchyard Notification: a rule (failed tasks in a window, a task waiting too long, a Connection probe failing, a circuit open) and the e-mail or webhook told when it fires and when it clears, without Alertmanager.",
    namespaced,
    status = "NotificationStatus",
    shortname = "swnotify",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationSpec {
    /// The condition that makes the rule fire.
    pub rule: NotificationRule,
    /// After a message that the rule fires, no other one for this long, even when the
    /// rule clears and fires again in between (a flapping rule sends one message, not
    /// one per flap); while it keeps firing, a reminder goes out once per cool-down.
    /// Absent: 3600 (one hour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub cooldown_seconds: Option<u64>,
    /// How often the rule is evaluated. Absent: 30 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub interval_seconds: Option<u64>,
    /// Send an e-mail over SMTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailChannel>,
    /// POST a JSON message to a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookChannel>,
}

/// Default cool-down: one hour between two firing messages of a rule.
pub const DEFAULT_NOTIFICATION_COOLDOWN_SECONDS: u64 = 3_600;
/// Default evaluation interval of a rule: 30 seconds.
pub const DEFAULT_NOTIFICATION_INTERVAL_SECONDS: u64 = 30;

/// The condition of a Notification; exactly one is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["failedTasks"]}, {"required": ["taskAge"]}, {"required": ["connectionProbe"]}, {"required": ["circuitOpen"]}]))]
pub struct NotificationRule {
    /// Fires when at least `count` tasks ended `failed` within the last `windowSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_tasks: Option<FailedTasksRule>,
    /// Fires when a task has been `pending` or `processing` for longer than
    /// `olderThanSeconds` (a stuck queue or a receiver that is down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_age: Option<TaskAgeRule>,
    /// Fires when a Connection's probe (the check of `POST …/connections/{name}/test`)
    /// fails: the system does not answer or refuses the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_probe: Option<ConnectionProbeRule>,
    /// Fires while a Connection's circuit breaker (`spec.circuitBreaker`) is not closed:
    /// open (deliveries held back) or half-open (a trial decides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_open: Option<CircuitOpenRule>,
}

/// N failed tasks in a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailedTasksRule {
    /// How many failed tasks make the rule fire.
    #[schemars(range(min = 1))]
    pub count: u64,
    /// The window, counted back from now, in which tasks must have failed.
    #[schemars(range(min = 1))]
    pub window_seconds: u64,
    /// Only this Route's tasks. Absent: every Route of the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

/// A task waiting too long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskAgeRule {
    /// Age (since the task was queued) past which a `pending` or `processing` task makes
    /// the rule fire.
    #[schemars(range(min = 1))]
    pub older_than_seconds: u64,
    /// Only this Route's tasks. Absent: every Route of the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

/// A Connection whose probe fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionProbeRule {
    /// The Connection (of the namespace) to probe: an HTTP or database Connection.
    pub connection: String,
}

/// A Connection whose circuit breaker is open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CircuitOpenRule {
    /// The Connection (of the namespace); it must have `spec.circuitBreaker`.
    pub connection: String,
}

/// E-mail over SMTP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailChannel {
    /// The SMTP server.
    pub smtp: SmtpServer,
    /// The sender address (`alerts@example.com` or `Switchyard <alerts@example.com>`).
    pub from: String,
    /// The recipients; at least one.
    pub to: Vec<String>,
}

/// An SMTP server to submit mail to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SmtpServer {
    /// Host name (also the name its TLS certificate must carry).
    pub host: String,
    /// Port. Absent: 587 for `starttls`, 465 for `implicit`, 25 for `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u16>,
    /// How the connection is protected. Absent: `starttls`.
    #[serde(default)]
    pub tls: SmtpTls,
    /// CA certificates (PEM) that may sign the server's certificate, trusted in addition
    /// to the built-in (Mozilla) roots: inline or from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<PemValue>,
    /// User name for SMTP AUTH (PLAIN or LOGIN). Requires `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password for SMTP AUTH, from a Secret. Requires `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretValue>,
    /// Seconds to wait for the server, per message. Absent: 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<u64>,
}

/// Transport security of an SMTP connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Implicit,
    /// No TLS at all: only for a relay on the same host or network. AUTH is refused over
    /// it, so a password never crosses the wire in clear.
    None,
}

/// A webhook that receives a JSON message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookChannel {
    /// The URL (`http` or `https`), written inline. Exactly one of `url` and `urlFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The URL taken from a Secret: for URLs that carry a token (Slack's incoming
    /// webhooks do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_from: Option<SecretValue>,
    /// The shape of the body. Absent: `json`.
    #[serde(default)]
    pub format: WebhookFormat,
}

/// The body a notification webhook receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum WebhookFormat {
    /// `{"notification", "namespace", "state", "summary", "details", "at"}`.
    #[default]
    Json,
    /// `{"text": "…"}`, which Slack's (and Mattermost's, Rocket.Chat's) incoming webhooks
    /// accept.
    Slack,
}

/// Status of a Notification.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
}
