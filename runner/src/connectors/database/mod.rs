//! Database connections (PostgreSQL, MySQL/MariaDB, SQLite) through sqlx: one pool per
//! Connection shared by its routes, a polling [`DatabaseSource`] with an incremental
//! cursor and a [`DatabaseSink`] that inserts, upserts or runs a statement per task.
//!
//! Values are always bound as parameters: `:name` references in SQL become the
//! backend's placeholders ([`params`]); table and column names are validated
//! identifiers, quoted.

mod config;
mod connector;
mod params;
mod rows;
mod sink;
mod source;
#[cfg(test)]
mod tests;

pub use config::{DatabasePool, PoolError};
pub use connector::DatabaseConnector;
pub use params::{NamedSql, Placeholder};
pub use sink::{DatabaseSink, is_retriable};
pub use source::DatabaseSource;

/// Errors of database work, with the context a human needs; secrets redacted by the
/// caller.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The item lacks something the statement needs, or has an unusable field.
    #[error("{0}")]
    Item(String),
    /// A column has a type the runner cannot turn into JSON.
    #[error(
        "column `{column}` has type {type_name}, which cannot be read; cast it in the query (e.g. to text)"
    )]
    UnsupportedType { column: String, type_name: String },
    /// The database refused or failed the statement.
    #[error("{operation}: {source}")]
    Sql {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

impl DatabaseError {
    pub(crate) fn sql(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Sql { operation, source }
    }

    /// A static label for metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Item(_) => "database_item",
            Self::UnsupportedType { .. } => "database_type",
            Self::Sql { .. } => "database_sql",
        }
    }
}
