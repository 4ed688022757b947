//! Polling a directory: every file matching the glob is one batch; once its tasks are
//! committed the file is moved to the processed folder (or deleted, or kept). A file that
//! cannot be parsed (or whose items the pipeline rejects) is recorded as one failed task
//! and then goes to the failed folder; a queue failure leaves it in place.

use std::sync::Arc;

use async_trait::async_trait;
use globset::{Glob, GlobMatcher};
use serde_json::Value;
use switchyard_crds::v1alpha1::{AfterRead, CsvOptions, FileSplit, PollFiles};

use super::{FileError, FileStore};
use crate::connectors::{AfterCommit, Batch, PollContext, Removal, Source, SourceError};
use crate::formats::{self, Format, Options};
use crate::limits;

pub struct FileSource {
    store: Arc<FileStore>,
    dir: String,
    glob: Option<GlobMatcher>,
    format: Format,
    options: Options,
    per_record: bool,
    after_read: AfterRead,
    processed: String,
    failed: String,
    /// Largest file read, and most bytes of files one run reads.
    max_file_bytes: u64,
}

fn as_dir(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}/")
    }
}

impl FileSource {
    pub fn new(store: Arc<FileStore>, spec: &PollFiles) -> Result<Self, FileError> {
        let invalid = |field: &str, message: String| FileError::Config {
            field: format!("spec.incoming.poll.files.{field}"),
            message,
        };
        let glob = spec
            .glob
            .as_deref()
            .map(|g| Glob::new(g).map(|g| g.compile_matcher()))
            .transpose()
            .map_err(|e| invalid("glob", e.to_string()))?;
        let options = Options {
            csv: CsvOptions {
                delimiter: spec.delimiter.clone().unwrap_or_else(|| ",".into()),
                ..CsvOptions::default()
            },
            xml: spec.xml.clone().unwrap_or_default(),
            root: None,
        };
        let dir = as_dir(&spec.path);
        Ok(Self {
            processed: spec
                .processed_path
                .as_deref()
                .map_or_else(|| format!("{dir}processed/"), as_dir),
            failed: spec
                .failed_path
                .as_deref()
                .map_or_else(|| format!("{dir}failed/"), as_dir),
            dir,
            glob,
            format: spec.format.into(),
            options,
            per_record: spec.split.unwrap_or_default() == FileSplit::Record,
            after_read: spec.after_read.unwrap_or_default(),
            max_file_bytes: limits::bytes(spec.max_file_bytes, limits::get().file_max_bytes),
            store,
        })
    }

    /// Paths of the files to read now, oldest name first.
    async fn list(&self) -> Result<Vec<String>, FileError> {
        let mut paths: Vec<String> = self
            .store
            .list(&self.dir)
            .await?
            .into_iter()
            .filter(|e| !e.name.ends_with(".tmp") && !e.name.starts_with('.'))
            .filter(|e| self.glob.as_ref().is_none_or(|g| g.is_match(&e.name)))
            .map(|e| e.path)
            .collect();
        paths.sort();
        Ok(paths)
    }

    /// The batch of one file, and how many bytes were read.
    async fn read(&self, path: &str) -> (Batch, u64) {
        let settle = Box::new(Settle {
            store: self.store.clone(),
            path: path.to_owned(),
            after_read: self.after_read,
            processed: self.processed.clone(),
            failed: self.failed.clone(),
        });
        let read = self.store.read(path, self.max_file_bytes).await;
        let size = read.as_ref().map_or(0, |bytes| bytes.len() as u64);
        let parsed = read.and_then(|bytes| {
            let document = self
                .format
                .decode(&bytes, &self.options)
                .map_err(|source| FileError::Parse {
                    path: path.to_owned(),
                    source,
                })?;
            // Text: one item per file, the text in `body`. Per record: CSV rows, JSON
            // array elements, JSON lines (an XML document is an object: one item either
            // way). Per file: the document.
            Ok(if self.format == Format::Text {
                vec![serde_json::json!({ "body": document })]
            } else if self.per_record {
                formats::records(document)
            } else {
                vec![document]
            })
        });
        let batch = match parsed {
            Ok(items) => Batch {
                label: path.to_owned(),
                items: items
                    .into_iter()
                    .map(|item| with_origin(item, path))
                    .collect(),
                error: None,
                after_commit: Some(settle),
            },
            // A file that cannot be read now may be readable on the next run: leave it.
            Err(error) if error.is_io() => Batch {
                label: path.to_owned(),
                items: Vec::new(),
                error: Some(error.to_string()),
                after_commit: None,
            },
            Err(error) => Batch {
                label: path.to_owned(),
                items: Vec::new(),
                error: Some(error.to_string()),
                after_commit: Some(settle),
            },
        };
        (batch, size)
    }
}

/// Items keep nothing of their file; the file name is in the task log via the batch
/// label. (Kept as a hook should items ever carry their origin.)
fn with_origin(item: Value, _path: &str) -> Value {
    item
}

#[async_trait]
impl Source for FileSource {
    async fn fetch(&self) -> Result<Vec<Value>, SourceError> {
        let mut items = Vec::new();
        for batch in self.read_all().await? {
            if let Some(error) = batch.error {
                return Err(SourceError(error));
            }
            items.extend(batch.items);
        }
        Ok(items)
    }

    async fn fetch_batches(&self, _context: &PollContext<'_>) -> Result<Vec<Batch>, SourceError> {
        self.read_all().await
    }
}

impl FileSource {
    /// One batch per matching file. The batches are held until queued, so one run reads
    /// files until their sizes add up to the largest file allowed; the others wait for
    /// the next run.
    pub async fn read_all(&self) -> Result<Vec<Batch>, SourceError> {
        let paths = self.list().await.map_err(|e| SourceError(e.to_string()))?;
        let mut batches = Vec::with_capacity(paths.len());
        let mut read = 0u64;
        for (index, path) in paths.iter().enumerate() {
            if read >= self.max_file_bytes {
                tracing::info!(dir = %self.dir, read_bytes = read, left = paths.len() - index, "Poll read its share of files; the others wait for the next run");
                break;
            }
            let (batch, size) = self.read(path).await;
            read += size;
            batches.push(batch);
        }
        Ok(batches)
    }
}

/// Moves, deletes or keeps one file once its batch is settled.
struct Settle {
    store: Arc<FileStore>,
    path: String,
    after_read: AfterRead,
    processed: String,
    failed: String,
}

impl Settle {
    fn target(&self, dir: &str) -> String {
        let name = self.path.rsplit('/').next().unwrap_or(&self.path);
        format!("{dir}{name}")
    }
}

#[async_trait]
impl AfterCommit for Settle {
    async fn committed(self: Box<Self>) -> Result<(), SourceError> {
        let done = match self.after_read {
            AfterRead::Move => {
                self.store
                    .move_file(&self.path, &self.target(&self.processed))
                    .await
            }
            AfterRead::Delete => self.store.delete(&self.path).await,
            AfterRead::Keep => Ok(()),
        };
        done.map_err(|e| SourceError(e.to_string()))
    }

    async fn rejected(self: Box<Self>, _reason: &str) -> Result<(), SourceError> {
        self.store
            .move_file(&self.path, &self.target(&self.failed))
            .await
            .map_err(|e| SourceError(e.to_string()))
    }

    fn removal(&self) -> Option<Removal> {
        let target = self.target(&self.failed);
        let dir = self.path.rsplit_once('/').map_or_else(
            || "the polled folder".to_owned(),
            |(dir, _)| format!("`{dir}/`"),
        );
        let mut item = serde_json::Map::new();
        item.insert("file".into(), Value::String(self.path.clone()));
        item.insert("movedTo".into(), Value::String(target.clone()));
        Some(Removal {
            item,
            note: format!(
                "The file goes to `{target}`. To read it again, fix it and put it back \
                 into {dir}; this task itself cannot be retried (discard it once handled)"
            ),
        })
    }
}
