//! Writing one file per task (or per batch of tasks), with a templated name.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;
use switchyard_crds::v1alpha1::{DEFAULT_FILE_BATCH_ITEMS, FileDelivery, OutputFormat};

use super::{FileError, FileStore};
use crate::connectors::http::UrlTemplate;
use crate::connectors::{DeliveryError, DeliveryReport, Sink};
use crate::formats::{Format, Options};

pub struct FileSink {
    store: Arc<FileStore>,
    /// Each placeholder's value is percent-encoded as one path segment, so an item
    /// cannot write outside the directory the template names (`../` becomes `..%2F`).
    path: UrlTemplate,
    format: OutputFormat,
    /// Set when several tasks go into one file (`spec.outgoing.file.batch`): the most
    /// items per file and how long a batch waits to fill.
    batch: Option<(usize, Duration)>,
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
            batch: spec.batch.as_ref().map(|batch| {
                (
                    batch.max_items.unwrap_or(DEFAULT_FILE_BATCH_ITEMS) as usize,
                    Duration::from_millis(batch.max_wait_ms.unwrap_or(0)),
                )
            }),
        })
    }

    /// Writes `content` to the file the path template names for `path_item`; `items`
    /// says how many tasks' items it holds, for the log.
    async fn write(
        &self,
        path_item: &Value,
        content: &Value,
        items: usize,
    ) -> Result<DeliveryReport, DeliveryError> {
        let started = Instant::now();
        let path = self
            .path
            .render(path_item)
            .map_err(|e| DeliveryError::Request(format!("file path: {e}")))?;
        let bytes =
            render(content, self.format).map_err(|e| DeliveryError::Request(e.to_string()))?;
        let size = bytes.len();
        let batch = if items > 1 {
            format!(", batch of {items} items")
        } else {
            String::new()
        };
        match self.store.write_atomic(&path, bytes).await {
            Ok(()) => Ok(DeliveryReport {
                summary: format!(
                    "wrote `{path}` ({size} bytes{batch}) in {} ms",
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

/// The bytes of `item` in `format`: JSON pretty-printed, JSON Lines and CSV a line or
/// row per element of an array item (CSV with a header row).
pub(crate) fn render(item: &Value, format: OutputFormat) -> Result<Vec<u8>, FileError> {
    Format::from(format)
        .encode(item, &Options::default())
        .map_err(FileError::Item)
}

#[async_trait]
impl Sink for FileSink {
    async fn send(
        &self,
        item: &Value,
        _idempotency_key: &str,
    ) -> Result<DeliveryReport, DeliveryError> {
        self.write(item, item, 1).await
    }

    fn batch_size(&self) -> usize {
        self.batch.map_or(1, |(items, _)| items)
    }

    fn batch_wait(&self) -> Duration {
        self.batch.map_or(Duration::ZERO, |(_, wait)| wait)
    }

    /// One file for the whole batch: its path from the first item, its content every
    /// item (`json`: an array; `jsonLines` and `csv`: a line or row per item, an array
    /// item adding one per element). Every item gets the outcome of the write.
    async fn send_batch(
        &self,
        items: &[(&Value, &str)],
    ) -> Vec<Result<DeliveryReport, DeliveryError>> {
        if self.batch.is_none() || items.len() < 2 {
            let mut results = Vec::with_capacity(items.len());
            for (item, key) in items {
                results.push(self.send(item, key).await);
            }
            return results;
        }
        let mut all = Vec::with_capacity(items.len());
        for (item, _) in items {
            match (self.format, item) {
                (OutputFormat::JsonLines | OutputFormat::Csv, Value::Array(elements)) => {
                    all.extend(elements.clone())
                }
                _ => all.push((*item).clone()),
            }
        }
        let path_item = items.first().map_or(&Value::Null, |(item, _)| *item);
        let result = self.write(path_item, &Value::Array(all), items.len()).await;
        vec![result; items.len()]
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
        FileError::Config { .. }
        | FileError::Parse { .. }
        | FileError::Item(_)
        | FileError::TooLarge { .. } => false,
    }
}
