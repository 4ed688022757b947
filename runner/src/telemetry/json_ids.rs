//! JSON log lines with the trace and span ids of the span they were written in, so a log
//! pipeline can jump from a line to its trace. Installed only while tracing is on.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The JSON formatter, plus `"trace_id"` and `"span_id"` when the line is written inside
/// a traced span.
pub struct JsonWithTraceIds {
    inner: Format<Json>,
}

impl JsonWithTraceIds {
    pub fn new() -> Self {
        Self {
            inner: Format::default().json(),
        }
    }
}

impl<S, N> FormatEvent<S, N> for JsonWithTraceIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        if let Some(ids) = super::context::current() {
            with_ids(&mut line, &ids);
        }
        writer.write_str(&line)
    }
}

/// Adds the ids of a `traceparent` (`00-{trace}-{span}-{flags}`) as the last fields of
/// the JSON object in `line` (one object, then a line break).
fn with_ids(line: &mut String, traceparent: &str) {
    let mut parts = traceparent.split('-').skip(1);
    let (Some(trace), Some(span)) = (parts.next(), parts.next()) else {
        return;
    };
    let Some(end) = line.rfind('}') else {
        return;
    };
    // Both ids are hex digits: nothing to escape.
    line.insert_str(
        end,
        &format!(",\"trace_id\":\"{trace}\",\"span_id\":\"{span}\""),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ids_become_the_last_fields_of_the_object() {
        let mut line = "{\"level\":\"WARN\",\"fields\":{\"message\":\"Task failed\"}}\n".to_owned();
        with_ids(
            &mut line,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        let value: serde_json::Value = serde_json::from_str(line.trim_end()).expect("json");
        assert_eq!(value["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(value["span_id"], "00f067aa0ba902b7");
        assert_eq!(value["fields"]["message"], "Task failed");
        assert!(line.ends_with("}\n"));
    }

    #[test]
    fn a_value_that_is_not_a_traceparent_changes_nothing() {
        let mut line = "{\"a\":1}\n".to_owned();
        with_ids(&mut line, "garbage");
        assert_eq!(line, "{\"a\":1}\n");
    }
}
