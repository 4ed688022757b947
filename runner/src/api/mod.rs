//! The HTTP surface: webhooks, the REST API (documented at `/openapi.json`), `/metrics`
//! and health probes.
//!
//! The API under `/api/` requires `Authorization: Bearer <token>` when the runner has an
//! API token; without one the runner refuses to listen anywhere but loopback (see
//! `cli`). Webhooks authenticate per route.

mod callbacks;
mod connections;
mod error;
mod health;
mod openapi;
mod routes;
mod storages;
mod tasks;
mod webhooks;

pub use error::ApiError;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use subtle::ConstantTimeEq;

use crate::engine::Engine;
use crate::redact::Secret;

/// Largest webhook body accepted: big enough for a batch of a few thousand orders.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub api_token: Option<Arc<Secret>>,
    /// False while starting and while draining: `/readyz` answers 503.
    pub ready: Arc<AtomicBool>,
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/namespaces/{namespace}/routes", get(routes::list_routes))
        .route(
            "/namespaces/{namespace}/connections/{name}/test",
            post(connections::test_connection),
        )
        .route(
            "/namespaces/{namespace}/routes/{route}/retry-failed",
            post(routes::retry_failed),
        )
        .route(
            "/namespaces/{namespace}/routes/{route}/trigger",
            post(routes::trigger),
        )
        .route("/namespaces/{namespace}/tasks", get(tasks::list_tasks))
        .route("/namespaces/{namespace}/tasks/{id}", get(tasks::get_task))
        .route(
            "/namespaces/{namespace}/tasks/{id}/retry",
            post(tasks::retry_task),
        )
        .route(
            "/namespaces/{namespace}/tasks/{id}/discard",
            post(tasks::discard_task),
        )
        .route(
            "/namespaces/{namespace}/tasks/{id}/ack",
            post(tasks::ack_task),
        )
        .route(
            "/namespaces/{namespace}/storages/{storage}/items",
            get(storages::list_items),
        )
        .route(
            "/namespaces/{namespace}/storages/{storage}/items/{key}",
            get(storages::get_item)
                .put(storages::put_item)
                .delete(storages::delete_item),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .nest("/api/v1", api)
        .route("/webhooks/{namespace}/{route}", post(webhooks::receive))
        .route("/callbacks/{namespace}/{route}", post(callbacks::receive))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::document))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(expected) = &state.api_token {
        let presented = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer <api token>`"))?;
        if !bool::from(presented.as_bytes().ct_eq(expected.expose().as_bytes())) {
            return Err(ApiError::unauthorized("invalid API token"));
        }
    }
    Ok(next.run(request).await)
}
