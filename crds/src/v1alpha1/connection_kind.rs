//! [`ConnectionKind`]: the typed view of a Connection's one-of kind fields (and
//! [`FileService`] of a file system's services), so "exactly one is set" is checked in
//! one place and every caller matches on a variant instead of comparing strings.

use super::{
    ConnectionSpec, DatabaseConnection, FileSystemConnection, FtpFileSystem, HttpConnection,
    LocalFileSystem, S3FileSystem, SftpFileSystem, SoapConnection,
};

impl ConnectionSpec {
    /// The one kind this Connection is, as a typed view of its one-of fields: the only
    /// place that checks that exactly one kind is set.
    pub fn kind(&self) -> Result<ConnectionKind<'_>, KindError> {
        exactly_one(&[
            ("http", self.http.as_ref().map(ConnectionKind::Http)),
            (
                "database",
                self.database.as_ref().map(ConnectionKind::Database),
            ),
            (
                "fileSystem",
                self.file_system.as_ref().map(ConnectionKind::FileSystem),
            ),
            ("soap", self.soap.as_ref().map(ConnectionKind::Soap)),
        ])
    }

    /// The kind's name (`http`, `database`, …), `None` unless exactly one kind is set.
    pub fn kind_name(&self) -> Option<KindName> {
        self.kind().ok().map(|kind| kind.name())
    }
}

/// What a Connection is: one of its kinds, with that kind's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConnectionKind<'a> {
    /// `spec.http`.
    Http(&'a HttpConnection),
    /// `spec.database`.
    Database(&'a DatabaseConnection),
    /// `spec.fileSystem`.
    FileSystem(&'a FileSystemConnection),
    /// `spec.soap`.
    Soap(&'a SoapConnection),
}

impl ConnectionKind<'_> {
    /// The kind without its settings.
    pub fn name(&self) -> KindName {
        match self {
            Self::Http(_) => KindName::Http,
            Self::Database(_) => KindName::Database,
            Self::FileSystem(_) => KindName::FileSystem,
            Self::Soap(_) => KindName::Soap,
        }
    }
}

/// The name of a Connection kind, spelled as its field in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KindName {
    /// An HTTP/REST system (`http`).
    Http,
    /// A relational database (`database`).
    Database,
    /// A file system (`fileSystem`).
    FileSystem,
    /// A SOAP service (`soap`).
    Soap,
}

impl KindName {
    /// Every kind, in the order the manifest documents them.
    pub const ALL: [KindName; 4] = [Self::Http, Self::Database, Self::FileSystem, Self::Soap];

    /// The field that sets this kind, e.g. `fileSystem`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Database => "database",
            Self::FileSystem => "fileSystem",
            Self::Soap => "soap",
        }
    }
}

impl std::fmt::Display for KindName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a one-of block has no single kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KindError {
    /// Nothing is set.
    #[error("set exactly one of: {}", .names.join(", "))]
    None { names: Vec<&'static str> },
    /// More than one is set.
    #[error("set only one of: {} (found {})", .names.join(", "), .found.join(", "))]
    Several {
        names: Vec<&'static str>,
        found: Vec<&'static str>,
    },
}

impl KindError {
    /// A static label for metrics and reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::None { .. } => "kind_missing",
            Self::Several { .. } => "kind_ambiguous",
        }
    }
}

/// The one option of a one-of block that is set (`options`: the field names, in the
/// order the manifest documents them, with their values).
fn exactly_one<T: Copy>(options: &[(&'static str, Option<T>)]) -> Result<T, KindError> {
    let names = || options.iter().map(|(name, _)| *name).collect();
    let found: Vec<(&'static str, T)> = options
        .iter()
        .filter_map(|(name, value)| value.map(|v| (*name, v)))
        .collect();
    match found.as_slice() {
        [(_, one)] => Ok(*one),
        [] => Err(KindError::None { names: names() }),
        several => Err(KindError::Several {
            names: names(),
            found: several.iter().map(|(name, _)| *name).collect(),
        }),
    }
}

impl FileSystemConnection {
    /// The one service this file system is (`local`, `sftp`, `ftp` or `s3`).
    pub fn service(&self) -> Result<FileService<'_>, KindError> {
        exactly_one(&[
            ("local", self.local.as_ref().map(FileService::Local)),
            ("sftp", self.sftp.as_ref().map(FileService::Sftp)),
            ("ftp", self.ftp.as_ref().map(FileService::Ftp)),
            ("s3", self.s3.as_ref().map(FileService::S3)),
        ])
    }
}

/// What a file system Connection is: one of its services, with its settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FileService<'a> {
    /// `fileSystem.local`.
    Local(&'a LocalFileSystem),
    /// `fileSystem.sftp`.
    Sftp(&'a SftpFileSystem),
    /// `fileSystem.ftp`.
    Ftp(&'a FtpFileSystem),
    /// `fileSystem.s3`.
    S3(&'a S3FileSystem),
}
