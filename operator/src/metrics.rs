//! The operator's Prometheus metrics and their internal events: each function below is
//! the one place that bumps a metric and writes the matching log line. Labels are fixed
//! categories (result, error category, object kind), never a Tenant's name or data.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::child::ChildKind;
use crate::error::Error;

/// Metric names (docs/metrics.md has one row per name).
pub mod names {
    pub const BUILD_INFO: &str = "switchyard_operator_build_info";
    pub const RECONCILES: &str = "switchyard_operator_reconciles_total";
    pub const RECONCILE_ERRORS: &str = "switchyard_operator_reconcile_errors_total";
    pub const RECONCILE_DURATION: &str = "switchyard_operator_reconcile_duration_seconds";
    pub const OBJECTS_APPLIED: &str = "switchyard_operator_objects_applied_total";
    pub const OBJECTS_DELETED: &str = "switchyard_operator_objects_deleted_total";
    pub const LEADER: &str = "switchyard_operator_leader";

    /// Every name above.
    pub const ALL: &[&str] = &[
        BUILD_INFO,
        RECONCILES,
        RECONCILE_ERRORS,
        RECONCILE_DURATION,
        OBJECTS_APPLIED,
        OBJECTS_DELETED,
        LEADER,
    ];
}

struct Metrics {
    registry: Registry,
    reconciles: IntCounterVec,
    reconcile_errors: IntCounterVec,
    reconcile_duration: Histogram,
    objects_applied: IntCounterVec,
    objects_deleted: IntCounterVec,
    leader: IntGauge,
}

fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    // Only a duplicate name fails, which the constants rule out.
    let _ = registry.register(Box::new(metric.clone()));
    metric
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    register(registry, metric)
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    use names::*;
    let registry = Registry::new();
    let r = &registry;
    let build_info = register(
        r,
        IntGaugeVec::new(
            Opts::new(BUILD_INFO, "Always 1; the labels say which build runs"),
            &["version"],
        )
        .unwrap_or_else(|e| unreachable!("metric {BUILD_INFO}: {e}")),
    );
    build_info
        .with_label_values(&[env!("CARGO_PKG_VERSION")])
        .set(1);
    #[cfg(target_os = "linux")]
    let _ = r.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ));
    let reconciles = counter(
        r,
        RECONCILES,
        "Tenant reconciles by result (success, error)",
        &["result"],
    );
    let reconcile_errors = counter(
        r,
        RECONCILE_ERRORS,
        "Failed Tenant reconciles by the step that failed (fetch, build, apply, delete, status, not_namespaced)",
        &["category"],
    );
    let objects_applied = counter(
        r,
        OBJECTS_APPLIED,
        "Objects server-side applied because they differed from the live ones, by kind",
        &["kind"],
    );
    let objects_deleted = counter(
        r,
        OBJECTS_DELETED,
        "Objects deleted as no longer wanted, by kind",
        &["kind"],
    );
    // Every series exists from the start, at 0.
    for result in ["success", "error"] {
        reconciles.with_label_values(&[result]);
    }
    for category in Error::CATEGORIES {
        reconcile_errors.with_label_values(&[category]);
    }
    for kind in ChildKind::ALL {
        let kind = kind.api_resource().kind;
        objects_applied.with_label_values(&[&kind]);
        objects_deleted.with_label_values(&[&kind]);
    }
    Metrics {
        reconciles,
        reconcile_errors,
        reconcile_duration: register(
            r,
            Histogram::with_opts(
                HistogramOpts::new(
                    RECONCILE_DURATION,
                    "One Tenant reconcile, fetch to statuses",
                )
                .buckets(vec![
                    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ]),
            )
            .unwrap_or_else(|e| unreachable!("metric {RECONCILE_DURATION}: {e}")),
        ),
        objects_applied,
        objects_deleted,
        leader: register(
            r,
            IntGauge::new(
                LEADER,
                "1 while this replica leads (reconciles), 0 while it stands by",
            )
            .unwrap_or_else(|e| unreachable!("metric {LEADER}: {e}")),
        ),
        registry,
    }
});

/// A reconcile of `namespace/tenant` ended after `took`.
pub fn reconciled(namespace: &str, tenant: &str, took: Duration, result: Result<(), &Error>) {
    METRICS.reconcile_duration.observe(took.as_secs_f64());
    match result {
        Ok(()) => {
            METRICS.reconciles.with_label_values(&["success"]).inc();
            tracing::debug!(%namespace, %tenant, took_ms = took.as_millis() as u64, "Reconciled.");
        }
        Err(error) => {
            METRICS.reconciles.with_label_values(&["error"]).inc();
            METRICS
                .reconcile_errors
                .with_label_values(&[error.category()])
                .inc();
            tracing::warn!(%namespace, %tenant, category = error.category(), %error, "Reconcile failed; retrying.");
        }
    }
}

/// `kind` `namespace/name` was applied (it differed from the live object).
pub fn object_applied(kind: &str, namespace: &str, name: &str) {
    METRICS.objects_applied.with_label_values(&[kind]).inc();
    tracing::debug!(%kind, %namespace, %name, "Applied.");
}

/// `kind` `namespace/name` was deleted as no longer wanted.
pub fn object_deleted(kind: &str, namespace: &str, name: &str) {
    METRICS.objects_deleted.with_label_values(&[kind]).inc();
    tracing::info!(%kind, %namespace, %name, "Deleted an object no longer wanted.");
}

/// This replica now leads (or stopped leading).
pub fn leading(leads: bool) {
    METRICS.leader.set(i64::from(leads));
}

/// A counter of the reconciles with `result`, for tests.
pub fn reconciles(result: &str) -> IntCounter {
    METRICS.reconciles.with_label_values(&[result])
}

/// The Prometheus text exposition of every metric.
pub fn render() -> String {
    prometheus::TextEncoder::new()
        .encode_to_string(&METRICS.registry.gather())
        .unwrap_or_default()
}
