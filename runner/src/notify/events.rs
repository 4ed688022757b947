//! The internal events of notifications: each function writes the log line and bumps
//! the metric (registered in the runner's registry, [`crate::metrics::METRICS`]).
//! Labels: namespace, Notification name, channel, fixed states; never a message text.

use std::sync::LazyLock;

use prometheus::{IntCounterVec, IntGaugeVec, Opts};

/// Metric names (docs/metrics.md and docs/notifications.md list them).
pub mod names {
    pub const SENT: &str = "switchyard_notifications_sent_total";
    pub const SEND_FAILURES: &str = "switchyard_notification_send_failures_total";
    pub const EVALUATIONS: &str = "switchyard_notification_evaluations_total";
    pub const FIRING: &str = "switchyard_notification_firing";
}

struct NotifyMetrics {
    sent: IntCounterVec,
    send_failures: IntCounterVec,
    evaluations: IntCounterVec,
    firing: IntGaugeVec,
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    let _ = crate::metrics::METRICS
        .registry
        .register(Box::new(metric.clone()));
    metric
}

static METRICS: LazyLock<NotifyMetrics> = LazyLock::new(|| {
    let firing = IntGaugeVec::new(
        Opts::new(
            names::FIRING,
            "1 while a Notification's condition holds, else 0",
        ),
        &["namespace", "notification"],
    )
    .unwrap_or_else(|e| unreachable!("metric {}: {e}", names::FIRING));
    let _ = crate::metrics::METRICS
        .registry
        .register(Box::new(firing.clone()));
    NotifyMetrics {
        sent: counter(
            names::SENT,
            "Notification messages sent, by channel (email, webhook) and state (firing, resolved)",
            &["namespace", "notification", "channel", "state"],
        ),
        send_failures: counter(
            names::SEND_FAILURES,
            "Notification messages a channel failed to send (tried again at the next evaluation)",
            &["namespace", "notification", "channel"],
        ),
        evaluations: counter(
            names::EVALUATIONS,
            "Evaluations of Notification rules, by outcome (firing, clear, error)",
            &["namespace", "notification", "outcome"],
        ),
        firing,
    }
});

/// A rule was evaluated: `Some(holds)`, or `None` when it could not be.
pub fn evaluated(namespace: &str, name: &str, holds: Option<bool>) {
    let outcome = match holds {
        Some(true) => "firing",
        Some(false) => "clear",
        None => "error",
    };
    METRICS
        .evaluations
        .with_label_values(&[namespace, name, outcome])
        .inc();
    if let Some(holds) = holds {
        METRICS
            .firing
            .with_label_values(&[namespace, name])
            .set(i64::from(holds));
    }
}

/// A rule could not be evaluated (the queue database failed).
pub fn evaluation_failed(namespace: &str, name: &str, error: &dyn std::fmt::Display) {
    evaluated(namespace, name, None);
    tracing::warn!(
        namespace,
        notification = name,
        error = %crate::redact::redact(&error.to_string()),
        "Notification rule not evaluated; trying again at the next interval"
    );
}

/// A message went out on `channel`.
pub fn sent(namespace: &str, name: &str, channel: &str, state: &str) {
    METRICS
        .sent
        .with_label_values(&[namespace, name, channel, state])
        .inc();
    tracing::info!(
        namespace,
        notification = name,
        channel,
        state,
        "Notification sent"
    );
}

/// A message could not go out on `channel`.
pub fn send_failed(
    namespace: &str,
    name: &str,
    channel: &str,
    state: &str,
    error: &dyn std::fmt::Display,
) {
    METRICS
        .send_failures
        .with_label_values(&[namespace, name, channel])
        .inc();
    tracing::warn!(
        namespace,
        notification = name,
        channel,
        state,
        error = %crate::redact::redact(&error.to_string()),
        "Notification not sent"
    );
}

/// The rule fires, but the cool-down holds its message back.
pub fn held_back(namespace: &str, name: &str) {
    tracing::info!(
        namespace,
        notification = name,
        "Notification fires again within its cool-down; no message sent"
    );
}
