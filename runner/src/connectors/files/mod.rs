//! File system connections through OpenDAL (local, SFTP, S3-compatible) and `suppaftp`
//! (FTP/FTPS): a shared
//! [`FileStore`] per Connection, a polling [`FileSource`] that reads matching files and
//! moves each one only after its tasks are committed, and a [`FileSink`] that writes one
//! file per task atomically. Files are read and written by the codecs of
//! [`crate::formats`].

mod config;
mod ftp;
mod sink;
mod source;
#[cfg(test)]
mod tests;

pub use config::FileStore;
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
    /// An FTP failure; `retriable` says whether another attempt may succeed.
    #[error("{operation} `{path}`: {message}")]
    Ftp {
        operation: &'static str,
        path: String,
        message: String,
        retriable: bool,
    },
    #[error("`{path}`: {source}")]
    Parse {
        path: String,
        #[source]
        source: crate::formats::FormatError,
    },
    /// An item that cannot be written in the delivery's format.
    #[error(transparent)]
    Item(crate::formats::FormatError),
    /// A file larger than the poll reads; it was not read.
    #[error(
        "`{path}` is {}, larger than {max} bytes, the most a poll reads \
         (`incoming.poll.files.maxFileBytes`, or the runner's --file-max-bytes); it was not read",
        size.map_or_else(|| format!("more than {max} bytes"), |size| format!("{size} bytes"))
    )]
    TooLarge {
        path: String,
        size: Option<u64>,
        max: u64,
    },
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

    /// Whether the file system failed (rather than the file, the item or the set-up).
    pub fn is_io(&self) -> bool {
        matches!(self, Self::Io { .. } | Self::Ftp { .. })
    }

    /// A static label for metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Config { .. } => "file_config",
            Self::Io { .. } | Self::Ftp { .. } => "file_io",
            Self::Parse { .. } => "file_parse",
            Self::Item(_) => "file_item",
            Self::TooLarge { .. } => "file_too_large",
        }
    }
}
