//! An SMTP server on loopback (aiosmtpd from PyPI, through [`super::python`]): STARTTLS
//! required or implicit TLS, AUTH required; every message it accepts is kept as a file
//! the test reads with [`SmtpServer::messages`].

use std::path::PathBuf;

use serde::Deserialize;

use super::python::PythonServer;

/// The server script, written into the server's directory.
const SCRIPT: &str = include_str!("smtp_sink.py");

/// How the server protects connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    /// Plain connection, STARTTLS required before AUTH and MAIL.
    Starttls,
    /// TLS from the first byte.
    Implicit,
}

/// One message the server accepted.
#[derive(Debug, Clone, Deserialize)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body).
    pub data: String,
    /// Whether the session was encrypted.
    pub tls: bool,
    /// Whether the client authenticated.
    pub authenticated: bool,
}

pub struct SmtpServer {
    pub port: u16,
    pub username: String,
    pub password: String,
    out: PathBuf,
    server: PythonServer,
}

impl SmtpServer {
    /// Starts a server presenting `cert_pem` (its key `key_pem`, PKCS#8) that accepts
    /// `username`/`password`. `None` (skipped; a failure under CI) without aiosmtpd.
    pub async fn start(
        mode: SmtpMode,
        cert_pem: &str,
        key_pem: &str,
        username: &str,
        password: &str,
    ) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("mail");
        std::fs::create_dir(&out).expect("mail dir");
        std::fs::write(dir.path().join("smtp_sink.py"), SCRIPT).expect("script");
        std::fs::write(dir.path().join("server.pem"), cert_pem).expect("certificate");
        std::fs::write(dir.path().join("server.key"), key_pem).expect("key");
        let out_arg = out.to_string_lossy().into_owned();
        let mode_arg = match mode {
            SmtpMode::Starttls => "starttls",
            SmtpMode::Implicit => "implicit",
        };
        let args = [
            "{port}",
            mode_arg,
            "server.pem",
            "server.key",
            username,
            password,
            &out_arg,
        ];
        let server = PythonServer::start("aiosmtpd", "smtp_sink", &args, dir).await?;
        Some(Self {
            port: server.port,
            username: username.to_owned(),
            password: password.to_owned(),
            out,
            server,
        })
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .expect("mail dir")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).expect("mail file");
                serde_json::from_str(&text).expect("mail record")
            })
            .collect()
    }

    /// What the server wrote to stderr, for failure messages.
    pub fn log(&self) -> String {
        self.server.log()
    }
}
