//! W3C trace context: the `traceparent` of an incoming webhook, the one stored with a
//! task (so its delivery attempts join the item's trace after a restart or on another
//! replica), and the one sent with outgoing HTTP and SOAP requests.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::enabled;

/// The W3C header.
pub const TRACEPARENT: &str = "traceparent";

/// `span`'s context as a `traceparent` value (`00-{trace id}-{span id}-{flags}`);
/// `None` while tracing is off or the span is not traced.
pub fn traceparent_of(span: &Span) -> Option<String> {
    if !enabled() {
        return None;
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            span_context.trace_id(),
            span_context.span_id(),
            span_context.trace_flags().to_u8()
        )
    })
}

/// The current span's `traceparent` (see [`traceparent_of`]).
pub fn current() -> Option<String> {
    if !enabled() {
        return None;
    }
    traceparent_of(&Span::current())
}

/// The parent context a stored `traceparent` names.
pub(super) fn stored(traceparent: &str) -> opentelemetry::Context {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    TraceContextPropagator::new().extract(&carrier)
}

/// The parent context of an incoming request's `traceparent` (and `tracestate`), if it
/// has a valid one.
pub(super) fn remote(headers: &reqwest::header::HeaderMap) -> Option<opentelemetry::Context> {
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    context.span().span_context().is_valid().then_some(context)
}

/// Adds the current span's `traceparent` to an outgoing request (nothing while tracing
/// is off or outside a traced span).
pub fn inject(headers: &mut reqwest::header::HeaderMap) {
    if let Some(traceparent) = current()
        && let Ok(value) = reqwest::header::HeaderValue::from_str(&traceparent)
    {
        headers.insert(TRACEPARENT, value);
    }
}

/// The trace id in a stored `traceparent`, for the task API; `None` when the trace was
/// not sampled (no backend has it) or the value is not a `traceparent`.
pub fn trace_id(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    let (_version, trace, _span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let sampled = u8::from_str_radix(flags, 16).ok()? & 1 == 1;
    let valid = trace.len() == 32
        && trace.bytes().all(|b| b.is_ascii_hexdigit())
        && trace.bytes().any(|b| b != b'0');
    (sampled && valid).then_some(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_id_of_a_sampled_traceparent() {
        let sampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(trace_id(sampled), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        let not_sampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        assert_eq!(trace_id(not_sampled), None);
        assert_eq!(
            trace_id("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(trace_id("garbage"), None);
    }

    #[test]
    fn a_stored_traceparent_is_the_parent_context() {
        let context = stored("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let span = context.span();
        let parent = span.span_context();
        assert!(parent.is_valid() && parent.is_remote() && parent.is_sampled());
        assert_eq!(
            parent.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(parent.span_id().to_string(), "00f067aa0ba902b7");
        assert!(!stored("nonsense").span().span_context().is_valid());
    }
}
