use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::QUEUE_RETRY_AFTER_SECS;
use super::{ApiError, AppState};
use crate::connectors::webhook::{items_of_body, object_text};
use crate::engine::{Arrived, IntakeError};
use crate::limits;
use crate::metrics::events::{self, IntakeKind, RejectReason};
use crate::runtime::RouteRuntime;
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
    description = "A JSON object is one item; a JSON array one item per element. The answer comes only after the tasks are committed to disk. Authenticated by the route's own webhook auth (token or HMAC), not by API roles. A route with `incoming.webhook.format: cxml` takes one cXML request document (`text/xml` or `application/xml`) as one item and answers every request, with the statuses below, by a cXML `Response` (`text/xml`) whose `Status` says what happened: 200 once queued, 401 for a Sender SharedSecret that does not match.",
    params(("namespace" = String, Path), ("route" = String, Path)),
    request_body(content = serde_json::Value, description = "A JSON object or an array of objects"),
    responses(
        (status = 200, description = "A cXML webhook queued the document: a cXML `Response` with `Status code=\"200\"`", content_type = "text/xml", body = String),
        (status = 202, description = "Queued", body = Accepted),
        (status = 400, description = "Malformed body", body = super::error::ErrorBody),
        (status = 401, description = "Missing or wrong credentials", body = super::error::ErrorBody),
        (status = 404, description = "No such webhook route", body = super::error::ErrorBody),
        (status = 408, description = "The body did not arrive within the body read time-out", body = super::error::ErrorBody),
        (status = 413, description = "The body is larger than the runner's limit, or holds more items than the route's `maxItems`; nothing was queued", body = super::error::ErrorBody),
        (status = 415, description = "A cXML webhook was sent a body that is not `text/xml` or `application/xml`", content_type = "text/xml", body = String),
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
) -> Response {
    let runtime = state.engine.runtime();
    let Some(route) = runtime
        .route(&namespace, &name)
        .filter(|route| route.is_webhook())
    else {
        return ApiError::not_found(format!(
            "no webhook route `{name}` in namespace `{namespace}`"
        ))
        .into_response();
    };
    let span = spans::webhook(&route.key, &headers);
    let (status, queued, response) = match &route.cxml {
        Some(intake) => {
            let answer = super::cxml_webhook::accept(&state, route, intake, headers, body)
                .instrument(span.clone())
                .await;
            (
                answer.status(),
                answer.queued_tasks(),
                answer.into_response(),
            )
        }
        None => match accept(&state, route, headers, body)
            .instrument(span.clone())
            .await
        {
            Ok(accepted) => (
                StatusCode::ACCEPTED,
                Some(accepted.task_ids.len()),
                (StatusCode::ACCEPTED, Json(accepted)).into_response(),
            ),
            Err(error) => (error.status, None, error.into_response()),
        },
    };
    if let Some(count) = queued {
        spans::intake_done(&span, Ok(count));
    }
    spans::answered(&span, status.as_u16());
    response
}

/// [`receive`] for a JSON webhook route, inside the request's intake span.
async fn accept(
    state: &AppState,
    route: &RouteRuntime,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Accepted, ApiError> {
    authenticate(route, &headers, &body)?;
    // Bounded memory in intake: the items of a body take many times its size until
    // they are committed.
    let _room = state.engine.intake_room(body.len()).await;
    let items = items_of_body(&body, limits::webhook_max_items(route)).map_err(|error| {
        events::intake_rejected(&route.key, IntakeKind::Webhook, RejectReason::Body);
        ApiError::from(error)
    })?;
    // The item of a one-object body keeps the text it came as (its provenance); the
    // raw body is not needed past this point: free it before the pipeline runs.
    let arrived = Arrived::with_text(items, object_text(&body));
    drop(body);
    match state.engine.intake(route, arrived, "webhook").await {
        Ok(task_ids) => Ok(Accepted { task_ids }),
        Err(error) => Err(intake_refused(route, &error)),
    }
}

/// The route's own token or HMAC check, if it has one.
pub(super) fn authenticate(
    route: &RouteRuntime,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    match &route.webhook_auth {
        Some(auth) => auth.verify(headers, body).map_err(|error| {
            events::intake_rejected(&route.key, IntakeKind::Webhook, RejectReason::Auth);
            ApiError::unauthorized(error.to_string())
        }),
        None => Ok(()),
    }
}

/// The answer to a webhook whose items were not queued (`error`), counted.
pub(super) fn intake_refused(route: &RouteRuntime, error: &IntakeError) -> ApiError {
    if let IntakeError::Refused(refusal) = error.root() {
        events::intake_rejected(&route.key, IntakeKind::Webhook, RejectReason::Full);
        return ApiError::refused(refusal);
    }
    let (status, reason) = match error.root() {
        // A lookup service that is down: the sender should try again later.
        IntakeError::Transform { source, .. } if source.is_transient() => {
            (StatusCode::SERVICE_UNAVAILABLE, RejectReason::Transform)
        }
        IntakeError::Transform { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, RejectReason::Transform)
        }
        IntakeError::Suspended(_) => (StatusCode::SERVICE_UNAVAILABLE, RejectReason::Suspended),
        IntakeError::Queue(_)
        | IntakeError::Poll(_)
        | IntakeError::Follower { .. }
        | IntakeError::Refused(_) => (StatusCode::SERVICE_UNAVAILABLE, RejectReason::Queue),
    };
    events::intake_rejected(&route.key, IntakeKind::Webhook, reason);
    match error.root() {
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
    }
}
