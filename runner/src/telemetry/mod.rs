//! Log and trace set-up. (Metrics: [`crate::metrics`].) Traces: [`traces`] (the OTLP
//! exporter, off unless configured), [`context`] (W3C `traceparent` in and out) and
//! [`spans`] (the spans one item's trace is made of).

pub mod context;
mod export;
mod json_ids;
pub mod spans;
pub mod traces;

use std::io::IsTerminal;

pub use switchyard_crds::v1alpha1::LogFormat;
pub use traces::{TraceConfig, TraceConfigError, enabled};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Logs to stderr through the redactor in `format`; `RUST_LOG` sets the level (default
/// `info`). Text lines carry colour codes only when stderr is a terminal and `NO_COLOR`
/// is unset, so a file or a log pipeline never sees escape sequences.
/// With `traces` (from [`TraceConfig::from_env`]), the runner's spans also go to the
/// OTLP endpoint; without, no trace layer is installed at all.
pub fn init_logging(
    format: LogFormat,
    traces: Option<&TraceConfig>,
) -> Result<(), TraceConfigError> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let trace_layer = match traces {
        Some(config) => Some(traces::layer(config)?),
        None => None,
    };
    let _ = tracing_subscriber::registry()
        .with(trace_layer)
        .with(log_layer(format, traces.is_some()).with_filter(filter))
        .try_init();
    Ok(())
}

/// Log levels without `RUST_LOG`: the OpenTelemetry crates only say when export fails.
const DEFAULT_FILTER: &str =
    "info,sqlx=warn,opentelemetry=warn,opentelemetry_sdk=warn,opentelemetry_otlp=warn";

/// The layer that writes the log lines; with `traced`, JSON lines written inside a
/// traced span carry its `trace_id` and `span_id`.
fn log_layer<S>(format: LogFormat, traced: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let layer = tracing_subscriber::fmt::layer().with_writer(crate::redact::RedactingStderr);
    match format {
        LogFormat::Json if traced => {
            Box::new(layer.json().event_format(json_ids::JsonWithTraceIds::new()))
        }
        LogFormat::Json => Box::new(layer.json()),
        LogFormat::Text => Box::new(layer.with_ansi(colours())),
    }
}

/// Whether this process's stderr gets coloured text lines.
fn colours() -> bool {
    switchyard_crds::v1alpha1::log_colours(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}
