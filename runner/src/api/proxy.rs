//! The HTTP proxy endpoint: `ANY /proxy/{namespace}/{route}/{path}` through a proxy
//! route (`spec.incoming.proxy`). The forwarding itself lives in [`crate::proxy`].

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

/// Where proxied calls come in.
pub const PREFIX: &str = "/proxy/";

/// Call through a proxy route
///
/// Forwards the call at once through the route's outgoing HTTP Connection: its base URL
/// joined with `path`, the query string as sent, the Connection's headers, credentials
/// and TLS. Hop-by-hop headers and the caller's credentials (`Authorization`,
/// `X-Switchyard-Token`, the HMAC signature header, `Cookie`) are not forwarded. The
/// receiver's answer comes back as it is (status, headers without hop-by-hop ones and
/// `Set-Cookie`, streamed body), unless the route's response steps reshape a successful
/// JSON answer. Every forwarded call is recorded as a task (`done`, or `failed` when the
/// receiver was unreachable, too slow, answered 5xx or broke off), with method, path,
/// status, duration and the start of both bodies. Any method is forwarded (HEAD and
/// OPTIONS too). Authenticated by the route's own auth (token or HMAC), not by API
/// roles.
#[utoipa::path(
    method(get, post, put, delete, patch),
    path = "/proxy/{namespace}/{route}/{path}",
    tag = "proxy",
    params(
        ("namespace" = String, Path),
        ("route" = String, Path),
        ("path" = String, Path, description = "Joined to the Connection's base URL; may be empty and may hold `/`"),
    ),
    request_body(content = String, content_type = "application/octet-stream", description = "Any body, streamed to the receiver (JSON when the route has request steps)"),
    responses(
        (status = 200, description = "The receiver's answer, with its own status, headers and body"),
        (status = 400, description = "A path that leaves the Connection's base URL", body = super::error::ErrorBody),
        (status = 401, description = "Missing or wrong credentials", body = super::error::ErrorBody),
        (status = 404, description = "No such proxy route", body = super::error::ErrorBody),
        (status = 413, description = "A body that must be read whole (request steps, HMAC) is larger than 32 MiB", body = super::error::ErrorBody),
        (status = 422, description = "The request body failed the request steps", body = super::error::ErrorBody),
        (status = 502, description = "The receiver cannot be reached, or its answer failed the response steps (`code`: `upstream_failed`)", body = super::error::ErrorBody),
        (status = 503, description = "Route suspended", body = super::error::ErrorBody),
        (status = 504, description = "The receiver did not answer within the time-out (`code`: `upstream_timeout`)", body = super::error::ErrorBody),
    )
)]
pub async fn forward(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path();
    let below = path.strip_prefix(PREFIX).unwrap_or_default();
    let mut segments = below.splitn(3, '/');
    let namespace = segments.next().unwrap_or_default().to_owned();
    let name = segments.next().unwrap_or_default().to_owned();
    let rest = segments.next().map(|r| format!("/{r}")).unwrap_or_default();
    let runtime = state.engine.runtime();
    let Some(route) = runtime
        .route(&namespace, &name)
        .filter(|route| route.is_proxy())
        .cloned()
    else {
        return ApiError::not_found(format!(
            "no proxy route `{name}` in namespace `{namespace}`"
        ))
        .into_response();
    };
    crate::proxy::handle(state.engine.clone(), route, rest, request).await
}
