//! Replay: a task's item run again through the route's incoming steps as configured
//! now, from a chosen step on, into new tasks linked to the old one (for fixing a
//! transformer and re-running what it broke).

use std::sync::Arc;

use super::Engine;
use super::intake::redact_lines;
use switchyard_crds::v1alpha1::KeepSteps;

use crate::queue::provenance::{
    self, KeptRecord, MAX_KEPT_BYTES, MissingInput, ReplayOf, StepCapture,
};
use crate::queue::{LogLine, NewTask, QueueError, RouteKey};
use crate::transform::{Context, StepFailed};

/// Why a replay did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no task `{id}` in namespace `{namespace}`")]
    NoTask { namespace: String, id: String },
    #[error(
        "task {id} keeps no record of its item as received (its route had no incoming \
         steps when it was queued); retry it instead"
    )]
    NoProvenance { id: String },
    #[error("route {route} of task {id} is no longer configured")]
    RouteGone { id: String, route: String },
    #[error("route {route} is a proxy: its calls cannot be replayed")]
    Proxy { route: String },
    #[error(
        "`fromStep` must be between 1 and {steps}: route {route} has {steps} incoming \
         steps now"
    )]
    StepOutOfRange { route: String, steps: usize },
    #[error("task {id} cannot be replayed from step {step}: {source}")]
    Missing {
        id: String,
        step: u32,
        #[source]
        source: MissingInput,
    },
    #[error("the replay of task {id} failed: {source}")]
    Transform {
        id: String,
        #[source]
        source: StepFailed,
    },
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("the queue could not store the replayed items: {0}")]
    Commit(#[source] Arc<QueueError>),
}

impl ReplayError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::NoTask { .. } => "replay_no_task",
            Self::NoProvenance { .. } => "replay_no_provenance",
            Self::RouteGone { .. } => "replay_route_gone",
            Self::Proxy { .. } => "replay_proxy",
            Self::StepOutOfRange { .. } => "replay_step_out_of_range",
            Self::Missing { .. } => "replay_missing_input",
            Self::Transform { .. } => "replay_transform",
            Self::Queue(_) => "replay_queue",
            Self::Commit(_) => "replay_commit",
        }
    }
}

impl Engine {
    /// Runs the incoming steps of task `id`'s route (as configured now) from step
    /// `from_step` (1-based; 1: from the item as received) on the items that went into
    /// that step when the task was made, and queues one task per resulting item, linked
    /// to the old task. Back-pressure does not apply (the items were accepted already).
    /// Returns the new tasks' ids once they are durable.
    pub async fn replay(
        &self,
        namespace: &str,
        id: &str,
        from_step: u32,
        actor: &str,
    ) -> Result<Vec<String>, ReplayError> {
        let task = self
            .store
            .get(namespace, id)
            .await?
            .ok_or_else(|| ReplayError::NoTask {
                namespace: namespace.to_owned(),
                id: id.to_owned(),
            })?;
        let kept = task
            .provenance
            .ok_or_else(|| ReplayError::NoProvenance { id: id.to_owned() })?;
        let runtime = self.runtime();
        let route = runtime
            .route(namespace, &task.summary.route)
            .ok_or_else(|| ReplayError::RouteGone {
                id: id.to_owned(),
                route: task.summary.route.clone(),
            })?;
        if route.is_proxy() {
            return Err(ReplayError::Proxy {
                route: task.summary.route,
            });
        }
        let steps = route.incoming.len();
        let from = from_step.max(1);
        if usize::try_from(from).map_or(true, |n| n > steps.max(1)) {
            return Err(ReplayError::StepOutOfRange {
                route: task.summary.route,
                steps,
            });
        }
        let input = kept.input_of(from).map_err(|source| ReplayError::Missing {
            id: id.to_owned(),
            step: from,
            source,
        })?;
        // The new tasks keep the old one's item as received, and what the steps before
        // `from` made of it then.
        let received = kept.received.as_ref().map(ToString::to_string);
        let keep = route.compiled.processing.keep_steps;
        let earlier = kept
            .steps
            .iter()
            .flatten()
            .filter(|step| step.step < from)
            .cloned()
            .collect();
        let budget = MAX_KEPT_BYTES.saturating_sub(received.as_ref().map_or(0, String::len));
        let mut capture = StepCapture::continuing(budget, earlier);
        let start = usize::try_from(from - 1).unwrap_or(usize::MAX);
        let context = Context::new(namespace.to_owned(), self.storage.clone());
        let (outputs, summary) =
            if route.incoming.needs_context() || route.incoming.has_batch_steps() {
                route
                    .incoming
                    .run_batch_from(input, &context, start, Some(&mut capture))
                    .await
            } else {
                route
                    .incoming
                    .run_sync_from(input, start, Some(&mut capture))
            }
            .map_err(|source| ReplayError::Transform {
                id: id.to_owned(),
                source,
            })?;
        let record = Arc::new(KeptRecord {
            received,
            received_bytes: kept.received_bytes,
            batch: kept.batch,
            steps: (keep != KeepSteps::Never)
                .then(|| provenance::steps_json(capture))
                .flatten(),
            keep_steps: keep,
            replay_of: Some(ReplayOf {
                task: id.to_owned(),
                from_step: from,
            }),
        });
        let line = redact_lines(vec![LogLine::now(format!(
            "Replay of task {id} from step {from} requested by {actor}; incoming transformers: {summary}"
        ))]);
        let key = RouteKey {
            namespace: namespace.to_owned(),
            route: task.summary.route.clone(),
        };
        let tasks: Vec<NewTask> = outputs
            .into_iter()
            .map(|item| NewTask {
                id: uuid::Uuid::now_v7().to_string(),
                route: key.clone(),
                item,
                source: REPLAY_SOURCE,
                log: line.clone(),
                failure: None,
                provenance: Some(record.clone()),
                trace: crate::telemetry::context::current(),
                stored: None,
            })
            .collect();
        let ids: Vec<String> = tasks.iter().map(|t| t.id.clone()).collect();
        self.committer
            .enqueue(tasks)
            .await
            .map_err(ReplayError::Commit)?;
        self.committed(
            &[(route.metrics.clone(), ids.len())],
            context.take_deferred(),
        )
        .await;
        crate::metrics::events::task_replayed(&key, id, from, ids.len(), actor);
        Ok(ids)
    }
}

/// The source of a task made by a replay.
pub const REPLAY_SOURCE: &str = "replay";
