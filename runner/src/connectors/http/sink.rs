//! Delivering a task's item over HTTP, and deciding which failures are worth a retry.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use serde_json::Value;
use switchyard_crds::v1alpha1::{HttpDelivery, HttpMethod};

use super::auth::truncate;
use super::endpoint::{
    EndpointError, HttpEndpoint, describe_reqwest_error, resolve_headers, wire_method,
};
use super::template::UrlTemplate;
use crate::connectors::{DeliveryError, DeliveryReport, Sink};
use crate::redact;
use crate::secrets::SecretSource;
use crate::transform::JqProgram;

/// How much of a response body goes into the task log.
const LOGGED_BODY_CHARS: usize = 500;
/// The longest `Retry-After` honoured; a server asking for more gets the route's
/// back-off instead of parking the task for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3_600);

/// Whether a response status is worth retrying: time-outs, rate limits and server
/// errors are; other client errors mean the request itself is wrong.
pub fn status_is_retriable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// Parses `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    let delay = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(text)
            .ok()?
            .duration_since(now)
            .unwrap_or_default(),
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

pub struct HttpSink {
    endpoint: Arc<HttpEndpoint>,
    method: reqwest::Method,
    path: UrlTemplate,
    headers: HeaderMap,
    body: Option<JqProgram>,
    /// Read and keep the receiver's answer for the after-delivery steps.
    keep_response: bool,
}

impl HttpSink {
    /// `keep_response`: read the receiver's answer into [`DeliveryReport::response`]
    /// (only when after-delivery steps will look at it).
    pub fn new(
        endpoint: Arc<HttpEndpoint>,
        delivery: &HttpDelivery,
        namespace: &str,
        secrets: &SecretSource,
        keep_response: bool,
    ) -> Result<Self, EndpointError> {
        let invalid = |field: &str, message: String| EndpointError::Invalid {
            field: field.to_owned(),
            message,
        };
        Ok(Self {
            endpoint,
            method: wire_method(delivery.method.unwrap_or(HttpMethod::Post)),
            path: UrlTemplate::parse(delivery.path.as_deref().unwrap_or(""))
                .map_err(|e| invalid("spec.outgoing.http.path", e.to_string()))?,
            headers: resolve_headers(
                &delivery.headers,
                "spec.outgoing.http.headers",
                namespace,
                secrets,
            )?,
            body: delivery
                .body
                .as_deref()
                .map(JqProgram::compile)
                .transpose()
                .map_err(|e| invalid("spec.outgoing.http.body", e.to_string()))?,
            keep_response,
        })
    }
}

#[async_trait]
impl Sink for HttpSink {
    async fn send(
        &self,
        item: &Value,
        idempotency_key: &str,
    ) -> Result<DeliveryReport, DeliveryError> {
        let path = self
            .path
            .render(item)
            .map_err(|e| DeliveryError::Request(e.to_string()))?;
        let url = self
            .endpoint
            .url(&path)
            .map_err(|e| DeliveryError::Request(format!("invalid URL `{path}`: {e}")))?;
        let body = match &self.body {
            None => item.clone(),
            Some(program) => program
                .first(item.clone())
                .map_err(|e| DeliveryError::Request(format!("body: {e}")))?
                .ok_or_else(|| {
                    DeliveryError::Request("body: the jq expression produced nothing".into())
                })?,
        };
        let method = self.method.to_string();
        let shown_url = redact::redact(url.as_str()).into_owned();
        let started = Instant::now();
        let unavailable = |reason: String, retry_after| DeliveryError::Unavailable {
            message: format!(
                "{method} {shown_url} failed after {} ms: {}",
                started.elapsed().as_millis(),
                redact::redact(&reason)
            ),
            retry_after,
        };
        // Held until the response is read: the Connection's limits count this request.
        let _slot = self.endpoint.limits.admit().await;
        let request = self
            .endpoint
            .request(self.method.clone(), url, &self.headers)
            .await
            .map_err(|e| unavailable(e.to_string(), None))?
            .header("Idempotency-Key", idempotency_key)
            .json(&body);
        let response = request
            .send()
            .await
            .map_err(|e| unavailable(describe_reqwest_error(&e), None))?;
        let status = response.status();
        if status.is_success() {
            let response = if self.keep_response {
                Some(answer(response).await)
            } else {
                None
            };
            return Ok(DeliveryReport {
                summary: format!(
                    "{method} {shown_url} → {status} in {} ms",
                    started.elapsed().as_millis()
                ),
                response,
            });
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let text = response.text().await.unwrap_or_default();
        let body = redact::redact(&truncate(&text, LOGGED_BODY_CHARS)).into_owned();
        if status_is_retriable(status) {
            return Err(unavailable(format!("status {status}: {body}"), retry_after));
        }
        if status == StatusCode::UNAUTHORIZED && self.endpoint.auth.invalidate().await {
            return Err(unavailable(
                format!("status {status} (token refreshed for the next attempt): {body}"),
                None,
            ));
        }
        Err(DeliveryError::Rejected(format!(
            "{method} {shown_url} answered {status} after {} ms: {body}",
            started.elapsed().as_millis()
        )))
    }
}

/// A successful response as `{status, headers, body}`: headers by lower-case name, the
/// body as JSON when it parses, else as text (absent when it cannot be read: the
/// delivery itself succeeded).
async fn answer(response: reqwest::Response) -> Value {
    let status = response.status().as_u16();
    let headers: serde_json::Map<String, Value> = response
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.as_str().to_owned(),
                Value::String(value.to_str().ok()?.to_owned()),
            ))
        })
        .collect();
    let body = match response.bytes().await {
        Ok(bytes) if bytes.is_empty() => Value::Null,
        Ok(bytes) => serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
        Err(_) => Value::Null,
    };
    serde_json::json!({ "status": status, "headers": headers, "body": body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retriable_statuses_are_exactly_timeouts_rate_limits_and_server_errors() {
        let retriable: Vec<u16> = (400..600)
            .filter(|code| StatusCode::from_u16(*code).is_ok_and(status_is_retriable))
            .filter(|code| *code < 500)
            .collect();
        assert_eq!(retriable, vec![408, 429]);
        for permanent in [400, 401, 403, 404, 409, 410, 413, 415, 422] {
            assert!(
                !status_is_retriable(StatusCode::from_u16(permanent).unwrap_or(StatusCode::OK)),
                "{permanent}"
            );
        }
        for server in [500, 502, 503, 504] {
            assert!(
                status_is_retriable(StatusCode::from_u16(server).unwrap_or(StatusCode::OK)),
                "{server}"
            );
        }
    }

    #[test]
    fn reads_retry_after_as_seconds_or_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("7"), now),
            Some(Duration::from_secs(7))
        );
        let date =
            HeaderValue::from_str(&httpdate::fmt_http_date(now + Duration::from_secs(20))).ok();
        assert_eq!(
            date.and_then(|d| parse_retry_after(&d, now)),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("999999"), now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("soon"), now),
            None
        );
    }
}
