//! Static API tokens with roles, for local mode and CI: read from a file (in a cluster, a
//! mounted Secret), never from a manifest or the command line.
//!
//! ```yaml
//! # tokens.yaml: one entry per caller
//! - name: ci-bot
//!   role: editor
//!   token: 3f9c…
//! - name: dashboard
//!   role: viewer
//!   token: 81ab…
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{AuthMethod, Identity, Role};
use crate::redact::Secret;

#[derive(Debug, thiserror::Error)]
pub enum TokensFileError {
    #[error("cannot read the API tokens file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the API tokens file {path} is not a YAML list of {{name, role, token}}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("the API tokens file {path}: entry `{name}` has an empty token")]
    EmptyToken { path: PathBuf, name: String },
    #[error("the API tokens file {path}: names `{first}` and `{second}` share one token")]
    SharedToken {
        path: PathBuf,
        first: String,
        second: String,
    },
}

impl TokensFileError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Read { .. } => "tokens_read",
            Self::Parse { .. } => "tokens_parse",
            Self::EmptyToken { .. } => "tokens_empty_token",
            Self::SharedToken { .. } => "tokens_shared_token",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    role: Role,
    token: String,
}

struct StaticToken {
    name: String,
    role: Role,
    token: Secret,
}

/// The static tokens a runner accepts.
#[derive(Default)]
pub struct StaticTokens(Vec<StaticToken>);

impl StaticTokens {
    /// Reads a tokens file. Every token is registered with the redactor at once.
    pub fn from_file(path: &Path) -> Result<Self, TokensFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokensFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        // The parser's message could quote a token: only its location is kept.
        let entries: Vec<Entry> =
            serde_yaml::from_str(&text).map_err(|error| TokensFileError::Parse {
                path: path.to_owned(),
                message: error.location().map_or_else(
                    || "unreadable".to_owned(),
                    |l| format!("at line {}, column {}", l.line(), l.column()),
                ),
            })?;
        let mut tokens = Self::default();
        for entry in entries {
            if entry.token.trim().is_empty() {
                return Err(TokensFileError::EmptyToken {
                    path: path.to_owned(),
                    name: entry.name,
                });
            }
            if let Some(other) = tokens.find(entry.token.trim()) {
                return Err(TokensFileError::SharedToken {
                    path: path.to_owned(),
                    first: other.name,
                    second: entry.name,
                });
            }
            tokens.add(entry.name, entry.role, entry.token.trim().to_owned());
        }
        Ok(tokens)
    }

    /// Adds one token (e.g. `SWITCHYARD_API_TOKEN`, as `admin`).
    pub fn add(&mut self, name: String, role: Role, token: String) {
        self.0.push(StaticToken {
            name,
            role,
            token: Secret::new(token),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The identity of `presented`, comparing in constant time against every token.
    pub fn find(&self, presented: &str) -> Option<Identity> {
        let mut found = None;
        for token in &self.0 {
            if bool::from(presented.as_bytes().ct_eq(token.token.expose().as_bytes())) {
                found = Some(token);
            }
        }
        found.map(|token| Identity {
            name: token.name.clone(),
            role: Some(token.role),
            method: AuthMethod::Token,
            from: None,
        })
    }
}
