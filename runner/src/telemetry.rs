//! Metrics and log set-up. Each internal event is one function here that bumps its
//! metric, so names and labels cannot drift apart across the code.

use std::sync::LazyLock;

use std::time::Duration;

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

use crate::queue::{Outcome, QueueError, RouteKey, StorageFault};

pub const ITEMS_RECEIVED: &str = "switchyard_items_received_total";
pub const TASKS_CREATED: &str = "switchyard_tasks_created_total";
pub const DELIVERY_ATTEMPTS: &str = "switchyard_delivery_attempts_total";
pub const WEBHOOK_REJECTED: &str = "switchyard_webhook_rejected_total";
pub const QUEUE_COMMIT_FAILURES: &str = "switchyard_queue_commit_failures_total";
pub const QUEUE_COMMITS_FAILING: &str = "switchyard_queue_commits_failing";
pub const POLLS_SKIPPED: &str = "switchyard_polls_skipped_total";

pub struct Metrics {
    pub registry: Registry,
    items_received: IntCounterVec,
    tasks_created: IntCounterVec,
    delivery_attempts: IntCounterVec,
    webhook_rejected: IntCounterVec,
    queue_commit_failures: IntCounterVec,
    queue_commits_failing: IntGauge,
    polls_skipped: IntCounterVec,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let counter = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    // Registration fails only for duplicate names, which the constants above rule out.
    let _ = registry.register(Box::new(counter.clone()));
    counter
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    Metrics {
        items_received: counter(
            &registry,
            ITEMS_RECEIVED,
            "Items received by the incoming side",
            &["namespace", "route", "source"],
        ),
        tasks_created: counter(
            &registry,
            TASKS_CREATED,
            "Tasks committed to the queue",
            &["namespace", "route"],
        ),
        delivery_attempts: counter(
            &registry,
            DELIVERY_ATTEMPTS,
            "Delivery attempts by outcome",
            &["namespace", "route", "outcome"],
        ),
        webhook_rejected: counter(
            &registry,
            WEBHOOK_REJECTED,
            "Webhook requests refused",
            &["namespace", "route", "reason"],
        ),
        queue_commit_failures: counter(
            &registry,
            QUEUE_COMMIT_FAILURES,
            "Queue transactions (group commits and recovery probes) that failed, by storage fault",
            &["reason"],
        ),
        queue_commits_failing: {
            let gauge = IntGauge::new(
                QUEUE_COMMITS_FAILING,
                "1 while queue commits fail (webhooks answer 503, /readyz is not ready)",
            )
            .unwrap_or_else(|e| unreachable!("metric {QUEUE_COMMITS_FAILING}: {e}"));
            let _ = registry.register(Box::new(gauge.clone()));
            gauge
        },
        polls_skipped: counter(
            &registry,
            POLLS_SKIPPED,
            "Poll ticks skipped by back-pressure (maxPending, disk floor)",
            &["namespace", "route", "reason"],
        ),
        registry,
    }
});

pub fn items_received(route: &RouteKey, source: &str, items: usize, tasks: usize) {
    METRICS
        .items_received
        .with_label_values(&[&route.namespace, &route.route, source])
        .inc_by(items as u64);
    METRICS
        .tasks_created
        .with_label_values(&[&route.namespace, &route.route])
        .inc_by(tasks as u64);
}

pub fn task_attempted(route: &RouteKey, outcome: &Outcome) {
    let outcome = match outcome {
        Outcome::Done => "done",
        Outcome::Retry { .. } => "retry",
        Outcome::Failed { .. } => "failed",
        Outcome::Skipped => "skipped",
        Outcome::Released => "released",
        Outcome::Waiting { .. } => "waiting",
    };
    METRICS
        .delivery_attempts
        .with_label_values(&[&route.namespace, &route.route, outcome])
        .inc();
}

/// `reason` is a fixed category (`auth`, `body`, `transform`, `suspended`, `queue`),
/// never user data.
pub fn webhook_rejected(route: &RouteKey, reason: &'static str) {
    METRICS
        .webhook_rejected
        .with_label_values(&[&route.namespace, &route.route, reason])
        .inc();
}

/// Back-pressure: a poller skipped its tick instead of fetching.
pub fn poll_skipped(route: &RouteKey, refusal: &crate::engine::Refusal) {
    METRICS
        .polls_skipped
        .with_label_values(&[&route.namespace, &route.route, refusal.category()])
        .inc();
    tracing::warn!(namespace = %route.namespace, route = %route.route, reason = refusal.category(), error = %refusal, "Poll skipped by back-pressure");
}

/// Whether a failed queue commit is logged.
pub enum CommitFailureLog {
    /// Commits were succeeding until this one.
    First,
    /// Still failing; the log repeats now and then.
    Repeat { failures: u64, since: Duration },
    /// Counted only.
    Quiet,
}

/// A queue transaction failed: every caller waiting on it got the error.
pub fn queue_commit_failed(
    fault: StorageFault,
    error: &QueueError,
    callers: usize,
    log: CommitFailureLog,
) {
    METRICS
        .queue_commit_failures
        .with_label_values(&[fault.as_str()])
        .inc();
    METRICS.queue_commits_failing.set(1);
    match log {
        CommitFailureLog::First => tracing::error!(
            reason = %fault,
            callers,
            cause = fault.describe(),
            error = %error,
            "Queue commits are failing; webhooks answer 503 and /readyz is not ready until a commit succeeds again"
        ),
        CommitFailureLog::Repeat { failures, since } => tracing::error!(
            reason = %fault,
            failures,
            failing_for_s = since.as_secs(),
            cause = fault.describe(),
            error = %error,
            "Queue commits are still failing"
        ),
        CommitFailureLog::Quiet => {}
    }
}

/// A queue commit succeeded after failures.
pub fn queue_commits_recovered(failures: u64, after: Duration) {
    METRICS.queue_commits_failing.set(0);
    tracing::info!(
        failures,
        failing_for_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
        "Queue commits succeed again"
    );
}

/// The Prometheus text exposition of every metric.
pub fn render() -> String {
    let encoder = prometheus::TextEncoder::new();
    encoder
        .encode_to_string(&METRICS.registry.gather())
        .unwrap_or_default()
}

/// Logs to stderr through the redactor; `RUST_LOG` sets the level (default `info`),
/// `SWITCHYARD_LOG_FORMAT=json` switches to JSON lines.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::redact::RedactingStderr);
    if std::env::var("SWITCHYARD_LOG_FORMAT").is_ok_and(|f| f == "json") {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}
