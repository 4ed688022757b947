//! The queue in SQL, for SQLite (embedded, the default) and PostgreSQL (shared by several
//! runners). Both run the same statements through `sqlx::Any`; [`Dialect`] holds the few
//! differences.

mod commit;
mod gauges;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row};

use crate::metrics::events::{self, TakeBack};

use super::{
    Ack, Completion, LeasedTask, LogLine, NewTask, OnTimeout, Outcome, PROXY_SOURCE, PollClaim,
    QueueError, QueueStore, RouteActivity, RouteCounts, RouteGauges, RouteKey, StateCounts,
    TaskAction, TaskDetail, TaskFilter, TaskState, TaskSummary, UNREADABLE_SOURCE, WriteBatch,
    now_ms, now_us,
};

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's parameter limits.
const INSERT_CHUNK: usize = 500;
/// How long a SQLite write waits for a lock another process holds before it fails
/// (`SQLITE_BUSY`, a failed commit like any other).
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Row locking for concurrent leasing. SQLite has one writer at a time, so it needs
    /// none; PostgreSQL runners skip each other's rows instead of waiting for them.
    /// `count` parameter placeholders starting at number `first`. SQLite gets
    /// positional `?`: with numbered ones, binding looks each name up in a list, which
    /// makes a 5,000-parameter batch insert quadratic. PostgreSQL only takes `$n`.
    fn params(self, first: usize, count: usize) -> String {
        match self {
            Self::Sqlite => vec!["?"; count].join(", "),
            Self::Postgres => (first..first + count)
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// `(…), (…)` placeholders for a multi-row INSERT of `rows` × `cols` values.
    pub(super) fn rows(self, rows: usize, cols: usize) -> String {
        (0..rows)
            .map(|row| format!("({})", self.params(row * cols + 1, cols)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn lock_clause(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueUrlError {
    #[error("unsupported queue URL scheme in `{0}`; use sqlite:// or postgres://")]
    Scheme(String),
    #[error("cannot connect to the queue database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// The SQL queue store.
pub struct SqlQueue {
    pub(super) dialect: Dialect,
    /// Writes go through this pool. On SQLite it holds one connection: SQLite has a
    /// single writer, and queueing in the pool is cheaper than `SQLITE_BUSY` retries.
    pub(super) writer: AnyPool,
    /// Reads for the API. On SQLite, WAL lets them run beside the writer.
    pub(super) reader: AnyPool,
    lease_duration: Duration,
}

impl SqlQueue {
    /// The default queue: a SQLite file in `data_dir`.
    pub fn default_url(data_dir: &Path) -> String {
        format!("sqlite://{}?mode=rwc", data_dir.join("queue.db").display())
    }

    /// Connects to `url` (`sqlite://…` or `postgres://…`) and migrates the schema.
    /// Leases last `lease_duration`.
    pub async fn connect(url: &str, lease_duration: Duration) -> Result<Self, QueueUrlError> {
        Self::connect_with(url, lease_duration, DEFAULT_BUSY_TIMEOUT).await
    }

    /// [`SqlQueue::connect`] with SQLite's lock wait set to `busy_timeout`.
    pub async fn connect_with(
        url: &str,
        lease_duration: Duration,
        busy_timeout: Duration,
    ) -> Result<Self, QueueUrlError> {
        sqlx::any::install_default_drivers();
        let busy_timeout_ms = busy_timeout.as_millis();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            return Err(QueueUrlError::Scheme(redact_url(url)));
        };
        let (writer, reader) = match dialect {
            Dialect::Sqlite => {
                let options = || {
                    AnyPoolOptions::new().after_connect(move |conn, _| {
                        Box::pin(async move {
                            // WAL with FULL sync: every commit is fsynced, so a committed
                            // task survives power loss, not only a crash.
                            sqlx::query("PRAGMA journal_mode=WAL")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA synchronous=FULL")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query(&format!("PRAGMA busy_timeout={busy_timeout_ms}"))
                                .execute(&mut *conn)
                                .await?;
                            Ok(())
                        })
                    })
                };
                let writer = commit::untrusted_connections_closed(options())
                    .max_connections(1)
                    .connect(url)
                    .await
                    .map_err(QueueUrlError::Connect)?;
                let reader = options()
                    .max_connections(4)
                    .connect(url)
                    .await
                    .map_err(QueueUrlError::Connect)?;
                (writer, reader)
            }
            Dialect::Postgres => {
                let pool = commit::untrusted_connections_closed(AnyPoolOptions::new())
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await
                    .map_err(QueueUrlError::Connect)?;
                (pool.clone(), pool)
            }
        };
        sqlx::migrate!("./migrations")
            .run(&writer)
            .await
            .map_err(QueueError::from)?;
        let queue = Self {
            dialect,
            writer,
            reader,
            lease_duration,
        };
        match dialect {
            Dialect::Sqlite => queue.reclaim_leases().await?,
            Dialect::Postgres => queue.tune_vacuum().await?,
        }
        Ok(queue)
    }

    /// Every task row is updated two or three times in its life, and every lease walks
    /// the index over the dead versions left behind until a vacuum removes them. The
    /// default (vacuum after 20 % of the table changed) lets a busy queue slow itself
    /// down; vacuum this table early and without throttling.
    async fn tune_vacuum(&self) -> Result<(), QueueError> {
        sqlx::query(
            "ALTER TABLE tasks SET (autovacuum_vacuum_scale_factor = 0.01, \
             autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_cost_delay = 0, \
             autovacuum_analyze_scale_factor = 0.02)",
        )
        .execute(&self.writer)
        .await
        .map_err(QueueError::db("tune vacuum"))?;
        Ok(())
    }

    /// The key-value storage in the same database, sharing this queue's pools (SQLite
    /// keeps its single writer).
    pub fn storage(&self) -> crate::storage::SqlStorage {
        crate::storage::SqlStorage::new(self.writer.clone(), self.reader.clone())
    }

    /// The audit trail in the same database, sharing this queue's pools.
    pub fn audit(&self) -> crate::audit::SqlAudit {
        crate::audit::SqlAudit::new(self.writer.clone(), self.reader.clone())
    }

    /// The Notification state in the same database, sharing this queue's pools.
    pub fn notifications(&self) -> crate::notify::SqlNotifications {
        crate::notify::SqlNotifications::new(self.writer.clone(), self.reader.clone())
    }

    /// Makes every leased task due again. Only for a queue no other runner uses: the
    /// embedded SQLite file belongs to the runner that opened it.
    async fn reclaim_leases(&self) -> Result<(), QueueError> {
        let reclaimed = sqlx::query(
            "UPDATE tasks SET state = 'pending', lease_until = NULL, lease_token = NULL WHERE state = 'processing'",
        )
        .execute(&self.writer)
        .await
        .map_err(QueueError::db("reclaim leases"))?
        .rows_affected();
        // Likewise the poll claims of a runner that died mid-poll: its next ticks run
        // at once.
        sqlx::query("UPDATE poll_claims SET lease_until = 0")
            .execute(&self.writer)
            .await
            .map_err(QueueError::db("reclaim poll claims"))?;
        events::leases_taken_back(TakeBack::Restart, reclaimed);
        Ok(())
    }

    async fn insert_tasks(
        dialect: Dialect,
        tx: &mut sqlx::Transaction<'_, Any>,
        tasks: &[NewTask],
        now: i64,
    ) -> Result<(), QueueError> {
        for chunk in tasks.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO tasks (id, namespace, route, state, item, source, attempts, created_at, updated_at, next_attempt_at, last_error, trace_context) VALUES {}",
                dialect.rows(chunk.len(), 12)
            );
            let mut query = sqlx::query(&sql);
            for task in chunk {
                let (state, attempts) = task.initial_state();
                query = query
                    .bind(task.id.clone())
                    .bind(task.route.namespace.clone())
                    .bind(task.route.route.clone())
                    .bind(state.as_str())
                    .bind(task.item.to_string())
                    .bind(task.source)
                    .bind(attempts)
                    .bind(now)
                    .bind(now)
                    .bind(now)
                    .bind(task.failure.clone())
                    .bind(task.trace.clone());
            }
            query
                .execute(&mut **tx)
                .await
                .map_err(QueueError::db("insert tasks"))?;
        }
        Ok(())
    }

    pub(super) async fn insert_logs(
        dialect: Dialect,
        tx: &mut sqlx::Transaction<'_, Any>,
        lines: &[(&str, &LogLine)],
    ) -> Result<(), QueueError> {
        for chunk in lines.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO task_logs (task_id, at, seq, message) VALUES {}",
                dialect.rows(chunk.len(), 4)
            );
            let mut query = sqlx::query(&sql);
            for (seq, (task_id, line)) in chunk.iter().enumerate() {
                query = query
                    .bind(task_id.to_string())
                    .bind(line.at_us)
                    .bind(seq as i64)
                    .bind(line.message.clone());
            }
            query
                .execute(&mut **tx)
                .await
                .map_err(QueueError::db("insert task logs"))?;
        }
        Ok(())
    }

    async fn apply_completions(
        dialect: Dialect,
        tx: &mut sqlx::Transaction<'_, Any>,
        completions: &[Completion],
        now: i64,
    ) -> Result<(), QueueError> {
        // Successful deliveries are the bulk: one statement per lease token.
        let mut done_by_token: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for completion in completions {
            match &completion.outcome {
                Outcome::Done => done_by_token
                    .entry(completion.lease_token.as_str())
                    .or_default()
                    .push(completion.id.as_str()),
                Outcome::Skipped => {
                    Self::finish_one(tx, completion, TaskState::Skipped, now, None, None).await?
                }
                Outcome::Released => {
                    sqlx::query(
                        "UPDATE tasks SET state = 'pending', attempts = attempts - 1, updated_at = $1, \
                         lease_until = NULL, lease_token = NULL WHERE id = $2 AND lease_token = $3",
                    )
                    .bind(now)
                    .bind(completion.id.clone())
                    .bind(completion.lease_token.clone())
                    .execute(&mut **tx)
                    .await
                    .map_err(QueueError::db("release task"))?;
                }
                Outcome::Failed { error } => {
                    Self::finish_one(tx, completion, TaskState::Failed, now, None, Some(error))
                        .await?
                }
                Outcome::Waiting {
                    correlation,
                    until_ms,
                } => Self::wait_one(tx, completion, correlation, *until_ms, now).await?,
                Outcome::Retry {
                    next_attempt_at_ms,
                    error,
                } => {
                    Self::finish_one(
                        tx,
                        completion,
                        TaskState::Pending,
                        now,
                        Some(*next_attempt_at_ms),
                        Some(error),
                    )
                    .await?
                }
            }
        }
        for (token, ids) in done_by_token {
            for chunk in ids.chunks(INSERT_CHUNK) {
                let sql = format!(
                    "UPDATE tasks SET state = 'done', updated_at = {}, lease_until = NULL, lease_token = NULL, \
                     last_error = NULL WHERE lease_token = {} AND id IN ({})",
                    dialect.params(1, 1),
                    dialect.params(2, 1),
                    dialect.params(3, chunk.len())
                );
                let mut query = sqlx::query(&sql).bind(now).bind(token.to_owned());
                for id in chunk {
                    query = query.bind(id.to_string());
                }
                query
                    .execute(&mut **tx)
                    .await
                    .map_err(QueueError::db("complete tasks"))?;
            }
        }
        Ok(())
    }

    async fn finish_one(
        tx: &mut sqlx::Transaction<'_, Any>,
        completion: &Completion,
        state: TaskState,
        now: i64,
        next_attempt_at: Option<i64>,
        error: Option<&String>,
    ) -> Result<(), QueueError> {
        sqlx::query(
            "UPDATE tasks SET state = $1, updated_at = $2, next_attempt_at = COALESCE($3, next_attempt_at), \
             last_error = COALESCE($4, last_error), lease_until = NULL, lease_token = NULL \
             WHERE id = $5 AND lease_token = $6",
        )
        .bind(state.as_str())
        .bind(now)
        .bind(next_attempt_at)
        .bind(error.cloned())
        .bind(completion.id.clone())
        .bind(completion.lease_token.clone())
        .execute(&mut **tx)
        .await
        .map_err(QueueError::db("complete task"))?;
        Ok(())
    }

    /// The task's state and source.
    pub(super) async fn state_of(
        &self,
        namespace: &str,
        id: &str,
    ) -> Result<Option<(TaskState, String)>, QueueError> {
        let row = sqlx::query("SELECT state, source FROM tasks WHERE namespace = $1 AND id = $2")
            .bind(namespace.to_owned())
            .bind(id.to_owned())
            .fetch_optional(&self.writer)
            .await
            .map_err(QueueError::db("read task state"))?;
        row.map(|row| {
            let source: String = row
                .try_get("source")
                .map_err(QueueError::db("read task state"))?;
            Ok((parse_state(id, &row)?, source))
        })
        .transpose()
    }
}

pub(super) fn parse_state(id: &str, row: &AnyRow) -> Result<TaskState, QueueError> {
    let text: String = row
        .try_get("state")
        .map_err(QueueError::db("read task state"))?;
    TaskState::from_str(&text).map_err(|e| QueueError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    })
}

fn summary(row: &AnyRow) -> Result<TaskSummary, QueueError> {
    let get = QueueError::db("read task");
    let id: String = row.try_get("id").map_err(QueueError::db("read task"))?;
    Ok(TaskSummary {
        state: parse_state(&id, row)?,
        namespace: row
            .try_get("namespace")
            .map_err(QueueError::db("read task"))?,
        route: row.try_get("route").map_err(QueueError::db("read task"))?,
        source: row.try_get("source").map_err(QueueError::db("read task"))?,
        attempts: row
            .try_get("attempts")
            .map_err(QueueError::db("read task"))?,
        created_at_ms: row
            .try_get("created_at")
            .map_err(QueueError::db("read task"))?,
        updated_at_ms: row
            .try_get("updated_at")
            .map_err(QueueError::db("read task"))?,
        next_attempt_at_ms: row
            .try_get("next_attempt_at")
            .map_err(QueueError::db("read task"))?,
        last_error: row.try_get("last_error").map_err(get)?,
        correlation: row
            .try_get("correlation")
            .map_err(QueueError::db("read task"))?,
        trace_id: row
            .try_get::<Option<String>, _>("trace_context")
            .map_err(QueueError::db("read task"))?
            .as_deref()
            .and_then(crate::telemetry::context::trace_id)
            .map(str::to_owned),
        id,
    })
}

fn parse_item(id: &str, text: &str) -> Result<serde_json::Value, QueueError> {
    serde_json::from_str(text).map_err(|e| QueueError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    })
}

const SUMMARY_COLUMNS: &str = "id, namespace, route, state, source, attempts, created_at, updated_at, next_attempt_at, last_error, correlation, trace_context";

#[async_trait]
impl QueueStore for SqlQueue {
    async fn write(&self, batch: WriteBatch) -> Result<(), QueueError> {
        self.write_durably(&batch).await
    }

    async fn probe(&self) -> Result<(), QueueError> {
        self.probe_write().await
    }

    async fn claim_poll(&self, claim: &PollClaim, lease: Duration) -> Result<bool, QueueError> {
        self.claim_poll_row(claim, lease).await
    }

    async fn renew_poll(&self, claim: &PollClaim, lease: Duration) -> Result<bool, QueueError> {
        Self::renew_claim_on(&self.writer, claim, lease).await
    }

    async fn release_poll(&self, claim: &PollClaim) -> Result<(), QueueError> {
        self.release_claim(claim).await
    }

    async fn heartbeat(&self, holder: &str, ttl: Duration) -> Result<u32, QueueError> {
        self.beat(holder, ttl).await
    }

    async fn prune_provenance(&self) -> Result<u64, QueueError> {
        self.prune_kept_steps().await
    }

    async fn lease(
        &self,
        route: &RouteKey,
        limit: u32,
        now_ms: i64,
    ) -> Result<Vec<LeasedTask>, QueueError> {
        let token = uuid::Uuid::now_v7().to_string();
        let lease_until =
            now_ms + i64::try_from(self.lease_duration.as_millis()).unwrap_or(i64::MAX / 2);
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(QueueError::db("begin lease"))?;
        // Leases that ran out (a runner died, or stalled) make their tasks due again.
        // Through `tasks_leases` this finds nothing, cheaply, almost every time.
        let taken_back = sqlx::query(
            "UPDATE tasks SET state = 'pending', lease_until = NULL, lease_token = NULL \
             WHERE state = 'processing' AND lease_until < $1",
        )
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(QueueError::db("take back expired leases"))?
        .rows_affected();
        let sql = format!(
            "UPDATE tasks SET state = 'processing', attempts = attempts + 1, lease_until = $1, lease_token = $2, updated_at = $3 \
             WHERE id IN (SELECT id FROM tasks WHERE namespace = $4 AND route = $5 AND state = 'pending' \
             AND next_attempt_at <= $3 ORDER BY next_attempt_at, id LIMIT $6{}) \
             RETURNING id, item, attempts, created_at, trace_context",
            self.dialect.lock_clause()
        );
        let rows = sqlx::query(&sql)
            .bind(lease_until)
            .bind(token.clone())
            .bind(now_ms)
            .bind(route.namespace.clone())
            .bind(route.route.clone())
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(QueueError::db("lease tasks"))?;
        tx.commit().await.map_err(QueueError::db("commit lease"))?;
        events::leases_taken_back(TakeBack::Expired, taken_back);
        let mut tasks = rows
            .iter()
            .map(|row| {
                let id: String = row
                    .try_get("id")
                    .map_err(QueueError::db("read leased task"))?;
                let item: String = row
                    .try_get("item")
                    .map_err(QueueError::db("read leased task"))?;
                Ok(LeasedTask {
                    item: parse_item(&id, &item)?,
                    attempts: row
                        .try_get("attempts")
                        .map_err(QueueError::db("read leased task"))?,
                    created_at_ms: row
                        .try_get("created_at")
                        .map_err(QueueError::db("read leased task"))?,
                    trace: row
                        .try_get("trace_context")
                        .map_err(QueueError::db("read leased task"))?,
                    route: route.clone(),
                    lease_token: token.clone(),
                    id,
                })
            })
            .collect::<Result<Vec<_>, QueueError>>()?;
        tasks.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(tasks)
    }

    async fn gauges(&self, routes: &[RouteKey]) -> Result<Vec<RouteGauges>, QueueError> {
        self.read_gauges(routes).await
    }

    async fn counts(&self, namespace: &str) -> Result<Vec<RouteCounts>, QueueError> {
        let rows = sqlx::query(
            "SELECT route, state, COUNT(*) AS n FROM tasks WHERE namespace = $1 GROUP BY route, state ORDER BY route",
        )
        .bind(namespace.to_owned())
        .fetch_all(&self.reader)
        .await
        .map_err(QueueError::db("count tasks"))?;
        let mut out: Vec<RouteCounts> = Vec::new();
        for row in rows {
            let route: String = row
                .try_get("route")
                .map_err(QueueError::db("count tasks"))?;
            let state = parse_state(&route, &row)?;
            let n: i64 = row.try_get("n").map_err(QueueError::db("count tasks"))?;
            match out.last_mut() {
                Some(last) if last.route == route => last.counts.add(state, n),
                _ => {
                    let mut counts = StateCounts::default();
                    counts.add(state, n);
                    out.push(RouteCounts { route, counts });
                }
            }
        }
        Ok(out)
    }

    async fn list(
        &self,
        namespace: &str,
        filter: &TaskFilter,
    ) -> Result<Vec<TaskSummary>, QueueError> {
        let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM tasks WHERE namespace = $1");
        let mut binds = vec![namespace.to_owned()];
        let conditions = [
            ("route", filter.route.clone()),
            ("state", filter.state.map(|s| s.as_str().to_owned())),
        ];
        for (column, value) in conditions {
            if let Some(value) = value {
                binds.push(value);
                sql.push_str(&format!(" AND {column} = ${}", binds.len()));
            }
        }
        if let Some(cursor) = &filter.cursor {
            binds.push(cursor.clone());
            sql.push_str(&format!(" AND id > ${}", binds.len()));
        }
        if let Some(text) = &filter.text {
            binds.push(format!("%{}%", like_escape(&text.to_lowercase())));
            sql.push_str(&format!(
                " AND LOWER(item) LIKE ${} ESCAPE '\\'",
                binds.len()
            ));
        }
        // Integers, not user text: safe to write into the statement.
        if let Some(after) = filter.created_after_ms {
            sql.push_str(&format!(" AND created_at >= {after}"));
        }
        if let Some(before) = filter.created_before_ms {
            sql.push_str(&format!(" AND created_at < {before}"));
        }
        sql.push_str(&format!(" ORDER BY id LIMIT ${}", binds.len() + 1));
        let mut query = sqlx::query(&sql);
        for value in binds {
            query = query.bind(value);
        }
        let rows = query
            .bind(i64::from(filter.limit))
            .fetch_all(&self.reader)
            .await
            .map_err(QueueError::db("list tasks"))?;
        rows.iter().map(summary).collect()
    }

    async fn get(&self, namespace: &str, id: &str) -> Result<Option<TaskDetail>, QueueError> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS}, item FROM tasks WHERE namespace = $1 AND id = $2"
        ))
        .bind(namespace.to_owned())
        .bind(id.to_owned())
        .fetch_optional(&self.reader)
        .await
        .map_err(QueueError::db("read task"))?
        else {
            return Ok(None);
        };
        let item: String = row.try_get("item").map_err(QueueError::db("read task"))?;
        let log =
            sqlx::query("SELECT at, message FROM task_logs WHERE task_id = $1 ORDER BY at, seq")
                .bind(id.to_owned())
                .fetch_all(&self.reader)
                .await
                .map_err(QueueError::db("read task log"))?
                .iter()
                .map(|line| {
                    Ok(LogLine {
                        at_us: line
                            .try_get("at")
                            .map_err(QueueError::db("read task log"))?,
                        message: line
                            .try_get("message")
                            .map_err(QueueError::db("read task log"))?,
                    })
                })
                .collect::<Result<Vec<_>, QueueError>>()?;
        Ok(Some(TaskDetail {
            summary: summary(&row)?,
            item: parse_item(id, &item)?,
            log,
            provenance: self.read_provenance(id).await?,
        }))
    }

    async fn act(
        &self,
        namespace: &str,
        id: &str,
        action: &TaskAction,
    ) -> Result<Option<TaskState>, QueueError> {
        let Some((state, source)) = self.state_of(namespace, id).await? else {
            return Ok(None);
        };
        if matches!(action, TaskAction::Retry { .. }) && source == UNREADABLE_SOURCE {
            return Err(QueueError::NotRetriable { id: id.to_owned() });
        }
        if matches!(action, TaskAction::Retry { .. }) && source == PROXY_SOURCE {
            return Err(QueueError::ProxiedCall { id: id.to_owned() });
        }
        let (allowed, target, verb, message): (&[TaskState], TaskState, &'static str, String) =
            match action {
                TaskAction::Retry { actor } => (
                    &[
                        TaskState::Failed,
                        TaskState::Skipped,
                        TaskState::Pending,
                        TaskState::Waiting,
                    ],
                    TaskState::Pending,
                    "retried",
                    format!("Retry requested by {actor}; attempts reset"),
                ),
                TaskAction::Discard { actor, reason } => (
                    &[TaskState::Pending, TaskState::Failed, TaskState::Waiting],
                    TaskState::Skipped,
                    "discarded",
                    format!("Discarded by {actor}: {reason}"),
                ),
                TaskAction::Ack(ack) => return self.ack_task(namespace, id, ack).await,
            };
        if !allowed.contains(&state) {
            return Err(QueueError::InvalidTransition {
                id: id.to_owned(),
                state,
                action: verb,
            });
        }
        let now = now_ms();
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(QueueError::db("begin task action"))?;
        let updated = sqlx::query(
            "UPDATE tasks SET state = $1, updated_at = $2, next_attempt_at = $2, \
             attempts = CASE WHEN $1 = 'pending' THEN 0 ELSE attempts END \
             WHERE namespace = $3 AND id = $4 AND state = $5",
        )
        .bind(target.as_str())
        .bind(now)
        .bind(namespace.to_owned())
        .bind(id.to_owned())
        .bind(state.as_str())
        .execute(&mut *tx)
        .await
        .map_err(QueueError::db("apply task action"))?
        .rows_affected();
        if updated == 0 {
            // The task moved on between our read and our write (a runner leased it).
            let current = self
                .state_of(namespace, id)
                .await?
                .map_or(state, |(current, _)| current);
            return Err(QueueError::InvalidTransition {
                id: id.to_owned(),
                state: current,
                action: verb,
            });
        }
        let line = LogLine {
            at_us: now_us(),
            message,
        };
        Self::insert_logs(self.dialect, &mut tx, &[(id, &line)]).await?;
        tx.commit()
            .await
            .map_err(QueueError::db("commit task action"))?;
        Ok(Some(target))
    }

    async fn undelivered(&self, route: &RouteKey, at_most: u64) -> Result<u64, QueueError> {
        // A walk over `tasks_due` that stops at the limit.
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM tasks WHERE namespace = $1 AND route = $2 \
             AND state IN ('pending', 'processing') LIMIT $3) AS undelivered",
        )
        .bind(route.namespace.clone())
        .bind(route.route.clone())
        .bind(i64::try_from(at_most).unwrap_or(i64::MAX))
        .fetch_one(&self.reader)
        .await
        .map_err(QueueError::db("count undelivered tasks"))?;
        let n: i64 = row
            .try_get("n")
            .map_err(QueueError::db("count undelivered tasks"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn activity(&self, route: &RouteKey) -> Result<RouteActivity, QueueError> {
        let read = QueueError::db("read route activity");
        let bind = |sql: &'static str| {
            sqlx::query(sql)
                .bind(route.namespace.clone())
                .bind(route.route.clone())
        };
        let mut activity = RouteActivity::default();
        let counts = bind(
            "SELECT state, COUNT(*) AS n FROM tasks WHERE namespace = $1 AND route = $2 GROUP BY state",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(QueueError::db("read route activity"))?;
        for row in counts {
            let n: i64 = row
                .try_get("n")
                .map_err(QueueError::db("read route activity"))?;
            activity.counts.add(parse_state(&route.route, &row)?, n);
        }
        let times = bind(
            "SELECT (SELECT MIN(created_at) FROM tasks WHERE namespace = $1 AND route = $2 AND state = 'pending') AS oldest, \
             (SELECT MAX(updated_at) FROM tasks WHERE namespace = $1 AND route = $2 AND state = 'done') AS last_done",
        )
        .fetch_one(&self.reader)
        .await
        .map_err(QueueError::db("read route activity"))?;
        activity.oldest_pending_ms = times
            .try_get("oldest")
            .map_err(QueueError::db("read route activity"))?;
        activity.last_done_ms = times
            .try_get("last_done")
            .map_err(QueueError::db("read route activity"))?;
        let error = bind(
            "SELECT id, updated_at, last_error FROM tasks WHERE namespace = $1 AND route = $2 \
             AND state IN ('pending', 'failed') AND last_error IS NOT NULL ORDER BY updated_at DESC LIMIT 1",
        )
        .fetch_optional(&self.reader)
        .await
        .map_err(QueueError::db("read route activity"))?;
        if let Some(row) = error {
            activity.last_error = Some((
                row.try_get("id")
                    .map_err(QueueError::db("read route activity"))?,
                row.try_get("updated_at")
                    .map_err(QueueError::db("read route activity"))?,
                row.try_get("last_error").map_err(read)?,
            ));
        }
        Ok(activity)
    }

    async fn purge(&self, states: &[TaskState], before_ms: i64) -> Result<u64, QueueError> {
        let states: Vec<TaskState> = states
            .iter()
            .copied()
            .filter(|s| matches!(s, TaskState::Done | TaskState::Failed | TaskState::Skipped))
            .collect();
        if states.is_empty() {
            return Ok(0);
        }
        let old = format!(
            "state IN ({}) AND updated_at < {}",
            self.dialect.params(1, states.len()),
            self.dialect.params(states.len() + 1, 1)
        );
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(QueueError::db("begin purge"))?;
        let logs =
            format!("DELETE FROM task_logs WHERE task_id IN (SELECT id FROM tasks WHERE {old})");
        let tasks = format!("DELETE FROM tasks WHERE {old}");
        let mut purged = 0;
        for sql in [&logs, &tasks] {
            let mut query = sqlx::query(sql);
            for state in &states {
                query = query.bind(state.as_str());
            }
            purged = query
                .bind(before_ms)
                .execute(&mut *tx)
                .await
                .map_err(QueueError::db("purge tasks"))?
                .rows_affected();
        }
        tx.commit().await.map_err(QueueError::db("commit purge"))?;
        Ok(purged)
    }

    async fn ack_correlated(
        &self,
        route: &RouteKey,
        correlation: &str,
        ack: &Ack,
    ) -> Result<Vec<String>, QueueError> {
        self.ack_by_correlation(route, correlation, ack).await
    }

    async fn expire_waiting(
        &self,
        route: &RouteKey,
        now_ms: i64,
        on_timeout: OnTimeout,
        reason: &str,
    ) -> Result<Vec<(String, TaskState)>, QueueError> {
        self.expire(route, now_ms, on_timeout, reason).await
    }

    async fn retry_failed(&self, route: &RouteKey, actor: &str) -> Result<u64, QueueError> {
        let now = now_ms();
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(QueueError::db("begin retry-failed"))?;
        let ids: Vec<String> = sqlx::query(
            "UPDATE tasks SET state = 'pending', attempts = 0, updated_at = $1, next_attempt_at = $1 \
             WHERE namespace = $2 AND route = $3 AND state = 'failed' AND source <> $4 AND source <> $5 \
             RETURNING id",
        )
        .bind(now)
        .bind(route.namespace.clone())
        .bind(route.route.clone())
        .bind(UNREADABLE_SOURCE)
        .bind(PROXY_SOURCE)
        .fetch_all(&mut *tx)
        .await
        .map_err(QueueError::db("retry failed tasks"))?
        .iter()
        .map(|row| row.try_get("id").map_err(QueueError::db("retry failed tasks")))
        .collect::<Result<_, _>>()?;
        let line = LogLine {
            at_us: now_us(),
            message: format!("Retry of all failed tasks requested by {actor}; attempts reset"),
        };
        let lines: Vec<(&str, &LogLine)> = ids.iter().map(|id| (id.as_str(), &line)).collect();
        Self::insert_logs(self.dialect, &mut tx, &lines).await?;
        tx.commit()
            .await
            .map_err(QueueError::db("commit retry-failed"))?;
        Ok(ids.len() as u64)
    }
}

/// `text` for a LIKE pattern with `\` as the escape character.
fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A queue URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
