use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::AppState;
use crate::{metrics, redact};

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", summary = "Liveness", description = "The process answers.", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: started, not draining, queue commits succeed, and the queue answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", summary = "Readiness", description = "Started, not draining, queue commits succeed (while they fail, the answer says why), and the queue answers.", responses((status = 200, description = "Ready"), (status = 503, description = "Starting, draining, queue commits failing or queue unavailable")))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, String) {
    let not_ready = |why: String| (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}"));
    if !state.ready.load(Ordering::Relaxed) {
        return not_ready("starting or draining".into());
    }
    // Commits that fail make every webhook answer 503: take the runner out of service
    // until the committer's probe or a request commits again.
    if let Some(failure) = state.engine.commit_failure() {
        return not_ready(format!(
            "queue commits fail ({}, {} failures in {} s): {}: {}",
            failure.fault,
            failure.failures,
            failure.since.elapsed().as_secs(),
            failure.fault.describe(),
            redact::redact(&failure.message)
        ));
    }
    match state.engine.store().counts("").await {
        Ok(_) => (StatusCode::OK, "ready".into()),
        Err(_) => not_ready("the queue does not answer".into()),
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", summary = "Prometheus metrics", description = "Metrics per route, step and connection, in the Prometheus text format.", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let routes = state.engine.runtime().routes.keys().cloned().collect();
    metrics::refresh_queue_gauges(state.engine.store().as_ref(), routes).await;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        metrics::render(),
    )
}
