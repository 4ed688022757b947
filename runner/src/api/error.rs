//! API errors: a status, a stable machine-readable `code` and a message a human can act
//! on, as one JSON body for every error answer. Messages pass through the redactor, so
//! an error can never echo a secret.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::auth::Role;
use crate::connectors::webhook::BodyError;
use crate::engine::Refusal;
use crate::queue::QueueError;
use crate::redact;

/// Seconds a sender is asked to wait (`Retry-After`) when the queue cannot commit.
pub const QUEUE_RETRY_AFTER_SECS: u32 = 5;

/// What kind of error an answer is. Stable: clients branch on it, not on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed: a bad parameter or body.
    BadRequest,
    /// No credentials, or credentials that are not valid.
    Unauthorized,
    /// Authenticated, but the identity lacks the role the operation needs.
    Forbidden,
    /// No such namespace, route, task, Connection or storage entry.
    NotFound,
    /// The method is not allowed on this path.
    MethodNotAllowed,
    /// The resource is in a state that does not allow the operation (a task that is
    /// processing, done, or records unreadable input).
    Conflict,
    /// The body is too large.
    PayloadTooLarge,
    /// An item failed the route's transformers.
    Unprocessable,
    /// A remote system the operation needed failed (a poll, a proxied call's receiver
    /// that cannot be reached or whose answer is unusable).
    UpstreamFailed,
    /// A remote system did not answer in time (a proxied call's receiver).
    UpstreamTimeout,
    /// The queue, the storage or the route is unavailable for now; try again.
    Unavailable,
    /// Back-pressure: the route has as many undelivered tasks as its `maxPending`
    /// allows (`429`, with `Retry-After`); the body's `limit` says which.
    TooManyPending,
    /// Back-pressure: the queue's volume is below its free-space floor (`503`, with
    /// `Retry-After`); the body's `limit` says which.
    LowDiskSpace,
    /// An unexpected failure inside the runner.
    Internal,
}

impl ErrorCode {
    /// The code an answer with `status` carries unless a more precise one is given.
    pub fn of_status(status: StatusCode) -> Self {
        match status {
            StatusCode::BAD_REQUEST => Self::BadRequest,
            StatusCode::UNAUTHORIZED => Self::Unauthorized,
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::CONFLICT => Self::Conflict,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNPROCESSABLE_ENTITY => Self::Unprocessable,
            StatusCode::BAD_GATEWAY => Self::UpstreamFailed,
            StatusCode::GATEWAY_TIMEOUT => Self::UpstreamTimeout,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => Self::Unavailable,
            s if s.is_client_error() => Self::BadRequest,
            _ => Self::Internal,
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// `Retry-After` seconds, for answers that mean "not now".
    pub retry_after: Option<u32>,
    /// For `forbidden`: the role the operation needs.
    pub required_role: Option<Role>,
    /// For back-pressure refusals: the limit that was reached.
    pub limit: Option<LimitReached>,
}

/// A back-pressure limit that refused the request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitReached {
    /// `maxPending` or `minFreeDiskMebibytes`.
    pub name: &'static str,
    /// The limit's value (tasks, or MiB).
    pub value: u64,
    /// Where the count stands (undelivered tasks, or MiB free).
    pub current: u64,
    /// The route whose limit it is (`maxPending` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// What kind of error this is (stable, for programs).
    pub code: ErrorCode,
    /// What went wrong and, where possible, what to do about it (for people).
    pub error: String,
    /// For `forbidden`: the role the operation needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_role: Option<Role>,
    /// For `too_many_pending` and `low_disk_space`: the limit that was reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<LimitReached>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code: ErrorCode::of_status(status),
            message: message.into(),
            retry_after: None,
            required_role: None,
            limit: None,
        }
    }

    /// Back-pressure: `429` past a route's `maxPending`, `503` below the disk floor,
    /// each with `Retry-After` and the limit in the body.
    pub fn refused(refusal: &Refusal) -> Self {
        let (status, code, route) = match refusal {
            Refusal::MaxPending { route, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyPending,
                Some(route.clone()),
            ),
            Refusal::DiskFloor { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::LowDiskSpace,
                None,
            ),
        };
        let (name, value, current) = refusal.limit();
        Self {
            code,
            limit: Some(LimitReached {
                name,
                value,
                current,
                route,
            }),
            ..Self::new(status, format!("nothing was queued: {refusal}"))
        }
        .retry_after(refusal.retry_after_secs())
    }

    /// Asks the sender to try again after `seconds`.
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403: the identity lacks `required`.
    pub fn forbidden(required: Role, message: impl Into<String>) -> Self {
        Self {
            required_role: Some(required),
            ..Self::new(StatusCode::FORBIDDEN, message)
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

/// A webhook, callback or trigger body refused: 413 past the item cap, 400 otherwise.
impl From<BodyError> for ApiError {
    fn from(error: BodyError) -> Self {
        let status = if error.is_too_large() {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        Self::new(status, error.to_string())
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::InvalidTransition { .. }
            | QueueError::NotRetriable { .. }
            | QueueError::ProxiedCall { .. } => Self::new(StatusCode::CONFLICT, error.to_string()),
            other => {
                tracing::error!(error = %other, "Queue error while answering an API request");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "the queue is unavailable ({}); try again",
                        other.fault().describe()
                    ),
                )
                .retry_after(QUEUE_RETRY_AFTER_SECS)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            error: redact::redact(&self.message).into_owned(),
            required_role: self.required_role,
            limit: self.limit,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
