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

/// A Connection and its circuit breaker.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    pub namespace: String,
    pub name: String,
    /// `http`, `database`, `fileSystem` or `soap`.
    pub kind: &'static str,
    /// The circuit breaker on this runner; absent when the Connection has none
    /// (`spec.circuitBreaker`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit: Option<CircuitInfo>,
}

/// The state of a circuit breaker.
#[derive(Serialize, utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum CircuitStateInfo {
    /// Deliveries go through.
    Closed,
    /// Deliveries are held back until `until`; their tasks wait without spending
    /// attempts.
    Open,
    /// The cool-down is over; one trial delivery decides whether it closes.
    HalfOpen,
}

/// A Connection's circuit breaker as this runner sees it (each replica has its own).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CircuitInfo {
    pub state: CircuitStateInfo,
    /// Transient failures in a row so far (while closed).
    pub consecutive_failures: u32,
    /// When the circuit opened (RFC 3339); absent while closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// When the next trial may go out (RFC 3339); absent unless open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Why it is in this state (secrets masked).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl From<crate::circuit::CircuitSnapshot> for CircuitInfo {
    fn from(snapshot: crate::circuit::CircuitSnapshot) -> Self {
        use crate::circuit::CircuitState;
        Self {
            state: match snapshot.state {
                CircuitState::Closed => CircuitStateInfo::Closed,
                CircuitState::Open => CircuitStateInfo::Open,
                CircuitState::HalfOpen => CircuitStateInfo::HalfOpen,
            },
            consecutive_failures: snapshot.consecutive_failures,
            since: snapshot.since_ms.and_then(crate::status_report::rfc3339),
            until: snapshot.until_ms.and_then(crate::status_report::rfc3339),
            reason: snapshot.reason,
        }
    }
}

fn info(namespace: &str, name: &str, kind: &'static str) -> ConnectionInfo {
    ConnectionInfo {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        kind,
        circuit: crate::circuit::get(namespace, name).map(CircuitInfo::from),
    }
}

/// List Connections
///
/// The Connections of a namespace with the state of their circuit breakers on this
/// runner.
#[utoipa::path(
    get,
    tag = "connections",
    path = "/api/v1/namespaces/{namespace}/connections",
    params(("namespace" = String, Path)),
    responses((status = 200, body = [ConnectionInfo])),
    security(("bearer" = []))
)]
pub async fn list_connections(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
) -> Json<Vec<ConnectionInfo>> {
    let runtime = state.engine.runtime();
    let connections = runtime
        .connections
        .kinds()
        .into_iter()
        .filter(|((ns, _), _)| *ns == namespace)
        .map(|((ns, name), kind)| info(&ns, &name, kind.as_str()))
        .collect();
    Json(connections)
}

/// Get a Connection
///
/// One Connection with the state of its circuit breaker on this runner: `closed`,
/// `open` (with `since` and `until`) or `halfOpen`.
#[utoipa::path(
    get,
    tag = "connections",
    path = "/api/v1/namespaces/{namespace}/connections/{name}",
    params(("namespace" = String, Path), ("name" = String, Path)),
    responses(
        (status = 200, body = ConnectionInfo),
        (status = 404, description = "No such Connection", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_connection(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<ConnectionInfo>, ApiError> {
    let runtime = state.engine.runtime();
    let kind = runtime
        .connections
        .kinds()
        .into_iter()
        .find(|((ns, n), _)| *ns == namespace && *n == name)
        .map(|(_, kind)| kind)
        .ok_or_else(|| {
            ApiError::not_found(format!("no Connection `{name}` in namespace `{namespace}`"))
        })?;
    Ok(Json(info(&namespace, &name, kind.as_str())))
}
