//! Completions: the outcome of each delivery attempt, applied under the attempt's lease
//! token in the group commit's transaction (a completion whose lease was lost changes
//! nothing). Each statement returns the route of the tasks it changed, for the counts.

use std::sync::LazyLock;

use sqlx::Any;
use sqlx::any::AnyRow;

use super::SqlQueue;
use super::counts::CountChanges;
use super::dialect::{Dialect, INSERT_CHUNK};
use super::states::{DONE, PENDING};
use crate::queue::{Completion, Outcome, QueueError, TaskState};

/// A leased task handed back untried.
static RELEASE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE tasks SET state = {PENDING}, attempts = attempts - 1, updated_at = $1, \
         lease_until = NULL, lease_token = NULL WHERE id = $2 AND lease_token = $3 \
         RETURNING namespace, route"
    )
});

/// A leased task's attempt ended: `$1` is its next state.
const FINISH: &str = "UPDATE tasks SET state = $1, updated_at = $2, next_attempt_at = COALESCE($3, next_attempt_at), \
     last_error = COALESCE($4, last_error), lease_until = NULL, lease_token = NULL \
     WHERE id = $5 AND lease_token = $6 RETURNING namespace, route";

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
        // Successful deliveries are the bulk: one statement per lease token.
        let mut done_by_token: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for completion in completions {
            match &completion.outcome {
                Outcome::Done => done_by_token
                    .entry(completion.lease_token.as_str())
                    .or_default()
                    .push(completion.id.as_str()),
                Outcome::Skipped => {
                    let row = Self::finish_one(tx, completion, TaskState::Skipped, now, None, None)
                        .await?;
                    counts.moved_rows(row.as_slice(), ended, TaskState::Skipped)?;
                }
                Outcome::Released => {
                    let row = sqlx::query(&RELEASE)
                        .bind(now)
                        .bind(completion.id.clone())
                        .bind(completion.lease_token.clone())
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(QueueError::db("release task"))?;
                    counts.moved_rows(row.as_slice(), ended, TaskState::Pending)?;
                }
                Outcome::Failed { error } => {
                    let row =
                        Self::finish_one(tx, completion, TaskState::Failed, now, None, Some(error))
                            .await?;
                    counts.moved_rows(row.as_slice(), ended, TaskState::Failed)?;
                }
                Outcome::Waiting {
                    correlation,
                    until_ms,
                } => {
                    let row = Self::wait_one(tx, completion, correlation, *until_ms, now).await?;
                    counts.moved_rows(row.as_slice(), ended, TaskState::Waiting)?;
                }
                Outcome::Retry {
                    next_attempt_at_ms,
                    error,
                } => {
                    let row = Self::finish_one(
                        tx,
                        completion,
                        TaskState::Pending,
                        now,
                        Some(*next_attempt_at_ms),
                        Some(error),
                    )
                    .await?;
                    counts.moved_rows(row.as_slice(), ended, TaskState::Pending)?;
                }
            }
        }
        for (token, ids) in done_by_token {
            for chunk in ids.chunks(INSERT_CHUNK) {
                let sql = format!(
                    "UPDATE tasks SET state = {DONE}, updated_at = {}, lease_until = NULL, lease_token = NULL, \
                     last_error = NULL WHERE lease_token = {} AND id IN ({}) RETURNING namespace, route",
                    dialect.params(1, 1),
                    dialect.params(2, 1),
                    dialect.params(3, chunk.len())
                );
                let mut query = sqlx::query(&sql).bind(now).bind(token.to_owned());
                for id in chunk {
                    query = query.bind(id.to_string());
                }
                let rows = query
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(QueueError::db("complete tasks"))?;
                counts.moved_rows(&rows, ended, TaskState::Done)?;
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
    ) -> Result<Option<AnyRow>, QueueError> {
        sqlx::query(FINISH)
            .bind(state.as_str())
            .bind(now)
            .bind(next_attempt_at)
            .bind(error.cloned())
            .bind(completion.id.clone())
            .bind(completion.lease_token.clone())
            .fetch_optional(&mut **tx)
            .await
            .map_err(QueueError::db("complete task"))
    }
}
