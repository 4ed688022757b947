//! Retention: finished tasks older than their route's retention are deleted with their
//! logs. `pending` and `processing` tasks are never purged.

use futures::TryStreamExt;

use super::SqlQueue;
use super::counts::{CountChanges, CountWriter, route_of};
use super::rows::parse_state;
use crate::queue::{QueueError, TaskState};

impl SqlQueue {
    pub(super) async fn purge_tasks(
        &self,
        states: &[TaskState],
        before_ms: i64,
    ) -> Result<u64, QueueError> {
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
        // The deleted tasks' routes and states, for the counts: exactly the rows this
        // transaction deleted (on PostgreSQL a task retried meanwhile is not among them).
        let tasks = format!("DELETE FROM tasks WHERE {old} RETURNING namespace, route, state");
        let query = |sql| {
            let mut query = sqlx::query(sql);
            for state in &states {
                query = query.bind(state.as_str());
            }
            query.bind(before_ms)
        };
        query(&logs)
            .execute(&mut *tx)
            .await
            .map_err(QueueError::db("purge task logs"))?;
        let mut counts = CountChanges::default();
        let mut purged = 0;
        // Streamed: a first purge can delete many tasks.
        let mut deleted = query(&tasks).fetch(&mut *tx);
        while let Some(row) = deleted
            .try_next()
            .await
            .map_err(QueueError::db("purge tasks"))?
        {
            let (namespace, route) = route_of(&row)?;
            counts.add(namespace, route, parse_state(route, &row)?, -1);
            purged += 1;
        }
        drop(deleted);
        counts
            .apply(self.dialect, CountWriter::Other, &mut tx)
            .await?;
        tx.commit().await.map_err(QueueError::db("commit purge"))?;
        Ok(purged)
    }
}
