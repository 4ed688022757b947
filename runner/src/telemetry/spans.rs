//! The spans of one item's trace: the intake (a webhook request or a poll run) with its
//! step spans, the time the task waited in the queue, one span per delivery attempt
//! (a child of the intake, through the trace context stored with the task) with the
//! outgoing steps and the after-delivery steps under it. Every function hands out
//! `Span::none()` while tracing is off, so nothing is recorded.
//!
//! Attributes name routes, steps, tasks and counts, never item content or a URL.

use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::context;
use super::enabled;
use crate::queue::{LeasedTask, Outcome, RouteKey};

/// A webhook request's intake; its `traceparent`, if valid, is the parent.
pub fn webhook(route: &RouteKey, headers: &reqwest::header::HeaderMap) -> Span {
    if !enabled() {
        return Span::none();
    }
    let span = tracing::info_span!(
        parent: None,
        "intake",
        otel.name = "intake webhook",
        otel.kind = "server",
        otel.status_code = Empty,
        switchyard.namespace = %route.namespace,
        switchyard.route = %route.route,
        switchyard.source = "webhook",
        switchyard.tasks = Empty,
        http.response.status_code = Empty,
    );
    if let Some(parent) = context::remote(headers) {
        let _ = span.set_parent(parent);
    }
    span
}

/// The intake of a poll run (`poll`) or of items posted to a route's trigger
/// (`manual`): a new trace.
pub fn intake(route: &RouteKey, source: &'static str) -> Span {
    if !enabled() {
        return Span::none();
    }
    tracing::info_span!(
        parent: None,
        "intake",
        otel.name = %format_args!("intake {source}"),
        otel.kind = "internal",
        otel.status_code = Empty,
        switchyard.namespace = %route.namespace,
        switchyard.route = %route.route,
        switchyard.source = source,
        switchyard.tasks = Empty,
    )
}

/// How an intake ended: the tasks it queued, or that it failed.
pub fn intake_done(span: &Span, tasks: Result<usize, ()>) {
    match tasks {
        Ok(tasks) => {
            span.record("switchyard.tasks", count(tasks));
        }
        Err(()) => {
            span.record("otel.status_code", "error");
        }
    }
}

/// The HTTP status a webhook request was answered with.
pub fn answered(span: &Span, status: u16) {
    span.record("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.record("otel.status_code", "error");
    }
}

/// One step of a pipeline, on `items` items (a child of the current span).
pub fn step(label: &str, kind: &'static str, items: usize) -> Span {
    if !enabled() {
        return Span::none();
    }
    tracing::info_span!(
        "step",
        otel.name = %format_args!("step {label}"),
        otel.status_code = Empty,
        switchyard.step = %label,
        switchyard.step.kind = kind,
        switchyard.items.in = count(items),
        switchyard.items.out = Empty,
    )
}

/// How a step ended: the items it made, or that it failed.
pub fn step_done(span: &Span, items: Result<usize, ()>) {
    match items {
        Ok(items) => {
            span.record("switchyard.items.out", count(items));
        }
        Err(()) => {
            span.record("otel.status_code", "error");
        }
    }
}

/// One delivery attempt of `task`: a child of the context stored with the task (its
/// intake, possibly in another process), or a new trace for a task without one.
pub fn attempt(task: &LeasedTask) -> Span {
    if !enabled() {
        return Span::none();
    }
    let span = tracing::info_span!(
        parent: None,
        "delivery attempt",
        otel.kind = "client",
        otel.status_code = Empty,
        switchyard.namespace = %task.route.namespace,
        switchyard.route = %task.route.route,
        switchyard.task = %task.id,
        switchyard.attempt = task.attempts,
        switchyard.outcome = Empty,
    );
    if let Some(stored) = &task.trace {
        let _ = span.set_parent(context::stored(stored));
    }
    span
}

/// How an attempt ended (`done`, `retry`, `failed`, `skipped`, `waiting`).
pub fn attempt_done(span: &Span, outcome: &Outcome) {
    let (label, error) = match outcome {
        Outcome::Done => ("done", false),
        Outcome::Retry { .. } => ("retry", true),
        Outcome::Failed { .. } => ("failed", true),
        Outcome::Skipped => ("skipped", false),
        Outcome::Released => ("released", false),
        Outcome::Waiting { .. } => ("waiting", false),
    };
    span.record("switchyard.outcome", label);
    if error {
        span.record("otel.status_code", "error");
    }
}

/// The after-delivery steps of an attempt (a child of the current span).
pub fn after_delivery() -> Span {
    if !enabled() {
        return Span::none();
    }
    tracing::info_span!("after delivery")
}

/// Before the first attempt of `task`: a span from its commit to now, the time it
/// waited in the queue, under the task's stored context.
pub fn queue_wait(task: &LeasedTask) {
    let (Some(tracer), Some(stored), true) =
        (super::traces::tracer(), &task.trace, task.attempts == 1)
    else {
        return;
    };
    let committed = SystemTime::UNIX_EPOCH
        + Duration::from_millis(u64::try_from(task.created_at_ms).unwrap_or(0));
    let mut span = tracer
        .span_builder("queue wait")
        .with_kind(SpanKind::Internal)
        .with_start_time(committed)
        .with_attributes([
            KeyValue::new("switchyard.namespace", task.route.namespace.clone()),
            KeyValue::new("switchyard.route", task.route.route.clone()),
            KeyValue::new("switchyard.task", task.id.clone()),
        ])
        .start_with_context(tracer, &context::stored(stored));
    span.end();
}

/// A count as an OpenTelemetry integer (the layer exports unsigned values as text).
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
