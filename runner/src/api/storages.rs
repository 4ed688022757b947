//! Storage entries through the API: see and edit cursors, hashes and lookup tables.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::Identity;
use super::{ApiError, AppState};
use crate::audit::AuditAction;
use crate::storage::{StorageEntry, StorageError, StorageScope};

/// Largest page of entries.
const MAX_PAGE: u32 = 1_000;

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        tracing::error!(error = %error, category = error.category(), "Storage error while answering an API request");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the storage is unavailable; try again",
        )
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct PutQuery {
    /// Seconds until the entry expires. Absent: never.
    pub ttl_seconds: Option<u64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of entries, in key order.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntryPage {
    pub items: Vec<StorageEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// List storage entries
///
/// Entries of a storage (cursors, hashes, lookup tables), in key order.
#[utoipa::path(
    get,
    tag = "storage",
    path = "/api/v1/namespaces/{namespace}/storages/{storage}/items",
    params(("namespace" = String, Path), ("storage" = String, Path), ListQuery),
    responses((status = 200, body = EntryPage), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_items(
    State(state): State<AppState>,
    Path((namespace, storage)): Path<(String, String)>,
    Query(query): Query<ListQuery>,
) -> Result<Json<EntryPage>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "`limit` must be between 1 and {MAX_PAGE}"
        )));
    }
    let scope = StorageScope::new(namespace, storage);
    let items = state
        .engine
        .storage()
        .list(&scope, query.cursor.as_deref(), limit)
        .await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|e| e.key.clone()))
        .flatten();
    Ok(Json(EntryPage { items, next_cursor }))
}

/// Get a storage entry
///
/// One entry: its value, when it was written and when it expires.
#[utoipa::path(
    get,
    tag = "storage",
    path = "/api/v1/namespaces/{namespace}/storages/{storage}/items/{key}",
    params(("namespace" = String, Path), ("storage" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = StorageEntry), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_item(
    State(state): State<AppState>,
    Path((namespace, storage, key)): Path<(String, String, String)>,
) -> Result<Json<StorageEntry>, ApiError> {
    let scope = StorageScope::new(namespace, storage);
    state
        .engine
        .storage()
        .get(&scope, &key)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&scope, &key))
}

/// Write a storage entry
///
/// Write an entry: the body is its JSON value. Recorded in the audit trail.
#[utoipa::path(
    put,
    tag = "storage",
    path = "/api/v1/namespaces/{namespace}/storages/{storage}/items/{key}",
    params(("namespace" = String, Path), ("storage" = String, Path), ("key" = String, Path), PutQuery),
    request_body(content = Object, description = "Any JSON value"),
    responses((status = 200, body = StorageEntry), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn put_item(
    State(state): State<AppState>,
    identity: Identity,
    Path((namespace, storage, key)): Path<(String, String, String)>,
    Query(query): Query<PutQuery>,
    body: Bytes,
) -> Result<Json<StorageEntry>, ApiError> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    let scope = StorageScope::new(namespace, storage);
    let store = state.engine.storage();
    store
        .put(
            &scope,
            &key,
            &value,
            query.ttl_seconds.map(Duration::from_secs),
        )
        .await?;
    state
        .audit(
            &identity,
            &scope.namespace,
            AuditAction::StoragePut,
            format!("{}/{key}", scope.storage),
            serde_json::json!({"ttlSeconds": query.ttl_seconds}),
        )
        .await;
    store
        .get(&scope, &key)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&scope, &key))
}

/// Delete a storage entry
///
/// Delete an entry. Recorded in the audit trail.
#[utoipa::path(
    delete,
    tag = "storage",
    path = "/api/v1/namespaces/{namespace}/storages/{storage}/items/{key}",
    params(("namespace" = String, Path), ("storage" = String, Path), ("key" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn delete_item(
    State(state): State<AppState>,
    identity: Identity,
    Path((namespace, storage, key)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let scope = StorageScope::new(namespace, storage);
    if state.engine.storage().delete(&scope, &key).await? {
        state
            .audit(
                &identity,
                &scope.namespace,
                AuditAction::StorageDelete,
                format!("{}/{key}", scope.storage),
                serde_json::json!({}),
            )
            .await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&scope, &key))
    }
}

fn not_found(scope: &StorageScope, key: &str) -> ApiError {
    ApiError::not_found(format!(
        "no entry `{key}` in storage `{}` of namespace `{}`",
        scope.storage, scope.namespace
    ))
}
