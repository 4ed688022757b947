//! API errors: a status and a message a human can act on, as JSON. Messages pass
//! through the redactor, so an error can never echo a secret.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::queue::QueueError;
use crate::redact;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong and, where possible, what to do about it.
    pub error: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::InvalidTransition { .. } | QueueError::NotRetriable { .. } => {
                Self::new(StatusCode::CONFLICT, error.to_string())
            }
            other => {
                tracing::error!(error = %other, "Queue error while answering an API request");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the queue is unavailable; try again",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: redact::redact(&self.message).into_owned(),
        };
        (self.status, Json(body)).into_response()
    }
}
