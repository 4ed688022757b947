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

/// Bytes kept past the limit, so that a secret cut by the limit is still whole when the
/// text is masked (then cut).
const REDACTION_MARGIN: usize = 1_024;

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
        if self.limit == 0 {
            return;
        }
        let room = (self.limit + REDACTION_MARGIN).saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&chunk[..room.min(chunk.len())]);
    }

    /// How many bytes went by.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// `{bytes, body, truncated}`; `body` is the first `limit` characters as text with
    /// secrets masked, absent when nothing is kept.
    fn to_json(&self) -> Value {
        let mut out = json!({"bytes": self.total});
        if self.limit > 0 && self.total > 0 {
            let text = String::from_utf8_lossy(&self.kept);
            let masked = redact::redact(&text);
            let (body, cut) = match masked.char_indices().nth(self.limit) {
                Some((end, _)) => (&masked[..end], true),
                None => (masked.as_ref(), self.total > self.kept.len() as u64),
            };
            out["body"] = Value::String(body.to_owned());
            out["truncated"] = Value::Bool(cut);
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
    /// The length the receiver announced: the answer is whole once it went by, even if
    /// the server stops reading the stream there.
    expected: Option<u64>,
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
            expected: response.content_length(),
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
            Some(Ok(chunk)) => {
                this.capture.see(chunk);
                if this.expected == Some(this.capture.total()) {
                    this.finish(None);
                }
            }
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
        let mut whole = Capture::new(4);
        whole.see(b"abcd");
        assert_eq!(
            whole.to_json(),
            json!({"bytes": 4, "body": "abcd", "truncated": false})
        );
        // A secret across the limit is masked, not cut in half.
        crate::redact::register("proxy-capture-secret-1234");
        let mut secret = Capture::new(12);
        secret.see(b"token=proxy-capture-secret-1234 and more");
        assert_eq!(
            secret.to_json(),
            json!({"bytes": 40, "body": "token=*** an", "truncated": true})
        );
        let mut nothing_kept = Capture::new(0);
        nothing_kept.see(b"abc");
        assert_eq!(nothing_kept.to_json(), json!({"bytes": 3}));
    }
}
