use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use tracing::Instrument;

use super::auth::Identity;
use super::{ApiError, AppState};
use crate::audit::AuditAction;
use crate::connectors::webhook::{items_of_body, object_text};
use crate::engine::{Arrived, IntakeError};
use crate::queue::{RouteKey, StateCounts};

/// A route and its queue.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteInfo {
    pub namespace: String,
    pub name: String,
    /// `webhook`, `poll`, `route` (it takes the intake of the route in `follows`) or
    /// `proxy`.
    pub incoming: &'static str,
    /// The route whose intake this one takes (`spec.incoming.route`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    /// Where to POST items, for webhook routes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
    /// Where to send calls, for proxy routes (any method; append the receiver's path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_path: Option<String>,
    /// `realtime` or `scheduled`.
    pub mode: &'static str,
    pub suspended: bool,
    pub max_concurrency: u32,
    /// The Connection the route delivers through (`spec.outgoing.connection`).
    pub connection: String,
    /// Tasks per state.
    pub tasks: StateCounts,
    /// Delivery attempts per minute over the last hour on this runner (current minute
    /// last): what the console draws as sparklines.
    pub activity: ActivityInfo,
}

/// Delivery attempts per minute, oldest first, the current minute last. Counted in the
/// runner's memory: a restarted runner starts with an empty hour, and each replica
/// counts its own.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityInfo {
    /// Minutes covered (60).
    pub minutes: usize,
    /// Attempts that delivered, per minute.
    pub delivered: Vec<u32>,
    /// Attempts that failed (retried later, or failed for good), per minute.
    pub failed: Vec<u32>,
}

impl From<crate::metrics::activity::Series> for ActivityInfo {
    fn from(series: crate::metrics::activity::Series) -> Self {
        Self {
            minutes: series.delivered.len(),
            delivered: series.delivered,
            failed: series.failed,
        }
    }
}

/// List routes
///
/// Routes of a namespace with their task counts per state.
#[utoipa::path(
    get,
    tag = "routes",
    path = "/api/v1/namespaces/{namespace}/routes",
    params(("namespace" = String, Path)),
    responses((status = 200, body = [RouteInfo])),
    security(("bearer" = []))
)]
pub async fn list_routes(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
) -> Result<Json<Vec<RouteInfo>>, ApiError> {
    let runtime = state.engine.runtime();
    let counts = state.engine.store().counts(&namespace).await?;
    let routes = runtime
        .routes
        .values()
        .filter(|route| route.key.namespace == namespace)
        .map(|route| RouteInfo {
            namespace: namespace.clone(),
            name: route.key.route.clone(),
            incoming: route.incoming_kind(),
            follows: route.follows().map(str::to_owned),
            webhook_path: route
                .is_webhook()
                .then(|| format!("/webhooks/{namespace}/{}", route.key.route)),
            proxy_path: route
                .is_proxy()
                .then(|| format!("/proxy/{namespace}/{}/", route.key.route)),
            mode: if route.delivery_schedule.is_some() {
                "scheduled"
            } else {
                "realtime"
            },
            suspended: route.suspended(),
            max_concurrency: route.compiled.processing.max_concurrency,
            connection: route.compiled.spec.outgoing.connection.clone(),
            activity: crate::metrics::activity::series(&route.key, crate::queue::now_ms()).into(),
            tasks: counts
                .iter()
                .find(|c| c.route == route.key.route)
                .map(|c| c.counts.clone())
                .unwrap_or_default(),
        })
        .collect();
    Ok(Json(routes))
}

/// How many tasks an action touched.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Affected {
    pub task_ids: Vec<String>,
    pub count: u64,
}

fn known_route(state: &AppState, namespace: &str, route: &str) -> Result<RouteKey, ApiError> {
    state
        .engine
        .runtime()
        .route(namespace, route)
        .map(|r| r.key.clone())
        .ok_or_else(|| {
            ApiError::not_found(format!("no route `{route}` in namespace `{namespace}`"))
        })
}

/// Retry a route's failed tasks
///
/// Put every failed task of a route back to `pending` with a fresh attempt budget
/// (except tasks recording unreadable input, which cannot be retried).
#[utoipa::path(
    post,
    tag = "routes",
    path = "/api/v1/namespaces/{namespace}/routes/{route}/retry-failed",
    params(("namespace" = String, Path), ("route" = String, Path)),
    responses((status = 200, body = Affected), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn retry_failed(
    State(state): State<AppState>,
    identity: Identity,
    Path((namespace, route)): Path<(String, String)>,
) -> Result<Json<Affected>, ApiError> {
    let key = known_route(&state, &namespace, &route)?;
    let count = state
        .engine
        .store()
        .retry_failed(&key, &identity.actor())
        .await?;
    crate::metrics::events::tasks_retried_by_api(&key, count, &identity.actor());
    state.engine.wake(&key);
    state
        .audit(
            &identity,
            &namespace,
            AuditAction::RetryFailed,
            &route,
            serde_json::json!({"count": count}),
        )
        .await;
    Ok(Json(Affected {
        task_ids: Vec::new(),
        count,
    }))
}

/// Trigger a route
///
/// Run a route now. A polling route fetches at once; any route accepts a JSON body
/// (object or array of objects) whose items are queued as if they had come in.
#[utoipa::path(
    post,
    tag = "routes",
    path = "/api/v1/namespaces/{namespace}/routes/{route}/trigger",
    params(("namespace" = String, Path), ("route" = String, Path)),
    request_body(content = serde_json::Value, description = "Optional items to queue"),
    responses(
        (status = 202, body = Affected),
        (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 429, description = "Back-pressure: the route has `maxPending` undelivered tasks (with `Retry-After`)", body = super::error::ErrorBody),
        (status = 502, description = "The poll failed", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn trigger(
    State(state): State<AppState>,
    identity: Identity,
    Path((namespace, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<Affected>), ApiError> {
    let runtime = state.engine.runtime();
    let route = runtime.route(&namespace, &name).ok_or_else(|| {
        ApiError::not_found(format!("no route `{name}` in namespace `{namespace}`"))
    })?;
    if route.is_proxy() {
        return Err(ApiError::bad_request(format!(
            "route `{name}` is a proxy: it forwards calls as they come and queues nothing to trigger"
        )));
    }
    let result = if body.iter().all(u8::is_ascii_whitespace) {
        if route.source.is_none() {
            return Err(ApiError::bad_request(
                "this route does not poll; send the items to queue as the request body",
            ));
        }
        state.engine.poll_now(route).await
    } else {
        let items = items_of_body(&body, crate::limits::webhook_max_items(route))?;
        let arrived = Arrived::with_text(items, object_text(&body));
        let span = crate::telemetry::spans::intake(&route.key, "manual");
        let result = state
            .engine
            .intake(route, arrived, "manual")
            .instrument(span.clone())
            .await;
        crate::telemetry::spans::intake_done(&span, result.as_ref().map(Vec::len).map_err(|_| ()));
        result
    };
    let detail = match &result {
        Ok(ids) => serde_json::json!({"taskIds": ids}),
        Err(error) => serde_json::json!({"error": crate::redact::redact(&error.to_string())}),
    };
    state
        .audit(&identity, &namespace, AuditAction::Trigger, &name, detail)
        .await;
    let result = result.map_err(|error| match error.root() {
        IntakeError::Transform { .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
        }
        IntakeError::Poll(_) => ApiError::new(StatusCode::BAD_GATEWAY, error.to_string()),
        IntakeError::Refused(refusal) => ApiError::refused(refusal),
        _ => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
    });
    match result {
        Ok(task_ids) => Ok((
            StatusCode::ACCEPTED,
            Json(Affected {
                count: task_ids.len() as u64,
                task_ids,
            }),
        )),
        Err(error) => Err(error),
    }
}
