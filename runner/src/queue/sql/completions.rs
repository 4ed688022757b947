//! Completions: the outcome of each delivery attempt, applied under the attempt's lease
//! token in the group commit's transaction (a completion whose lease was lost changes
//! nothing). The counts move by the rows each statement changed, on the route the
//! completion names (its leased task's): nothing is read back. SQLite would collect
//! `RETURNING` rows in a temporary table first, for every statement.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use sqlx::Any;

use super::SqlQueue;
use super::counts::CountChanges;
use super::dialect::{Dialect, INSERT_CHUNK};
use super::states::{DONE, PENDING};
use crate::queue::{Completion, Outcome, QueueError, RouteKey, TaskState};

/// A leased task handed back untried.
static RELEASE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE tasks SET state = {PENDING}, attempts = attempts - 1, updated_at = $1, \
         lease_until = NULL, lease_token = NULL WHERE id = $2 AND lease_token = $3"
    )
});

/// A leased task's attempt ended: `$1` is its next state.
const FINISH: &str = "UPDATE tasks SET state = $1, updated_at = $2, next_attempt_at = COALESCE($3, next_attempt_at), \
     last_error = COALESCE($4, last_error), lease_until = NULL, lease_token = NULL \
     WHERE id = $5 AND lease_token = $6";

impl SqlQueue {
    pub(super) async fn apply_completions(
        dialect: Dialect,
        tx: &mut sqlx::Transaction<'_, Any>,
        completions: &[Completion],
        now: i64,
        counts: &mut CountChanges,
    ) -> Result<(), QueueError> {
        // A task matched under its lease token was `processing` (only a lease sets the
        // token; every other change clears it).
        let ended = TaskState::Processing;
        // Successful deliveries are the bulk: one statement per lease token (one lease
        // takes the tasks of one route).
        let mut done_by_token: BTreeMap<(&str, &RouteKey), Vec<&str>> = BTreeMap::new();
        for completion in completions {
            let route = &completion.route;
            match &completion.outcome {
                Outcome::Done => done_by_token
                    .entry((completion.lease_token.as_str(), route))
                    .or_default()
                    .push(completion.id.as_str()),
                Outcome::Skipped => {
                    let n = Self::finish_one(tx, completion, TaskState::Skipped, now, None, None)
                        .await?;
                    counts.moved(route, ended, TaskState::Skipped, n);
                }
                Outcome::Released => {
                    let n = sqlx::query(&RELEASE)
                        .bind(now)
                        .bind(completion.id.clone())
                        .bind(completion.lease_token.clone())
                        .execute(&mut **tx)
                        .await
                        .map_err(QueueError::db("release task"))?
                        .rows_affected();
                    counts.moved(route, ended, TaskState::Pending, n);
                }
                Outcome::Failed { error } => {
                    let n =
                        Self::finish_one(tx, completion, TaskState::Failed, now, None, Some(error))
                            .await?;
                    counts.moved(route, ended, TaskState::Failed, n);
                }
                Outcome::Waiting {
                    correlation,
                    until_ms,
                } => {
                    let n = Self::wait_one(tx, completion, correlation, *until_ms, now).await?;
                    counts.moved(route, ended, TaskState::Waiting, n);
                }
                Outcome::Retry {
                    next_attempt_at_ms,
                    error,
                } => {
                    let n = Self::finish_one(
                        tx,
                        completion,
                        TaskState::Pending,
                        now,
                        Some(*next_attempt_at_ms),
                        Some(error),
                    )
                    .await?;
                    counts.moved(route, ended, TaskState::Pending, n);
                }
            }
        }
        for ((token, route), ids) in done_by_token {
            for chunk in ids.chunks(INSERT_CHUNK) {
                let sql = format!(
                    "{} tasks SET state = {DONE}, updated_at = {}, lease_until = NULL, lease_token = NULL, \
                     last_error = NULL WHERE lease_token = {} AND id IN ({})",
                    dialect.update(),
                    dialect.params(1, 1),
                    dialect.params(2, 1),
                    dialect.params(3, chunk.len())
                );
                let mut query = sqlx::query(&sql).bind(now).bind(token.to_owned());
                for id in chunk {
                    query = query.bind(id.to_string());
                }
                let n = query
                    .execute(&mut **tx)
                    .await
                    .map_err(QueueError::db("complete tasks"))?
                    .rows_affected();
                counts.moved(route, ended, TaskState::Done, n);
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
    ) -> Result<u64, QueueError> {
        sqlx::query(FINISH)
            .bind(state.as_str())
            .bind(now)
            .bind(next_attempt_at)
            .bind(error.cloned())
            .bind(completion.id.clone())
            .bind(completion.lease_token.clone())
            .execute(&mut **tx)
            .await
            .map(|done| done.rows_affected())
            .map_err(QueueError::db("complete task"))
    }
}
