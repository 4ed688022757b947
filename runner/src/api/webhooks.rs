use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;

use super::error::QUEUE_RETRY_AFTER_SECS;
use super::{ApiError, AppState};
use crate::connectors::webhook::items_of_body;
use crate::engine::IntakeError;
use crate::limits;
use crate::metrics::events::{self, IntakeKind, RejectReason};
use crate::telemetry::spans;
use tracing::Instrument;

/// The answer to an accepted webhook: the tasks now durably queued.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    /// One id per queued task, in order.
    pub task_ids: Vec<String>,
}

/// Receive items. A JSON object is one item; a JSON array one item per element. The
/// answer comes only after the tasks are committed to disk.
#[utoipa::path(
    post,
    path = "/webhooks/{namespace}/{route}",
    tag = "webhooks",
    summary = "Receive items",
    description = "A JSON object is one item; a JSON array one item per element. The answer comes only after the tasks are committed to disk. Authenticated by the route's own webhook auth (token or HMAC), not by API roles.",
    params(("namespace" = String, Path), ("route" = String, Path)),
    request_body(content = serde_json::Value, description = "A JSON object or an array of objects"),
    responses(
        (status = 202, description = "Queued", body = Accepted),
        (status = 400, description = "Malformed body", body = super::error::ErrorBody),
        (status = 401, description = "Missing or wrong credentials", body = super::error::ErrorBody),
        (status = 404, description = "No such webhook route", body = super::error::ErrorBody),
        (status = 408, description = "The body did not arrive within the body read time-out", body = super::error::ErrorBody),
        (status = 413, description = "The body is larger than the runner's limit, or holds more items than the route's `maxItems`; nothing was queued", body = super::error::ErrorBody),
        (status = 422, description = "An item failed the incoming transformers", body = super::error::ErrorBody),
        (status = 429, description = "Back-pressure: the route (or a route that takes its items) has `maxPending` undelivered tasks; nothing was queued. `Retry-After` says when to try again, the body's `limit` which limit (code `too_many_pending`)", body = super::error::ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before sending again"))),
        (status = 503, description = "Route suspended, queue unavailable, or the queue's volume below its free-space floor (code `low_disk_space`, with `Retry-After`)", body = super::error::ErrorBody),
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let runtime = state.engine.runtime();
    let route = runtime
        .route(&namespace, &name)
        .filter(|route| route.is_webhook())
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no webhook route `{name}` in namespace `{namespace}`"
            ))
        })?;
    let span = spans::webhook(&route.key, &headers);
    let answer = accept(&state, route, headers, body)
        .instrument(span.clone())
        .await;
    match &answer {
        Ok((status, Json(accepted))) => {
            spans::intake_done(&span, Ok(accepted.task_ids.len()));
            spans::answered(&span, status.as_u16());
        }
        Err(error) => spans::answered(&span, error.status.as_u16()),
    }
    answer
}

/// [`receive`] for a webhook route, inside the request's intake span.
async fn accept(
    state: &AppState,
    route: &crate::runtime::RouteRuntime,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    if let Some(auth) = &route.webhook_auth
        && let Err(error) = auth.verify(&headers, &body)
    {
        events::intake_rejected(&route.key, IntakeKind::Webhook, RejectReason::Auth);
        return Err(ApiError::unauthorized(error.to_string()));
    }
    let items = items_of_body(&body, limits::webhook_max_items(route)).map_err(|error| {
        events::intake_rejected(&route.key, IntakeKind::Webhook, RejectReason::Body);
        ApiError::from(error)
    })?;
    // The raw body is not needed past this point: free it before the pipeline runs.
    drop(body);
    match state.engine.intake(route, items, "webhook").await {
        Ok(task_ids) => Ok((StatusCode::ACCEPTED, Json(Accepted { task_ids }))),
        Err(error) => {
            if let IntakeError::Refused(refusal) = error.root() {
                events::intake_rejected(&route.key, IntakeKind::Webhook, RejectReason::Full);
                return Err(ApiError::refused(refusal));
            }
            let (status, reason) = match error.root() {
                // A lookup service that is down: the sender should try again later.
                IntakeError::Transform { source, .. } if source.is_transient() => {
                    (StatusCode::SERVICE_UNAVAILABLE, RejectReason::Transform)
                }
                IntakeError::Transform { .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, RejectReason::Transform)
                }
                IntakeError::Suspended(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, RejectReason::Suspended)
                }
                IntakeError::Queue(_)
                | IntakeError::Poll(_)
                | IntakeError::Follower { .. }
                | IntakeError::Refused(_) => (StatusCode::SERVICE_UNAVAILABLE, RejectReason::Queue),
            };
            events::intake_rejected(&route.key, IntakeKind::Webhook, reason);
            let refused = match error.root() {
                // Nothing was committed: the sender keeps the items and tries again.
                IntakeError::Queue(queue) => ApiError::new(
                    status,
                    format!(
                        "nothing was queued: {}; try again later ({error})",
                        queue.fault().describe()
                    ),
                )
                .retry_after(QUEUE_RETRY_AFTER_SECS),
                _ => ApiError::new(status, format!("nothing was queued: {error}")),
            };
            Err(refused)
        }
    }
}
