//! Shared by the queue's integration tests: a fresh database on the machine's
//! PostgreSQL per test.

use sqlx::Connection;

pub const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// A new empty database's URL; `None` (after printing why) when no server answers,
/// except under `CI=true`, where that fails the test.
pub async fn fresh_database() -> Option<String> {
    let mut admin = match sqlx::PgConnection::connect(&format!("{SERVER}/postgres")).await {
        Ok(connection) => connection,
        Err(error) => {
            let message = format!("PostgreSQL is not reachable at {SERVER} ({error})");
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "{message}; CI requires it"
            );
            eprintln!("SKIPPED: {message}");
            return None;
        }
    };
    let name = format!("switchyard_queue_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    Some(format!("{SERVER}/{name}"))
}

/// Drops the database at `url` (its connections are cut).
pub async fn drop_database(url: &str) {
    if let Ok(mut admin) = sqlx::PgConnection::connect(&format!("{SERVER}/postgres")).await {
        let name = url.rsplit('/').next().unwrap_or_default();
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await;
    }
}
