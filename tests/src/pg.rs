//! A fresh PostgreSQL database per test on the machine's server.

use sqlx::Connection;

/// The server tests use.
pub const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// A database created for one test and dropped with it.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// Creates a fresh database. When no server answers, it returns `None` after printing
    /// why (the test then skips), except under `CI=true`, where it panics.
    pub async fn create() -> Option<Self> {
        let mut admin = match sqlx::PgConnection::connect(&format!("{SERVER}/postgres")).await {
            Ok(connection) => connection,
            Err(error) => {
                let message = format!("PostgreSQL is not reachable at {SERVER} ({error})");
                assert!(!crate::in_ci(), "{message}; CI requires it");
                eprintln!("SKIPPED: {message}");
                return None;
            }
        };
        let name = format!("switchyard_test_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        Some(Self {
            url: format!("{SERVER}/{name}"),
            name,
        })
    }

    /// Drops the database (the runner must be stopped).
    pub async fn drop_now(self) {
        if let Ok(mut admin) = sqlx::PgConnection::connect(&format!("{SERVER}/postgres")).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin)
            .await;
        }
    }
}
