//! Waiting tasks in SQL: a delivered task of a route with `outgoing.await` becomes
//! `waiting` with its correlation value and a deadline (kept in `next_attempt_at`, which
//! for a waiting task means "when something happens to it next"); an acknowledgement
//! (by id or by correlation) makes it `done` or `failed`; the housekeeping loop expires
//! it at the deadline. Leases never take waiting tasks, and start-up leaves them alone.

use std::sync::LazyLock;

use sqlx::{Any, Row};

use super::SqlQueue;
use super::counts::{CountChanges, CountWriter};
use super::rows::parse_state;
use super::states::{FAILED, PENDING, WAITING};
use crate::queue::{Ack, Completion, LogLine, OnTimeout, QueueError, RouteKey, TaskState, now_ms};

/// A delivered task waiting for its acknowledgement, under its lease.
static WAIT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE tasks SET state = {WAITING}, updated_at = $1, next_attempt_at = $2, \
         correlation = $3, last_error = NULL, lease_until = NULL, lease_token = NULL \
         WHERE id = $4 AND lease_token = $5"
    )
});

/// One waiting task acknowledged by id.
static ACK_ONE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE tasks SET state = $1, updated_at = $2, last_error = $3 \
         WHERE namespace = $4 AND id = $5 AND state = {WAITING} RETURNING namespace, route"
    )
});

/// The waiting tasks of a route with one correlation value acknowledged.
static ACK_CORRELATED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE tasks SET state = $1, updated_at = $2, last_error = $3 \
         WHERE namespace = $4 AND route = $5 AND state = {WAITING} AND correlation = $6 \
         RETURNING id"
    )
});

/// The waiting tasks of a route past their deadline, pending again or failed.
pub(super) static EXPIRE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE tasks SET state = CASE WHEN attempts < $1 THEN {PENDING} ELSE {FAILED} END, \
         updated_at = $2, next_attempt_at = $2, last_error = $3 \
         WHERE namespace = $4 AND route = $5 AND state = {WAITING} AND next_attempt_at <= $2 \
         RETURNING id, state"
    )
});

impl SqlQueue {
    /// Records a delivered task as `waiting` (under its lease); 1 if the lease was still
    /// held, else 0.
    pub(super) async fn wait_one(
        tx: &mut sqlx::Transaction<'_, Any>,
        completion: &Completion,
        correlation: &str,
        until_ms: i64,
        now: i64,
    ) -> Result<u64, QueueError> {
        sqlx::query(&WAIT)
            .bind(now)
            .bind(until_ms)
            .bind(correlation.to_owned())
            .bind(completion.id.clone())
            .bind(completion.lease_token.clone())
            .execute(&mut **tx)
            .await
            .map(|waiting| waiting.rows_affected())
            .map_err(QueueError::db("record waiting task"))
    }

    /// Acknowledges one waiting task by id. `Ok(None)`: no such task.
    pub(super) async fn ack_task(
        &self,
        namespace: &str,
        id: &str,
        ack: &Ack,
    ) -> Result<Option<TaskState>, QueueError> {
        let invalid = |state| QueueError::InvalidTransition {
            id: id.to_owned(),
            state,
            action: "acknowledged",
        };
        let Some((state, _)) = Self::state_of(&self.writer, namespace, id).await? else {
            return Ok(None);
        };
        if state != TaskState::Waiting {
            return Err(invalid(state));
        }
        let target = ack.target();
        let now = now_ms();
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(QueueError::db("begin acknowledgement"))?;
        let updated = sqlx::query(&ACK_ONE)
            .bind(target.as_str())
            .bind(now)
            .bind(failure(ack))
            .bind(namespace.to_owned())
            .bind(id.to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(QueueError::db("acknowledge task"))?;
        let Some(updated) = updated else {
            // Acknowledged or timed out between our read and our write: its state now,
            // as this transaction sees it.
            let current = Self::state_of(&mut *tx, namespace, id)
                .await?
                .map_or(state, |(current, _)| current);
            return Err(invalid(current));
        };
        let mut counts = CountChanges::default();
        counts.moved_rows(&[updated], TaskState::Waiting, target)?;
        let line = LogLine::now(ack.log_line());
        Self::insert_logs(self.dialect, &mut tx, &[(id, &line)]).await?;
        counts
            .apply(self.dialect, CountWriter::Other, &mut tx)
            .await?;
        tx.commit()
            .await
            .map_err(QueueError::db("commit acknowledgement"))?;
        Ok(Some(target))
    }

    /// Acknowledges every waiting task of `route` whose correlation value is
    /// `correlation`; returns their ids.
    pub(super) async fn ack_by_correlation(
        &self,
        route: &RouteKey,
        correlation: &str,
        ack: &Ack,
    ) -> Result<Vec<String>, QueueError> {
        let now = now_ms();
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(QueueError::db("begin acknowledgement"))?;
        let ids: Vec<String> = sqlx::query(&ACK_CORRELATED)
            .bind(ack.target().as_str())
            .bind(now)
            .bind(failure(ack))
            .bind(route.namespace.clone())
            .bind(route.route.clone())
            .bind(correlation.to_owned())
            .fetch_all(&mut *tx)
            .await
            .map_err(QueueError::db("acknowledge tasks"))?
            .iter()
            .map(|row| {
                row.try_get("id")
                    .map_err(QueueError::db("acknowledge tasks"))
            })
            .collect::<Result<_, _>>()?;
        let line = LogLine::now(ack.log_line());
        let lines: Vec<(&str, &LogLine)> = ids.iter().map(|id| (id.as_str(), &line)).collect();
        Self::insert_logs(self.dialect, &mut tx, &lines).await?;
        let mut counts = CountChanges::default();
        counts.moved(route, TaskState::Waiting, ack.target(), ids.len() as u64);
        counts
            .apply(self.dialect, CountWriter::Other, &mut tx)
            .await?;
        tx.commit()
            .await
            .map_err(QueueError::db("commit acknowledgement"))?;
        Ok(ids)
    }

    /// Ends the waiting tasks of `route` whose deadline passed by `now_ms`; returns each
    /// with its new state. `reason` goes to their log and `last_error`.
    pub(super) async fn expire(
        &self,
        route: &RouteKey,
        now_ms: i64,
        on_timeout: OnTimeout,
        reason: &str,
    ) -> Result<Vec<(String, TaskState)>, QueueError> {
        let max_attempts = match on_timeout {
            OnTimeout::Fail => 0,
            OnTimeout::Retry { max_attempts } => i64::from(max_attempts),
        };
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(QueueError::db("begin expiry"))?;
        let rows = sqlx::query(&EXPIRE)
            .bind(max_attempts)
            .bind(now_ms)
            .bind(reason.to_owned())
            .bind(route.namespace.clone())
            .bind(route.route.clone())
            .fetch_all(&mut *tx)
            .await
            .map_err(QueueError::db("expire waiting tasks"))?;
        let mut expired = Vec::with_capacity(rows.len());
        let mut counts = CountChanges::default();
        for row in &rows {
            let id: String = row
                .try_get("id")
                .map_err(QueueError::db("expire waiting tasks"))?;
            let state = parse_state(&id, row)?;
            counts.moved(route, TaskState::Waiting, state, 1);
            expired.push((id, state));
        }
        let lines: Vec<LogLine> = expired
            .iter()
            .map(|(_, state)| {
                LogLine::now(match state {
                    TaskState::Pending => format!("{reason}; sending again"),
                    _ => format!("{reason}; task failed"),
                })
            })
            .collect();
        let pairs: Vec<(&str, &LogLine)> = expired
            .iter()
            .zip(&lines)
            .map(|((id, _), line)| (id.as_str(), line))
            .collect();
        Self::insert_logs(self.dialect, &mut tx, &pairs).await?;
        counts
            .apply(self.dialect, CountWriter::Other, &mut tx)
            .await?;
        tx.commit().await.map_err(QueueError::db("commit expiry"))?;
        Ok(expired)
    }
}

/// A failed acknowledgement's error.
fn failure(ack: &Ack) -> Option<String> {
    (ack.target() == TaskState::Failed).then(|| {
        ack.message
            .clone()
            .unwrap_or_else(|| format!("the receiver reported a failure ({})", ack.actor))
    })
}
