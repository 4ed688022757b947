//! The database side of a lookup: a query on the Connection's pool, `:name` parameters
//! bound from the item.

use std::sync::Arc;

use serde_json::Value;
use switchyard_crds::v1alpha1::LookupQuery;

use super::{Answer, Failure};
use crate::connectors::database::{DatabasePool, NamedSql, is_retriable};
use crate::redact;

pub struct DatabaseLookup {
    pool: Arc<DatabasePool>,
    query: NamedSql,
    all_rows: bool,
}

/// A query with its parameters, as read from one item.
pub struct Bound<'a> {
    pub values: Vec<&'a Value>,
}

impl DatabaseLookup {
    pub fn new(pool: Arc<DatabasePool>, spec: &LookupQuery) -> Self {
        Self {
            query: NamedSql::parse(&spec.sql, pool.placeholder()),
            pool,
            all_rows: spec.all_rows,
        }
    }

    /// The parameters of `item` and the cache key they make with the SQL.
    pub fn bind<'a>(&self, item: &'a Value) -> (Bound<'a>, String) {
        let values = self.query.values(item);
        let key = format!(
            "{}\u{0}{}",
            self.query.sql,
            serde_json::to_string(&values).unwrap_or_default()
        );
        (Bound { values }, key)
    }

    /// Runs the query: the first row (or every row), `None` when there is none.
    pub async fn run(&self, bound: Bound<'_>) -> Result<Answer, Failure> {
        let rows = self
            .pool
            .query_rows(&self.query.sql, bound.values, !self.all_rows)
            .await
            .map_err(|error| {
                let message = redact::excerpt(&error.to_string(), redact::SERVER_MESSAGE_CHARS);
                if is_retriable(&error) {
                    Failure::transient(message)
                } else {
                    Failure::permanent(message)
                }
            })?;
        Ok(match (self.all_rows, rows.is_empty()) {
            (_, true) => None,
            (true, false) => Some(Value::Array(rows)),
            (false, false) => rows.into_iter().next(),
        })
    }
}
