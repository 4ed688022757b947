//! Log set-up. (Metrics: [`crate::metrics`].)

use std::io::IsTerminal;

pub use switchyard_crds::v1alpha1::LogFormat;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// Logs to stderr through the redactor in `format`; `RUST_LOG` sets the level (default
/// `info`). Text lines carry colour codes only when stderr is a terminal and `NO_COLOR`
/// is unset, so a file or a log pipeline never sees escape sequences.
pub fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::registry()
        .with(log_layer(format))
        .with(filter)
        .try_init();
}

/// The layer that writes the log lines.
fn log_layer(format: LogFormat) -> Box<dyn Layer<Registry> + Send + Sync> {
    let layer = tracing_subscriber::fmt::layer().with_writer(crate::redact::RedactingStderr);
    match format {
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
