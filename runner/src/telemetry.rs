//! Log set-up. (Metrics: [`crate::metrics`].)

/// Logs to stderr through the redactor; `RUST_LOG` sets the level (default `info`),
/// `SWITCHYARD_LOG_FORMAT=json` switches to JSON lines.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::redact::RedactingStderr);
    if std::env::var("SWITCHYARD_LOG_FORMAT").is_ok_and(|f| f == "json") {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}
