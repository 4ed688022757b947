//! Intake writes: new tasks and task log rows, as multi-row INSERTs inside the group
//! commit's transaction.

use sqlx::Any;

use super::SqlQueue;
use super::dialect::{Dialect, INSERT_CHUNK};
use crate::queue::{LogLine, NewTask, QueueError};

impl SqlQueue {
    pub(super) async fn insert_tasks(
        dialect: Dialect,
        tx: &mut sqlx::Transaction<'_, Any>,
        tasks: &[NewTask],
        now: i64,
    ) -> Result<(), QueueError> {
        for chunk in tasks.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO tasks (id, namespace, route, state, item, source, attempts, created_at, updated_at, next_attempt_at, last_error, trace_context) VALUES {}",
                dialect.rows(chunk.len(), 12)
            );
            let mut query = sqlx::query(&sql);
            for task in chunk {
                let (state, attempts) = task.initial_state();
                query = query
                    .bind(task.id.clone())
                    .bind(task.route.namespace.clone())
                    .bind(task.route.route.clone())
                    .bind(state.as_str())
                    .bind(task.item.to_string())
                    .bind(task.source)
                    .bind(attempts)
                    .bind(now)
                    .bind(now)
                    .bind(now)
                    .bind(task.failure.clone())
                    .bind(task.trace.clone());
            }
            query
                .execute(&mut **tx)
                .await
                .map_err(QueueError::db("insert tasks"))?;
        }
        Ok(())
    }

    pub(super) async fn insert_logs(
        dialect: Dialect,
        tx: &mut sqlx::Transaction<'_, Any>,
        lines: &[(&str, &LogLine)],
    ) -> Result<(), QueueError> {
        for chunk in lines.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO task_logs (task_id, at, seq, message) VALUES {}",
                dialect.rows(chunk.len(), 4)
            );
            let mut query = sqlx::query(&sql);
            for (seq, (task_id, line)) in chunk.iter().enumerate() {
                query = query
                    .bind(task_id.to_string())
                    .bind(line.at_us)
                    .bind(seq as i64)
                    .bind(line.message.clone());
            }
            query
                .execute(&mut **tx)
                .await
                .map_err(QueueError::db("insert task logs"))?;
        }
        Ok(())
    }
}
