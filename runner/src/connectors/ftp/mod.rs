//! The FTP service of file system Connections: FTP and explicit FTPS (`AUTH TLS`)
//! through `suppaftp`. OpenDAL's FTP service is not used: it would bring a second
//! rustls crypto provider (aws-lc-rs) beside ring. The file source and sink are shared
//! by every file service (`connectors/files/`).
//!
//! Every operation opens its own control connection (connect, TLS, log in, binary mode)
//! and closes it: polling and writing are infrequent enough that a pool is not worth its
//! stale-connection handling, and a broken connection never outlives one operation.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use suppaftp::list::{File, ListParser};
use suppaftp::tokio::{AsyncRustlsConnector, AsyncRustlsFtpStream};
use suppaftp::types::FileType;
use suppaftp::{FtpError, Status};
use switchyard_crds::v1alpha1::FtpFileSystem;
use tokio::io::AsyncReadExt;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::connectors::files::FileError;
use crate::redact::Secret;

/// How long connecting, starting TLS and logging in may take together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

type Stream = AsyncRustlsFtpStream;

/// One FTP server with its credentials; paths are relative to `root`.
pub struct FtpStore {
    host: String,
    port: u16,
    username: String,
    password: Secret,
    /// Absolute, without a trailing slash (`""` for `/`).
    root: String,
    tls: Option<Arc<ClientConfig>>,
}

/// A file found by [`FtpStore::list`].
pub struct Listed {
    /// Relative to the store's root.
    pub path: String,
    pub name: String,
}

/// An FTP failure as a [`FileError`]: replies 4xx and connection trouble may pass,
/// replies 5xx (530 login incorrect, 550 not found or no access) and TLS failures do not.
fn ftp_error(operation: &'static str, path: &str) -> impl FnOnce(FtpError) -> FileError {
    let path = path.to_owned();
    move |error| {
        let (message, retriable) = match &error {
            FtpError::UnexpectedResponse(response) => {
                let code = response.status.code();
                let text = String::from_utf8_lossy(&response.body);
                // The body repeats the code: "530 Login incorrect."
                let text = text.trim();
                let text = text
                    .strip_prefix(&code.to_string())
                    .map_or(text, str::trim_start);
                (
                    format!("the FTP server answered {code} {text}"),
                    (400..500).contains(&code),
                )
            }
            FtpError::ConnectionError(io) => (format!("connection failed: {io}"), true),
            FtpError::SecureError(tls) => (format!("TLS failed: {tls}"), false),
            FtpError::BadResponse | FtpError::DataConnectionAlreadyOpen => {
                (error.to_string(), true)
            }
            FtpError::InvalidAddress(_) => (error.to_string(), false),
        };
        FileError::Ftp {
            operation,
            path,
            message: crate::redact::excerpt(&message, crate::redact::SERVER_MESSAGE_CHARS),
            retriable,
        }
    }
}

/// Whether `error` is a 550 reply (no such file or directory, or no access).
fn is_550(error: &FtpError) -> bool {
    matches!(error, FtpError::UnexpectedResponse(r) if r.status == Status::FileUnavailable)
}

impl FtpStore {
    pub fn new(spec: &FtpFileSystem, password: Secret) -> Result<Self, FileError> {
        let invalid = |field: &str, message: String| FileError::Config {
            field: format!("spec.fileSystem.ftp.{field}"),
            message,
        };
        // Validation has checked that it is absolute.
        let root = spec.root.as_deref().unwrap_or("/");
        let tls = if spec.tls.unwrap_or(false) {
            let mut roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            if let Some(pem) = &spec.ca_certificate {
                use tokio_rustls::rustls::pki_types::{CertificateDer, pem::PemObject};
                let mut found = 0;
                for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    let cert = cert.map_err(|e| invalid("caCertificate", e.to_string()))?;
                    roots
                        .add(cert)
                        .map_err(|e| invalid("caCertificate", e.to_string()))?;
                    found += 1;
                }
                if found == 0 {
                    return Err(invalid(
                        "caCertificate",
                        "no PEM certificate (-----BEGIN CERTIFICATE-----) found".into(),
                    ));
                }
            }
            // The ring provider explicitly: the process has no default provider, and
            // another crate's default must not decide.
            let config = ClientConfig::builder_with_provider(Arc::new(
                tokio_rustls::rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid("tls", e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
            Some(Arc::new(config))
        } else {
            None
        };
        Ok(Self {
            host: spec.host.clone(),
            port: spec.port.unwrap_or(21),
            username: spec.username.clone(),
            password,
            root: root.trim_end_matches('/').to_owned(),
            tls,
        })
    }

    /// The server path of `path` (relative to the root; a trailing `/` is dropped).
    fn full(&self, path: &str) -> String {
        let path = path.trim_matches('/');
        if path.is_empty() {
            if self.root.is_empty() {
                "/".to_owned()
            } else {
                self.root.clone()
            }
        } else {
            format!("{}/{path}", self.root)
        }
    }

    /// A logged-in control connection in binary mode.
    async fn connect(&self) -> Result<Stream, FileError> {
        let address = format!("{}:{}", self.host, self.port);
        let session = async {
            let mut ftp = Stream::connect(address.as_str())
                .await
                .map_err(ftp_error("connect to", &address))?;
            if let Some(config) = &self.tls {
                let connector =
                    AsyncRustlsConnector::from(tokio_rustls::TlsConnector::from(config.clone()));
                ftp = ftp
                    .into_secure(connector, &self.host)
                    .await
                    .map_err(ftp_error("start TLS with", &address))?;
            }
            ftp.login(self.username.as_str(), self.password.expose())
                .await
                .map_err(ftp_error("log in as", &self.username))?;
            ftp.transfer_type(FileType::Binary)
                .await
                .map_err(ftp_error("switch to binary mode on", &address))?;
            Ok(ftp)
        };
        tokio::time::timeout(CONNECT_TIMEOUT, session)
            .await
            .unwrap_or_else(|_| {
                Err(FileError::Ftp {
                    operation: "connect to",
                    path: address.clone(),
                    message: format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                    retriable: true,
                })
            })
    }

    /// Ends the session politely; the operation's result is what counts.
    async fn close<T>(mut ftp: Stream, result: Result<T, FileError>) -> Result<T, FileError> {
        let _ = ftp.quit().await;
        result
    }

    /// The files (not directories) directly in `dir`; a missing directory has none.
    pub async fn list(&self, dir: &str) -> Result<Vec<Listed>, FileError> {
        let mut ftp = self.connect().await?;
        let full = self.full(dir);
        let result = async {
            // MLSD is machine-readable; servers without it get LIST (Unix or DOS style).
            let files: Vec<File> = match ftp.mlsd(Some(&full)).await {
                Ok(lines) => lines
                    .iter()
                    .filter_map(|line| ListParser::parse_mlsd(line).ok())
                    .collect(),
                Err(error) if is_550(&error) => return Ok(Vec::new()),
                Err(_) => match ftp.list(Some(&full)).await {
                    Ok(lines) => lines
                        .iter()
                        .filter_map(|line| File::from_str(line).ok())
                        .collect(),
                    Err(error) if is_550(&error) => return Ok(Vec::new()),
                    Err(error) => return Err(ftp_error("list", dir)(error)),
                },
            };
            let prefix = dir.trim_matches('/');
            Ok(files
                .into_iter()
                .filter(File::is_file)
                .map(|file| Listed {
                    path: if prefix.is_empty() {
                        file.name().to_owned()
                    } else {
                        format!("{prefix}/{}", file.name())
                    },
                    name: file.name().to_owned(),
                })
                .collect())
        }
        .await;
        Self::close(ftp, result).await
    }

    /// The content of `path`; reading stops past `max` bytes.
    pub async fn read(&self, path: &str, max: u64) -> Result<Vec<u8>, FileError> {
        let mut ftp = self.connect().await?;
        let result = async {
            let mut stream = ftp
                .retr_as_stream(self.full(path))
                .await
                .map_err(ftp_error("read", path))?;
            let mut bytes = Vec::new();
            (&mut stream)
                .take(max.saturating_add(1))
                .read_to_end(&mut bytes)
                .await
                .map_err(|e| ftp_error("read", path)(FtpError::ConnectionError(e)))?;
            if bytes.len() as u64 > max {
                return Err(FileError::TooLarge {
                    path: path.to_owned(),
                    size: None,
                    max,
                });
            }
            stream.finish().await.map_err(ftp_error("read", path))?;
            Ok(bytes)
        }
        .await;
        Self::close(ftp, result).await
    }

    pub async fn delete(&self, path: &str) -> Result<(), FileError> {
        let mut ftp = self.connect().await?;
        let result = ftp
            .rm(self.full(path))
            .await
            .map_err(ftp_error("delete", path));
        Self::close(ftp, result).await
    }

    /// Moves `from` to `to`, creating `to`'s directory.
    pub async fn move_file(&self, from: &str, to: &str) -> Result<(), FileError> {
        let mut ftp = self.connect().await?;
        let result = async {
            self.create_parent(&mut ftp, to).await?;
            self.rename(&mut ftp, from, to).await
        }
        .await;
        Self::close(ftp, result).await
    }

    /// Writes `bytes` to a temporary name beside `path`, then renames it, so a reader
    /// never sees half a file.
    pub async fn write_atomic(
        &self,
        path: &str,
        temporary: &str,
        bytes: &[u8],
    ) -> Result<(), FileError> {
        let mut ftp = self.connect().await?;
        let result = async {
            self.create_parent(&mut ftp, path).await?;
            ftp.put_file(self.full(temporary), &mut &bytes[..])
                .await
                .map_err(ftp_error("write", temporary))?;
            let renamed = self.rename(&mut ftp, temporary, path).await;
            if renamed.is_err() {
                // Leave no temporary file behind; the rename's error is what counts.
                let _ = ftp.rm(self.full(temporary)).await;
            }
            renamed
        }
        .await;
        Self::close(ftp, result).await
    }

    /// Renames `from` to `to`, replacing `to`: servers that refuse to rename onto an
    /// existing file get it deleted first.
    async fn rename(&self, ftp: &mut Stream, from: &str, to: &str) -> Result<(), FileError> {
        let (from_full, to_full) = (self.full(from), self.full(to));
        match ftp.rename(&from_full, &to_full).await {
            Err(error) if is_550(&error) && ftp.rm(&to_full).await.is_ok() => ftp
                .rename(&from_full, &to_full)
                .await
                .map_err(ftp_error("rename", from)),
            other => other.map_err(ftp_error("rename", from)),
        }
    }

    /// Creates the directories above `path`, one level at a time (FTP has no `mkdir -p`).
    async fn create_parent(&self, ftp: &mut Stream, path: &str) -> Result<(), FileError> {
        let Some((dir, _)) = path.trim_matches('/').rsplit_once('/') else {
            return Ok(());
        };
        let mut current = String::new();
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            current.push('/');
            current.push_str(part);
            // An existing directory answers 550 too; whether the last level exists is
            // checked below.
            let _ = ftp.mkdir(self.full(&current)).await;
        }
        let pwd = ftp
            .pwd()
            .await
            .map_err(ftp_error("create directory", dir))?;
        ftp.cwd(self.full(dir))
            .await
            .map_err(ftp_error("create directory", dir))?;
        ftp.cwd(pwd)
            .await
            .map_err(ftp_error("create directory", dir))
    }
}

#[cfg(test)]
mod tests {
    use suppaftp::types::Response;

    use super::*;
    use crate::connectors::files::is_retriable;

    fn reply(code: u32, text: &str) -> FileError {
        let response = Response::new(Status::from(code), format!("{code} {text}\r\n").into());
        ftp_error("read", "inbox/a.csv")(FtpError::UnexpectedResponse(response))
    }

    #[test]
    fn replies_4xx_and_lost_connections_are_retried_5xx_are_not() {
        let login = reply(530, "Login incorrect.");
        assert_eq!(
            login.to_string(),
            "read `inbox/a.csv`: the FTP server answered 530 Login incorrect."
        );
        assert!(!is_retriable(&login));
        assert!(!is_retriable(&reply(550, "No such file or directory.")));
        assert!(is_retriable(&reply(
            450,
            "Requested file action not taken."
        )));
        let refused = ftp_error("connect to", "127.0.0.1:21")(FtpError::ConnectionError(
            std::io::ErrorKind::ConnectionRefused.into(),
        ));
        assert!(is_retriable(&refused), "{refused}");
        assert!(!is_retriable(&ftp_error("start TLS with", "h:21")(
            FtpError::SecureError("invalid peer certificate: UnknownIssuer".into())
        )));
    }

    #[test]
    fn paths_are_joined_to_the_root() {
        let spec: FtpFileSystem = serde_json::from_value(serde_json::json!({
            "host": "h", "username": "u", "root": "/data/",
            "password": {"secretKeyRef": {"name": "s", "key": "k"}}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let store = FtpStore::new(&spec, Secret::new("unused-ftp-test".into()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.full("inbox/"), "/data/inbox");
        assert_eq!(store.full("inbox/a.csv"), "/data/inbox/a.csv");
        assert_eq!(store.full(""), "/data");
        let spec = FtpFileSystem { root: None, ..spec };
        let store = FtpStore::new(&spec, Secret::new("unused-ftp-test".into()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.full(""), "/");
        assert_eq!(store.full("out/x.json"), "/out/x.json");
    }
}
