//! The operator's own `/metrics` and probes: a reconcile is counted and timed, the
//! objects it applied are counted by kind, and `/readyz` follows readiness.

#![allow(clippy::expect_used)]

mod support;

use http_body_util::BodyExt;
use support::{FakeApi, TWO_REGIONS, config, reconcile_tenant};
use switchyard_operator::metrics::{self, names};
use switchyard_operator::probes::{Readiness, router};
use tower::ServiceExt;

/// The value of `name{labels}` in the exposition.
fn sample(text: &str, name: &str, labels: &str) -> f64 {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {name}{{{labels}}} in\n{text}"))
}

async fn get(readiness: &Readiness, path: &str) -> (u16, String) {
    let response = router(readiness.clone())
        .oneshot(
            http::Request::get(path)
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn a_reconcile_is_counted_timed_and_its_applied_objects_counted_by_kind() {
    let before = metrics::render();
    let successes = sample(&before, names::RECONCILES, "result=\"success\"");
    let deployments = sample(&before, names::OBJECTS_APPLIED, "kind=\"Deployment\"");
    assert_eq!(
        sample(&before, names::RECONCILE_ERRORS, "category=\"apply\""),
        0.0,
        "every category exists at 0"
    );

    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");

    let after = metrics::render();
    assert_eq!(
        sample(&after, names::RECONCILES, "result=\"success\""),
        successes + 1.0
    );
    assert!(sample(&after, names::OBJECTS_APPLIED, "kind=\"Deployment\"") > deployments);
    assert!(after.contains(&format!("{}_count", names::RECONCILE_DURATION)));
}

#[tokio::test]
async fn metrics_and_probes_are_served() {
    let readiness = Readiness::default();
    let (status, body) = get(&readiness, "/metrics").await;
    assert_eq!(status, 200);
    for name in names::ALL {
        assert!(body.contains(name), "{name} not exported");
    }
    #[cfg(target_os = "linux")]
    assert!(body.contains("process_resident_memory_bytes"));
    assert_eq!(get(&readiness, "/healthz").await.0, 200);
    assert_eq!(get(&readiness, "/readyz").await.0, 503);
    readiness.set(true);
    assert_eq!(get(&readiness, "/readyz").await, (200, "ready".to_owned()));
}
