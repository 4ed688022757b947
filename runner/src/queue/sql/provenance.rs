//! Provenance rows (`task_provenance`): written with their tasks, read with the task
//! detail, steps dropped from done tasks of routes that keep them only for failed ones.

use std::sync::LazyLock;

use sqlx::{Any, Row};
use switchyard_crds::v1alpha1::KeepSteps;

use super::SqlQueue;
use super::dialect::{Dialect, INSERT_CHUNK};
use super::states::DONE;
use crate::queue::provenance::{KeptStep, Provenance, ReplayOf};
use crate::queue::{NewTask, QueueError};

/// The kept steps of done tasks whose route keeps them only for failed ones, dropped.
static PRUNE_DONE_STEPS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE task_provenance SET steps = NULL WHERE keep_steps = $1 AND steps IS NOT NULL \
         AND task_id IN (SELECT id FROM tasks WHERE state = {DONE})"
    )
});

impl SqlQueue {
    /// Writes the provenance of the new tasks that carry one, in the tasks' transaction.
    pub(super) async fn insert_provenance(
        dialect: Dialect,
        tx: &mut sqlx::Transaction<'_, Any>,
        tasks: &[NewTask],
    ) -> Result<(), QueueError> {
        let kept: Vec<_> = tasks
            .iter()
            .filter_map(|task| task.provenance.as_ref().map(|p| (task.id.as_str(), p)))
            .collect();
        for chunk in kept.chunks(INSERT_CHUNK) {
            let sql = format!(
                "{} INTO task_provenance (task_id, received, received_bytes, batch, steps, \
                 keep_steps, replay_of, from_step) VALUES {}",
                dialect.insert(),
                dialect.rows(chunk.len(), 8)
            );
            let mut query = sqlx::query(&sql);
            for (id, record) in chunk {
                query = query
                    .bind(id.to_string())
                    .bind(record.received.clone())
                    .bind(i64::try_from(record.received_bytes).unwrap_or(i64::MAX))
                    .bind(i64::from(record.batch))
                    .bind(record.steps.clone())
                    .bind(record.keep_steps.as_str())
                    .bind(record.replay_of.as_ref().map(|r| r.task.clone()))
                    .bind(record.replay_of.as_ref().map(|r| i64::from(r.from_step)));
            }
            query
                .execute(&mut **tx)
                .await
                .map_err(QueueError::db("insert task provenance"))?;
        }
        Ok(())
    }

    /// The provenance of task `id`, with the tasks that replay it.
    pub(super) async fn read_provenance(&self, id: &str) -> Result<Option<Provenance>, QueueError> {
        let read = || QueueError::db("read task provenance");
        let replays: Vec<String> = sqlx::query(
            "SELECT task_id FROM task_provenance WHERE replay_of = $1 ORDER BY task_id",
        )
        .bind(id.to_owned())
        .fetch_all(&self.reader)
        .await
        .map_err(read())?
        .iter()
        .map(|row| row.try_get("task_id").map_err(read()))
        .collect::<Result<_, _>>()?;
        let Some(row) = sqlx::query(
            "SELECT received, received_bytes, batch, steps, keep_steps, replay_of, from_step \
             FROM task_provenance WHERE task_id = $1",
        )
        .bind(id.to_owned())
        .fetch_optional(&self.reader)
        .await
        .map_err(read())?
        else {
            return Ok(None);
        };
        let corrupt = |reason: String| QueueError::Corrupt {
            id: id.to_owned(),
            reason,
        };
        let received: Option<String> = row.try_get("received").map_err(read())?;
        let steps: Option<String> = row.try_get("steps").map_err(read())?;
        let replay_of: Option<String> = row.try_get("replay_of").map_err(read())?;
        let from_step: Option<i64> = row.try_get("from_step").map_err(read())?;
        let batch: i64 = row.try_get("batch").map_err(read())?;
        let received_bytes: i64 = row.try_get("received_bytes").map_err(read())?;
        Ok(Some(Provenance {
            received: received
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|e| corrupt(format!("provenance `received`: {e}")))?,
            received_bytes: u64::try_from(received_bytes).unwrap_or(0),
            batch: batch != 0,
            steps: steps
                .map(|text| serde_json::from_str::<Vec<KeptStep>>(&text))
                .transpose()
                .map_err(|e| corrupt(format!("provenance `steps`: {e}")))?,
            keep_steps: row.try_get("keep_steps").map_err(read())?,
            replay_of: replay_of.map(|task| ReplayOf {
                task,
                from_step: from_step.and_then(|n| u32::try_from(n).ok()).unwrap_or(1),
            }),
            replays,
        }))
    }

    /// Drops the kept steps of done tasks whose route keeps them only for failed tasks
    /// (`keepSteps: failed`); the item as received stays. Returns how many.
    pub(super) async fn prune_kept_steps(&self) -> Result<u64, QueueError> {
        let pruned = sqlx::query(&PRUNE_DONE_STEPS)
            .bind(KeepSteps::Failed.as_str())
            .execute(&self.writer)
            .await
            .map_err(QueueError::db("drop kept steps of done tasks"))?
            .rows_affected();
        // Rows whose task retention deleted.
        sqlx::query(
            "DELETE FROM task_provenance WHERE NOT EXISTS \
             (SELECT 1 FROM tasks WHERE tasks.id = task_provenance.task_id)",
        )
        .execute(&self.writer)
        .await
        .map_err(QueueError::db("delete provenance of purged tasks"))?;
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::json;
    use switchyard_crds::v1alpha1::KeepSteps;

    use crate::queue::provenance::{self, Received, StepCapture};
    use crate::queue::{
        Completion, NewTask, Outcome, QueueStore, RouteKey, SqlQueue, WriteBatch, now_ms,
    };

    fn task(route: &RouteKey, keep: KeepSteps) -> NewTask {
        let received = json!({"id": 1});
        let mut capture = StepCapture::new(1024);
        capture.record(
            0,
            "incoming step 1",
            "set",
            &[json!({"id": 1, "seen": true})],
        );
        let mut record = provenance::record(Received::Item(&received), None, keep, None);
        if let Some(record) = Arc::get_mut(&mut record) {
            record.steps = provenance::steps_json(capture);
        }
        NewTask {
            id: uuid::Uuid::now_v7().to_string(),
            route: route.clone(),
            item: json!({"id": 1, "seen": true}),
            source: "webhook",
            log: Vec::new(),
            failure: None,
            provenance: Some(record),
            trace: None,
            stored: None,
        }
    }

    #[tokio::test]
    async fn done_tasks_lose_their_steps_only_when_kept_for_failed_tasks() {
        let (_dir, queue) = SqlQueue::temporary(Duration::from_secs(60)).await;
        let route = RouteKey {
            namespace: "default".into(),
            route: "orders".into(),
        };
        let (failed_mode, always) = (
            task(&route, KeepSteps::Failed),
            task(&route, KeepSteps::Always),
        );
        let pending = task(&route, KeepSteps::Failed);
        let ids = [
            failed_mode.id.clone(),
            always.id.clone(),
            pending.id.clone(),
        ];
        queue
            .write(WriteBatch {
                new_tasks: vec![failed_mode, always, pending],
                ..Default::default()
            })
            .await
            .expect("write");
        // Deliver the first two.
        let leased = queue.lease(&route, 2, now_ms()).await.expect("lease");
        queue
            .write(WriteBatch {
                completions: leased
                    .iter()
                    .map(|task| Completion::of(task, Outcome::Done))
                    .collect(),
                ..Default::default()
            })
            .await
            .expect("complete");
        assert_eq!(queue.prune_provenance().await.expect("prune"), 1);
        let kept = |id: &str| {
            let queue = &queue;
            let id = id.to_owned();
            async move {
                queue
                    .get("default", &id)
                    .await
                    .expect("get")
                    .and_then(|task| task.provenance)
                    .expect("provenance")
            }
        };
        let done_failed_mode = kept(&ids[0]).await;
        assert_eq!(done_failed_mode.steps, None);
        assert_eq!(done_failed_mode.received, Some(json!({"id": 1})));
        assert!(kept(&ids[1]).await.steps.is_some(), "`always` keeps them");
        assert!(kept(&ids[2]).await.steps.is_some(), "not done yet");
    }
}
