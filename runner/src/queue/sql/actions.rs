//! Operators' actions on tasks through the API: retry or discard one task, retry every
//! failed task of a route. Each writes its log line in the same transaction.

use std::sync::LazyLock;

use sqlx::Row;

use super::SqlQueue;
use super::counts::{CountChanges, CountWriter};
use super::states::{FAILED, PENDING};
use crate::queue::{
    LogLine, PROXY_SOURCE, QueueError, RouteKey, TaskAction, TaskState, UNREADABLE_SOURCE, now_ms,
    now_us,
};

/// One task moved from the state it was read in to `$1`.
static ACT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE tasks SET state = $1, updated_at = $2, next_attempt_at = $2, \
         attempts = CASE WHEN $1 = {PENDING} THEN 0 ELSE attempts END \
         WHERE namespace = $3 AND id = $4 AND state = $5 RETURNING namespace, route"
    )
});

/// Every failed task of a route pending again, except unreadable input and proxied calls.
static RETRY_FAILED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE tasks SET state = {PENDING}, attempts = 0, updated_at = $1, next_attempt_at = $1 \
         WHERE namespace = $2 AND route = $3 AND state = {FAILED} AND source <> $4 AND source <> $5 \
         RETURNING id"
    )
});

impl SqlQueue {
    pub(super) async fn act_on(
        &self,
        namespace: &str,
        id: &str,
        action: &TaskAction,
    ) -> Result<Option<TaskState>, QueueError> {
        let Some((state, source)) = Self::state_of(&self.writer, namespace, id).await? else {
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
        let updated = sqlx::query(&ACT)
            .bind(target.as_str())
            .bind(now)
            .bind(namespace.to_owned())
            .bind(id.to_owned())
            .bind(state.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(QueueError::db("apply task action"))?;
        let Some(updated) = updated else {
            // The task moved on between our read and our write (a runner leased it): its
            // state now, as this transaction sees it.
            let current = Self::state_of(&mut *tx, namespace, id)
                .await?
                .map_or(state, |(current, _)| current);
            return Err(QueueError::InvalidTransition {
                id: id.to_owned(),
                state: current,
                action: verb,
            });
        };
        let mut counts = CountChanges::default();
        counts.moved_rows(&[updated], state, target)?;
        let line = LogLine {
            at_us: now_us(),
            message,
        };
        Self::insert_logs(self.dialect, &mut tx, &[(id, &line)]).await?;
        counts
            .apply(self.dialect, CountWriter::Other, &mut tx)
            .await?;
        tx.commit()
            .await
            .map_err(QueueError::db("commit task action"))?;
        Ok(Some(target))
    }

    pub(super) async fn retry_failed_tasks(
        &self,
        route: &RouteKey,
        actor: &str,
    ) -> Result<u64, QueueError> {
        let now = now_ms();
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(QueueError::db("begin retry-failed"))?;
        let ids: Vec<String> = sqlx::query(&RETRY_FAILED)
            .bind(now)
            .bind(route.namespace.clone())
            .bind(route.route.clone())
            .bind(UNREADABLE_SOURCE)
            .bind(PROXY_SOURCE)
            .fetch_all(&mut *tx)
            .await
            .map_err(QueueError::db("retry failed tasks"))?
            .iter()
            .map(|row| {
                row.try_get("id")
                    .map_err(QueueError::db("retry failed tasks"))
            })
            .collect::<Result<_, _>>()?;
        let line = LogLine {
            at_us: now_us(),
            message: format!("Retry of all failed tasks requested by {actor}; attempts reset"),
        };
        let lines: Vec<(&str, &LogLine)> = ids.iter().map(|id| (id.as_str(), &line)).collect();
        Self::insert_logs(self.dialect, &mut tx, &lines).await?;
        let mut counts = CountChanges::default();
        counts.moved(
            route,
            TaskState::Failed,
            TaskState::Pending,
            ids.len() as u64,
        );
        counts
            .apply(self.dialect, CountWriter::Other, &mut tx)
            .await?;
        tx.commit()
            .await
            .map_err(QueueError::db("commit retry-failed"))?;
        Ok(ids.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::states::WAITING;
    use super::*;
    use crate::queue::{Ack, AckOutcome, NewTask, QueueStore, WriteBatch};

    /// Lost races are staged with a trigger that skips every update of `tasks`: the
    /// operator's update then finds no row in the state it read, as when a runner moved
    /// the task on in between. The answer must come at once, not after the writer pool's
    /// time-out (30 s).
    async fn queue_that_loses_every_race(
        state: Option<&str>,
    ) -> (tempfile::TempDir, SqlQueue, String) {
        let (dir, queue) = SqlQueue::temporary(Duration::from_secs(60)).await;
        let task = NewTask {
            id: uuid::Uuid::now_v7().to_string(),
            route: RouteKey {
                namespace: "shop".into(),
                route: "orders".into(),
            },
            item: serde_json::json!({}),
            source: "webhook",
            log: Vec::new(),
            failure: None,
            provenance: None,
            trace: None,
            stored: None,
        };
        let id = task.id.clone();
        queue
            .write(WriteBatch {
                new_tasks: vec![task],
                ..WriteBatch::default()
            })
            .await
            .expect("enqueue");
        if let Some(state) = state {
            sqlx::query(&format!("UPDATE tasks SET state = {state} WHERE id = $1"))
                .bind(id.clone())
                .execute(&queue.writer)
                .await
                .expect("set the state");
        }
        sqlx::query(
            "CREATE TRIGGER lose_the_race BEFORE UPDATE ON tasks BEGIN SELECT RAISE(IGNORE); END",
        )
        .execute(&queue.writer)
        .await
        .expect("trigger");
        (dir, queue, id)
    }

    #[tokio::test]
    async fn an_action_that_lost_the_race_answers_at_once_with_the_state_it_found() {
        let (_dir, queue, id) = queue_that_loses_every_race(None).await;
        let discard = TaskAction::Discard {
            actor: "test".into(),
            reason: "stale".into(),
        };
        let answer = tokio::time::timeout(Duration::from_secs(5), queue.act("shop", &id, &discard))
            .await
            .expect("answered before the pool's time-out");
        assert!(
            matches!(
                answer,
                Err(QueueError::InvalidTransition {
                    state: TaskState::Pending,
                    action: "discarded",
                    ..
                })
            ),
            "{answer:?}"
        );
    }

    #[tokio::test]
    async fn an_acknowledgement_that_lost_the_race_answers_at_once_with_the_state_it_found() {
        let (_dir, queue, id) = queue_that_loses_every_race(Some(WAITING)).await;
        let ack = TaskAction::Ack(Ack {
            actor: "API".into(),
            outcome: AckOutcome::Done,
            message: None,
        });
        let answer = tokio::time::timeout(Duration::from_secs(5), queue.act("shop", &id, &ack))
            .await
            .expect("answered before the pool's time-out");
        assert!(
            matches!(
                answer,
                Err(QueueError::InvalidTransition {
                    state: TaskState::Waiting,
                    ..
                })
            ),
            "{answer:?}"
        );
    }
}
