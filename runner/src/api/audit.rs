//! The audit trail through the API.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::audit::{AuditAction, AuditError, AuditEvent, AuditFilter};

/// Largest page of events.
const MAX_PAGE: u32 = 1_000;

impl From<AuditError> for ApiError {
    fn from(error: AuditError) -> Self {
        tracing::error!(error = %error, "Audit trail error while answering an API request");
        Self::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the audit trail is unavailable; try again",
        )
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    /// Only this action: retry, discard, retry-failed, trigger, storage-put,
    /// storage-delete, replay, ack, reload.
    pub action: Option<String>,
    /// Only events at or after this time (milliseconds since the Unix epoch).
    pub since_ms: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of audit events, newest first.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// List the audit trail
///
/// Every mutating action in the namespace — retry, discard, retry-failed, trigger,
/// storage writes, replays, configuration reloads — with who did it (the authenticated
/// identity), when, from where and what changed; newest first.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/audit",
    tag = "audit",
    params(("namespace" = String, Path, description = "The namespace"), AuditQuery),
    responses(
        (status = 200, description = "A page of events", body = AuditPage),
        (status = 400, description = "A parameter is invalid", body = super::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_events(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "`limit` must be between 1 and {MAX_PAGE}"
        )));
    }
    let action = query
        .action
        .map(|name| {
            AuditAction::parse(&name).ok_or_else(|| {
                let known: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
                ApiError::bad_request(format!(
                    "`{name}` is not an audit action; use one of {}",
                    known.join(", ")
                ))
            })
        })
        .transpose()?;
    let filter = AuditFilter {
        action,
        since_ms: query.since_ms,
        cursor: query.cursor,
        limit,
    };
    let events = state.audit.list(&namespace, &filter).await?;
    let next_cursor = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.id.clone()))
        .flatten();
    Ok(Json(AuditPage {
        events,
        next_cursor,
    }))
}
