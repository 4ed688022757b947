//! Reads for the API and the admission check: counts (kept in `task_counts`, see
//! [`super::counts`]), listings, one task with its log, a route's activity, the
//! undelivered backlog.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row};

use super::SqlQueue;
use super::counts::CountScope;
use super::rows::{SUMMARY_COLUMNS, like_escape, log_lines, parse_item, parse_state, summary};
use super::states::{DONE, FAILED, PENDING, literal, partial_index};
use crate::queue::{
    LogLine, QueueError, RouteActivity, RouteCounts, RouteKey, TaskDetail, TaskFilter, TaskState,
    TaskSummary,
};

/// The id of a route's oldest pending task (ids are UUIDv7: the smallest is the oldest),
/// from the entries of `tasks_pending` alone (the index holds `id`): a walk over the
/// route's pending tasks, not over its finished ones.
pub(super) fn oldest_pending_sql(dialect: super::Dialect) -> String {
    format!(
        "SELECT created_at FROM tasks WHERE id = (SELECT MIN(id) FROM {tasks} \
         WHERE namespace = $1 AND route = $2 AND state = {PENDING})",
        tasks = dialect.tasks_through("tasks_pending")
    )
}

/// A route's oldest pending task and last delivery.
fn activity_times_sql(dialect: super::Dialect) -> String {
    format!(
        "SELECT ({oldest}) AS oldest, \
         (SELECT MAX(updated_at) FROM tasks WHERE namespace = $1 AND route = $2 AND state = {DONE}) AS last_done",
        oldest = oldest_pending_sql(dialect)
    )
}

/// A route's latest error of a task still pending or failed, through the partial index
/// of each state.
fn activity_error_sql(dialect: super::Dialect) -> String {
    let of = |state: &str, index: &str| {
        format!(
            "SELECT id, updated_at, last_error FROM {tasks} WHERE namespace = $1 AND route = $2 \
             AND state = {state} AND last_error IS NOT NULL",
            tasks = dialect.tasks_through(index)
        )
    };
    format!(
        "SELECT id, updated_at, last_error FROM ({} UNION ALL {}) AS errors \
         ORDER BY updated_at DESC LIMIT 1",
        of(PENDING, "tasks_pending"),
        of(FAILED, "tasks_failed")
    )
}

impl SqlQueue {
    /// The task's state and source, read through `executor`: the writer pool, or the
    /// writer's own open transaction (on SQLite that transaction holds the pool's one
    /// connection, so a read through the pool would wait for it until the pool timed out).
    pub(super) async fn state_of<'e, E>(
        executor: E,
        namespace: &str,
        id: &str,
    ) -> Result<Option<(TaskState, String)>, QueueError>
    where
        E: sqlx::Executor<'e, Database = Any>,
    {
        let row = sqlx::query("SELECT state, source FROM tasks WHERE namespace = $1 AND id = $2")
            .bind(namespace.to_owned())
            .bind(id.to_owned())
            .fetch_optional(executor)
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

    pub(super) async fn count_tasks(
        &self,
        namespace: &str,
    ) -> Result<Vec<RouteCounts>, QueueError> {
        Ok(self
            .read_counts(CountScope::Namespace(namespace))
            .await?
            .into_iter()
            .map(|(key, counts)| RouteCounts {
                route: key.route,
                counts,
            })
            .collect())
    }

    pub(super) async fn list_tasks(
        &self,
        namespace: &str,
        filter: &TaskFilter,
    ) -> Result<Vec<TaskSummary>, QueueError> {
        let (sql, binds) = self.listing_sql(namespace, filter);
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

    /// The statement listing `filter`'s tasks, and its text parameters (the limit comes
    /// after them).
    fn listing_sql(&self, namespace: &str, filter: &TaskFilter) -> (String, Vec<String>) {
        // A state is written as its literal, so that the planner may use the state's
        // partial index; a route's tasks of any state are in `tasks_by_route`.
        let tasks = match filter.state.and_then(partial_index) {
            Some(index) => self.dialect.tasks_through(index),
            None => "tasks".to_owned(),
        };
        let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM {tasks} WHERE namespace = $1");
        let mut binds = vec![namespace.to_owned()];
        if let Some(route) = &filter.route {
            binds.push(route.clone());
            sql.push_str(&format!(" AND route = ${}", binds.len()));
        }
        if let Some(state) = filter.state {
            sql.push_str(&format!(" AND state = {}", literal(state)));
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
        (sql, binds)
    }

    pub(super) async fn get_task(
        &self,
        namespace: &str,
        id: &str,
    ) -> Result<Option<TaskDetail>, QueueError> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS}, item, log FROM tasks WHERE namespace = $1 AND id = $2"
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
        let queued_with: Option<String> = row
            .try_get("log")
            .map_err(QueueError::db("read task log"))?;
        let mut log = log_lines(id, queued_with.as_deref())?;
        let later =
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
        // The lines the task was queued with, then the later ones, in time order (a
        // stable sort: lines of the same microsecond keep the order they were written in).
        log.extend(later);
        log.sort_by_key(|line| line.at_us);
        Ok(Some(TaskDetail {
            summary: summary(&row)?,
            item: parse_item(id, &item)?,
            log,
            provenance: self.read_provenance(id).await?,
        }))
    }

    pub(super) async fn count_undelivered(
        &self,
        route: &RouteKey,
        at_most: u64,
    ) -> Result<u64, QueueError> {
        let counts = self
            .read_counts(CountScope::Route(route))
            .await?
            .remove(route)
            .unwrap_or_default();
        let undelivered = counts.get(TaskState::Pending) + counts.get(TaskState::Processing);
        Ok(u64::try_from(undelivered).unwrap_or(0).min(at_most))
    }

    pub(super) async fn route_activity(
        &self,
        route: &RouteKey,
    ) -> Result<RouteActivity, QueueError> {
        let read = QueueError::db("read route activity");
        let (times_sql, error_sql) = (
            activity_times_sql(self.dialect),
            activity_error_sql(self.dialect),
        );
        let mut activity = RouteActivity {
            counts: self
                .read_counts(CountScope::Route(route))
                .await?
                .remove(route)
                .unwrap_or_default(),
            ..RouteActivity::default()
        };
        let times = of_route(&times_sql, route)
            .fetch_one(&self.reader)
            .await
            .map_err(QueueError::db("read route activity"))?;
        activity.oldest_pending_ms = times
            .try_get("oldest")
            .map_err(QueueError::db("read route activity"))?;
        activity.last_done_ms = times
            .try_get("last_done")
            .map_err(QueueError::db("read route activity"))?;
        let error = of_route(&error_sql, route)
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
}

/// `sql` with the route bound to `$1` (namespace) and `$2` (route).
fn of_route<'q>(sql: &'q str, route: &RouteKey) -> Query<'q, Any, AnyArguments<'q>> {
    sqlx::query(sql)
        .bind(route.namespace.clone())
        .bind(route.route.clone())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::counts::reads;
    use super::super::dialect::Dialect;
    use super::*;

    async fn queue() -> (tempfile::TempDir, SqlQueue) {
        SqlQueue::temporary(Duration::from_secs(60)).await
    }

    /// SQLite's plan of `sql` with `params` integer parameters, steps joined.
    async fn plan(queue: &SqlQueue, sql: &str, params: usize) -> String {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query(&explain);
        for _ in 0..params {
            query = query.bind(0_i64);
        }
        query
            .fetch_all(&queue.reader)
            .await
            .unwrap_or_else(|e| panic!("query plan of {sql}: {e}"))
            .iter()
            .map(|row| row.try_get::<String, _>("detail").expect("plan detail"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn filter(state: Option<TaskState>) -> TaskFilter {
        TaskFilter {
            route: Some("orders".into()),
            state,
            cursor: Some("0".into()),
            limit: 50,
            ..TaskFilter::default()
        }
    }

    /// A state change rewrites no index entry of the tasks outside the small partial
    /// indexes: no index over all tasks holds `state`, and each state's partial index
    /// holds the tasks in that state alone (spelled as `states.rs` does, or the planner
    /// could not use it).
    #[tokio::test]
    async fn no_index_over_every_task_holds_its_state() {
        let (_dir, queue) = queue().await;
        let indexes: Vec<(String, String)> = sqlx::query(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks' \
             AND sql IS NOT NULL",
        )
        .fetch_all(&queue.reader)
        .await
        .expect("indexes")
        .iter()
        .map(|row| (row.get("name"), row.get("sql")))
        .collect();
        for (name, sql) in &indexes {
            let columns: Vec<String> = sqlx::query(&format!("PRAGMA index_info({name})"))
                .fetch_all(&queue.reader)
                .await
                .expect("index columns")
                .iter()
                .map(|row| row.get("name"))
                .collect();
            assert!(!columns.iter().any(|c| c == "state"), "{sql}");
        }
        for state in TaskState::ALL {
            let Some(index) = partial_index(state) else {
                continue;
            };
            let (_, sql) = indexes
                .iter()
                .find(|(name, _)| name == index)
                .unwrap_or_else(|| panic!("index {index}"));
            assert!(
                sql.ends_with(&format!("WHERE state = {}", literal(state))),
                "{sql}"
            );
        }
    }

    /// Listings walk `tasks_by_route`, or the partial index of the state they filter on
    /// (a route's failed tasks are a seek, not a walk over its done ones); counts read
    /// `task_counts`; the oldest pending task is read from the entries of
    /// `tasks_pending` alone.
    #[tokio::test]
    async fn listings_and_counts_read_through_their_indexes() {
        let (_dir, queue) = queue().await;
        let (all, binds) = queue.listing_sql("shop", &filter(None));
        let all = plan(&queue, &all, binds.len() + 1).await;
        assert!(
            all.contains("USING INDEX tasks_by_route (namespace=? AND route=? AND id>?)"),
            "{all}"
        );
        assert!(!all.contains("TEMP B-TREE"), "{all}");
        for state in TaskState::ALL {
            let (sql, binds) = queue.listing_sql("shop", &filter(Some(state)));
            let plan = plan(&queue, &sql, binds.len() + 1).await;
            let index = partial_index(state).unwrap_or("tasks_by_route");
            assert!(plan.contains(&format!("INDEX {index}")), "{state}: {plan}");
        }
        for state in [TaskState::Failed, TaskState::Skipped] {
            let (sql, binds) = queue.listing_sql("shop", &filter(Some(state)));
            let plan = plan(&queue, &sql, binds.len() + 1).await;
            assert!(
                plan.contains("(namespace=? AND route=? AND id>?)")
                    && !plan.contains("TEMP B-TREE"),
                "{state}: {plan}"
            );
        }
        let counts = plan(&queue, &reads(Dialect::Sqlite).route, 2).await;
        assert!(
            counts.contains("SEARCH task_counts USING INDEX sqlite_autoindex_task_counts_1 (namespace=? AND route=?)")
                && counts.contains("INDEX tasks_leases"),
            "{counts}"
        );
        let oldest = plan(&queue, &oldest_pending_sql(Dialect::Sqlite), 2).await;
        assert!(
            oldest.contains("USING COVERING INDEX tasks_pending (namespace=? AND route=?)"),
            "{oldest}"
        );
        let errors = plan(&queue, &activity_error_sql(Dialect::Sqlite), 2).await;
        assert!(
            errors.contains("INDEX tasks_pending") && errors.contains("INDEX tasks_failed"),
            "{errors}"
        );
    }
}
