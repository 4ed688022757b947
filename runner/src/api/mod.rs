//! The HTTP surface: webhooks, the REST API (documented at `/openapi.json`), `/metrics`
//! and health probes.
//!
//! Every route under `/api/` authenticates its caller (see [`auth`]) and declares the
//! role it needs (see [`declare`]); without any authentication configured the runner
//! refuses to listen anywhere but loopback (see `cli`). Webhooks and proxy routes
//! authenticate per route.
//! Every error answer is one JSON body with a stable `code` ([`error::ErrorBody`]).

mod audit;
pub mod auth;
mod callbacks;
mod connections;
mod cxml_webhook;
pub mod declare;
mod error;
mod health;
mod identity;
mod json_errors;
mod openapi;
mod proxy;
mod routes;
pub mod serve;
mod storages;
mod tasks;
mod webhooks;

pub use error::{ApiError, ErrorBody, ErrorCode};
pub use openapi::ApiDoc;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{any, get, post};

use self::auth::{Authenticator, Identity, Role};
use self::declare::ApiRoutes;
use crate::audit::{AuditAction, AuditEvent, AuditLog};
use crate::engine::Engine;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub auth: Arc<Authenticator>,
    pub audit: Arc<dyn AuditLog>,
    /// False while starting and while draining: `/readyz` answers 503.
    pub ready: Arc<AtomicBool>,
}

impl AppState {
    /// Records what `identity` did in the audit trail.
    pub(crate) async fn audit(
        &self,
        identity: &Identity,
        namespace: &str,
        action: AuditAction,
        target: impl Into<String>,
        detail: serde_json::Value,
    ) {
        let event = AuditEvent::new(
            namespace,
            identity.actor(),
            identity.from.clone(),
            action,
            target,
            detail,
        );
        crate::audit::record(self.audit.as_ref(), event).await;
    }
}

/// Every route under `/api/`, with the role it needs.
pub fn api_routes() -> ApiRoutes {
    use Role::{Editor, Viewer};
    ApiRoutes::new()
        .get("/api/v1/whoami", Viewer, identity::whoami)
        .get("/api/v1/namespaces", Viewer, identity::namespaces)
        .get(
            "/api/v1/namespaces/{namespace}/routes",
            Viewer,
            routes::list_routes,
        )
        .get(
            "/api/v1/namespaces/{namespace}/connections",
            Viewer,
            connections::list_connections,
        )
        .get(
            "/api/v1/namespaces/{namespace}/connections/{name}",
            Viewer,
            connections::get_connection,
        )
        .post(
            "/api/v1/namespaces/{namespace}/connections/{name}/test",
            Editor,
            connections::test_connection,
        )
        .post(
            "/api/v1/namespaces/{namespace}/routes/{route}/retry-failed",
            Editor,
            routes::retry_failed,
        )
        .post(
            "/api/v1/namespaces/{namespace}/routes/{route}/trigger",
            Editor,
            routes::trigger,
        )
        .get(
            "/api/v1/namespaces/{namespace}/tasks",
            Viewer,
            tasks::list_tasks,
        )
        .get(
            "/api/v1/namespaces/{namespace}/tasks/{id}",
            Viewer,
            tasks::get_task,
        )
        .post(
            "/api/v1/namespaces/{namespace}/tasks/{id}/retry",
            Editor,
            tasks::retry_task,
        )
        .post(
            "/api/v1/namespaces/{namespace}/tasks/{id}/discard",
            Editor,
            tasks::discard_task,
        )
        .post(
            "/api/v1/namespaces/{namespace}/tasks/{id}/ack",
            Editor,
            tasks::ack_task,
        )
        .post(
            "/api/v1/namespaces/{namespace}/tasks/{id}/replay",
            Editor,
            tasks::replay_task,
        )
        .get(
            "/api/v1/namespaces/{namespace}/storages/{storage}/items",
            Viewer,
            storages::list_items,
        )
        .get(
            "/api/v1/namespaces/{namespace}/storages/{storage}/items/{key}",
            Viewer,
            storages::get_item,
        )
        .put(
            "/api/v1/namespaces/{namespace}/storages/{storage}/items/{key}",
            Editor,
            storages::put_item,
        )
        .delete(
            "/api/v1/namespaces/{namespace}/storages/{storage}/items/{key}",
            Editor,
            storages::delete_item,
        )
        .get(
            "/api/v1/namespaces/{namespace}/audit",
            Viewer,
            audit::list_events,
        )
}

/// Routes outside `/api/`: they authenticate on their own (webhooks) or need nothing.
pub const PUBLIC_ROUTES: &[(&str, &str)] = &[
    ("POST", "/webhooks/{namespace}/{route}"),
    ("POST", "/callbacks/{namespace}/{route}"),
    // Every method is forwarded; the document lists these.
    ("GET", "/proxy/{namespace}/{route}/{path}"),
    ("POST", "/proxy/{namespace}/{route}/{path}"),
    ("PUT", "/proxy/{namespace}/{route}/{path}"),
    ("DELETE", "/proxy/{namespace}/{route}/{path}"),
    ("PATCH", "/proxy/{namespace}/{route}/{path}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

pub fn router(state: AppState) -> Router {
    let api = api_routes()
        .into_router()
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    Router::new()
        .merge(api)
        .merge(crate::console::router())
        .route("/webhooks/{namespace}/{route}", post(webhooks::receive))
        .route("/callbacks/{namespace}/{route}", post(callbacks::receive))
        .route("/proxy/{namespace}/{route}", any(proxy::forward))
        .route("/proxy/{namespace}/{route}/{*path}", any(proxy::forward))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::document))
        .fallback(json_errors::not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            serve::read_body,
        ))
        .layer(middleware::from_fn(json_errors::as_json))
        .layer(DefaultBodyLimit::max(crate::limits::get().max_body_bytes()))
        .with_state(state)
}

#[cfg(test)]
mod tests;
