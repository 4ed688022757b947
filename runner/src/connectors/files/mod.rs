//! File system connections through OpenDAL (local, SFTP, S3-compatible): a shared
//! [`FileStore`] per Connection, a polling [`FileSource`] that reads matching files and
//! moves each one only after its tasks are committed, and a [`FileSink`] that writes one
//! file per task atomically.

mod config;
mod parse;
mod sink;
mod source;
#[cfg(test)]
mod tests;

pub use config::FileStore;
pub use parse::{Format, parse};
pub use sink::{FileSink, is_retriable};
pub use source::FileSource;

/// Errors of file work; each says which file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("field `{field}`: {message}")]
    Config { field: String, message: String },
    #[error("{operation} `{path}`: {source}")]
    Io {
        operation: &'static str,
        path: String,
        #[source]
        source: Box<opendal::Error>,
    },
    #[error("`{path}` is not valid {format}: {message}")]
    Parse {
        path: String,
        format: &'static str,
        message: String,
    },
    #[error("{0}")]
    Item(String),
}

impl FileError {
    pub(crate) fn io(operation: &'static str, path: &str) -> impl FnOnce(opendal::Error) -> Self {
        let path = path.to_owned();
        move |source| Self::Io {
            operation,
            path,
            source: Box::new(source),
        }
    }

    /// A static label for metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Config { .. } => "file_config",
            Self::Io { .. } => "file_io",
            Self::Parse { .. } => "file_parse",
            Self::Item(_) => "file_item",
        }
    }
}
