//! Forwarding one call: authenticate the caller, build the receiver's request, send it,
//! and relay (or transform) the answer.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue, TRANSFER_ENCODING};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use url::Url;

use super::body::{ReadError, StepsError, read_limited, transform};
use super::record::{Call, Capture, Relay, SharedCapture};
use super::{MAX_BUFFERED_BYTES, ProxyRuntime, headers};
use crate::api::ApiError;
use crate::connectors::http::{AuthError, HttpEndpoint, describe_reqwest_error};
use crate::engine::Engine;
use crate::metrics::events::{self, IntakeKind, RejectReason};
use crate::redact;
use crate::runtime::RouteRuntime;

/// Marks an answer that is the receiver's: the API's error rewriting leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct ReceiverAnswer;

/// Why a call got no answer from the receiver, or not the one it sent.
#[derive(Debug, thiserror::Error)]
enum ProxyError {
    #[error("the request body cannot be read: {0}")]
    RequestBody(#[source] ReadError<axum::Error>),
    #[error("`{path}` {reason}")]
    Path { path: String, reason: String },
    #[error("request steps (spec.incoming.proxy.request): {0}")]
    RequestSteps(#[source] StepsError),
    #[error("the Connection's credentials cannot be had: {0}")]
    Credentials(#[source] AuthError),
    #[error("the receiver cannot be reached: {0}")]
    Unreachable(String),
    #[error("the receiver did not answer within the time-out ({after_ms} ms)")]
    Timeout { after_ms: u128 },
    #[error("the receiver's answer cannot be read: {detail}")]
    Answer { detail: String },
    #[error("response steps (spec.incoming.proxy.response): {0}")]
    ResponseSteps(#[source] StepsError),
}

impl ProxyError {
    fn status(&self) -> StatusCode {
        match self {
            Self::RequestBody(ReadError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestBody(ReadError::Broken(_)) | Self::Path { .. } => StatusCode::BAD_REQUEST,
            Self::RequestSteps(error) if error.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            Self::RequestSteps(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Credentials(_)
            | Self::Unreachable(_)
            | Self::Answer { .. }
            | Self::ResponseSteps(_) => StatusCode::BAD_GATEWAY,
        }
    }

    fn of_send(error: &reqwest::Error, started: Instant) -> Self {
        // A host that does not take the connection is down, even when that took long.
        if error.is_timeout() && !error.is_connect() {
            Self::Timeout {
                after_ms: started.elapsed().as_millis(),
            }
        } else {
            Self::Unreachable(describe_reqwest_error(error))
        }
    }
}

/// A caller's body: read whole (steps or a signature need it), or still to stream.
enum CallerBody {
    Buffered(Bytes),
    Streamed(Body),
}

/// Forwards `request` through `route`'s proxy. `rest`: the path below
/// `/proxy/{namespace}/{route}`, empty or starting with `/`.
pub async fn handle(
    engine: Arc<Engine>,
    route: Arc<RouteRuntime>,
    rest: String,
    request: Request,
) -> Response {
    let started = Instant::now();
    let Some(proxy) = route.proxy.as_ref() else {
        return ApiError::not_found(format!("route `{}` is not a proxy route", route.key.route))
            .into_response();
    };
    if route.suspended() {
        events::intake_rejected(&route.key, IntakeKind::Proxy, RejectReason::Suspended);
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "route `{}` is suspended; calls are not forwarded",
                route.key.route
            ),
        )
        .into_response();
    }
    let (parts, body) = request.into_parts();
    let body = if proxy.buffers_request() {
        match read_limited(body.into_data_stream(), MAX_BUFFERED_BYTES).await {
            Ok(bytes) => CallerBody::Buffered(bytes),
            Err(error) => {
                let error = ProxyError::RequestBody(error);
                return ApiError::new(error.status(), error.to_string()).into_response();
            }
        }
    } else {
        CallerBody::Streamed(body)
    };
    if let Some(auth) = &proxy.auth {
        let signed: &[u8] = match &body {
            CallerBody::Buffered(bytes) => bytes,
            CallerBody::Streamed(_) => &[],
        };
        if let Err(error) = auth.verify(&parts.headers, signed) {
            events::intake_rejected(&route.key, IntakeKind::Proxy, RejectReason::Auth);
            return ApiError::unauthorized(error.to_string()).into_response();
        }
    }
    let mut call = Some(Call {
        engine: engine.clone(),
        route: route.key.clone(),
        method: parts.method.to_string(),
        path: match parts.uri.query() {
            Some(query) => format!("{rest}?{query}"),
            None => rest.clone(),
        },
        url: None,
        started,
        request: Arc::new(Mutex::new(Capture::new(proxy.record_bytes))),
        notes: Vec::new(),
    });
    let exchanged = exchange(
        &engine,
        &route.key.namespace,
        proxy,
        &parts,
        body,
        &rest,
        &mut call,
    )
    .await;
    match exchanged {
        Ok(response) => response,
        Err(error) => {
            let status = error.status();
            let message = error.to_string();
            tracing::info!(namespace = %route.key.namespace, route = %route.key.route, status = status.as_u16(), error = %redact::redact(&message), "Proxied call failed");
            if let Some(call) = call.take() {
                call.finish(Some(status.as_u16()), None, Some(message.clone()));
            }
            ApiError::new(status, message).into_response()
        }
    }
}

async fn exchange(
    engine: &Engine,
    namespace: &str,
    proxy: &ProxyRuntime,
    parts: &Parts,
    body: CallerBody,
    rest: &str,
    call: &mut Option<Call>,
) -> Result<Response, ProxyError> {
    let url = target_url(&proxy.endpoint, rest, &parts.uri)?;
    let capture = match call.as_mut() {
        Some(call) => {
            call.url = Some(redact::redact(url.as_str()).into_owned());
            call.request.clone()
        }
        None => Arc::default(),
    };
    let (outgoing, rewritten) =
        request_body(engine, namespace, proxy, parts, body, &capture, call).await?;
    let transform_answer = !proxy.response.is_empty();
    let headers = headers::to_receiver(
        &parts.headers,
        &proxy.credential_headers(),
        rewritten,
        transform_answer,
    );
    // Held until the answer is over: the Connection's limits count proxied calls too.
    let slot = proxy.endpoint.limits.admit().await;
    let started = Instant::now();
    let mut request = proxy
        .endpoint
        .forward(parts.method.clone(), url, headers)
        .await
        .map_err(ProxyError::Credentials)?;
    if rewritten {
        request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    if let Some(timeout) = proxy.timeout {
        request = request.timeout(timeout);
    }
    if let Some(body) = outgoing {
        request = request.body(body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| ProxyError::of_send(&e, started))?;
    let status = response.status();
    if transform_answer && status.is_success() {
        let head = headers::to_caller(response.headers(), true);
        let mut answered = Capture::new(proxy.record_bytes);
        let bytes = read_limited(response.bytes_stream(), MAX_BUFFERED_BYTES)
            .await
            .map_err(|error| match error {
                ReadError::Broken(broken) if broken.is_timeout() => ProxyError::Timeout {
                    after_ms: started.elapsed().as_millis(),
                },
                ReadError::Broken(broken) => ProxyError::Answer {
                    detail: describe_reqwest_error(&broken),
                },
                too_large => ProxyError::Answer {
                    detail: too_large.to_string(),
                },
            })?;
        drop(slot);
        answered.see(&bytes);
        let (body, summary) = transform(engine, namespace, &proxy.response, &bytes)
            .await
            .map_err(ProxyError::ResponseSteps)?;
        let mut out = Response::new(Body::from(body));
        *out.status_mut() = status;
        *out.headers_mut() = head;
        out.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        out.extensions_mut().insert(ReceiverAnswer);
        if let Some(mut call) = call.take() {
            call.notes.push(format!("Response steps: {summary}"));
            call.finish(Some(status.as_u16()), Some(&answered), None);
        }
        return Ok(out);
    }
    let head = headers::to_caller(response.headers(), false);
    let bodiless = parts.method == axum::http::Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let body = match call.take() {
        // Nothing to stream: the call is over with the head.
        Some(call) if bodiless => {
            drop(slot);
            let error = status
                .is_server_error()
                .then(|| format!("the receiver answered {}", status.as_u16()));
            call.finish(Some(status.as_u16()), Some(&Capture::new(0)), error);
            Body::empty()
        }
        Some(call) => Body::from_stream(Relay::new(response, call, proxy.record_bytes, slot)),
        None => Body::from_stream(response.bytes_stream()),
    };
    let mut out = Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = head;
    out.extensions_mut().insert(ReceiverAnswer);
    Ok(out)
}

/// The body for the receiver, and whether the steps replaced it.
async fn request_body(
    engine: &Engine,
    namespace: &str,
    proxy: &ProxyRuntime,
    parts: &Parts,
    body: CallerBody,
    capture: &SharedCapture,
    call: &mut Option<Call>,
) -> Result<(Option<reqwest::Body>, bool), ProxyError> {
    let see = |bytes: &[u8]| capture.lock().unwrap_or_else(|p| p.into_inner()).see(bytes);
    Ok(match body {
        CallerBody::Buffered(bytes) if bytes.is_empty() => (None, false),
        CallerBody::Buffered(bytes) if !proxy.request.is_empty() => {
            let (bytes, summary) = transform(engine, namespace, &proxy.request, &bytes)
                .await
                .map_err(ProxyError::RequestSteps)?;
            if let Some(call) = call.as_mut() {
                call.notes.push(format!("Request steps: {summary}"));
            }
            see(&bytes);
            (Some(reqwest::Body::from(bytes)), true)
        }
        CallerBody::Buffered(bytes) => {
            see(&bytes);
            (Some(reqwest::Body::from(bytes)), false)
        }
        CallerBody::Streamed(_) if !has_body(&parts.headers) => (None, false),
        CallerBody::Streamed(body) => {
            let capture = capture.clone();
            let stream = body.into_data_stream().map(move |chunk| {
                if let Ok(bytes) = &chunk {
                    capture.lock().unwrap_or_else(|p| p.into_inner()).see(bytes);
                }
                chunk
            });
            (Some(reqwest::Body::wrap_stream(stream)), false)
        }
    })
}

/// Whether the caller announced a body (a length above zero, or chunks).
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|length| length > 0)
}

/// The receiver's URL: the Connection's base URL joined with `rest`, with the caller's
/// query. A path that climbs out of the base URL (`..`) is refused.
fn target_url(endpoint: &HttpEndpoint, rest: &str, uri: &Uri) -> Result<Url, ProxyError> {
    let refused = |reason: String| ProxyError::Path {
        path: rest.to_owned(),
        reason,
    };
    let base = endpoint
        .url("")
        .map_err(|e| refused(format!("cannot be joined to the base URL: {e}")))?;
    let mut url = endpoint
        .url(rest)
        .map_err(|e| refused(format!("does not make a URL: {e}")))?;
    let base_path = base.path().trim_end_matches('/');
    let inside = url.origin() == base.origin()
        && (url.path() == base_path
            || url
                .path()
                .strip_prefix(base_path)
                .is_some_and(|below| below.starts_with('/')));
    if !inside {
        return Err(refused(
            "leads outside the Connection's base URL".to_owned(),
        ));
    }
    url.set_query(uri.query());
    Ok(url)
}
