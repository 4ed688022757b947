//! Callbacks: a receiver that accepted work confirms it later by POSTing to
//! `/callbacks/{namespace}/{route}` a body that names the waiting tasks by their
//! correlation value (`outgoing.await.callback`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Serialize;

use super::{ApiError, AppState};
use crate::connectors::webhook::items_of_body;
use crate::metrics::events::{self, IntakeKind, RejectReason};
use crate::queue::TaskState;

/// A task a callback acknowledged.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Acknowledged {
    pub id: String,
    pub state: TaskState,
}

/// What a callback did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CallbackResult {
    /// The waiting tasks it acknowledged.
    pub tasks: Vec<Acknowledged>,
}

/// Acknowledge waiting tasks
///
/// A receiver confirms the work of `waiting` tasks of a route by their correlation
/// value. The body is a JSON object (or an array of them); the route's
/// `outgoing.await.callback` says where the correlation value and the outcome are.
/// Authentication as for webhooks.
#[utoipa::path(
    post,
    path = "/callbacks/{namespace}/{route}",
    tag = "webhooks",
    params(("namespace" = String, Path), ("route" = String, Path)),
    request_body(content = serde_json::Value, description = "A JSON object or an array of objects"),
    responses(
        (status = 200, description = "Acknowledged", body = CallbackResult),
        (status = 400, description = "Malformed body, or no correlation value in it", body = super::error::ErrorBody),
        (status = 401, description = "Missing or wrong credentials", body = super::error::ErrorBody),
        (status = 404, description = "No such callback route, or no task waits for this correlation value", body = super::error::ErrorBody),
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CallbackResult>, ApiError> {
    let runtime = state.engine.runtime();
    let not_found = || {
        ApiError::not_found(format!(
            "no callback route `{name}` in namespace `{namespace}`"
        ))
    };
    let route = runtime.route(&namespace, &name).ok_or_else(not_found)?;
    let callback = route
        .awaiting
        .as_ref()
        .and_then(|a| a.callback.as_ref())
        .ok_or_else(not_found)?;
    if let Some(auth) = &callback.auth
        && let Err(error) = auth.verify(&headers, &body)
    {
        events::intake_rejected(&route.key, IntakeKind::Callback, RejectReason::Auth);
        return Err(ApiError::unauthorized(error.to_string()));
    }
    let max_items = crate::limits::items(None, crate::limits::get().webhook_max_items);
    let items = items_of_body(&body, max_items).map_err(|error| {
        events::intake_rejected(&route.key, IntakeKind::Callback, RejectReason::Body);
        ApiError::from(error)
    })?;
    // Read every item first: a malformed one acknowledges nothing.
    let mut acks = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let read = callback
            .read(item)
            .map_err(|e| ApiError::bad_request(format!("item {index}: {e}")))?;
        acks.push(read);
    }
    let mut tasks = Vec::new();
    let mut unknown = Vec::new();
    for (correlation, ack) in acks {
        let ids = state
            .engine
            .store()
            .ack_correlated(&route.key, &correlation, &ack)
            .await?;
        if ids.is_empty() {
            unknown.push(correlation);
        }
        tasks.extend(ids.into_iter().map(|id| Acknowledged {
            id,
            state: ack.target(),
        }));
    }
    if tasks.is_empty() {
        return Err(ApiError::not_found(format!(
            "no task of route `{name}` waits for correlation value {}",
            unknown
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(Json(CallbackResult { tasks }))
}
