//! Who am I, and which namespaces are there: what the console and the kubectl plugin ask
//! first.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::auth::Identity;

/// The caller's identity
///
/// Who the credentials belong to and their role (`null` when they grant none). The
/// console disables what the role may not do.
#[utoipa::path(
    get,
    path = "/api/v1/whoami",
    tag = "identity",
    responses((status = 200, description = "The caller", body = Identity)),
    security(("bearer" = []))
)]
pub async fn whoami(identity: Identity) -> Json<Identity> {
    Json(identity)
}

/// Namespaces with resources
///
/// Every namespace this runner has at least one Route or Connection in.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces",
    tag = "identity",
    responses((status = 200, description = "Namespace names, sorted", body = [String])),
    security(("bearer" = []))
)]
pub async fn namespaces(State(state): State<AppState>) -> Json<Vec<String>> {
    Json(state.engine.runtime().namespaces.clone())
}
