//! The Notification tables and the task counts its rules read, in the queue database
//! (SQLite or PostgreSQL through `sqlx::Any`). The tasks a rule reads are in the
//! partial index of their state: a walk over a route's failed, pending or processing
//! tasks, never over its done ones.

use std::sync::Arc;

use sqlx::{AnyPool, Row};

use super::state::RuleState;
use crate::queue::sql_states::{literal, partial_index};
use crate::queue::{RouteKey, SqlDialect, TaskState};

/// `FROM …` of the tasks in `state` (through the state's partial index).
fn tasks_in(dialect: SqlDialect, state: TaskState) -> String {
    match partial_index(state) {
        Some(index) => dialect.tasks_through(index),
        None => "tasks".to_owned(),
    }
}

/// The statements, built once for the dialect.
#[derive(Debug)]
struct Statements {
    /// How many tasks of a route ended failed since `$3`.
    failed_since: String,
    /// The last error of the latest task of a route that ended failed since `$3`.
    last_failed: String,
    /// When the oldest `pending` task of a route, then the oldest `processing` one, was
    /// queued (ids are UUIDv7: the smallest is the oldest).
    oldest: [String; 2],
}

impl Statements {
    fn new(dialect: SqlDialect) -> Self {
        let failed = literal(TaskState::Failed);
        let failed_tasks = tasks_in(dialect, TaskState::Failed);
        let oldest = |state| {
            format!(
                "SELECT created_at FROM tasks WHERE id = (SELECT MIN(id) FROM {} \
                 WHERE namespace = $1 AND route = $2 AND state = {})",
                tasks_in(dialect, state),
                literal(state)
            )
        };
        Self {
            failed_since: format!(
                "SELECT COUNT(*) AS n FROM {failed_tasks} WHERE namespace = $1 AND route = $2 \
                 AND state = {failed} AND updated_at >= $3"
            ),
            last_failed: format!(
                "SELECT last_error FROM {failed_tasks} WHERE namespace = $1 AND route = $2 \
                 AND state = {failed} AND updated_at >= $3 ORDER BY updated_at DESC LIMIT 1"
            ),
            oldest: [oldest(TaskState::Pending), oldest(TaskState::Processing)],
        }
    }
}

/// Why the queue database could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot {operation}: {source}")]
pub struct StoreError {
    operation: &'static str,
    #[source]
    source: sqlx::Error,
}

fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError { operation, source }
}

/// A rule's state as stored, with the version a change must match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    pub state: RuleState,
    /// `None`: no row yet.
    pub version: Option<i64>,
}

/// Built from the queue's pools ([`crate::queue::SqlQueue::notifications`]), so that
/// SQLite keeps its single writer.
#[derive(Clone)]
pub struct SqlNotifications {
    writer: AnyPool,
    reader: AnyPool,
    statements: Arc<Statements>,
}

impl SqlNotifications {
    pub(crate) fn new(dialect: SqlDialect, writer: AnyPool, reader: AnyPool) -> Self {
        Self {
            writer,
            reader,
            statements: Arc::new(Statements::new(dialect)),
        }
    }

    /// The stored state of Notification `key`.
    pub async fn load(&self, key: &(String, String)) -> Result<Stored, StoreError> {
        let row = sqlx::query(
            "SELECT firing, notified, last_sent_at, version FROM notification_state \
             WHERE namespace = $1 AND name = $2",
        )
        .bind(key.0.clone())
        .bind(key.1.clone())
        .fetch_optional(&self.writer)
        .await
        .map_err(db("read a notification's state"))?;
        let Some(row) = row else {
            return Ok(Stored::default());
        };
        let read = || db("read a notification's state");
        let firing: i64 = row.try_get("firing").map_err(read())?;
        let notified: i64 = row.try_get("notified").map_err(read())?;
        Ok(Stored {
            state: RuleState {
                firing: firing != 0,
                notified: notified != 0,
                last_sent_ms: row.try_get("last_sent_at").map_err(read())?,
            },
            version: Some(row.try_get("version").map_err(read())?),
        })
    }

    /// Writes `state` if the stored one is still at `from`'s version; `false` when
    /// another replica changed it first (it then sends, not this one).
    pub async fn change(
        &self,
        key: &(String, String),
        from: Stored,
        state: RuleState,
        now_ms: i64,
    ) -> Result<Option<Stored>, StoreError> {
        let firing = i64::from(state.firing);
        let notified = i64::from(state.notified);
        let changed = match from.version {
            None => sqlx::query(
                "INSERT INTO notification_state \
                 (namespace, name, firing, notified, last_sent_at, changed_at, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, 1) ON CONFLICT (namespace, name) DO NOTHING",
            )
            .bind(key.0.clone())
            .bind(key.1.clone())
            .bind(firing)
            .bind(notified)
            .bind(state.last_sent_ms)
            .bind(now_ms)
            .execute(&self.writer)
            .await
            .map_err(db("write a notification's state"))?
            .rows_affected(),
            Some(version) => sqlx::query(
                "UPDATE notification_state SET firing = $1, notified = $2, last_sent_at = $3, \
                 changed_at = $4, version = version + 1 \
                 WHERE namespace = $5 AND name = $6 AND version = $7",
            )
            .bind(firing)
            .bind(notified)
            .bind(state.last_sent_ms)
            .bind(now_ms)
            .bind(key.0.clone())
            .bind(key.1.clone())
            .bind(version)
            .execute(&self.writer)
            .await
            .map_err(db("write a notification's state"))?
            .rows_affected(),
        };
        Ok((changed == 1).then_some(Stored {
            state,
            version: Some(from.version.unwrap_or(0) + 1),
        }))
    }

    /// How many tasks of `route` ended `failed` at or after `since_ms`, and the last
    /// error of the latest of them.
    pub async fn failed_since(
        &self,
        route: &RouteKey,
        since_ms: i64,
    ) -> Result<(u64, Option<String>), StoreError> {
        let count: i64 = sqlx::query(&self.statements.failed_since)
            .bind(route.namespace.clone())
            .bind(route.route.clone())
            .bind(since_ms)
            .fetch_one(&self.reader)
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(db("count failed tasks"))?;
        if count == 0 {
            return Ok((0, None));
        }
        let last_error: Option<String> = sqlx::query(&self.statements.last_failed)
            .bind(route.namespace.clone())
            .bind(route.route.clone())
            .bind(since_ms)
            .fetch_optional(&self.reader)
            .await
            .map_err(db("read the last failed task"))?
            .map(|row| row.try_get("last_error"))
            .transpose()
            .map_err(db("read the last failed task"))?
            .flatten();
        Ok((u64::try_from(count).unwrap_or(0), last_error))
    }

    /// When the oldest `pending` or `processing` task of `route` was queued (ms since
    /// the epoch): per state, the smallest id among the entries of its partial index.
    pub async fn oldest_active(&self, route: &RouteKey) -> Result<Option<i64>, StoreError> {
        let mut oldest: Option<i64> = None;
        for sql in &self.statements.oldest {
            let created: Option<i64> = sqlx::query(sql)
                .bind(route.namespace.clone())
                .bind(route.route.clone())
                .fetch_optional(&self.reader)
                .await
                .map_err(db("read the oldest waiting task"))?
                .map(|row| row.try_get("created_at"))
                .transpose()
                .map_err(db("read the oldest waiting task"))?;
            oldest = match (oldest, created) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(oldest)
    }
}
