//! A fresh PostgreSQL database per scenario, dropped afterwards.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct TempDatabase {
    admin_url: String,
    name: String,
    /// The URL the runner gets as `--queue-url`.
    pub url: String,
}

impl TempDatabase {
    /// Creates `switchyard_bench_<pid>_<n>` on the server of `admin_url`.
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let name = format!(
            "switchyard_bench_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut url = url::Url::parse(admin_url).context("parsing --postgres-url")?;
        url.set_path(&name);
        let mut admin = PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {}", redacted(admin_url)))?;
        // The name is ours (digits and underscores): safe to splice into the statement.
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .with_context(|| format!("creating database {name}"))?;
        admin.close().await.ok();
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        })
    }

    /// Drops the database, disconnecting whoever is still connected.
    pub async fn drop_database(self) -> anyhow::Result<()> {
        let mut admin = PgConnection::connect(&self.admin_url).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await
        .with_context(|| format!("dropping database {}", self.name))?;
        admin.close().await.ok();
        Ok(())
    }
}

/// The URL without its password, for messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}
