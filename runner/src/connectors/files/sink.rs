//! Writing one file per task, with a templated name.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde_json::Value;
use switchyard_crds::v1alpha1::{FileDelivery, OutputFormat};

use super::{FileError, FileStore};
use crate::connectors::http::UrlTemplate;
use crate::connectors::{DeliveryError, DeliveryReport, Sink};

pub struct FileSink {
    store: Arc<FileStore>,
    /// Each placeholder's value is percent-encoded as one path segment, so an item
    /// cannot write outside the directory the template names (`../` becomes `..%2F`).
    path: UrlTemplate,
    format: OutputFormat,
}

impl FileSink {
    pub fn new(store: Arc<FileStore>, spec: &FileDelivery) -> Result<Self, FileError> {
        Ok(Self {
            store,
            path: UrlTemplate::parse(&spec.path).map_err(|e| FileError::Config {
                field: "spec.outgoing.file.path".into(),
                message: e.to_string(),
            })?,
            format: spec.format.unwrap_or_default(),
        })
    }
}

/// The bytes of `item` in `format`.
pub(crate) fn render(item: &Value, format: OutputFormat) -> Result<Vec<u8>, FileError> {
    let item_error = |e: &dyn std::fmt::Display| FileError::Item(e.to_string());
    match format {
        OutputFormat::JsonLines => {
            let items = match item {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            let mut out = Vec::new();
            for item in items {
                serde_json::to_writer(&mut out, &item).map_err(|e| item_error(&e))?;
                out.push(b'\n');
            }
            Ok(out)
        }
        OutputFormat::Csv => {
            let rows = match item {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            let Some(Value::Object(first)) = rows.first() else {
                return Err(FileError::Item(
                    "CSV needs an object or an array of objects".into(),
                ));
            };
            let header: Vec<String> = first.keys().cloned().collect();
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(&header).map_err(|e| item_error(&e))?;
            for row in &rows {
                let cells: Vec<String> = header
                    .iter()
                    .map(|k| match row.get(k) {
                        None | Some(Value::Null) => String::new(),
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                    })
                    .collect();
                writer.write_record(&cells).map_err(|e| item_error(&e))?;
            }
            writer.into_inner().map_err(|e| item_error(&e))
        }
        OutputFormat::Json => serde_json::to_vec_pretty(item).map_err(|e| item_error(&e)),
    }
}

#[async_trait]
impl Sink for FileSink {
    async fn send(
        &self,
        item: &Value,
        _idempotency_key: &str,
    ) -> Result<DeliveryReport, DeliveryError> {
        let started = Instant::now();
        let path = self
            .path
            .render(item)
            .map_err(|e| DeliveryError::Request(format!("file path: {e}")))?;
        let bytes = render(item, self.format).map_err(|e| DeliveryError::Request(e.to_string()))?;
        let size = bytes.len();
        match self.store.write_atomic(&path, bytes).await {
            Ok(()) => Ok(DeliveryReport {
                summary: format!(
                    "wrote `{path}` ({size} bytes) in {} ms",
                    started.elapsed().as_millis()
                ),
                response: Some(serde_json::json!({ "path": path, "bytes": size })),
            }),
            Err(error) if is_retriable(&error) => Err(DeliveryError::Unavailable {
                message: error.to_string(),
                retry_after: None,
            }),
            Err(error) => Err(DeliveryError::Rejected(error.to_string())),
        }
    }
}

/// Whether another attempt may succeed: OpenDAL marks transient errors (connection
/// trouble, rate limits, server errors), FTP replies 4xx and lost connections are
/// transient; permission, not-found and configuration errors
/// and bad items are permanent.
pub fn is_retriable(error: &FileError) -> bool {
    match error {
        FileError::Io { source, .. } => {
            source.is_temporary()
                || matches!(
                    source.kind(),
                    opendal::ErrorKind::Unexpected | opendal::ErrorKind::RateLimited
                )
        }
        FileError::Ftp { retriable, .. } => *retriable,
        FileError::Config { .. } | FileError::Parse { .. } | FileError::Item(_) => false,
    }
}
