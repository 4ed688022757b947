//! API errors: a status and a message a human can act on, as JSON. Messages pass
//! through the redactor, so an error can never echo a secret.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::queue::QueueError;
use crate::redact;

/// Seconds a sender is asked to wait (`Retry-After`) when the queue cannot commit.
pub const QUEUE_RETRY_AFTER_SECS: u32 = 5;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// `Retry-After` seconds, for answers that mean "not now".
    pub retry_after: Option<u32>,
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
            retry_after: None,
        }
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
            error: redact::redact(&self.message).into_owned(),
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
