//! What a proxied call leaves behind: a task, `done` or `failed`, whose item says what
//! was asked and answered, with the start of both bodies (secrets masked), and the
//! stream that relays an answer to the caller while keeping its start.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use futures::Stream;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;

use crate::engine::Engine;
use crate::queue::{LogLine, NewTask, RouteKey};
use crate::redact;

/// The first bytes of a body, and how many there were in all.
#[derive(Debug, Default)]
pub struct Capture {
    limit: usize,
    kept: Vec<u8>,
    total: u64,
}

impl Capture {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            kept: Vec::new(),
            total: 0,
        }
    }

    pub fn see(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let room = self.limit.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&chunk[..room.min(chunk.len())]);
    }

    /// `{bytes, body, truncated}`; `body` is text with secrets masked, absent when
    /// nothing is kept.
    fn to_json(&self) -> Value {
        let mut out = json!({"bytes": self.total});
        if self.limit > 0 && self.total > 0 {
            let text = String::from_utf8_lossy(&self.kept);
            out["body"] = Value::String(redact::redact(&text).into_owned());
            out["truncated"] = Value::Bool(self.total > self.kept.len() as u64);
        }
        out
    }
}

/// A capture written by the stream that sends the request body.
pub type SharedCapture = Arc<Mutex<Capture>>;

/// One call, until it is recorded.
pub struct Call {
    pub engine: Arc<Engine>,
    pub route: RouteKey,
    pub method: String,
    /// The path and query below the route, as the caller sent them.
    pub path: String,
    /// Where it went (secrets masked); set once known.
    pub url: Option<String>,
    pub started: Instant,
    pub request: SharedCapture,
    /// What the steps did, for the task log.
    pub notes: Vec<String>,
}

impl Call {
    /// Records the call as a task: `status` is what the caller got (`None`: the answer
    /// broke off after its head); `error` makes the task `failed`. Returns at once; the
    /// commit happens in the background.
    pub fn finish(self, status: Option<u16>, response: Option<&Capture>, error: Option<String>) {
        let elapsed_ms = self.started.elapsed().as_millis() as u64;
        let error = error.map(|e| redact::redact(&e).into_owned());
        let request = self
            .request
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .to_json();
        let path = redact::redact(&self.path).into_owned();
        let mut item = json!({
            "method": self.method,
            "path": path,
            "status": status,
            "durationMs": elapsed_ms,
            "request": request,
        });
        if let Some(url) = &self.url {
            item["url"] = Value::String(url.clone());
        }
        if let Some(response) = response {
            item["response"] = response.to_json();
        }
        let shown_status =
            status.map_or_else(|| "no complete answer".to_owned(), |s| s.to_string());
        let mut log: Vec<LogLine> = self.notes.iter().map(LogLine::now).collect();
        log.push(LogLine::now(match &error {
            None => format!(
                "Proxied {} {path} → {shown_status} in {elapsed_ms} ms",
                self.method
            ),
            Some(error) => {
                item["error"] = Value::String(error.clone());
                format!(
                    "Proxied {} {path} → {shown_status} after {elapsed_ms} ms: {error}",
                    self.method
                )
            }
        }));
        for line in &mut log {
            line.message = redact::redact(&line.message).into_owned();
        }
        let task = NewTask::proxied(self.route.clone(), item, error, log);
        let engine = self.engine;
        let route = self.route;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(namespace = %route.namespace, route = %route.route, "Cannot record a proxied call: the runner is stopping");
            return;
        };
        runtime.spawn(async move {
            let id = task.id.clone();
            if let Err(error) = engine.record(vec![task]).await {
                tracing::error!(namespace = %route.namespace, route = %route.route, task = %id, error = %error, "Cannot record a proxied call as a task");
            }
        });
    }
}

/// The receiver's answer on its way to the caller: it keeps the start of the body and
/// records the call when the last byte went out, the answer broke off, or the caller
/// hung up.
pub struct Relay {
    inner: BoxStream<'static, Result<Bytes, reqwest::Error>>,
    capture: Capture,
    call: Option<Call>,
    status: u16,
    /// Held until the answer is over: the Connection's `maxConcurrent` counts this call.
    _slot: Option<OwnedSemaphorePermit>,
}

impl Relay {
    pub fn new(
        response: reqwest::Response,
        call: Call,
        record_bytes: usize,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Self {
        Self {
            status: response.status().as_u16(),
            inner: Box::pin(response.bytes_stream()),
            capture: Capture::new(record_bytes),
            call: Some(call),
            _slot: slot,
        }
    }

    fn finish(&mut self, broke_off: Option<String>) {
        let Some(call) = self.call.take() else {
            return;
        };
        match broke_off {
            Some(error) => call.finish(None, Some(&self.capture), Some(error)),
            None => {
                let error =
                    (self.status >= 500).then(|| format!("the receiver answered {}", self.status));
                call.finish(Some(self.status), Some(&self.capture), error);
            }
        }
    }
}

impl Stream for Relay {
    type Item = Result<Bytes, reqwest::Error>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let next = ready!(this.inner.as_mut().poll_next(cx));
        match &next {
            Some(Ok(chunk)) => this.capture.see(chunk),
            Some(Err(error)) => {
                let reason = if error.is_timeout() {
                    "the answer did not arrive whole within the time-out".to_owned()
                } else {
                    format!(
                        "the answer broke off: {}",
                        crate::connectors::http::describe_reqwest_error(error)
                    )
                };
                this.finish(Some(reason));
            }
            None => this.finish(None),
        }
        Poll::Ready(next)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.finish(Some(
            "the caller hung up before the whole answer was sent".to_owned(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_keeps_the_start_and_counts_everything() {
        let mut capture = Capture::new(4);
        capture.see(b"ab");
        capture.see(b"cdef");
        assert_eq!(
            capture.to_json(),
            json!({"bytes": 6, "body": "abcd", "truncated": true})
        );
        let mut nothing_kept = Capture::new(0);
        nothing_kept.see(b"abc");
        assert_eq!(nothing_kept.to_json(), json!({"bytes": 3}));
    }
}
