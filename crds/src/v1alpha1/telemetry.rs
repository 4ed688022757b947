//! What the runners tell the outside about themselves: their log lines and their
//! traces.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a process writes its log lines to stderr. The runner's and the operator's
/// `--log-format` (environment `SWITCHYARD_LOG_FORMAT`) take the same values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "camelCase")]
pub enum LogFormat {
    /// One human-readable line per event; colours only when stderr is a terminal and
    /// `NO_COLOR` is unset.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`, …), for log
    /// pipelines such as Loki, Elasticsearch or Cloud Logging.
    Json,
}

impl LogFormat {
    /// The value of `--log-format` / `SWITCHYARD_LOG_FORMAT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

/// Whether text log lines carry ANSI colour codes: only on a terminal, and never when
/// `NO_COLOR` is set to anything but the empty string (<https://no-color.org>).
pub fn log_colours(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// The runners' log lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Logging {
    /// `text` (human-readable lines) or `json` (one JSON object per line, for a log
    /// pipeline). Absent: `text`. Sets the runners' `SWITCHYARD_LOG_FORMAT`. Colour codes
    /// are never written to a pod's log (it is not a terminal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<LogFormat>,
}

/// The runners' OTLP traces (docs/tracing.md): one trace per item, from its intake to
/// each delivery attempt. The operator turns these into the standard `OTEL_*`
/// environment variables of the runner pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tracing {
    /// The OTLP endpoint (a collector), e.g. `http://otel-collector.observability:4318`
    /// for `http/protobuf` (spans go to `<endpoint>/v1/traces`) or `:4317` for `grpc`.
    /// Sets `OTEL_EXPORTER_OTLP_ENDPOINT`. The runners' NetworkPolicy must let them
    /// reach it (`spec.network.egress`, when egress is restricted).
    #[schemars(regex(pattern = crate::v1alpha1::rules::HTTP_URL))]
    pub endpoint: String,
    /// How spans travel: `http/protobuf` or `grpc`. Absent: `http/protobuf`. Sets
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<TraceProtocol>,
    /// The share of new traces recorded, from 0 to 1; an item that arrives with a
    /// sampled `traceparent` is always recorded, one with an unsampled one never (the
    /// caller decided). Absent: 1 (every trace). Sets `OTEL_TRACES_SAMPLER=parentbased_traceidratio`
    /// and `OTEL_TRACES_SAMPLER_ARG`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub sample_ratio: Option<f64>,
}

/// The OTLP transport (the values of `OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TraceProtocol {
    /// Protobuf messages over HTTP `POST` (usually port 4318).
    #[default]
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    /// The OTLP gRPC service (usually port 4317).
    #[serde(rename = "grpc")]
    Grpc,
}

impl TraceProtocol {
    /// The value of `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HttpProtobuf => "http/protobuf",
            Self::Grpc => "grpc",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        let set = std::ffi::OsStr::new("1");
        let empty = std::ffi::OsStr::new("");
        assert!(log_colours(true, None));
        assert!(log_colours(true, Some(empty)));
        assert!(!log_colours(true, Some(set)));
        assert!(!log_colours(false, None));
        assert!(!log_colours(false, Some(empty)));
    }

    #[test]
    fn formats_read_as_written() {
        for format in [LogFormat::Text, LogFormat::Json] {
            let yaml = serde_yaml::to_string(&format).unwrap_or_default();
            assert_eq!(yaml.trim(), format.as_str());
            let back: LogFormat = serde_yaml::from_str(format.as_str()).unwrap_or_default();
            assert_eq!(back, format);
        }
        assert!(serde_yaml::from_str::<Logging>("format: xml").is_err());
    }
}
