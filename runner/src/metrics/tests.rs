use std::sync::Arc;
use std::time::Duration;

use super::events::{self, CircuitState, IntakeKind, RejectReason, TakeBack};
use super::*;
use crate::queue::{
    LeasedTask, NewTask, Outcome, QueueStore, RouteKey, SqlQueue, WriteBatch, now_ms,
};

fn key(namespace: &str, route: &str) -> RouteKey {
    RouteKey {
        namespace: namespace.into(),
        route: route.into(),
    }
}

fn task(route: &RouteKey) -> NewTask {
    NewTask {
        id: uuid::Uuid::now_v7().to_string(),
        route: route.clone(),
        item: serde_json::json!({"n": 1}),
        source: "webhook",
        log: Vec::new(),
        failure: None,
        provenance: None,
        trace: None,
        stored: None,
    }
}

fn leased(route: &RouteKey) -> LeasedTask {
    LeasedTask {
        id: uuid::Uuid::now_v7().to_string(),
        route: route.clone(),
        item: crate::queue::StoredItem::of(&serde_json::json!({"n": 1})),
        attempts: 1,
        lease_token: "lease".into(),
        created_at_ms: now_ms(),
        trace: None,
    }
}

/// The value of the sample `name{labels}` in the exposition, `labels` as rendered.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.parse().ok())
}

#[test]
fn a_route_has_every_outcome_at_zero_and_counts_attempts_retries_and_latencies() {
    let route = RouteMetrics::new(&key("m-attempts", "orders"));
    let text = render();
    for outcome in ["done", "retry", "failed", "skipped", "released", "waiting"] {
        let labels = format!("namespace=\"m-attempts\",outcome=\"{outcome}\",route=\"orders\"");
        assert_eq!(
            sample(&text, names::DELIVERY_ATTEMPTS, &labels),
            Some(0.0),
            "{outcome}"
        );
    }
    let leased = leased(&key("m-attempts", "orders"));
    events::task_attempted(
        &route,
        &leased,
        &Outcome::Retry {
            next_attempt_at_ms: 0,
            error: "503".into(),
        },
        Duration::from_millis(20),
    );
    events::task_attempted(&route, &leased, &Outcome::Done, Duration::from_millis(30));
    events::first_attempt(&route, Duration::from_millis(5));
    events::task_delivered(&route, Duration::from_secs(2));
    events::intake_committed(&route, "webhook", 3, 2, Some(Duration::from_millis(4)));
    let text = render();
    let labels = |extra: &str| format!("namespace=\"m-attempts\",{extra}route=\"orders\"");
    assert_eq!(
        sample(
            &text,
            names::DELIVERY_ATTEMPTS,
            &labels("outcome=\"retry\",")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            names::TASK_RETRIES,
            "namespace=\"m-attempts\",route=\"orders\",trigger=\"backoff\""
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("{}_count", names::DELIVERY_DURATION),
            &labels("")
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, &format!("{}_count", names::QUEUE_WAIT), &labels("")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &format!("{}_sum", names::END_TO_END), &labels("")),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            names::ITEMS_RECEIVED,
            "namespace=\"m-attempts\",route=\"orders\",source=\"webhook\""
        ),
        Some(3.0)
    );
    assert_eq!(sample(&text, names::TASKS_CREATED, &labels("")), Some(2.0));
    assert_eq!(
        sample(
            &text,
            &format!("{}_count", names::INTAKE_DURATION),
            "namespace=\"m-attempts\",route=\"orders\",source=\"webhook\""
        ),
        Some(1.0)
    );
}

#[test]
fn a_circuit_reports_exactly_one_state() {
    events::circuit_changed("m-circuit", "crm", CircuitState::Open, "5 failures");
    events::circuit_changed("m-circuit", "crm", CircuitState::HalfOpen, "trial");
    let text = render();
    let state = |s: &str| {
        sample(
            &text,
            names::CIRCUIT_STATE,
            &format!("connection=\"crm\",namespace=\"m-circuit\",state=\"{s}\""),
        )
    };
    assert_eq!(state("half_open"), Some(1.0));
    assert_eq!(state("open"), Some(0.0));
    assert_eq!(state("closed"), Some(0.0));
}

#[test]
fn rejections_and_take_backs_are_counted_by_fixed_reason() {
    let route = key("m-reject", "hook");
    events::intake_rejected(&route, IntakeKind::Webhook, RejectReason::Auth);
    events::intake_rejected(&route, IntakeKind::Webhook, RejectReason::Auth);
    let before = sample(&render(), names::LEASE_TAKEBACKS, "reason=\"expired\"").unwrap_or(0.0);
    events::leases_taken_back(TakeBack::Expired, 3);
    let text = render();
    assert_eq!(
        sample(
            &text,
            names::INTAKE_REJECTIONS,
            "namespace=\"m-reject\",reason=\"auth\",route=\"hook\",source=\"webhook\""
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, names::LEASE_TAKEBACKS, "reason=\"expired\""),
        Some(before + 3.0)
    );
}

#[tokio::test]
async fn the_queue_gauges_count_tasks_per_state_and_age_the_oldest_pending_task() {
    let dir = tempfile::tempdir().expect("dir");
    let queue = SqlQueue::connect(&SqlQueue::default_url(dir.path()), Duration::from_secs(60))
        .await
        .expect("queue");
    let store: Arc<dyn QueueStore> = Arc::new(queue);
    let (a, b, gone) = (
        key("m-gauges", "a"),
        key("m-gauges", "b"),
        key("m-gauges", "old"),
    );
    let batch = WriteBatch {
        new_tasks: vec![task(&a), task(&a), task(&a), task(&b), task(&gone)],
        completions: Vec::new(),
        claim: None,
        storage: Vec::new(),
    };
    store.write(batch).await.expect("write");
    let leased = store.lease(&a, 1, now_ms()).await.expect("lease");
    assert_eq!(leased.len(), 1);
    assert!(leased[0].created_at_ms > 0 && leased[0].created_at_ms <= now_ms());

    let gauges = store.gauges(&[a.clone(), b.clone()]).await.expect("gauges");
    assert_eq!(gauges.len(), 2, "only configured routes: {gauges:?}");
    assert_eq!(gauges[0].counts.pending, 2);
    assert_eq!(gauges[0].counts.processing, 1);
    assert!(gauges[0].oldest_pending_ms.is_some());
    assert_eq!(gauges[1].counts.pending, 1);

    tokio::time::sleep(Duration::from_millis(20)).await;
    refresh_queue_gauges(store.as_ref(), vec![a, b]).await;
    let text = render();
    let tasks = |route: &str, state: &str| {
        sample(
            &text,
            names::TASKS,
            &format!("namespace=\"m-gauges\",route=\"{route}\",state=\"{state}\""),
        )
    };
    assert_eq!(tasks("a", "pending"), Some(2.0));
    assert_eq!(tasks("a", "processing"), Some(1.0));
    assert_eq!(tasks("a", "done"), Some(0.0));
    assert_eq!(tasks("old", "pending"), None, "not configured");
    let age = sample(
        &text,
        names::OLDEST_PENDING_AGE,
        "namespace=\"m-gauges\",route=\"a\"",
    )
    .expect("age");
    assert!(age >= 0.02, "{age}");
}

#[test]
fn build_info_and_process_metrics_are_exported() {
    let text = render();
    assert!(
        text.contains(&format!(
            "{}{{revision=\"{}\",version=\"{}\"}} 1",
            names::BUILD_INFO,
            option_env!("SWITCHYARD_REVISION").unwrap_or("unknown"),
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    #[cfg(target_os = "linux")]
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
}

#[test]
fn docs_metrics_md_documents_every_metric() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/metrics.md"))
        .expect("docs/metrics.md");
    for name in names::ALL {
        assert!(
            docs.contains(&format!("| `{name}` |")),
            "docs/metrics.md lacks a row for {name}"
        );
    }
}
