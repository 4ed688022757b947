//! Delivering to a database: insert, upsert or a statement per task, each in its own
//! transaction. (Batching several tasks into one transaction would need the delivery
//! engine to hand a sink many tasks at once; per-task keeps one task's SQL error from
//! failing its neighbours.)

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde_json::Value;
use switchyard_crds::v1alpha1::{DatabaseDelivery, TableWrite};

use super::rows::bind_json;
use super::{DatabaseError, DatabasePool, NamedSql, Placeholder};
use crate::connectors::{DeliveryError, DeliveryReport, Sink};
use crate::redact;

/// What a task becomes.
enum Write {
    /// Table write; the SQL depends on the item's fields when no columns are listed.
    Table {
        write: TableWrite,
        upsert: bool,
    },
    Statement(NamedSql),
}

pub struct DatabaseSink {
    pool: Arc<DatabasePool>,
    write: Write,
}

impl DatabaseSink {
    pub fn new(pool: Arc<DatabasePool>, spec: &DatabaseDelivery) -> Result<Self, String> {
        let write = if let Some(insert) = &spec.insert {
            Write::Table {
                write: insert.clone(),
                upsert: false,
            }
        } else if let Some(upsert) = &spec.upsert {
            Write::Table {
                write: upsert.clone(),
                upsert: true,
            }
        } else if let Some(statement) = &spec.statement {
            Write::Statement(NamedSql::parse(statement, pool.placeholder()))
        } else {
            return Err("field `spec.outgoing.database`: set insert, upsert or statement".into());
        };
        Ok(Self { pool, write })
    }

    /// The statement for `item` and what it binds.
    pub(crate) fn statement(&self, item: &Value) -> Result<(String, Vec<Value>), DatabaseError> {
        match &self.write {
            Write::Statement(named) => Ok((
                named.sql.clone(),
                named.values(item).into_iter().cloned().collect(),
            )),
            Write::Table { write, upsert } => self.table_statement(write, *upsert, item),
        }
    }

    fn table_statement(
        &self,
        write: &TableWrite,
        upsert: bool,
        item: &Value,
    ) -> Result<(String, Vec<Value>), DatabaseError> {
        let Value::Object(fields) = item else {
            return Err(DatabaseError::Item(
                "the item is not a JSON object; a table row needs named fields".into(),
            ));
        };
        let columns: Vec<String> = if write.columns.is_empty() {
            fields.keys().cloned().collect()
        } else {
            write.columns.clone()
        };
        if let Some(bad) = columns.iter().find(|c| !switchyard_crds::is_identifier(c)) {
            return Err(DatabaseError::Item(format!(
                "field `{bad}` is not a plain identifier and cannot be a column name"
            )));
        }
        if columns.is_empty() {
            return Err(DatabaseError::Item("the item has no fields".into()));
        }
        let pool = &self.pool;
        let table = pool.quote(&write.table);
        let quoted: Vec<String> = columns.iter().map(|c| pool.quote(c)).collect();
        let list = quoted.join(", ");
        let updates: Vec<&String> = columns
            .iter()
            .zip(&quoted)
            .filter(|(c, _)| !write.key.contains(c))
            .map(|(_, q)| q)
            .collect();
        let keys: Vec<String> = write.key.iter().map(|k| pool.quote(k)).collect();
        let (mut sql, values) = match pool.placeholder() {
            // PostgreSQL types every parameter; one JSON parameter converted by the
            // table's own column types avoids text-to-timestamp (and similar) errors.
            Placeholder::Numbered => (
                format!(
                    "INSERT INTO {table} ({list}) SELECT {list} FROM json_populate_record(NULL::{table}, $1::json)"
                ),
                vec![Value::Object(
                    columns
                        .iter()
                        .map(|c| (c.clone(), fields.get(c).cloned().unwrap_or(Value::Null)))
                        .collect(),
                )],
            ),
            Placeholder::Question => (
                format!(
                    "INSERT INTO {table} ({list}) VALUES ({})",
                    vec!["?"; columns.len()].join(", ")
                ),
                columns
                    .iter()
                    .map(|c| fields.get(c).cloned().unwrap_or(Value::Null))
                    .collect(),
            ),
        };
        if upsert {
            let mysql = matches!(pool.as_ref(), DatabasePool::MySql(_));
            if mysql {
                let set: Vec<String> = updates
                    .iter()
                    .map(|q| format!("{q} = VALUES({q})"))
                    .collect();
                // Updating a key column to itself turns "all columns are keys" into a
                // no-op update.
                let set = if set.is_empty() {
                    vec![format!("{0} = {0}", quoted[0])]
                } else {
                    set
                };
                sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {}", set.join(", ")));
            } else if updates.is_empty() {
                sql.push_str(&format!(" ON CONFLICT ({}) DO NOTHING", keys.join(", ")));
            } else {
                let set: Vec<String> = updates
                    .iter()
                    .map(|q| format!("{q} = excluded.{q}"))
                    .collect();
                sql.push_str(&format!(
                    " ON CONFLICT ({}) DO UPDATE SET {}",
                    keys.join(", "),
                    set.join(", ")
                ));
            }
        }
        Ok((sql, values))
    }

    async fn execute(&self, sql: &str, values: &[Value]) -> Result<u64, DatabaseError> {
        macro_rules! run {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await.map_err(DatabaseError::sql("begin"))?;
                let done = bind_json!(sqlx::query(sql), values)
                    .execute(&mut *tx)
                    .await
                    .map_err(DatabaseError::sql("statement"))?;
                tx.commit().await.map_err(DatabaseError::sql("commit"))?;
                done.rows_affected()
            }};
        }
        Ok(match self.pool.as_ref() {
            DatabasePool::Postgres(pool) => run!(pool),
            DatabasePool::MySql(pool) => run!(pool),
            DatabasePool::Sqlite(pool) => run!(pool),
        })
    }
}

#[async_trait]
impl Sink for DatabaseSink {
    async fn send(
        &self,
        item: &Value,
        _idempotency_key: &str,
    ) -> Result<DeliveryReport, DeliveryError> {
        let started = Instant::now();
        let (sql, values) = self
            .statement(item)
            .map_err(|e| DeliveryError::Request(e.to_string()))?;
        match self.execute(&sql, &values).await {
            Ok(rows) => Ok(DeliveryReport {
                summary: format!(
                    "{} → {rows} row(s) affected in {} ms",
                    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
                    started.elapsed().as_millis()
                ),
                response: Some(serde_json::json!({ "rowsAffected": rows })),
            }),
            Err(error) => {
                let message = redact::redact(&error.to_string()).into_owned();
                Err(if is_retriable(&error) {
                    DeliveryError::Unavailable {
                        message,
                        retry_after: None,
                    }
                } else {
                    DeliveryError::Rejected(message)
                })
            }
        }
    }
}

/// Whether another attempt may succeed: connection trouble, pool exhaustion, deadlocks,
/// serialization failures and servers shutting down are transient; constraint
/// violations, syntax errors, bad data and missing tables are not.
pub fn is_retriable(error: &DatabaseError) -> bool {
    let DatabaseError::Sql { source, .. } = error else {
        return false;
    };
    match source {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // SQLSTATE classes: 08 connection, 40 rollback (deadlock, serialization),
            // 53 insufficient resources, 57P operator intervention; MySQL/MariaDB 1205
            // lock wait time-out (HY000) by message.
            code.starts_with("08")
                || code.starts_with("40")
                || code.starts_with("53")
                || code.starts_with("57P")
                || db.message().contains("Lock wait timeout")
        }
        _ => false,
    }
}
