//! Delivering to a database: insert, upsert or a statement per item, the items of a
//! batch of tasks in one transaction. Each item runs in its own savepoint, so a row the
//! database refuses is rolled back alone and fails only its task; the rest commit
//! together (one commit, one fsync, for the whole batch).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde_json::Value;
use switchyard_crds::problem::FieldProblem;
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

/// Tasks per transaction when the route does not say.
const DEFAULT_BATCH_SIZE: usize = 100;

pub struct DatabaseSink {
    pool: Arc<DatabasePool>,
    write: Write,
    batch_size: usize,
}

impl DatabaseSink {
    pub fn new(pool: Arc<DatabasePool>, spec: &DatabaseDelivery) -> Result<Self, FieldProblem> {
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
            return Err(FieldProblem::new(
                "spec.outgoing.database",
                "set insert, upsert or statement",
            ));
        };
        let batch_size = spec
            .batch_size
            .map_or(DEFAULT_BATCH_SIZE, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            })
            .max(1);
        Ok(Self {
            pool,
            write,
            batch_size,
        })
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

    /// Runs `statements` in one transaction, each in a savepoint: a statement's error
    /// rolls back only that statement. The outer error means the whole transaction
    /// failed (nothing was written).
    async fn execute_batch(
        &self,
        statements: &[&(String, Vec<Value>)],
    ) -> Result<Vec<Result<u64, DatabaseError>>, DatabaseError> {
        macro_rules! run {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await.map_err(DatabaseError::sql("begin"))?;
                let mut results = Vec::with_capacity(statements.len());
                for (sql, values) in statements.iter().map(|s| (&s.0, &s.1)) {
                    // A nested transaction is a savepoint.
                    let mut savepoint = sqlx::Connection::begin(&mut *tx)
                        .await
                        .map_err(DatabaseError::sql("savepoint"))?;
                    match bind_json!(sqlx::query(sql), values)
                        .execute(&mut *savepoint)
                        .await
                    {
                        Ok(done) => {
                            savepoint
                                .commit()
                                .await
                                .map_err(DatabaseError::sql("release savepoint"))?;
                            results.push(Ok(done.rows_affected()));
                        }
                        Err(error) => {
                            savepoint
                                .rollback()
                                .await
                                .map_err(DatabaseError::sql("rollback to savepoint"))?;
                            results.push(Err(DatabaseError::sql("statement")(error)));
                        }
                    }
                }
                tx.commit().await.map_err(DatabaseError::sql("commit"))?;
                results
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
        idempotency_key: &str,
    ) -> Result<DeliveryReport, DeliveryError> {
        self.send_batch(&[(item, idempotency_key)])
            .await
            .pop()
            .unwrap_or_else(|| Err(DeliveryError::Request("no statement was run".into())))
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    async fn send_batch(
        &self,
        items: &[(&Value, &str)],
    ) -> Vec<Result<DeliveryReport, DeliveryError>> {
        let started = Instant::now();
        let built: Vec<Result<(String, Vec<Value>), DeliveryError>> = items
            .iter()
            .map(|(item, _)| {
                self.statement(item)
                    .map_err(|e| DeliveryError::Request(e.to_string()))
            })
            .collect();
        let statements: Vec<&(String, Vec<Value>)> =
            built.iter().filter_map(|b| b.as_ref().ok()).collect();
        let count = statements.len();
        let outcome = if statements.is_empty() {
            Ok(Vec::new())
        } else {
            self.execute_batch(&statements).await
        };
        let mut results = match outcome {
            Ok(results) => results.into_iter(),
            Err(whole) => {
                // Nothing was written: every item that got as far as the database fails
                // with the transaction's error.
                let error = delivery_error(&whole);
                return built
                    .into_iter()
                    .map(|b| b.and_then(|_| Err(error.clone())))
                    .collect();
            }
        };
        let elapsed = started.elapsed().as_millis();
        built
            .into_iter()
            .map(|b| {
                let (sql, _) = b?;
                match results.next() {
                    Some(Ok(rows)) => Ok(DeliveryReport {
                        summary: format!(
                            "{} → {rows} row(s) affected ({count} item(s) in one transaction, {elapsed} ms)",
                            sql.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
                        ),
                        response: Some(serde_json::json!({ "rowsAffected": rows })),
                    }),
                    Some(Err(error)) => Err(delivery_error(&error)),
                    None => Err(DeliveryError::Request("no statement was run".into())),
                }
            })
            .collect()
    }
}

/// A database error as a delivery error: retried when another attempt may succeed.
fn delivery_error(error: &DatabaseError) -> DeliveryError {
    let message = redact::excerpt(&error.to_string(), redact::SERVER_MESSAGE_CHARS);
    if is_retriable(error) {
        DeliveryError::Unavailable {
            message,
            retry_after: None,
        }
    } else {
        DeliveryError::Rejected(message)
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
