//! One file system Connection, resolved by its service's folder (`connectors/local/`,
//! `sftp/`, `s3/`: an OpenDAL operator; `connectors/ftp/`: an [`FtpStore`]); the source
//! and the sink see only the operations below.

use opendal::{EntryMode, Operator};
use switchyard_crds::v1alpha1::{FileService, FileSystemConnection};

use super::FileError;
use crate::connectors::ftp::{FtpStore, Listed};
use crate::secrets::SecretSource;

pub struct FileStore {
    backend: Backend,
    /// The SFTP private key, written to a private file for the `ssh` client; removed
    /// when the Connection goes away.
    _key_file: Option<tempfile::NamedTempFile>,
}

enum Backend {
    OpenDal {
        op: Operator,
        /// Whether the service renames natively; otherwise a move is a copy and a delete.
        can_rename: bool,
    },
    Ftp(FtpStore),
}

impl FileStore {
    pub fn new(
        spec: &FileSystemConnection,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Self, FileError> {
        let service = spec
            .service()
            .map_err(|e| FileError::config("spec.fileSystem", e))?;
        let (op, key_file) = match service {
            FileService::Ftp(ftp) => {
                let password = secrets
                    .resolve(namespace, &ftp.password)
                    .map_err(|e| FileError::config("spec.fileSystem.ftp.password", e))?;
                return Ok(Self {
                    backend: Backend::Ftp(FtpStore::new(ftp, password)?),
                    _key_file: None,
                });
            }
            FileService::Local(local) => (crate::connectors::local::operator(local)?, None),
            FileService::Sftp(sftp) => {
                let (op, key) = crate::connectors::sftp::operator(sftp, namespace, secrets)?;
                (op, Some(key))
            }
            FileService::S3(s3) => (
                crate::connectors::s3::operator(s3, namespace, secrets)?,
                None,
            ),
        };
        let can_rename = op.info().full_capability().rename;
        Ok(Self {
            backend: Backend::OpenDal { op, can_rename },
            _key_file: key_file,
        })
    }

    /// The files (not directories) directly in `dir` (relative, ending in `/` or empty).
    pub async fn list(&self, dir: &str) -> Result<Vec<Listed>, FileError> {
        match &self.backend {
            Backend::OpenDal { op, .. } => Ok(op
                .list(dir)
                .await
                .map_err(FileError::io("list", dir))?
                .into_iter()
                .filter(|e| e.metadata().mode() == EntryMode::FILE)
                .map(|e| Listed {
                    path: e.path().to_owned(),
                    name: e.name().to_owned(),
                })
                .collect()),
            Backend::Ftp(ftp) => ftp.list(dir).await,
        }
    }

    /// The content of `path`, unless it is larger than `max` bytes (then it is not read).
    pub async fn read(&self, path: &str, max: u64) -> Result<Vec<u8>, FileError> {
        match &self.backend {
            Backend::OpenDal { op, .. } => {
                let size = op
                    .stat(path)
                    .await
                    .map_err(FileError::io("read", path))?
                    .content_length();
                if size > max {
                    return Err(FileError::TooLarge {
                        path: path.to_owned(),
                        size: Some(size),
                        max,
                    });
                }
                let bytes = op
                    .read(path)
                    .await
                    .map(|buffer| buffer.to_vec())
                    .map_err(FileError::io("read", path))?;
                // It may have grown since.
                if bytes.len() as u64 > max {
                    return Err(FileError::TooLarge {
                        path: path.to_owned(),
                        size: Some(bytes.len() as u64),
                        max,
                    });
                }
                Ok(bytes)
            }
            Backend::Ftp(ftp) => ftp.read(path, max).await,
        }
    }

    pub async fn delete(&self, path: &str) -> Result<(), FileError> {
        match &self.backend {
            Backend::OpenDal { op, .. } => {
                op.delete(path).await.map_err(FileError::io("delete", path))
            }
            Backend::Ftp(ftp) => ftp.delete(path).await,
        }
    }

    /// Moves `from` to `to`, creating `to`'s directory; a copy and a delete where the
    /// service cannot rename (object stores).
    pub async fn move_file(&self, from: &str, to: &str) -> Result<(), FileError> {
        let (op, can_rename) = match &self.backend {
            Backend::OpenDal { op, can_rename } => (op, *can_rename),
            Backend::Ftp(ftp) => return ftp.move_file(from, to).await,
        };
        if let Some((dir, _)) = to.rsplit_once('/') {
            op.create_dir(&format!("{dir}/"))
                .await
                .map_err(FileError::io("create directory for", to))?;
        }
        if can_rename {
            op.rename(from, to)
                .await
                .map_err(FileError::io("move", from))
        } else {
            op.copy(from, to)
                .await
                .map_err(FileError::io("copy", from))?;
            op.delete(from).await.map_err(FileError::io("delete", from))
        }
    }

    /// Writes `bytes` to `path` so readers never see half a file: to a temporary name
    /// in the same directory, then a rename (object stores write atomically anyway).
    pub async fn write_atomic(&self, path: &str, bytes: Vec<u8>) -> Result<(), FileError> {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let temporary = format!(
            "{dir}{}.{name}.{}.tmp",
            if dir.is_empty() { "" } else { "/" },
            uuid::Uuid::now_v7().simple()
        );
        let (op, can_rename) = match &self.backend {
            Backend::OpenDal { op, can_rename } => (op, *can_rename),
            Backend::Ftp(ftp) => return ftp.write_atomic(path, &temporary, &bytes).await,
        };
        if !dir.is_empty() {
            op.create_dir(&format!("{dir}/"))
                .await
                .map_err(FileError::io("create directory for", path))?;
        }
        if !can_rename {
            return op
                .write(path, bytes)
                .await
                .map(drop)
                .map_err(FileError::io("write", path));
        }
        op.write(&temporary, bytes)
            .await
            .map_err(FileError::io("write", &temporary))?;
        op.rename(&temporary, path)
            .await
            .map_err(FileError::io("rename", &temporary))
    }
}
