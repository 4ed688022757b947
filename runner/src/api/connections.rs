use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use super::{ApiError, AppState};

/// What a connectivity test found.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TestResult {
    /// True when the system answered and did not refuse the credentials.
    pub ok: bool,
    /// What was found (secrets masked).
    pub message: String,
}

/// Test a Connection
///
/// Check that a Connection's system answers and accepts the credentials, without moving
/// data: a GET on an HTTP Connection's base URL, a ping of a database.
#[utoipa::path(
    post,
    tag = "connections",
    path = "/api/v1/namespaces/{namespace}/connections/{name}/test",
    params(("namespace" = String, Path), ("name" = String, Path)),
    responses(
        (status = 200, body = TestResult),
        (status = 404, description = "No such Connection, or one that cannot be tested without moving data", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn test_connection(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<TestResult>, ApiError> {
    let runtime = state.engine.runtime();
    let probe = runtime.connections.probe(&(namespace.clone(), name.clone())).await.ok_or_else(|| {
        ApiError::not_found(format!(
            "no HTTP or database Connection `{name}` in namespace `{namespace}` (file system and SOAP Connections cannot be tested yet)"
        ))
    })?;
    Ok(Json(TestResult {
        ok: probe.ok,
        message: probe.message,
    }))
}
