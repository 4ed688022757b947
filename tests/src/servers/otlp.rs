//! An OTLP trace receiver on loopback (`opentelemetry-proto` and `grpcio` from PyPI,
//! through [`super::python`]): decodes what the runner exports over HTTP/protobuf or
//! gRPC; [`OtlpSink::spans`] returns every span received so far.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use super::python::PythonServer;

const SCRIPT: &str = include_str!("otlp_sink.py");

/// The OTLP transport the sink speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpTransport {
    HttpProtobuf,
    Grpc,
}

/// One received span (ids in lowercase hex; `parentSpanId` empty for a root span).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedSpan {
    pub transport: String,
    pub service: Option<String>,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub kind: i64,
    pub start_ns: u64,
    pub end_ns: u64,
    /// 0 unset, 1 ok, 2 error.
    pub status: i64,
    pub attributes: serde_json::Map<String, Value>,
}

impl ReceivedSpan {
    pub fn attribute(&self, key: &str) -> &Value {
        self.attributes.get(key).unwrap_or(&Value::Null)
    }
}

pub struct OtlpSink {
    pub port: u16,
    out: PathBuf,
    server: PythonServer,
}

impl OtlpSink {
    /// `None` (skipped; a failure under CI) without Python or the packages.
    pub async fn start(transport: OtlpTransport) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("otlp_sink.py"), SCRIPT).expect("script");
        let out = dir.path().join("spans.jsonl");
        let out_arg = out.to_string_lossy().into_owned();
        let mode = match transport {
            OtlpTransport::HttpProtobuf => "http",
            OtlpTransport::Grpc => "grpc",
        };
        let server = PythonServer::start(
            "OTLP receiver",
            "otlp_sink",
            &[mode, "{port}", &out_arg],
            dir,
        )
        .await?;
        Some(Self {
            port: server.port,
            out,
            server,
        })
    }

    /// `http://127.0.0.1:{port}`, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// What the receiver wrote to stderr, for failure messages.
    pub fn log(&self) -> String {
        self.server.log()
    }
}
