use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::Identity;
use super::{ApiError, AppState};
use crate::audit::AuditAction;
use crate::engine::ReplayError;
use crate::metrics::events;
use crate::queue::{
    Ack, AckOutcome, RouteKey, TaskAction, TaskDetail, TaskFilter, TaskState, TaskSummary,
};

/// Largest page of tasks.
const MAX_PAGE: u32 = 1_000;
/// Page size when none is asked for.
const DEFAULT_PAGE: u32 = 100;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// Only tasks of this route.
    pub route: Option<String>,
    /// Only tasks in this state: pending, processing, done, failed, skipped, waiting.
    pub state: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Only tasks whose item contains this text, case-insensitive (an order number).
    pub text: Option<String>,
    /// Only tasks created at or after this time (milliseconds since the Unix epoch).
    pub created_after_ms: Option<i64>,
    /// Only tasks created before this time (milliseconds since the Unix epoch).
    pub created_before_ms: Option<i64>,
}

/// A page of tasks.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskPage {
    pub tasks: Vec<TaskSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// List tasks
///
/// Tasks of a namespace, oldest first, without their items: filter by route and state,
/// page with `limit` and `cursor`.
#[utoipa::path(
    get,
    tag = "tasks",
    path = "/api/v1/namespaces/{namespace}/tasks",
    params(("namespace" = String, Path), ListQuery),
    responses((status = 200, description = "A page of tasks; each names its trace (`traceId`) when it was queued with tracing on", body = TaskPage), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_tasks(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<TaskPage>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "`limit` must be between 1 and {MAX_PAGE}"
        )));
    }
    let filter = TaskFilter {
        route: query.route,
        state: query
            .state
            .map(|s| s.parse::<TaskState>())
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        cursor: query.cursor,
        text: query.text.filter(|t| !t.is_empty()),
        created_after_ms: query.created_after_ms,
        created_before_ms: query.created_before_ms,
        limit,
    };
    let tasks = state.engine.store().list(&namespace, &filter).await?;
    let next_cursor = (tasks.len() == limit as usize)
        .then(|| tasks.last().map(|t| t.id.clone()))
        .flatten();
    Ok(Json(TaskPage { tasks, next_cursor }))
}

/// Get a task
///
/// One task: its item, attempts and every log line.
#[utoipa::path(
    get,
    tag = "tasks",
    path = "/api/v1/namespaces/{namespace}/tasks/{id}",
    params(("namespace" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "The task, with `traceId` when it was queued with tracing on (look the trace up in the tracing backend)", body = TaskDetail), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_task(
    State(state): State<AppState>,
    Path((namespace, id)): Path<(String, String)>,
) -> Result<Json<TaskDetail>, ApiError> {
    state
        .engine
        .store()
        .get(&namespace, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no task `{id}` in namespace `{namespace}`")))
}

/// Why; optional. Who acts is the authenticated caller, never a field of the body.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// Why (shown in the task log and the audit trail).
    pub reason: Option<String>,
}

/// The state a task is in after an action.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ActionResult {
    pub id: String,
    pub state: TaskState,
}

fn action_request(body: &Bytes) -> Result<ActionRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActionRequest::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not a valid action request: {e}")))
}

async fn act(
    state: &AppState,
    identity: &Identity,
    namespace: &str,
    id: &str,
    action: TaskAction,
) -> Result<Json<ActionResult>, ApiError> {
    let (audited, reason) = match &action {
        TaskAction::Retry { .. } => (AuditAction::Retry, None),
        TaskAction::Discard { reason, .. } => (AuditAction::Discard, Some(reason.clone())),
        TaskAction::Ack(ack) => (AuditAction::Ack, ack.message.clone()),
    };
    let new_state = state
        .engine
        .store()
        .act(namespace, id, &action)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no task `{id}` in namespace `{namespace}`")))?;
    let counted = matches!(
        action,
        TaskAction::Retry { .. } | TaskAction::Discard { .. }
    );
    if (new_state == TaskState::Pending || counted)
        && let Some(task) = state.engine.store().get(namespace, id).await?
    {
        let key = RouteKey {
            namespace: namespace.to_owned(),
            route: task.summary.route,
        };
        match &action {
            TaskAction::Retry { actor } => events::tasks_retried_by_api(&key, 1, actor),
            TaskAction::Discard { actor, .. } => events::task_discarded(&key, id, actor),
            TaskAction::Ack(_) => {}
        }
        if new_state == TaskState::Pending {
            state.engine.wake(&key);
        }
    }
    state
        .audit(
            identity,
            namespace,
            audited,
            id,
            serde_json::json!({"state": new_state, "reason": reason}),
        )
        .await;
    Ok(Json(ActionResult {
        id: id.to_owned(),
        state: new_state,
    }))
}

/// Retry a task
///
/// Put a failed or skipped task back to `pending`, due now, with a fresh attempt budget.
/// A task with source `unreadable` records input a poll could not read (e.g. a file
/// that is not valid CSV, moved to the failed folder) and is refused with 409: fix the
/// input and put it back to have it read again, then discard the task. The caller is
/// named in the task log and the audit trail.
#[utoipa::path(
    post,
    tag = "tasks",
    path = "/api/v1/namespaces/{namespace}/tasks/{id}/retry",
    params(("namespace" = String, Path), ("id" = String, Path)),
    request_body(content = ActionRequest, description = "Optional"),
    responses((status = 200, body = ActionResult), (status = 404, body = super::error::ErrorBody), (status = 409, description = "The task is processing or done, or records unreadable input", body = super::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn retry_task(
    State(state): State<AppState>,
    identity: Identity,
    Path((namespace, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<ActionResult>, ApiError> {
    action_request(&body)?;
    let actor = identity.actor();
    act(
        &state,
        &identity,
        &namespace,
        &id,
        TaskAction::Retry { actor },
    )
    .await
}

/// Discard a task
///
/// Discard a pending or failed task: it becomes `skipped`, with who (the caller) and why
/// in its log and the audit trail.
#[utoipa::path(
    post,
    tag = "tasks",
    path = "/api/v1/namespaces/{namespace}/tasks/{id}/discard",
    params(("namespace" = String, Path), ("id" = String, Path)),
    request_body(content = ActionRequest, description = "Optional"),
    responses((status = 200, body = ActionResult), (status = 404, body = super::error::ErrorBody), (status = 409, description = "The task is processing, done or skipped", body = super::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn discard_task(
    State(state): State<AppState>,
    identity: Identity,
    Path((namespace, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<ActionResult>, ApiError> {
    let request = action_request(&body)?;
    let actor = identity.actor();
    let reason = request.reason.unwrap_or_else(|| "no reason given".into());
    act(
        &state,
        &identity,
        &namespace,
        &id,
        TaskAction::Discard { actor, reason },
    )
    .await
}

/// The receiver's word on a waiting task.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// `done` or `failed`.
    pub outcome: AckOutcome,
    /// Shown in the task log (with the caller's name); a failed task's error.
    pub message: Option<String>,
}

/// Acknowledge a waiting task
///
/// The receiver's word on a `waiting` task (a route with `outgoing.await`): it becomes
/// `done` or `failed` (with the message as its error). The caller is named in the task
/// log and the audit trail.
#[utoipa::path(
    post,
    tag = "tasks",
    path = "/api/v1/namespaces/{namespace}/tasks/{id}/ack",
    params(("namespace" = String, Path), ("id" = String, Path)),
    request_body(content = AckRequest),
    responses(
        (status = 200, body = ActionResult),
        (status = 400, description = "Not a valid acknowledgement", body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "The task is not waiting", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn ack_task(
    State(state): State<AppState>,
    identity: Identity,
    Path((namespace, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<ActionResult>, ApiError> {
    let request: AckRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not a valid acknowledgement ({{\"outcome\": \"done\" | \"failed\", \"message\": …}}): {e}"
        ))
    })?;
    let ack = Ack {
        actor: identity.actor(),
        outcome: request.outcome,
        message: request.message,
    };
    act(&state, &identity, &namespace, &id, TaskAction::Ack(ack)).await
}

/// What to replay.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplayRequest {
    /// The incoming step to start at (1 is the first; 1 runs every step again on the
    /// item as received). Absent: 1.
    #[schema(minimum = 1)]
    pub from_step: Option<u32>,
}

/// The tasks a replay made.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayResult {
    /// The replayed task.
    pub replay_of: String,
    /// The step the replay started at.
    pub from_step: u32,
    /// The new tasks, one per item the steps made (none if a step dropped the item).
    pub task_ids: Vec<String>,
}

/// Replay a task
///
/// Run the task's item again through its route's incoming steps as configured now,
/// from step `fromStep` on (on the items that went into that step when the task was
/// made), into new tasks linked to this one (`provenance.replayOf`; this task lists
/// them in `provenance.replays`). For fixing a transformer and re-running what it broke.
/// The old task is left as it is. The caller is named in the new tasks' log and the
/// audit trail.
#[utoipa::path(
    post,
    tag = "tasks",
    path = "/api/v1/namespaces/{namespace}/tasks/{id}/replay",
    params(("namespace" = String, Path), ("id" = String, Path)),
    request_body(content = ReplayRequest, description = "Optional"),
    responses(
        (status = 202, body = ReplayResult),
        (status = 400, description = "Not a valid replay request, or `fromStep` out of range", body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "The task keeps no record of the items that went into that step, or its route is gone", body = super::error::ErrorBody),
        (status = 422, description = "A step failed on the item", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn replay_task(
    State(state): State<AppState>,
    identity: Identity,
    Path((namespace, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<ReplayResult>), ApiError> {
    let request: ReplayRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReplayRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body is not a valid replay request ({{\"fromStep\": n}}): {e}"
            ))
        })?
    };
    let from_step = request.from_step.unwrap_or(1);
    if from_step == 0 {
        return Err(ApiError::bad_request(
            "`fromStep` counts from 1 (the first incoming step)",
        ));
    }
    let result = state
        .engine
        .replay(&namespace, &id, from_step, &identity.actor())
        .await;
    let detail = match &result {
        Ok(ids) => serde_json::json!({"fromStep": from_step, "taskIds": ids}),
        Err(error) => serde_json::json!({
            "fromStep": from_step,
            "error": crate::redact::redact(&error.to_string()),
        }),
    };
    if !matches!(result, Err(ReplayError::NoTask { .. })) {
        state
            .audit(&identity, &namespace, AuditAction::Replay, &id, detail)
            .await;
    }
    let task_ids = result.map_err(|error| match error {
        ReplayError::NoTask { .. } => ApiError::not_found(error.to_string()),
        ReplayError::StepOutOfRange { .. } => ApiError::bad_request(error.to_string()),
        ReplayError::NoProvenance { .. }
        | ReplayError::RouteGone { .. }
        | ReplayError::Proxy { .. }
        | ReplayError::Missing { .. } => ApiError::new(StatusCode::CONFLICT, error.to_string()),
        ReplayError::Transform { .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
        }
        ReplayError::Queue(error) => ApiError::from(error),
        ReplayError::Commit(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
    })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ReplayResult {
            replay_of: id,
            from_step,
            task_ids,
        }),
    ))
}
