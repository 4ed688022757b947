//! OTLP traces, configured by the standard OpenTelemetry variables (docs/tracing.md).
//! Off unless an endpoint is set: then no trace layer is installed, no span is created
//! ([`super::spans`] hands out `Span::none()`), no trace context is stored with a task
//! and no `traceparent` is sent.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::tonic_types::transport::ClientTlsConfig;
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use tracing_subscriber::Layer;
use tracing_subscriber::Registry;
use tracing_subscriber::filter::filter_fn;

/// Whether traces are exported (set once at start-up).
static ON: AtomicBool = AtomicBool::new(false);
static PROVIDER: OnceLock<(SdkTracerProvider, SdkTracer)> = OnceLock::new();

/// The service name when `OTEL_SERVICE_NAME` is unset.
const DEFAULT_SERVICE_NAME: &str = "switchyard-runner";
/// The time-out of one export request when `OTEL_EXPORTER_OTLP_TIMEOUT` is unset (the
/// OpenTelemetry default).
const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether this runner exports traces. Cheap: read on every span the engine would make.
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// The tracer, for spans with explicit times ([`super::spans::queue_wait`]).
pub(super) fn tracer() -> Option<&'static SdkTracer> {
    PROVIDER.get().map(|(_, tracer)| tracer)
}

/// How the spans travel (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `http/protobuf` (the default): `POST {endpoint}/v1/traces`.
    HttpProtobuf,
    /// `grpc`: the OTLP gRPC service at the endpoint.
    Grpc,
}

/// Trace export settings read from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceConfig {
    pub protocol: Protocol,
    /// Whether the endpoint is `https://` (gRPC then uses TLS with the public roots).
    pub https: bool,
    pub sampler: SamplerChoice,
    pub timeout: Duration,
}

/// `OTEL_TRACES_SAMPLER` (+ `OTEL_TRACES_SAMPLER_ARG` for the ratio samplers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerChoice {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedRatio(f64),
}

impl SamplerChoice {
    fn sampler(self) -> Sampler {
        match self {
            Self::AlwaysOn => Sampler::AlwaysOn,
            Self::AlwaysOff => Sampler::AlwaysOff,
            Self::Ratio(ratio) => Sampler::TraceIdRatioBased(ratio),
            Self::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            Self::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            Self::ParentBasedRatio(ratio) => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
            }
        }
    }
}

/// A trace setting the runner cannot use; it names the variable.
#[derive(Debug, thiserror::Error)]
pub enum TraceConfigError {
    #[error("{variable}=`{value}`: use `http/protobuf` or `grpc`")]
    Protocol {
        variable: &'static str,
        value: String,
    },
    #[error(
        "OTEL_TRACES_SAMPLER=`{0}`: use always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio"
    )]
    Sampler(String),
    #[error("OTEL_TRACES_SAMPLER_ARG=`{0}`: the sampling ratio is a number from 0 to 1")]
    SamplerArg(String),
    #[error("{variable}=`{value}`: not a URL ({reason})")]
    Endpoint {
        variable: &'static str,
        value: String,
        reason: String,
    },
    #[error("OTEL_EXPORTER_OTLP_TIMEOUT=`{0}`: the export time-out is a number of milliseconds")]
    Timeout(String),
    #[error("cannot build the OTLP span exporter: {0}")]
    Exporter(#[source] opentelemetry_otlp::ExporterBuildError),
}

impl TraceConfigError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Protocol { .. } => "trace_protocol",
            Self::Sampler(_) => "trace_sampler",
            Self::SamplerArg(_) => "trace_sampler_arg",
            Self::Endpoint { .. } => "trace_endpoint",
            Self::Timeout(_) => "trace_timeout",
            Self::Exporter(_) => "trace_exporter",
        }
    }
}

impl TraceConfig {
    /// The settings from the process environment; `None`: tracing is off.
    pub fn from_env() -> Result<Option<Self>, TraceConfigError> {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// The settings from `get` (a variable's value, `None` when unset or empty). Off
    /// without `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`),
    /// with `OTEL_SDK_DISABLED=true` or with `OTEL_TRACES_EXPORTER=none`.
    pub fn from_vars(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, TraceConfigError> {
        let disabled = get("OTEL_SDK_DISABLED")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
            || get("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim() == "none");
        let endpoint = [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ]
        .into_iter()
        .find_map(|variable| get(variable).map(|value| (variable, value)));
        let Some((variable, endpoint)) = endpoint.filter(|_| !disabled) else {
            return Ok(None);
        };
        let url = url::Url::parse(endpoint.trim()).map_err(|e| TraceConfigError::Endpoint {
            variable,
            value: endpoint.clone(),
            reason: e.to_string(),
        })?;
        Ok(Some(Self {
            protocol: protocol(&get)?,
            https: url.scheme() == "https",
            sampler: sampler(&get)?,
            timeout: match get("OTEL_EXPORTER_OTLP_TIMEOUT") {
                None => DEFAULT_EXPORT_TIMEOUT,
                Some(ms) => Duration::from_millis(
                    ms.trim()
                        .parse()
                        .map_err(|_| TraceConfigError::Timeout(ms.clone()))?,
                ),
            },
        }))
    }
}

fn protocol(get: &impl Fn(&str) -> Option<String>) -> Result<Protocol, TraceConfigError> {
    let chosen = [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]
    .into_iter()
    .find_map(|variable| get(variable).map(|value| (variable, value)));
    match chosen {
        None => Ok(Protocol::HttpProtobuf),
        Some((_, value)) if value.trim() == "http/protobuf" => Ok(Protocol::HttpProtobuf),
        Some((_, value)) if value.trim() == "grpc" => Ok(Protocol::Grpc),
        Some((variable, value)) => Err(TraceConfigError::Protocol { variable, value }),
    }
}

fn sampler(get: &impl Fn(&str) -> Option<String>) -> Result<SamplerChoice, TraceConfigError> {
    let ratio = || -> Result<f64, TraceConfigError> {
        match get("OTEL_TRACES_SAMPLER_ARG") {
            None => Ok(1.0),
            Some(arg) => arg
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or(TraceConfigError::SamplerArg(arg)),
        }
    };
    Ok(match get("OTEL_TRACES_SAMPLER").as_deref().map(str::trim) {
        None | Some("parentbased_always_on") => SamplerChoice::ParentBasedAlwaysOn,
        Some("always_on") => SamplerChoice::AlwaysOn,
        Some("always_off") => SamplerChoice::AlwaysOff,
        Some("traceidratio") => SamplerChoice::Ratio(ratio()?),
        Some("parentbased_always_off") => SamplerChoice::ParentBasedAlwaysOff,
        Some("parentbased_traceidratio") => SamplerChoice::ParentBasedRatio(ratio()?),
        Some(other) => return Err(TraceConfigError::Sampler(other.to_owned())),
    })
}

/// Builds the exporter and the tracer and returns the layer that turns the runner's
/// spans (and only its spans, not its log events) into OpenTelemetry spans. Must run
/// inside the Tokio runtime (the exporters send from it).
pub(super) fn layer(
    config: &TraceConfig,
) -> Result<Box<dyn Layer<Registry> + Send + Sync>, TraceConfigError> {
    let exporter = match config.protocol {
        Protocol::HttpProtobuf => SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_timeout(config.timeout)
            .with_http_client(super::export::ReqwestExport::new(config.timeout))
            .build(),
        Protocol::Grpc if config.https => SpanExporter::builder()
            .with_tonic()
            .with_timeout(config.timeout)
            .with_tls_config(ClientTlsConfig::new().with_webpki_roots())
            .build(),
        Protocol::Grpc => SpanExporter::builder()
            .with_tonic()
            .with_timeout(config.timeout)
            .build(),
    }
    .map_err(TraceConfigError::Exporter)?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(DEFAULT_SERVICE_NAME);
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(config.sampler.sampler())
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("switchyard-runner");
    let _ = PROVIDER.set((provider, tracer.clone()));
    ON.store(true, Ordering::Relaxed);
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_threads(false)
        .with_location(false)
        .with_filter(filter_fn(|meta| {
            meta.is_span() && meta.target().starts_with("switchyard_runner")
        }));
    Ok(Box::new(layer))
}

/// Sends the spans still buffered (at the end of `runner run`).
pub fn shutdown() {
    if let Some((provider, _)) = PROVIDER.get()
        && let Err(error) = provider.shutdown()
    {
        tracing::warn!(error = %error, "Cannot send the last spans to the OTLP endpoint");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Option<TraceConfig>, TraceConfigError> {
        TraceConfig::from_vars(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn off_without_an_endpoint_or_when_disabled() {
        assert!(config(&[]).unwrap().is_none());
        assert!(
            config(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])
                .unwrap()
                .is_none()
        );
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        assert!(
            config(&[endpoint, ("OTEL_SDK_DISABLED", "true")])
                .unwrap()
                .is_none()
        );
        assert!(
            config(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_standard_variables_choose_protocol_and_sampler() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        let plain = config(&[endpoint]).unwrap().unwrap();
        assert_eq!(plain.protocol, Protocol::HttpProtobuf);
        assert_eq!(plain.sampler, SamplerChoice::ParentBasedAlwaysOn);
        assert_eq!(plain.timeout, DEFAULT_EXPORT_TIMEOUT);
        let chosen = config(&[
            endpoint,
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(chosen.protocol, Protocol::Grpc);
        assert_eq!(chosen.sampler, SamplerChoice::ParentBasedRatio(0.25));
        assert_eq!(chosen.timeout, Duration::from_millis(2500));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        let message = |vars: &[(&str, &str)]| config(vars).unwrap_err().to_string();
        assert!(
            message(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")])
                .starts_with("OTEL_EXPORTER_OTLP_PROTOCOL=`http/json`")
        );
        assert!(
            message(&[endpoint, ("OTEL_TRACES_SAMPLER", "sometimes")])
                .starts_with("OTEL_TRACES_SAMPLER=`sometimes`")
        );
        assert!(
            message(&[
                endpoint,
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "2")
            ])
            .starts_with("OTEL_TRACES_SAMPLER_ARG=`2`")
        );
        assert!(
            message(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url")])
                .starts_with("OTEL_EXPORTER_OTLP_ENDPOINT=`not a url`")
        );
        assert!(
            message(&[endpoint, ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")])
                .starts_with("OTEL_EXPORTER_OTLP_TIMEOUT=`soon`")
        );
    }
}
