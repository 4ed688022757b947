//! One database Connection, resolved: a lazily connecting pool with limits.

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use switchyard_crds::v1alpha1::DatabaseConnection;

use super::Placeholder;
use crate::redact;
use crate::secrets::{SecretError, SecretSource};

/// Open connections per pool when the Connection sets none: small enough to share a
/// database with the application that owns it.
const DEFAULT_MAX_CONNECTIONS: u32 = 5;
/// Wait for a pooled connection when the Connection sets none.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("field `spec.database.password`: {0}")]
    Secret(#[source] SecretError),
    #[error("field `spec.database.url`: {0}")]
    Url(String),
}

impl PoolError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Secret(error) => error.category(),
            Self::Url(_) => "database_url",
        }
    }
}

/// A pool for one of the supported backends.
#[derive(Clone)]
pub enum DatabasePool {
    Postgres(PgPool),
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

impl DatabasePool {
    /// Builds the pool; it connects on first use, so a database that is down does not
    /// stop the runner from starting.
    pub fn new(
        spec: &DatabaseConnection,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Self, PoolError> {
        // A password written into the URL is a secret too.
        redact::register_url_password(&spec.url);
        let password = spec
            .password
            .as_ref()
            .map(|value| secrets.resolve(namespace, value))
            .transpose()
            .map_err(PoolError::Secret)?;
        let max = spec
            .max_connections
            .unwrap_or(DEFAULT_MAX_CONNECTIONS)
            .max(1);
        let timeout = spec
            .connect_timeout_seconds
            .map(|s| Duration::from_secs(u64::from(s)))
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let bad_url = |e: sqlx::Error| PoolError::Url(redact::redact(&e.to_string()).into_owned());
        let scheme = spec.url.split(':').next().unwrap_or_default();
        Ok(match scheme {
            "postgres" | "postgresql" => {
                let mut options = PgConnectOptions::from_str(&spec.url).map_err(bad_url)?;
                if let Some(password) = &password {
                    options = options.password(password.expose());
                }
                Self::Postgres(
                    PgPoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(timeout)
                        .connect_lazy_with(options),
                )
            }
            "mysql" | "mariadb" => {
                let url = spec.url.replacen("mariadb:", "mysql:", 1);
                let mut options = MySqlConnectOptions::from_str(&url).map_err(bad_url)?;
                if let Some(password) = &password {
                    options = options.password(password.expose());
                }
                Self::MySql(
                    MySqlPoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(timeout)
                        .connect_lazy_with(options),
                )
            }
            "sqlite" => {
                let options = SqliteConnectOptions::from_str(&spec.url).map_err(bad_url)?;
                Self::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(timeout)
                        .connect_lazy_with(options),
                )
            }
            other => return Err(PoolError::Url(format!("scheme `{other}` is not supported"))),
        })
    }

    /// How this backend writes parameters.
    pub fn placeholder(&self) -> Placeholder {
        match self {
            Self::Postgres(_) => Placeholder::Numbered,
            Self::MySql(_) | Self::Sqlite(_) => Placeholder::Question,
        }
    }

    /// Quotes a validated identifier (letters, digits, `_`; optionally `schema.name`).
    pub fn quote(&self, name: &str) -> String {
        let quote = match self {
            Self::MySql(_) => '`',
            Self::Postgres(_) | Self::Sqlite(_) => '"',
        };
        name.split('.')
            .map(|part| format!("{quote}{part}{quote}"))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Checks that a connection can be opened and a trivial query answered.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            Self::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            Self::MySql(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            Self::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        }
    }
}
