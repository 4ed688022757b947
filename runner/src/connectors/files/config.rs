//! One file system Connection, resolved into an OpenDAL operator or, for FTP, an
//! [`FtpStore`]; the source and the sink see only the operations below.

use std::io::Write;

use opendal::{EntryMode, Operator, services};
use switchyard_crds::v1alpha1::FileSystemConnection;

use super::FileError;
use super::ftp::{FtpStore, Listed};
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
        let config = |field: &str, message: String| FileError::Config {
            field: field.to_owned(),
            message,
        };
        let secret = |field: &str, value| {
            secrets
                .resolve(namespace, value)
                .map_err(|e| config(field, e.to_string()))
        };
        let mut key_file = None;
        if let Some(ftp) = &spec.ftp {
            let password = secret("spec.fileSystem.ftp.password", &ftp.password)?;
            return Ok(Self {
                backend: Backend::Ftp(FtpStore::new(ftp, password)?),
                _key_file: None,
            });
        }
        let op = if let Some(local) = &spec.local {
            Operator::new(services::Fs::default().root(&local.root))
                .map(|b| b.finish())
                .map_err(|e| config("spec.fileSystem.local", e.to_string()))?
        } else if let Some(sftp) = &spec.sftp {
            let key = secret("spec.fileSystem.sftp.privateKey", &sftp.private_key)?;
            let mut file = tempfile::Builder::new()
                .prefix("switchyard-sftp-key-")
                .tempfile()
                .map_err(|e| config("spec.fileSystem.sftp.privateKey", e.to_string()))?;
            let mut text = key.expose().to_owned();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            file.write_all(text.as_bytes())
                .map_err(|e| config("spec.fileSystem.sftp.privateKey", e.to_string()))?;
            let key_path = file.path().to_string_lossy().into_owned();
            key_file = Some(file);
            let endpoint = format!("ssh://{}:{}", sftp.host, sftp.port.unwrap_or(22));
            let mut builder = services::Sftp::default()
                .endpoint(&endpoint)
                .user(&sftp.username)
                .key(&key_path)
                .known_hosts_strategy(sftp.known_hosts_strategy.unwrap_or_default().as_str());
            if let Some(root) = &sftp.root {
                builder = builder.root(root);
            }
            Operator::new(builder)
                .map(|b| b.finish())
                .map_err(|e| config("spec.fileSystem.sftp", e.to_string()))?
        } else if let Some(s3) = &spec.s3 {
            let access = secret("spec.fileSystem.s3.accessKeyId", &s3.access_key_id)?;
            let secret_key = secret("spec.fileSystem.s3.secretAccessKey", &s3.secret_access_key)?;
            let mut builder = services::S3::default()
                .bucket(&s3.bucket)
                .region(s3.region.as_deref().unwrap_or("us-east-1"))
                .access_key_id(access.expose())
                .secret_access_key(secret_key.expose())
                .disable_config_load();
            if let Some(endpoint) = &s3.endpoint {
                builder = builder.endpoint(endpoint);
            }
            if let Some(root) = &s3.root {
                builder = builder.root(root);
            }
            Operator::new(builder)
                .map(|b| b.finish())
                .map_err(|e| config("spec.fileSystem.s3", e.to_string()))?
        } else {
            return Err(config(
                "spec.fileSystem",
                "set local, sftp, ftp or s3".into(),
            ));
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
