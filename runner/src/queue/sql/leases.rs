//! Leases: a route's due tasks become `processing` under a lease token, leases that ran
//! out make their tasks due again, and an embedded queue takes back every lease at
//! start-up.

use std::sync::LazyLock;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::SqlQueue;
use super::counts::{CountChanges, CountWriter};
use super::dialect::Dialect;
use super::states::{PENDING, PROCESSING};
use super::writer::{Durability, Writer};
use crate::metrics::events::{self, TakeBack};
use crate::queue::{LeaseAsk, LeasedTask, QueueError, RouteKey, StoredItem, TaskState};

/// Every leased task due again (start-up of an embedded queue).
static RECLAIM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE tasks SET state = {PENDING}, lease_until = NULL, lease_token = NULL WHERE state = {PROCESSING} \
         RETURNING namespace, route"
    )
});

/// How often leasing looks for leases that ran out, at most: every lease used to, with a
/// statement of its own, although it finds nothing almost every time. A task whose
/// lease ran out is due again at most this much later (or a quarter of the lease, when
/// leases are shorter).
const TAKE_BACK_EVERY: Duration = Duration::from_secs(1);

/// Tasks whose lease ran out due again.
static TAKE_BACK: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE tasks SET state = {PENDING}, lease_until = NULL, lease_token = NULL \
         WHERE state = {PROCESSING} AND lease_until < $1 RETURNING namespace, route"
    )
});

/// Leases up to `$6` of a route's due tasks, oldest first.
pub(super) fn lease_sql(dialect: Dialect) -> String {
    format!(
        "{update} tasks SET state = {PROCESSING}, attempts = attempts + 1, lease_until = $1, lease_token = $2, updated_at = $3 \
         WHERE id IN (SELECT id FROM tasks WHERE namespace = $4 AND route = $5 AND state = {PENDING} \
         AND next_attempt_at <= $3 ORDER BY next_attempt_at, id LIMIT $6{lock}) \
         RETURNING id, item, attempts, created_at, trace_context",
        update = dialect.update(),
        lock = dialect.lock_clause()
    )
}

impl SqlQueue {
    /// Makes every leased task due again. Only for a queue no other runner uses: the
    /// embedded SQLite file belongs to the runner that opened it.
    pub(super) async fn reclaim_leases(&self) -> Result<(), QueueError> {
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(QueueError::db("begin reclaiming leases"))?;
        let reclaimed = sqlx::query(&RECLAIM)
            .fetch_all(&mut *tx)
            .await
            .map_err(QueueError::db("reclaim leases"))?;
        let mut counts = CountChanges::default();
        counts.moved_rows(&reclaimed, TaskState::Processing, TaskState::Pending)?;
        counts
            .apply(self.dialect, CountWriter::Other, &mut tx)
            .await?;
        tx.commit()
            .await
            .map_err(QueueError::db("commit reclaimed leases"))?;
        // Likewise the poll claims of a runner that died mid-poll: its next ticks run
        // at once.
        sqlx::query("UPDATE poll_claims SET lease_until = 0")
            .execute(&self.writer)
            .await
            .map_err(QueueError::db("reclaim poll claims"))?;
        events::leases_taken_back(TakeBack::Restart, reclaimed.len() as u64);
        Ok(())
    }

    /// Whether this lease should look for leases that ran out: the first one does, then
    /// one per `TAKE_BACK_EVERY` (or per quarter of the lease duration, if shorter).
    fn take_back_due(&self, now_ms: i64) -> bool {
        let every = TAKE_BACK_EVERY.min(self.lease_duration / 4);
        let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
        let last = self.taken_back_at.load(Ordering::Relaxed);
        now_ms.saturating_sub(last) >= every_ms
            && self
                .taken_back_at
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    pub(super) async fn lease_tasks(
        &self,
        route: &RouteKey,
        limit: u32,
        now_ms: i64,
    ) -> Result<Vec<LeasedTask>, QueueError> {
        let ask = LeaseAsk {
            route: route.clone(),
            limit,
        };
        // The lease's commit does not wait for the disk (see `writer`): losing it costs
        // a redelivery, never an item.
        let mut conn = Writer::acquire(self.dialect, &self.writer, Durability::Unflushed).await?;
        let mut tx = conn.begin().await.map_err(QueueError::db("begin lease"))?;
        let mut counts = CountChanges::default();
        let taken_back = self.take_back_on(&mut tx, now_ms, &mut counts).await?;
        let leased = self.lease_on(&mut tx, &ask, now_ms, &mut counts).await?;
        counts
            .apply(self.dialect, CountWriter::Other, &mut tx)
            .await?;
        tx.commit().await.map_err(QueueError::db("commit lease"))?;
        conn.release().await;
        events::leases_taken_back(TakeBack::Expired, taken_back);
        leased.read()
    }

    /// Leases that ran out (a runner died, or stalled) make their tasks due again, in
    /// `tx`, once per `TAKE_BACK_EVERY` (else nothing is run): through `tasks_leases`
    /// this finds nothing, cheaply, almost every time. Returns how many it took back
    /// (for the event, once committed).
    pub(super) async fn take_back_on(
        &self,
        tx: &mut Transaction<'_, Any>,
        now_ms: i64,
        counts: &mut CountChanges,
    ) -> Result<u64, QueueError> {
        if !self.take_back_due(now_ms) {
            return Ok(0);
        }
        let taken_back = sqlx::query(&TAKE_BACK)
            .bind(now_ms)
            .fetch_all(&mut **tx)
            .await
            .map_err(QueueError::db("take back expired leases"))?;
        counts.moved_rows(&taken_back, TaskState::Processing, TaskState::Pending)?;
        Ok(taken_back.len() as u64)
    }

    /// Leases up to `ask.limit` of the route's due tasks in `tx`, under a token of
    /// their own. The rows are read into tasks once the transaction is over
    /// ([`LeasedRows::read`]), their items kept as the stored text: an item that is not
    /// JSON fails its own attempt (see [`StoredItem::read`]), not the lease or the
    /// transaction (and the writes committed with it).
    pub(super) async fn lease_on(
        &self,
        tx: &mut Transaction<'_, Any>,
        ask: &LeaseAsk,
        now_ms: i64,
        counts: &mut CountChanges,
    ) -> Result<LeasedRows, QueueError> {
        let token = uuid::Uuid::now_v7().to_string();
        let lease_until =
            now_ms + i64::try_from(self.lease_duration.as_millis()).unwrap_or(i64::MAX / 2);
        let rows = sqlx::query(&self.lease_sql)
            .bind(lease_until)
            .bind(token.clone())
            .bind(now_ms)
            .bind(ask.route.namespace.clone())
            .bind(ask.route.route.clone())
            .bind(i64::from(ask.limit))
            .fetch_all(&mut **tx)
            .await
            .map_err(QueueError::db("lease tasks"))?;
        counts.moved(
            &ask.route,
            TaskState::Pending,
            TaskState::Processing,
            rows.len() as u64,
        );
        Ok(LeasedRows {
            route: ask.route.clone(),
            token,
            rows,
        })
    }
}

/// The rows one lease updated, under its token.
pub(super) struct LeasedRows {
    route: RouteKey,
    token: String,
    rows: Vec<AnyRow>,
}

impl LeasedRows {
    /// The leased tasks, in id order.
    pub(super) fn read(self) -> Result<Vec<LeasedTask>, QueueError> {
        let Self { route, token, rows } = self;
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
                    item: StoredItem::new(item),
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
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::Row;

    use super::*;

    async fn queue() -> (tempfile::TempDir, SqlQueue) {
        SqlQueue::temporary(Duration::from_secs(60)).await
    }

    #[tokio::test]
    async fn expired_leases_are_looked_for_once_per_interval_not_per_lease() {
        let (_dir, queue) = queue().await;
        let start = 1_000_000;
        assert!(queue.take_back_due(start), "the first lease looks");
        assert!(
            !queue.take_back_due(start),
            "a lease right after it does not"
        );
        assert!(!queue.take_back_due(start + 999));
        assert!(
            queue.take_back_due(start + 1_000),
            "one second later it does"
        );
        assert!(!queue.take_back_due(start + 1_001));

        // Leases shorter than four seconds are looked after four times per lease.
        let (_dir, short) = SqlQueue::temporary(Duration::from_millis(200)).await;
        assert!(short.take_back_due(start));
        assert!(!short.take_back_due(start + 49));
        assert!(short.take_back_due(start + 50));
    }

    /// A stored item that is not JSON (a row edited by hand) does not fail the lease:
    /// every task is leased, and only that one's item fails to read (its attempt fails
    /// with the reason; see `connectors::read_stored`).
    #[tokio::test]
    async fn an_item_that_is_not_json_is_leased_with_the_others() {
        use crate::queue::{NewTask, QueueStore, WriteBatch};
        let (_dir, queue) = queue().await;
        let route = RouteKey {
            namespace: "shop".into(),
            route: "orders".into(),
        };
        let new_tasks: Vec<NewTask> = (0..3)
            .map(|n| NewTask {
                id: uuid::Uuid::now_v7().to_string(),
                route: route.clone(),
                item: serde_json::json!({"n": n}),
                source: "webhook",
                log: Vec::new(),
                failure: None,
                provenance: None,
                trace: None,
                stored: None,
            })
            .collect();
        let broken = new_tasks[1].id.clone();
        queue
            .write(WriteBatch {
                new_tasks,
                ..WriteBatch::default()
            })
            .await
            .expect("write");
        sqlx::query("UPDATE tasks SET item = '{\"n\": ' WHERE id = $1")
            .bind(broken.clone())
            .execute(&queue.writer)
            .await
            .expect("break the item");
        let leased = queue
            .lease(&route, 8, crate::queue::now_ms())
            .await
            .expect("lease");
        assert_eq!(leased.len(), 3);
        for (n, task) in leased.iter().enumerate() {
            if task.id == broken {
                assert!(task.item.read().is_err());
                assert!(task.item.json().is_err());
            } else {
                assert_eq!(task.item.read().ok(), Some(serde_json::json!({"n": n})));
                assert_eq!(
                    task.item.json().ok(),
                    Some(format!("{{\"n\":{n}}}").as_str())
                );
            }
        }
    }

    /// SQLite's plan of `sql` with `params` integer parameters (the values do not matter
    /// to the plan), one step per line.
    async fn plan(queue: &SqlQueue, sql: &str, params: usize) -> Vec<String> {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query(&explain);
        for _ in 0..params {
            query = query.bind(0_i64);
        }
        query
            .fetch_all(&queue.writer)
            .await
            .expect("query plan")
            .iter()
            .map(|row| row.try_get::<String, _>("detail").expect("plan detail"))
            .collect()
    }

    /// The index's definition as SQLite keeps it.
    async fn index_sql(queue: &SqlQueue, name: &str) -> String {
        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = $1")
            .bind(name.to_owned())
            .fetch_one(&queue.writer)
            .await
            .expect("index")
    }

    /// Taking back expired leases runs before every lease: it must walk the small
    /// partial index of leased tasks, not the table (the migration spells the state as
    /// `states.rs` does, or the planner could not use it).
    #[tokio::test]
    async fn expired_leases_are_found_through_the_index_of_leased_tasks() {
        let (_dir, queue) = queue().await;
        let plan = plan(&queue, &TAKE_BACK, 1).await;
        // Covering: with RETURNING, SQLite first collects the rows' ids from the index.
        assert!(
            plan.iter()
                .any(|step| step.contains("USING COVERING INDEX tasks_leases")),
            "{plan:?}"
        );
        let index = index_sql(&queue, "tasks_leases").await;
        assert!(
            index.ends_with(&format!("WHERE state = {PROCESSING}")),
            "{index}"
        );
    }

    /// A lease reads a route's due pending tasks in order from the partial index of
    /// pending tasks (no sort, no finished task walked over), and expiry finds waiting
    /// tasks past their deadline through the partial index of waiting tasks.
    #[tokio::test]
    async fn leases_and_expiry_walk_the_partial_indexes_of_their_state() {
        let (_dir, queue) = queue().await;
        let lease = plan(&queue, &lease_sql(Dialect::Sqlite), 6).await;
        assert!(
            lease.iter().any(|step| step
                .contains("INDEX tasks_pending (namespace=? AND route=? AND next_attempt_at<?)")),
            "{lease:?}"
        );
        assert!(
            !lease.iter().any(|step| step.contains("TEMP B-TREE")),
            "{lease:?}"
        );
        let expire = plan(&queue, &super::super::waiting::EXPIRE, 5).await;
        assert!(
            expire.iter().any(|step| step
                .contains("INDEX tasks_waiting (namespace=? AND route=? AND next_attempt_at<?)")),
            "{expire:?}"
        );
        assert!(
            index_sql(&queue, "tasks_pending")
                .await
                .ends_with(&format!("WHERE state = {PENDING}"))
        );
        assert!(
            index_sql(&queue, "tasks_waiting")
                .await
                .ends_with(&format!("WHERE state = {}", super::super::states::WAITING))
        );
    }
}
