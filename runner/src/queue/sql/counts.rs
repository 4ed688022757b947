//! Task counts per (namespace, route, state), kept in `task_counts` by the transactions
//! that change states, so that reading them (`/metrics`, the API, admission) does not
//! count tasks.
//!
//! Every statement that inserts, moves or deletes tasks says how many of which route it
//! changed (from its row count, or the rows it returns: a completion under a lost lease,
//! or a task another runner took first, changes nothing and counts nothing); the
//! transaction adds the sums per (namespace, route, state) to its rows of `task_counts`
//! in one statement before it commits. The counts commit with the changes or not at
//! all, so they are exact through crashes, retries, expiry, take-backs and retention.
//!
//! Pending and processing tasks are kept as one count, `undelivered`: a lease, a
//! take-back, a release or a retry after a failed attempt changes no count and writes
//! nothing to `task_counts` (leases are as frequent as tasks). The processing tasks are
//! counted when read, from `tasks_leases` (it holds them alone: the tasks in flight), in
//! the same statement, so both come from one snapshot.
//!
//! A count is the sum of the rows of its (namespace, route, state) over `slot`s. On
//! PostgreSQL each runner process writes the slots of its own (picked at random; two
//! runners that pick the same slots only wait for each other), and in them the group
//! commit and the other writers (leases, operators' actions, expiry, retention) rows of
//! their own: a lease does not wait for the row lock of a group commit that is flushing.
//! Transactions add to their rows in one order (sorted by key) and last, after every
//! other lock they take, so they cannot deadlock on them. SQLite has one writer and uses
//! slots 0 and 1.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::SqlQueue;
use super::dialect::{Dialect, INSERT_CHUNK};
use super::states::PROCESSING;
use crate::queue::{QueueError, RouteKey, StateCounts, TaskState};

/// Slots per runner process: one for its group commit, one for its other writers.
const SLOTS_PER_RUNNER: i64 = 2;
/// Runner slot numbers a PostgreSQL runner picks from.
const RUNNER_SLOTS: i64 = 16;

/// This process's runner slot on PostgreSQL.
static RUNNER_SLOT: LazyLock<i64> = LazyLock::new(|| rand::random_range(0..RUNNER_SLOTS));

/// How `task_counts` names the count a task in `state` is in.
fn counted_as(state: TaskState) -> &'static str {
    match state {
        TaskState::Pending | TaskState::Processing => UNDELIVERED,
        other => other.as_str(),
    }
}

/// The count of the tasks pending or processing.
const UNDELIVERED: &str = "undelivered";

/// Which writer of a runner adds to the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CountWriter {
    /// The group commit: new tasks and delivery outcomes.
    GroupCommit,
    /// Leases, take-backs, operators' actions, acknowledgements, expiry, retention.
    Other,
}

impl CountWriter {
    fn slot(self, dialect: Dialect) -> i64 {
        let runner = match dialect {
            Dialect::Sqlite => 0,
            Dialect::Postgres => *RUNNER_SLOT,
        };
        let writer = match self {
            Self::GroupCommit => 0,
            Self::Other => 1,
        };
        runner * SLOTS_PER_RUNNER + writer
    }
}

/// What one transaction changed, per (namespace, route, count). Few distinct keys per
/// transaction (usually one route): a list, searched without allocating.
#[derive(Debug, Default)]
pub(super) struct CountChanges {
    changes: Vec<(RouteKey, &'static str, i64)>,
}

impl CountChanges {
    /// `n` more tasks of `route` in `state` (fewer for a negative `n`).
    pub(super) fn add(&mut self, namespace: &str, route: &str, state: TaskState, n: i64) {
        let counted = counted_as(state);
        if n == 0 {
            return;
        }
        let found = self
            .changes
            .iter_mut()
            .find(|(key, c, _)| *c == counted && key.route == route && key.namespace == namespace);
        match found {
            Some((_, _, count)) => *count += n,
            None => self.changes.push((
                RouteKey {
                    namespace: namespace.to_owned(),
                    route: route.to_owned(),
                },
                counted,
                n,
            )),
        }
    }

    /// `n` tasks of `route` moved from `from` to `to`.
    pub(super) fn moved(&mut self, route: &RouteKey, from: TaskState, to: TaskState, n: u64) {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.add(&route.namespace, &route.route, from, -n);
        self.add(&route.namespace, &route.route, to, n);
    }

    /// Each of `rows` (with `namespace` and `route` columns) is a task moved from `from`
    /// to `to`.
    pub(super) fn moved_rows(
        &mut self,
        rows: &[AnyRow],
        from: TaskState,
        to: TaskState,
    ) -> Result<(), QueueError> {
        for row in rows {
            let (namespace, route) = route_of(row)?;
            self.add(namespace, route, from, -1);
            self.add(namespace, route, to, 1);
        }
        Ok(())
    }

    /// Adds the changes to `writer`'s rows of `task_counts`, inside the transaction that
    /// made them; last, after the transaction's other writes (see the module doc).
    pub(super) async fn apply(
        mut self,
        dialect: Dialect,
        writer: CountWriter,
        conn: &mut AnyConnection,
    ) -> Result<(), QueueError> {
        self.changes.retain(|(_, _, n)| *n != 0);
        if self.changes.is_empty() {
            return Ok(());
        }
        // One order for every transaction: row locks taken in it cannot deadlock.
        self.changes.sort();
        let slot = writer.slot(dialect);
        for chunk in self.changes.chunks(INSERT_CHUNK / 5) {
            let built;
            let sql = match upserts(dialect).get(chunk.len()) {
                Some(sql) => sql.as_str(),
                None => {
                    built = upsert_sql(dialect, chunk.len());
                    built.as_str()
                }
            };
            let mut query = sqlx::query(sql);
            for (route, counted, n) in chunk {
                query = query
                    .bind(route.namespace.clone())
                    .bind(route.route.clone())
                    .bind(*counted)
                    .bind(slot)
                    .bind(*n);
            }
            query
                .execute(&mut *conn)
                .await
                .map_err(QueueError::db("count tasks"))?;
        }
        Ok(())
    }
}

/// Adds `rows` changes to their rows of `task_counts`.
fn upsert_sql(dialect: Dialect, rows: usize) -> String {
    format!(
        "{} INTO task_counts (namespace, route, state, slot, n) VALUES {} \
         ON CONFLICT (namespace, route, state, slot) DO UPDATE SET n = task_counts.n + excluded.n",
        dialect.insert(),
        dialect.rows(rows, 5)
    )
}

/// [`upsert_sql`] for the usual numbers of changes per transaction (index: rows), built
/// once: commits are as frequent as requests.
fn upserts(dialect: Dialect) -> &'static [String] {
    const CACHED: usize = 9;
    static SQLITE: LazyLock<Vec<String>> = LazyLock::new(|| {
        (0..CACHED)
            .map(|n| upsert_sql(Dialect::Sqlite, n))
            .collect()
    });
    static POSTGRES: LazyLock<Vec<String>> = LazyLock::new(|| {
        (0..CACHED)
            .map(|n| upsert_sql(Dialect::Postgres, n))
            .collect()
    });
    match dialect {
        Dialect::Sqlite => &SQLITE,
        Dialect::Postgres => &POSTGRES,
    }
}

/// The `namespace` and `route` columns of a returned task row.
pub(super) fn route_of(row: &AnyRow) -> Result<(&str, &str), QueueError> {
    let read = |column| {
        row.try_get::<&str, _>(column)
            .map_err(QueueError::db("read a changed task's route"))
    };
    Ok((read("namespace")?, read("route")?))
}

/// Which counts to read.
#[derive(Debug, Clone, Copy)]
pub(super) enum CountScope<'a> {
    /// Every route of every namespace.
    All,
    Namespace(&'a str),
    Route(&'a RouteKey),
}

/// The sums of the slots, per (namespace, route, count), and the processing tasks
/// counted, in one statement (one snapshot); `$1`, `$2`: the scope's namespace and route.
fn read_sql(dialect: Dialect, scope: &str) -> String {
    format!(
        "SELECT namespace, route, state, CAST(SUM(n) AS BIGINT) AS n FROM (\
         SELECT namespace, route, state, n FROM task_counts WHERE {scope} \
         UNION ALL SELECT namespace, route, {PROCESSING} AS state, 1 AS n FROM {leased} \
         WHERE state = {PROCESSING} AND {scope}) AS counted \
         GROUP BY namespace, route, state HAVING SUM(n) <> 0",
        leased = dialect.tasks_through("tasks_leases")
    )
}

/// The statements reading the counts of each [`CountScope`], built once per dialect.
#[derive(Debug)]
pub(super) struct CountReads {
    all: String,
    namespace: String,
    pub(super) route: String,
}

impl CountReads {
    pub(super) fn new(dialect: Dialect) -> Self {
        Self {
            all: read_sql(dialect, "1 = 1"),
            namespace: read_sql(dialect, "namespace = $1"),
            route: read_sql(dialect, "namespace = $1 AND route = $2"),
        }
    }
}

static SQLITE_READS: LazyLock<CountReads> = LazyLock::new(|| CountReads::new(Dialect::Sqlite));
static POSTGRES_READS: LazyLock<CountReads> = LazyLock::new(|| CountReads::new(Dialect::Postgres));

pub(super) fn reads(dialect: Dialect) -> &'static CountReads {
    match dialect {
        Dialect::Sqlite => &SQLITE_READS,
        Dialect::Postgres => &POSTGRES_READS,
    }
}

impl SqlQueue {
    /// The task counts of the routes in `scope`, in (namespace, route) order.
    pub(super) async fn read_counts(
        &self,
        scope: CountScope<'_>,
    ) -> Result<BTreeMap<RouteKey, StateCounts>, QueueError> {
        let failed = QueueError::db;
        let reads = reads(self.dialect);
        let query = match scope {
            CountScope::All => sqlx::query(&reads.all),
            CountScope::Namespace(namespace) => {
                sqlx::query(&reads.namespace).bind(namespace.to_owned())
            }
            CountScope::Route(route) => sqlx::query(&reads.route)
                .bind(route.namespace.clone())
                .bind(route.route.clone()),
        };
        let rows = query
            .fetch_all(&self.reader)
            .await
            .map_err(failed("count tasks"))?;
        let mut counts: BTreeMap<RouteKey, StateCounts> = BTreeMap::new();
        for row in &rows {
            let (namespace, route) = route_of(row)?;
            let counted: &str = row.try_get("state").map_err(failed("count tasks"))?;
            let n: i64 = row.try_get("n").map_err(failed("count tasks"))?;
            let entry = counts
                .entry(RouteKey {
                    namespace: namespace.to_owned(),
                    route: route.to_owned(),
                })
                .or_default();
            if counted == UNDELIVERED {
                entry.add(TaskState::Pending, n);
            } else {
                let state = super::rows::parse_state(route, row)?;
                entry.add(state, n);
                // The processing tasks are among the undelivered ones.
                if state == TaskState::Processing {
                    entry.add(TaskState::Pending, -n);
                }
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::queue::{
        Ack, AckOutcome, Completion, NewTask, OnTimeout, Outcome, QueueStore, TaskAction,
        WriteBatch, now_ms,
    };

    const LEASE: Duration = Duration::from_secs(60);

    fn route(name: &str) -> RouteKey {
        RouteKey {
            namespace: "shop".into(),
            route: name.into(),
        }
    }

    fn task(route: &RouteKey) -> NewTask {
        NewTask {
            id: uuid::Uuid::now_v7().to_string(),
            route: route.clone(),
            item: serde_json::json!({}),
            source: "webhook",
            log: Vec::new(),
            failure: None,
            provenance: None,
            trace: None,
            stored: None,
        }
    }

    /// The kept counts equal the tasks counted.
    async fn assert_exact(queue: &SqlQueue, after: &str) {
        let rows = sqlx::query(
            "SELECT namespace, route, state, COUNT(*) AS n FROM tasks GROUP BY namespace, route, state",
        )
        .fetch_all(&queue.reader)
        .await
        .expect("count the tasks");
        let mut counted: BTreeMap<RouteKey, StateCounts> = BTreeMap::new();
        for row in &rows {
            let (namespace, route) = route_of(row).expect("route");
            let state = super::super::rows::parse_state(route, row).expect("state");
            counted
                .entry(RouteKey {
                    namespace: namespace.into(),
                    route: route.into(),
                })
                .or_default()
                .add(state, row.try_get("n").expect("n"));
        }
        let kept = queue.read_counts(CountScope::All).await.expect("counts");
        assert_eq!(kept, counted, "after {after}");
    }

    async fn write(queue: &SqlQueue, new_tasks: Vec<NewTask>, completions: Vec<Completion>) {
        queue
            .write(WriteBatch {
                new_tasks,
                completions,
                ..WriteBatch::default()
            })
            .await
            .expect("write");
    }

    /// Every way a task changes state, on two routes at once, keeps the counts exact:
    /// intake (pending, failed, proxied done), every delivery outcome, a completion
    /// under a lost lease, take-back of expired leases, acknowledgements, expiry,
    /// operators' actions, retry of every failed task, retention, and a restart.
    #[tokio::test]
    async fn counts_stay_exact_through_every_state_change() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = SqlQueue::default_url(dir.path());
        let queue = SqlQueue::connect(&url, LEASE).await.expect("queue");
        let (orders, invoices) = (route("orders"), route("invoices"));
        let mut tasks: Vec<NewTask> = (0..12).map(|_| task(&orders)).collect();
        tasks.extend((0..3).map(|_| task(&invoices)));
        tasks.push(NewTask::unreadable(
            orders.clone(),
            serde_json::json!({}),
            "bad".into(),
            Vec::new(),
        ));
        tasks.push(NewTask::proxied(
            invoices.clone(),
            serde_json::json!({}),
            None,
            Vec::new(),
        ));
        write(&queue, tasks, Vec::new()).await;
        assert_exact(&queue, "intake").await;

        let now = now_ms();
        let leased = queue.lease(&orders, 8, now).await.expect("lease");
        assert_eq!(leased.len(), 8);
        let billed = queue.lease(&invoices, 8, now).await.expect("lease");
        assert!(billed.len() >= 2, "{billed:?}");
        assert_exact(&queue, "leases").await;

        let mut stale = Completion::of(&leased[7], Outcome::Done);
        stale.lease_token = "lost".into();
        let outcomes = vec![
            Completion::of(&leased[0], Outcome::Done),
            Completion::of(&leased[1], Outcome::Done),
            Completion::of(&leased[2], Outcome::Skipped),
            Completion::of(
                &leased[3],
                Outcome::Failed {
                    error: "bad".into(),
                },
            ),
            Completion::of(
                &leased[4],
                Outcome::Retry {
                    next_attempt_at_ms: now,
                    error: "503".into(),
                },
            ),
            Completion::of(&leased[5], Outcome::Released),
            Completion::of(
                &leased[6],
                Outcome::Waiting {
                    correlation: "c-6".into(),
                    until_ms: now + 1_000,
                },
            ),
            stale,
            // Another route's outcomes in the same batch: its counts move, not orders'.
            Completion::of(&billed[0], Outcome::Done),
            Completion::of(
                &billed[1],
                Outcome::Failed {
                    error: "bad".into(),
                },
            ),
        ];
        write(&queue, vec![task(&orders)], outcomes).await;
        assert_exact(&queue, "completions").await;

        // The lease of the task whose completion was lost runs out: the next lease takes
        // it back (from another route's lease) and leases it again.
        let later = now + 2 * LEASE.as_millis() as i64;
        queue.lease(&invoices, 1, later).await.expect("lease");
        assert_exact(&queue, "take-back").await;
        let again = queue.lease(&orders, 1, later).await.expect("lease");
        assert_exact(&queue, "a lease after the take-back").await;
        write(
            &queue,
            Vec::new(),
            vec![Completion::of(
                &again[0],
                Outcome::Waiting {
                    correlation: "c-7".into(),
                    until_ms: now + 1_000,
                },
            )],
        )
        .await;

        let ack = Ack {
            actor: "test".into(),
            outcome: AckOutcome::Failed,
            message: None,
        };
        let acked = queue
            .ack_correlated(&orders, "c-6", &ack)
            .await
            .expect("ack");
        assert_eq!(acked.len(), 1);
        assert_exact(&queue, "an acknowledgement").await;
        let expired = queue
            .expire_waiting(&orders, later, OnTimeout::Fail, "timed out")
            .await
            .expect("expire");
        assert!(!expired.is_empty());
        assert_exact(&queue, "expiry").await;

        let retry = TaskAction::Retry {
            actor: "test".into(),
        };
        queue
            .act("shop", &leased[2].id, &retry)
            .await
            .expect("retry");
        let discard = TaskAction::Discard {
            actor: "test".into(),
            reason: "r".into(),
        };
        queue
            .act("shop", &leased[4].id, &discard)
            .await
            .expect("discard");
        assert_exact(&queue, "operators' actions").await;
        assert!(
            queue
                .retry_failed(&orders, "test")
                .await
                .expect("retry failed")
                > 0
        );
        assert_exact(&queue, "retry of the failed tasks").await;

        let purged = queue
            .purge(&TaskState::ALL, now_ms() + 1)
            .await
            .expect("purge");
        assert!(purged > 0);
        assert_exact(&queue, "retention").await;

        queue.lease(&orders, 2, later).await.expect("lease");
        drop(queue);
        let queue = SqlQueue::connect(&url, LEASE).await.expect("reopen");
        assert_exact(&queue, "a restart (leases taken back)").await;
        let orders_counts = queue
            .read_counts(CountScope::Route(&orders))
            .await
            .expect("counts");
        assert_eq!(orders_counts[&orders].processing, 0);
    }

    /// A lease, and the take-back of an expired one, write nothing to `task_counts`.
    #[tokio::test]
    async fn leases_write_no_counts() {
        let (_dir, queue) = SqlQueue::temporary(LEASE).await;
        let orders = route("orders");
        write(&queue, (0..3).map(|_| task(&orders)).collect(), Vec::new()).await;
        let rows = || async {
            sqlx::query(
                "SELECT namespace, route, state, slot, n FROM task_counts ORDER BY 1, 2, 3, 4",
            )
            .fetch_all(&queue.writer)
            .await
            .expect("count rows")
            .iter()
            .map(|row| {
                (
                    row.get::<String, _>("state"),
                    row.get::<i64, _>("slot"),
                    row.get::<i64, _>("n"),
                )
            })
            .collect::<Vec<_>>()
        };
        let before = rows().await;
        assert_eq!(before, vec![("undelivered".to_owned(), 0, 3)]);
        let now = now_ms();
        assert_eq!(queue.lease(&orders, 2, now).await.expect("lease").len(), 2);
        let later = now + 2 * LEASE.as_millis() as i64;
        assert_eq!(
            queue.lease(&orders, 3, later).await.expect("lease").len(),
            3
        );
        assert_eq!(rows().await, before);
        let counts = queue
            .read_counts(CountScope::Route(&orders))
            .await
            .expect("counts");
        assert_eq!(
            (counts[&orders].pending, counts[&orders].processing),
            (0, 3)
        );
    }

    /// The migration fills the counts from the tasks already queued.
    #[tokio::test]
    async fn the_migration_counts_the_tasks_already_queued() {
        let (_dir, queue) = SqlQueue::temporary(LEASE).await;
        let orders = route("orders");
        write(&queue, (0..3).map(|_| task(&orders)).collect(), Vec::new()).await;
        queue.lease(&orders, 1, now_ms()).await.expect("lease");
        let migration = include_str!("../../../migrations/20270102000001_task_counts.sql");
        let fill = migration
            .split(';')
            .find(|statement| statement.contains("INSERT INTO task_counts"))
            .expect("the statement that fills the counts");
        sqlx::query("DELETE FROM task_counts")
            .execute(&queue.writer)
            .await
            .expect("forget the counts");
        sqlx::query(fill)
            .execute(&queue.writer)
            .await
            .expect("fill the counts");
        assert_exact(&queue, "the migration").await;
        let counts = queue.read_counts(CountScope::All).await.expect("counts");
        assert_eq!(
            (counts[&orders].pending, counts[&orders].processing),
            (2, 1)
        );
    }
}
