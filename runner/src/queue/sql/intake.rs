//! Intake writes: new tasks (with the log lines they are queued with, in their row) and
//! task log rows, as multi-row INSERTs inside the group commit's transaction.

use sqlx::Any;

use super::SqlQueue;
use super::counts::CountChanges;
use super::dialect::{Dialect, INSERT_CHUNK};
use crate::queue::{LogLine, NewTask, QueueError};

/// `lines` as the `log` column of `tasks` holds them: one JSON object per line, each
/// ended by a newline (JSON escapes a newline inside a string, so the split is
/// unambiguous); `None` for no lines. Each line is the API's own form of a log line
/// (`LogLine`'s serde, the codec [`super::rows::log_lines`] reads back with).
pub(super) fn log_text(lines: &[LogLine]) -> Result<Option<String>, serde_json::Error> {
    if lines.is_empty() {
        return Ok(None);
    }
    let mut text = String::with_capacity(lines.iter().map(|l| l.message.len() + 40).sum());
    for line in lines {
        text.push_str(&serde_json::to_string(line)?);
        text.push('\n');
    }
    Ok(Some(text))
}

impl SqlQueue {
    pub(super) async fn insert_tasks(
        dialect: Dialect,
        tx: &mut sqlx::Transaction<'_, Any>,
        tasks: &[NewTask],
        now: i64,
        counts: &mut CountChanges,
    ) -> Result<(), QueueError> {
        for chunk in tasks.chunks(INSERT_CHUNK) {
            let sql = format!(
                "{} INTO tasks (id, namespace, route, state, item, source, attempts, created_at, updated_at, next_attempt_at, last_error, trace_context, log) VALUES {}",
                dialect.insert(),
                dialect.rows(chunk.len(), 13)
            );
            let mut query = sqlx::query(&sql);
            for task in chunk {
                let (state, attempts) = task.initial_state();
                counts.add(&task.route.namespace, &task.route.route, state, 1);
                query = query
                    .bind(task.id.clone())
                    .bind(task.route.namespace.clone())
                    .bind(task.route.route.clone())
                    .bind(state.as_str())
                    .bind(task.item_text())
                    .bind(task.source)
                    .bind(attempts)
                    .bind(now)
                    .bind(now)
                    .bind(now)
                    .bind(task.failure.clone())
                    .bind(task.trace.clone())
                    .bind(log_text(&task.log).map_err(|e| QueueError::Corrupt {
                        id: task.id.clone(),
                        reason: format!("task log line: {e}"),
                    })?);
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
                "{} INTO task_logs (task_id, at, seq, message) VALUES {}",
                dialect.insert(),
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::queue::{Completion, Outcome, QueueStore, RouteKey, TaskAction, WriteBatch, now_ms};

    fn line(at_us: i64, message: &str) -> LogLine {
        LogLine {
            at_us,
            message: message.to_owned(),
        }
    }

    /// Whatever a message holds (newlines, quotes, backslashes, control and non-ASCII
    /// characters), its line reads back as it was written.
    #[test]
    fn log_lines_read_back_as_written() {
        let lines = vec![
            line(1, "Received via webhook (item 1 of 1)"),
            line(2, "two\nlines \"quoted\" \\ back\tslash \u{1} é 🚚"),
            line(-3, ""),
        ];
        let text = log_text(&lines).expect("serialized").expect("text");
        assert_eq!(text.lines().count(), 3, "{text}");
        assert_eq!(
            super::super::rows::log_lines("t", Some(&text)).expect("lines"),
            lines
        );
        assert_eq!(log_text(&[]).expect("serialized"), None);
        assert_eq!(
            super::super::rows::log_lines("t", None).expect("none"),
            Vec::new()
        );
    }

    /// A task's log is the lines it was queued with (kept in its row) and the lines
    /// written later (attempts, operators' actions: rows of `task_logs`), in time order,
    /// as it was when every line was a row.
    #[tokio::test]
    async fn the_task_log_merges_the_queued_lines_with_later_ones_in_time_order() {
        let (_dir, queue) = SqlQueue::temporary(Duration::from_secs(60)).await;
        let route = RouteKey {
            namespace: "shop".into(),
            route: "orders".into(),
        };
        let start = crate::queue::now_us();
        let queued = vec![
            line(
                start,
                "Received via webhook (batch of 2, 1 after the incoming transformers)",
            ),
            line(start, "Incoming transformers: jq"),
        ];
        let task = NewTask {
            id: uuid::Uuid::now_v7().to_string(),
            route: route.clone(),
            item: serde_json::json!({"id": 1}),
            source: "webhook",
            log: queued.clone(),
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
            .expect("queue the task");
        let leased = queue.lease(&route, 1, now_ms()).await.expect("lease");
        let attempt = line(start + 10, "Attempt 1: HTTP 503");
        queue
            .write(WriteBatch {
                completions: vec![Completion {
                    log: vec![attempt.clone()],
                    ..Completion::of(
                        &leased[0],
                        Outcome::Failed {
                            error: "HTTP 503".into(),
                        },
                    )
                }],
                ..WriteBatch::default()
            })
            .await
            .expect("complete");
        let action = TaskAction::Retry {
            actor: "alice".into(),
        };
        queue.act("shop", &id, &action).await.expect("retry");
        let log = queue
            .get("shop", &id)
            .await
            .expect("get")
            .expect("the task")
            .log;
        assert_eq!(log.len(), 4, "{log:?}");
        assert_eq!(&log[..2], &queued[..]);
        assert_eq!(log[2], attempt);
        assert_eq!(log[3].message, "Retry requested by alice; attempts reset");
    }
}
