//! The runner's Prometheus metrics: every name is a constant in [`names`], every metric
//! lives in one registry ([`METRICS`]), and every change to one goes through an internal
//! event in [`events`], which also writes the log line, so the two cannot drift apart.
//!
//! Labels are bounded by the configuration: namespace, route, step label and
//! Connection name, plus fixed categories (outcome, reason, state). Never a task id, an
//! item value or an error message. The hot path uses handles resolved once per route
//! ([`RouteMetrics`]), not a label lookup per item. `docs/metrics.md` lists them all.

pub mod activity;
pub mod events;
mod queue_gauges;
mod route;
#[cfg(test)]
mod tests;

pub use queue_gauges::refresh_queue_gauges;
pub use route::{RouteMetrics, StepTimer};

use std::sync::LazyLock;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

/// Metric names (docs/metrics.md has one row per name).
pub mod names {
    pub const BUILD_INFO: &str = "switchyard_build_info";
    pub const ITEMS_RECEIVED: &str = "switchyard_items_received_total";
    pub const TASKS_CREATED: &str = "switchyard_tasks_created_total";
    pub const DELIVERY_ATTEMPTS: &str = "switchyard_delivery_attempts_total";
    pub const TASK_RETRIES: &str = "switchyard_task_retries_total";
    pub const TASKS_DISCARDED: &str = "switchyard_tasks_discarded_total";
    pub const INTAKE_REJECTIONS: &str = "switchyard_intake_rejections_total";
    pub const INTAKE_DURATION: &str = "switchyard_intake_duration_seconds";
    pub const QUEUE_WAIT: &str = "switchyard_queue_wait_seconds";
    pub const DELIVERY_DURATION: &str = "switchyard_delivery_duration_seconds";
    pub const END_TO_END: &str = "switchyard_end_to_end_seconds";
    pub const STEP_DURATION: &str = "switchyard_step_duration_seconds";
    pub const TASKS: &str = "switchyard_tasks";
    pub const OLDEST_PENDING_AGE: &str = "switchyard_oldest_pending_task_age_seconds";
    pub const QUEUE_GAUGE_ERRORS: &str = "switchyard_queue_gauge_errors_total";
    pub const CIRCUIT_STATE: &str = "switchyard_circuit_state";
    pub const LEASE_TAKEBACKS: &str = "switchyard_lease_takebacks_total";
    pub const QUEUE_COMMIT_FAILURES: &str = "switchyard_queue_commit_failures_total";
    pub const QUEUE_COMMITS_FAILING: &str = "switchyard_queue_commits_failing";

    /// Every name above.
    pub const ALL: &[&str] = &[
        BUILD_INFO,
        ITEMS_RECEIVED,
        TASKS_CREATED,
        DELIVERY_ATTEMPTS,
        TASK_RETRIES,
        TASKS_DISCARDED,
        INTAKE_REJECTIONS,
        INTAKE_DURATION,
        QUEUE_WAIT,
        DELIVERY_DURATION,
        END_TO_END,
        STEP_DURATION,
        TASKS,
        OLDEST_PENDING_AGE,
        QUEUE_GAUGE_ERRORS,
        CIRCUIT_STATE,
        LEASE_TAKEBACKS,
        QUEUE_COMMIT_FAILURES,
        QUEUE_COMMITS_FAILING,
    ];
}

/// Latency of one request or one delivery: 1 ms to 1 min.
const REQUEST_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Time a task spends in the queue: 5 ms to a day.
const QUEUE_BUCKETS: &[f64] = &[
    0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0,
];
/// One transformer step on one item (or batch): 10 µs to 1 s.
const STEP_BUCKETS: &[f64] = &[
    0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0,
];

const ROUTE: &[&str] = &["namespace", "route"];

pub struct Metrics {
    pub registry: Registry,
    pub(crate) items_received: IntCounterVec,
    pub(crate) tasks_created: IntCounterVec,
    pub(crate) delivery_attempts: IntCounterVec,
    pub(crate) task_retries: IntCounterVec,
    pub(crate) tasks_discarded: IntCounterVec,
    pub(crate) intake_rejections: IntCounterVec,
    pub(crate) intake_duration: HistogramVec,
    pub(crate) queue_wait: HistogramVec,
    pub(crate) delivery_duration: HistogramVec,
    pub(crate) end_to_end: HistogramVec,
    pub(crate) step_duration: HistogramVec,
    pub(crate) tasks: IntGaugeVec,
    pub(crate) oldest_pending_age: prometheus::GaugeVec,
    pub(crate) queue_gauge_errors: prometheus::IntCounter,
    pub(crate) circuit_state: IntGaugeVec,
    pub(crate) lease_takebacks: IntCounterVec,
    pub(crate) queue_commit_failures: IntCounterVec,
    pub(crate) queue_commits_failing: IntGauge,
}

/// Registers `metric`; only a duplicate name fails, which the constants rule out.
fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    let _ = registry.register(Box::new(metric.clone()));
    metric
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    register(registry, metric)
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    register(registry, metric)
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    let metric = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    register(registry, metric)
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let metrics = metrics();
    precreate(&metrics);
    metrics
});

fn metrics() -> Metrics {
    use names::*;
    let registry = Registry::new();
    let r = &registry;
    let build_info = gauge(
        r,
        BUILD_INFO,
        "Always 1; the labels say which build runs",
        &["version", "revision"],
    );
    build_info
        .with_label_values(&[
            env!("CARGO_PKG_VERSION"),
            option_env!("SWITCHYARD_REVISION").unwrap_or("unknown"),
        ])
        .set(1);
    #[cfg(target_os = "linux")]
    let _ = r.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ));
    Metrics {
        items_received: counter(
            r,
            ITEMS_RECEIVED,
            "Items that came in (webhook request, poll, manual trigger, trigger step), before the incoming transformers",
            &["namespace", "route", "source"],
        ),
        tasks_created: counter(r, TASKS_CREATED, "Tasks committed to the queue", ROUTE),
        delivery_attempts: counter(
            r,
            DELIVERY_ATTEMPTS,
            "Delivery attempts by outcome (done, retry, failed, skipped, waiting, released)",
            &["namespace", "route", "outcome"],
        ),
        task_retries: counter(
            r,
            TASK_RETRIES,
            "Tasks put back to pending: by back-off after a failed attempt, or by a human through the API",
            &["namespace", "route", "trigger"],
        ),
        tasks_discarded: counter(
            r,
            TASKS_DISCARDED,
            "Tasks discarded through the API (now skipped)",
            ROUTE,
        ),
        intake_rejections: counter(
            r,
            INTAKE_REJECTIONS,
            "Webhook requests, callbacks and poll batches refused, by reason; nothing was queued",
            &["namespace", "route", "source", "reason"],
        ),
        intake_duration: histogram(
            r,
            INTAKE_DURATION,
            "From the start of an intake (request or poll batch) to its tasks being committed",
            &["namespace", "route", "source"],
            REQUEST_BUCKETS,
        ),
        queue_wait: histogram(
            r,
            QUEUE_WAIT,
            "From a task's commit to its first delivery attempt",
            ROUTE,
            QUEUE_BUCKETS,
        ),
        delivery_duration: histogram(
            r,
            DELIVERY_DURATION,
            "One delivery attempt: outgoing transformers, send, after-delivery steps",
            ROUTE,
            REQUEST_BUCKETS,
        ),
        end_to_end: histogram(
            r,
            END_TO_END,
            "From a task's commit to its successful delivery",
            ROUTE,
            QUEUE_BUCKETS,
        ),
        step_duration: histogram(
            r,
            STEP_DURATION,
            "One transformer step on the items it was given",
            &["namespace", "route", "step", "kind"],
            STEP_BUCKETS,
        ),
        tasks: gauge(
            r,
            TASKS,
            "Tasks in the queue per state (read from the queue when scraped, cached briefly)",
            &["namespace", "route", "state"],
        ),
        oldest_pending_age: register(
            r,
            prometheus::GaugeVec::new(
                Opts::new(
                    OLDEST_PENDING_AGE,
                    "Age of the oldest pending task of a route; 0 when none is pending",
                ),
                ROUTE,
            )
            .unwrap_or_else(|e| unreachable!("metric {OLDEST_PENDING_AGE}: {e}")),
        ),
        queue_gauge_errors: register(
            r,
            prometheus::IntCounter::new(
                QUEUE_GAUGE_ERRORS,
                "Scrapes whose queue gauges could not be read (the last values stay)",
            )
            .unwrap_or_else(|e| unreachable!("metric {QUEUE_GAUGE_ERRORS}: {e}")),
        ),
        circuit_state: gauge(
            r,
            CIRCUIT_STATE,
            "Circuit breaker of a Connection: 1 for its current state (closed, open, half_open), 0 for the others",
            &["namespace", "connection", "state"],
        ),
        lease_takebacks: counter(
            r,
            LEASE_TAKEBACKS,
            "Leased tasks taken back undelivered: their lease expired (a runner died or stalled) or this runner restarted",
            &["reason"],
        ),
        queue_commit_failures: counter(
            r,
            QUEUE_COMMIT_FAILURES,
            "Queue transactions (group commits and recovery probes) that failed, by storage fault",
            &["reason"],
        ),
        queue_commits_failing: register(
            r,
            IntGauge::new(
                QUEUE_COMMITS_FAILING,
                "1 while queue commits fail (webhooks answer 503, /readyz is not ready)",
            )
            .unwrap_or_else(|e| unreachable!("metric {QUEUE_COMMITS_FAILING}: {e}")),
        ),
        registry,
    }
}

/// Series that exist from the start, at 0, so rates and dashboards see them before the
/// first event.
fn precreate(metrics: &Metrics) {
    for reason in ["expired", "restart"] {
        metrics.lease_takebacks.with_label_values(&[reason]);
    }
    for fault in crate::queue::StorageFault::ALL {
        metrics
            .queue_commit_failures
            .with_label_values(&[fault.as_str()]);
    }
}

/// A histogram handle of a route (resolved once).
pub(crate) fn route_histogram(vec: &HistogramVec, namespace: &str, route: &str) -> Histogram {
    vec.with_label_values(&[namespace, route])
}

/// The Prometheus text exposition of every metric.
pub fn render() -> String {
    let encoder = prometheus::TextEncoder::new();
    encoder
        .encode_to_string(&METRICS.registry.gather())
        .unwrap_or_default()
}
