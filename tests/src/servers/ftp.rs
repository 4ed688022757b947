//! An FTP server on loopback: pyftpdlib (from PyPI, see [`super::python`]) serving a
//! temporary directory to one user with write access; optionally explicit FTPS with a
//! certificate for `127.0.0.1` signed by a throw-away CA (made with the `openssl` tool).
//! The test reads and writes the served directory directly.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::python::PythonServer;

pub struct FtpServer {
    pub port: u16,
    pub username: &'static str,
    pub password: &'static str,
    /// PEM of the CA that signed the server certificate (FTPS only).
    pub ca_pem: Option<String>,
    root: PathBuf,
    server: PythonServer,
}

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run openssl: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// A CA (`ca.pem`) and a server certificate for 127.0.0.1 it signed (`server.pem`,
/// `server.key`), in `dir`. A self-signed server certificate would not do: rustls
/// refuses a CA certificate as the server's own.
fn make_certificates(dir: &Path) -> Result<(), String> {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Switchyard test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    )?;
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    )?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .map_err(|e| format!("cannot write server.ext: {e}"))?;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    )
}

impl FtpServer {
    /// Plain FTP.
    pub async fn start() -> Option<Self> {
        Self::start_with(false).await
    }

    /// Explicit FTPS (`AUTH TLS`); the control connection must be encrypted.
    pub async fn start_tls() -> Option<Self> {
        Self::start_with(true).await
    }

    async fn start_with(tls: bool) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).expect("served dir");
        let (username, password) = ("switchyard", "ftp-pass-7f3a9c");
        let root_arg = root.to_string_lossy().into_owned();
        let mut args = vec![
            "-i",
            "127.0.0.1",
            "-p",
            "{port}",
            "-u",
            username,
            "-P",
            password,
            "-d",
            &root_arg,
            "-w",
        ];
        let mut ca_pem = None;
        if tls {
            if let Err(message) = make_certificates(dir.path()) {
                return super::unavailable(format!("FTPS certificates: {message}"));
            }
            ca_pem = Some(std::fs::read_to_string(dir.path().join("ca.pem")).expect("CA"));
            args.extend([
                "--tls",
                "--certfile",
                "server.pem",
                "--keyfile",
                "server.key",
                "--tls-control-required",
            ]);
        }
        let what = if tls { "pyftpdlib (FTPS)" } else { "pyftpdlib" };
        let server = PythonServer::start(what, "pyftpdlib", &args, dir).await?;
        Some(Self {
            port: server.port,
            username,
            password,
            ca_pem,
            root,
            server,
        })
    }

    /// The served directory (the FTP root `/`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// Files under `dir` (relative to the root), recursively, as sorted relative paths.
    pub fn files(&self, dir: &str) -> Vec<String> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(base, &path, out);
                } else if let Ok(relative) = path.strip_prefix(base) {
                    out.push(relative.to_string_lossy().into_owned());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &self.root.join(dir), &mut out);
        out.sort();
        out
    }
}
