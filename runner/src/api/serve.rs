//! The HTTP server loop: HTTP/1.1 connections with a header read time-out (a client that
//! sends its headers, or keeps an idle connection, longer than that is cut off), and the
//! body read time-out and size bound of every request ([`read_body`]). `axum::serve`
//! sets neither, so a client sending a byte a second would hold a connection forever.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{ApiError, AppState};
use crate::limits;

/// Pause after a failed `accept` (out of file descriptors…) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish. Each request carries its peer's address as [`ConnectInfo`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let header_timeout = limits::get().header_read_timeout();
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    // Each connection holds a receiver of this; the loop's end waits for all of them.
    let (open, all_closed) = watch::channel(());
    let mut stopping = stopped.clone();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(error = %error, "Cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = stopped_signal(&mut stopping) => break,
        };
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let mut app = app.clone();
                async move {
                    let response: Result<Response, Infallible> =
                        tower_service::Service::call(&mut app, request.map(Body::new)).await;
                    response
                }
            });
        let mut stopping = stopped.clone();
        let closed = all_closed.clone();
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_end(peer, result),
                () = stopped_signal(&mut stopping) => {
                    connection.as_mut().graceful_shutdown();
                    log_end(peer, connection.await);
                }
            }
            drop(closed);
        });
    }
    drop(listener);
    drop(all_closed);
    open.closed().await;
}

/// Completes once the server is stopping.
async fn stopped_signal(stopping: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await: it is not `Send`.
    let _ = stopping.wait_for(|stop| *stop).await.map(|_| ());
}

fn log_end(peer: SocketAddr, result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        tracing::debug!(peer = %peer, error = %error, "Connection closed");
    }
}

/// Reads the whole request body within the body read time-out and the size bound before
/// the handler runs: a body that arrives too slowly gets `408` and the connection is
/// closed; one that is too large gets `413`. Extractors then take the buffered body
/// without copying it. A cXML webhook's refusals are cXML `Response`s.
pub async fn read_body(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limits = limits::get();
    let max = limits.max_body_bytes();
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.max_body_bytes) {
        return refuse(&state, parts.uri.path(), too_large(limits.max_body_bytes));
    }
    let timeout = limits.body_read_timeout();
    match tokio::time::timeout(timeout, Limited::new(body, max).collect()).await {
        Ok(Ok(collected)) => {
            let request = Request::from_parts(parts, Body::from(collected.to_bytes()));
            next.run(request).await
        }
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            refuse(&state, parts.uri.path(), too_large(limits.max_body_bytes))
        }
        Ok(Err(error)) => refuse(
            &state,
            parts.uri.path(),
            ApiError::bad_request(format!("the request body could not be read: {error}")),
        ),
        Err(_) => refuse(
            &state,
            parts.uri.path(),
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s (the runner's --body-read-timeout-seconds)",
                    timeout.as_secs()
                ),
            ),
        ),
    }
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the request body is larger than {max} bytes, the most the runner accepts (its --max-body-bytes); nothing was queued"
        ),
    )
}

/// `error` as the answer to a request for `path`, after which the connection is closed.
fn refuse(state: &AppState, path: &str, error: ApiError) -> Response {
    closing(
        super::cxml_webhook::layer_refusal(state, path, error)
            .unwrap_or_else(IntoResponse::into_response),
    )
}

/// An answer after which the connection is closed: the rest of the body is not read.
fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}
