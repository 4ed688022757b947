//! One error body for every answer: errors axum produces itself (a path or query that
//! does not parse, a body that is too large, a method the path does not allow) come as
//! plain text; this layer turns them into [`ErrorBody`] JSON with a stable `code`.

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Marks an error answer whose body is already in the format its caller speaks (a cXML
/// `Response`): [`as_json`] leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub struct OwnFormat;

/// The largest plain-text error message kept.
const MAX_MESSAGE_BYTES: usize = 4_096;

/// Answers for paths that match no route.
pub async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!("no such path: {}", request.uri().path()))
}

/// Rewrites error answers that are not JSON into the API's error body.
pub async fn as_json(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    // A proxied receiver's answer and a cXML answer go back as they are.
    let extensions = response.extensions();
    if extensions.get::<crate::proxy::ReceiverAnswer>().is_some()
        || extensions.get::<OwnFormat>().is_some()
    {
        return response;
    }
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_MESSAGE_BYTES).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).into_owned(),
        _ => parts
            .status
            .canonical_reason()
            .unwrap_or("error")
            .to_owned(),
    };
    let mut rewritten = ApiError::new(status, text).into_response();
    // Keep headers such as `Allow` on a 405.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}
