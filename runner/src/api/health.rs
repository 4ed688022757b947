use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::AppState;
use crate::telemetry;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", summary = "Liveness", description = "The process answers.", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: started, not draining, and the queue answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", summary = "Readiness", description = "Started, not draining, and the queue answers.", responses((status = 200, description = "Ready"), (status = 503, description = "Starting, draining or queue unavailable")))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if !state.ready.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: starting or draining",
        );
    }
    match state.engine.store().counts("").await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the queue does not answer",
        ),
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", summary = "Prometheus metrics", description = "Metrics per route, step and connection, in the Prometheus text format.", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        telemetry::render(),
    )
}
