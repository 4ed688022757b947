//! Retention: finished tasks older than their route's retention are deleted with their
//! logs. `pending` and `processing` tasks are never purged.

use super::SqlQueue;
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
}
