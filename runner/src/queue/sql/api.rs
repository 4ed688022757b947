//! Reads for the API and the admission check: counts, listings, one task with its log,
//! a route's activity, the undelivered backlog.

use std::sync::LazyLock;

use sqlx::Row;

use super::SqlQueue;
use super::rows::{SUMMARY_COLUMNS, like_escape, log_lines, parse_item, parse_state, summary};
use super::states::{DONE, FAILED, PENDING, PROCESSING};
use crate::queue::{
    LogLine, QueueError, RouteActivity, RouteCounts, RouteKey, StateCounts, TaskDetail, TaskFilter,
    TaskState, TaskSummary,
};

/// Undelivered tasks of a route, counted up to `$3`.
static UNDELIVERED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM tasks WHERE namespace = $1 AND route = $2 \
         AND state IN ({PENDING}, {PROCESSING}) LIMIT $3) AS undelivered"
    )
});

/// A route's oldest pending task and last delivery.
static ACTIVITY_TIMES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT (SELECT MIN(created_at) FROM tasks WHERE namespace = $1 AND route = $2 AND state = {PENDING}) AS oldest, \
         (SELECT MAX(updated_at) FROM tasks WHERE namespace = $1 AND route = $2 AND state = {DONE}) AS last_done"
    )
});

/// A route's latest error of a task still pending or failed.
static ACTIVITY_ERROR: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id, updated_at, last_error FROM tasks WHERE namespace = $1 AND route = $2 \
         AND state IN ({PENDING}, {FAILED}) AND last_error IS NOT NULL ORDER BY updated_at DESC LIMIT 1"
    )
});

impl SqlQueue {
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

    pub(super) async fn count_tasks(
        &self,
        namespace: &str,
    ) -> Result<Vec<RouteCounts>, QueueError> {
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

    pub(super) async fn list_tasks(
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
        // A walk over `tasks_listing` that stops at the limit.
        let row = sqlx::query(&UNDELIVERED)
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

    pub(super) async fn route_activity(
        &self,
        route: &RouteKey,
    ) -> Result<RouteActivity, QueueError> {
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
        let times = bind(&ACTIVITY_TIMES)
            .fetch_one(&self.reader)
            .await
            .map_err(QueueError::db("read route activity"))?;
        activity.oldest_pending_ms = times
            .try_get("oldest")
            .map_err(QueueError::db("read route activity"))?;
        activity.last_done_ms = times
            .try_get("last_done")
            .map_err(QueueError::db("read route activity"))?;
        let error = bind(&ACTIVITY_ERROR)
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
