//! The synchronous answer of a `format: cxml` webhook: every answer, success or refusal,
//! is a cXML `Response` (`text/xml`) whose `Status` code and text say what happened, with
//! the reason as the Status's content; the HTTP status is the one a JSON webhook would
//! give. `200 OK` comes only after the task is committed, as a JSON webhook's `202`.
//! The Response carries the request's payloadID (a new one when the document could not
//! be read) and its own timestamp.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::webhooks::{authenticate, intake_refused};
use super::{ApiError, AppState};
use crate::connectors::webhook::{CxmlIntake, CxmlRefusal};
use crate::formats::cxml::{self, Document};
use crate::metrics::events::{self, IntakeKind, RejectReason};
use crate::redact;
use crate::runtime::RouteRuntime;

/// The cXML status codes this webhook answers with (cXML 1.2 Reference Guide, "Status").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CxmlStatus {
    /// The document was queued.
    Ok,
    /// The request could not be read (not XML, not a cXML request, too large).
    BadRequest,
    /// The credentials are missing or wrong.
    Unauthorized,
    /// The document was read but refused (an incoming transformer failed).
    NotAcceptable,
    /// Something failed that trying again will not fix.
    InternalServerError,
    /// Nothing was queued for now (queue unavailable, back-pressure, route suspended):
    /// send the document again later.
    TemporaryServerError,
}

impl CxmlStatus {
    /// The status of an answer with HTTP `status`.
    pub fn of(status: StatusCode) -> Self {
        match status {
            s if s.is_success() => Self::Ok,
            StatusCode::UNAUTHORIZED => Self::Unauthorized,
            StatusCode::UNPROCESSABLE_ENTITY => Self::NotAcceptable,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => {
                Self::TemporaryServerError
            }
            s if s.is_client_error() => Self::BadRequest,
            _ => Self::InternalServerError,
        }
    }

    pub fn code(self) -> u16 {
        match self {
            Self::Ok => 200,
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::NotAcceptable => 406,
            Self::InternalServerError => 500,
            Self::TemporaryServerError => 560,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::BadRequest => "Bad Request",
            Self::Unauthorized => "Unauthorized",
            Self::NotAcceptable => "Not Acceptable",
            Self::InternalServerError => "Internal Server Error",
            Self::TemporaryServerError => "Temporary Server Error",
        }
    }
}

/// One answer of a cXML webhook.
#[derive(Debug)]
pub struct CxmlAnswer {
    status: StatusCode,
    /// Why the document was refused (`None`: queued).
    reason: Option<String>,
    retry_after: Option<u32>,
    /// The request's payloadID and version, when it could be read.
    payload_id: Option<String>,
    version: Option<String>,
    /// Tasks queued.
    queued: Option<usize>,
}

impl CxmlAnswer {
    fn queued(document: &Document, tasks: usize) -> Self {
        Self {
            status: StatusCode::OK,
            reason: None,
            retry_after: None,
            payload_id: document.payload_id.clone(),
            version: document.version.clone(),
            queued: Some(tasks),
        }
    }

    /// The refusal `error` in cXML, for the request's `document` if it was read.
    pub fn refused(error: ApiError, document: Option<&Document>) -> Self {
        Self {
            status: error.status,
            reason: Some(error.message),
            retry_after: error.retry_after,
            payload_id: document.and_then(|d| d.payload_id.clone()),
            version: document.and_then(|d| d.version.clone()),
            queued: None,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// How many tasks were queued, if any were.
    pub fn queued_tasks(&self) -> Option<usize> {
        self.queued
    }
}

impl IntoResponse for CxmlAnswer {
    fn into_response(self) -> Response {
        let status = CxmlStatus::of(self.status);
        let reason = self.reason.map(|r| redact::redact(&r).into_owned());
        let body = cxml::response(
            self.payload_id.as_deref(),
            self.version.as_deref(),
            status.code(),
            status.text(),
            reason.as_deref(),
        );
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=utf-8"),
            )],
            body,
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
        }
        response
            .extensions_mut()
            .insert(super::json_errors::OwnFormat);
        response
    }
}

fn refusal(route: &RouteRuntime, error: CxmlRefusal) -> ApiError {
    let (status, reason) = match &error {
        CxmlRefusal::MissingSecret | CxmlRefusal::WrongSecret => {
            (StatusCode::UNAUTHORIZED, RejectReason::Auth)
        }
        CxmlRefusal::ContentType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, RejectReason::Body),
        CxmlRefusal::Empty | CxmlRefusal::Malformed(_) => {
            (StatusCode::BAD_REQUEST, RejectReason::Body)
        }
    };
    events::intake_rejected(&route.key, IntakeKind::Webhook, reason);
    ApiError::new(status, error.to_string())
}

/// Receives one cXML document on `route`, inside the request's intake span.
pub async fn accept(
    state: &AppState,
    route: &RouteRuntime,
    intake: &CxmlIntake,
    headers: HeaderMap,
    body: Bytes,
) -> CxmlAnswer {
    if let Err(error) = authenticate(route, &headers, &body) {
        return CxmlAnswer::refused(error, None);
    }
    let document = match intake.read(&headers, &body) {
        Ok(document) => document,
        Err(error) => return CxmlAnswer::refused(refusal(route, error), None),
    };
    // The raw text (with the Sender's SharedSecret) goes no further: the item is the
    // document's JSON, its credential secrets masked.
    drop(body);
    if let Err(error) = intake.verify(&document) {
        return CxmlAnswer::refused(refusal(route, error), Some(&document));
    }
    match state
        .engine
        .intake(route, vec![document.to_json()], "webhook")
        .await
    {
        Ok(task_ids) => CxmlAnswer::queued(&document, task_ids.len()),
        Err(error) => CxmlAnswer::refused(intake_refused(route, &error), Some(&document)),
    }
}

/// A refusal of the HTTP layer (a body past the size bound or too slow) as the cXML
/// answer when `path` is a cXML webhook route's; `error` back when it is not.
pub fn layer_refusal(state: &AppState, path: &str, error: ApiError) -> Result<Response, ApiError> {
    let mut segments = path.trim_start_matches('/').split('/');
    let (Some("webhooks"), Some(namespace), Some(name), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(error);
    };
    let runtime = state.engine.runtime();
    match runtime.route(namespace, name) {
        Some(route) if route.cxml.is_some() => {
            events::intake_rejected(&route.key, IntakeKind::Webhook, RejectReason::Body);
            Ok(CxmlAnswer::refused(error, None).into_response())
        }
        _ => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_map_to_cxml_statuses() {
        let cases = [
            (StatusCode::OK, 200, "OK"),
            (StatusCode::BAD_REQUEST, 400, "Bad Request"),
            (StatusCode::PAYLOAD_TOO_LARGE, 400, "Bad Request"),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, 400, "Bad Request"),
            (StatusCode::UNAUTHORIZED, 401, "Unauthorized"),
            (StatusCode::UNPROCESSABLE_ENTITY, 406, "Not Acceptable"),
            (StatusCode::TOO_MANY_REQUESTS, 560, "Temporary Server Error"),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                560,
                "Temporary Server Error",
            ),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                500,
                "Internal Server Error",
            ),
        ];
        for (http, code, text) in cases {
            let status = CxmlStatus::of(http);
            assert_eq!((status.code(), status.text()), (code, text), "{http}");
        }
    }

    #[tokio::test]
    async fn a_refusal_is_a_cxml_response_that_echoes_the_payload_id() {
        let document = cxml::read(
            r#"<cXML payloadID="p-9@buyer.example" timestamp="2026-12-03T01:00:00+01:00" version="1.2.011"><Header><From><Credential domain="NetworkID"><Identity>A</Identity></Credential></From><To><Credential domain="DUNS"><Identity>1</Identity></Credential></To><Sender><Credential domain="NetworkID"><Identity>A</Identity></Credential><UserAgent>P</UserAgent></Sender></Header><Request><OrderRequest><OrderRequestHeader orderID="PO-1" orderDate="2026-12-02"/><ItemOut quantity="1" lineNumber="1"><ItemID><SupplierPartID>A</SupplierPartID></ItemID></ItemOut></OrderRequest></Request></cXML>"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "nothing was queued: <down>",
        )
        .retry_after(5);
        let response = CxmlAnswer::refused(error, Some(&document)).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE),
            Some(&HeaderValue::from_static("text/xml; charset=utf-8"))
        );
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from_static("5"))
        );
        assert!(
            response
                .extensions()
                .get::<super::super::json_errors::OwnFormat>()
                .is_some()
        );
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains(r#"payloadID="p-9@buyer.example""#), "{text}");
        assert!(text.contains(r#"version="1.2.011""#), "{text}");
        assert!(
            text.contains(
                r#"<Status code="560" text="Temporary Server Error">nothing was queued: &lt;down&gt;</Status>"#
            ),
            "{text}"
        );
    }
}
