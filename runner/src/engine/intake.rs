//! Intake: items → incoming pipeline → durable tasks.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::{Engine, Refusal};
use crate::connectors::Removal;
use crate::metrics::{RouteMetrics, events};
use crate::queue::provenance::{self, KeptRecord, Received, StepCapture};
use crate::queue::{LogLine, NewTask, PollClaim, QueueError, StoragePut, StoredItem};
use crate::redact;
use crate::runtime::RouteRuntime;
use crate::transform::{Context, DeferredWrite, StepFailed, apply_deferred};
use switchyard_crds::v1alpha1::KeepSteps;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("item {index}: {source}")]
    Transform {
        index: usize,
        #[source]
        source: StepFailed,
    },
    #[error("the queue could not store the items: {0}")]
    Queue(#[source] std::sync::Arc<QueueError>),
    #[error("route {0} is suspended")]
    Suspended(String),
    #[error("poll failed: {0}")]
    Poll(String),
    /// Back-pressure: the route is past a limit; nothing was queued.
    #[error("nothing was queued: {0}")]
    Refused(#[source] Refusal),
    /// A Route that takes this intake (`spec.incoming.route`) refused it.
    #[error("route {route} (which takes this route's items): {source}")]
    Follower {
        route: String,
        #[source]
        source: Box<IntakeError>,
    },
}

impl IntakeError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Transform { .. } => "intake_transform",
            Self::Queue(_) => "intake_queue",
            Self::Suspended(_) => "intake_suspended",
            Self::Poll(_) => "intake_poll",
            Self::Refused(refusal) => refusal.category(),
            Self::Follower { .. } => self.root().category(),
        }
    }

    /// The error itself, past the follower that reported it.
    pub fn root(&self) -> &IntakeError {
        match self {
            Self::Follower { source, .. } => source.root(),
            other => other,
        }
    }
}

/// The items of one intake, with the JSON text the one item of a request arrived as
/// (a webhook whose body is that object), which its provenance keeps as the item as
/// received instead of serializing the parsed item again.
#[derive(Debug, Clone)]
pub struct Arrived {
    items: Vec<Value>,
    /// The text of `items[0]` as sent; only when it is the only item.
    text: Option<String>,
}

impl Arrived {
    /// `items`, with `text`: the JSON text they were parsed from when that was one
    /// object. Copied only when there is exactly one item and the text fits what a
    /// task keeps of it ([`provenance::MAX_KEPT_BYTES`]): a larger body is not held
    /// while the pipeline runs, and its item is kept (or left out) as its compact JSON.
    pub fn with_text(items: Vec<Value>, text: Option<&str>) -> Self {
        let text = text
            .filter(|text| items.len() == 1 && text.len() <= provenance::MAX_KEPT_BYTES)
            .map(str::to_owned);
        Self { items, text }
    }
}

impl From<Vec<Value>> for Arrived {
    fn from(items: Vec<Value>) -> Self {
        Self { items, text: None }
    }
}

/// Tasks built by a route's incoming pipeline, not yet committed.
pub(crate) struct Prepared {
    pub tasks: Vec<NewTask>,
    /// Storage writes (cursors, hashes) to apply once the tasks are committed.
    pub deferred: Vec<DeferredWrite>,
    /// Items that came in, before the pipeline.
    pub received: usize,
    /// The routes these tasks belong to (the intake's first, then its followers'), with
    /// how many each: woken and counted once the tasks are committed.
    pub routes: Vec<(Arc<RouteMetrics>, usize)>,
    /// Where the items came from (`webhook`, `poll`…).
    pub source: &'static str,
}

impl Prepared {
    fn add(&mut self, mut other: Prepared) {
        self.tasks.append(&mut other.tasks);
        self.deferred.append(&mut other.deferred);
        self.routes.append(&mut other.routes);
    }

    /// Counts the committed intake; `started`: when the intake began (its duration is
    /// the first route's, the one the items came in for).
    pub fn count(&self, started: Option<Instant>) {
        for (index, (route, tasks)) in self.routes.iter().enumerate() {
            let took = started.filter(|_| index == 0).map(|s| s.elapsed());
            events::intake_committed(route, self.source, self.received, *tasks, took);
        }
    }
}

impl Engine {
    /// Runs the incoming pipeline on every item and commits one task per resulting item.
    /// All or nothing: if one item fails its pipeline, nothing is queued and the caller
    /// learns which item and step. Returns once the tasks are durable.
    pub async fn intake(
        &self,
        route: &RouteRuntime,
        items: impl Into<Arrived>,
        source: &'static str,
    ) -> Result<Vec<String>, IntakeError> {
        self.intake_claimed(route, items.into(), source, None, Vec::new())
            .await
    }

    /// [`Engine::intake`] of a poll: the tasks commit only while `claim` is held, and
    /// together with `storage` (the poll's advanced cursor).
    pub(crate) async fn intake_claimed(
        &self,
        route: &RouteRuntime,
        items: Arrived,
        source: &'static str,
        claim: Option<&PollClaim>,
        storage: Vec<StoragePut>,
    ) -> Result<Vec<String>, IntakeError> {
        let started = Instant::now();
        if !route.suspended() {
            self.admit(route).await?;
        }
        let mut prepared = self.prepare(route, items, source).await?;
        let skipped = (source == "poll")
            .then(|| self.admission.skipped_note(&route.key))
            .flatten();
        let mut noted = false;
        if let Some(note) = skipped {
            let line = LogLine::now(note);
            for task in prepared.tasks.iter_mut().filter(|t| t.route == route.key) {
                task.log.push(line.clone());
                noted = true;
            }
        }
        let ids: Vec<String> = prepared.tasks.iter().map(|t| t.id.clone()).collect();
        self.committer
            .enqueue_claimed(std::mem::take(&mut prepared.tasks), claim, storage)
            .await
            .map_err(IntakeError::Queue)?;
        self.admission.committed(&prepared.routes);
        if noted {
            self.admission.skipped_noted(&route.key);
        }
        prepared.count(Some(started));
        self.committed(&prepared.routes, prepared.deferred).await;
        Ok(ids)
    }

    /// Back-pressure: whether `route` and the routes that take its intake may take new
    /// items now. Work already accepted (retries, after-delivery triggers) never asks.
    pub(crate) async fn admit(&self, route: &RouteRuntime) -> Result<(), IntakeError> {
        let store = self.store.as_ref();
        self.admission
            .check(store, route)
            .await
            .map_err(IntakeError::Refused)?;
        let runtime = self.runtime();
        for follower in runtime
            .followers(&route.key)
            .iter()
            .filter(|f| !f.suspended())
        {
            self.admission
                .check(store, follower)
                .await
                .map_err(|refusal| IntakeError::Follower {
                    route: follower.key.route.clone(),
                    source: Box::new(IntakeError::Refused(refusal)),
                })?;
        }
        Ok(())
    }

    /// A poller skipped its tick because of `refusal`.
    pub(crate) fn poll_skipped(&self, route: &RouteRuntime, refusal: &Refusal) {
        self.admission.poll_skipped(&route.key, refusal);
    }

    /// Runs the incoming pipeline of the route and of every route that takes its
    /// intake (fan-out), and builds the tasks, without committing them (the caller
    /// commits them in one transaction, possibly with other writes, then calls
    /// [`Engine::committed`]). All or nothing: a follower that refuses an item fails
    /// the whole intake. A suspended follower takes nothing.
    pub(crate) async fn prepare(
        &self,
        route: &RouteRuntime,
        items: Arrived,
        source: &'static str,
    ) -> Result<Prepared, IntakeError> {
        if route.suspended() {
            return Err(IntakeError::Suspended(format!(
                "{}/{}",
                route.key.namespace, route.key.route
            )));
        }
        let runtime = self.runtime();
        let followers: Vec<&RouteRuntime> = runtime
            .followers(&route.key)
            .iter()
            .filter(|f| !f.suspended())
            .map(AsRef::as_ref)
            .collect();
        if followers.is_empty() {
            return self.prepare_route(route, items, source, None).await;
        }
        let mut prepared = self
            .prepare_route(route, items.clone(), source, None)
            .await?;
        for follower in followers {
            let taken = self
                .prepare_route(follower, items.clone(), source, Some(&route.key.route))
                .await
                .map_err(|error| IntakeError::Follower {
                    route: follower.key.route.clone(),
                    source: Box::new(error),
                })?;
            prepared.add(taken);
        }
        Ok(prepared)
    }

    /// One route's share of an intake; `via`: the route whose intake it takes.
    async fn prepare_route(
        &self,
        route: &RouteRuntime,
        arrived: Arrived,
        source: &'static str,
        via: Option<&str>,
    ) -> Result<Prepared, IntakeError> {
        let source_text = match via {
            Some(parent) => format!("{source} of route {parent}"),
            None => source.to_owned(),
        };
        let Arrived { items, text } = arrived;
        if route.incoming.needs_context() || route.incoming.has_batch_steps() {
            return self.prepare_batch(route, items, source, &source_text).await;
        }
        let received = items.len();
        let mut tasks = Vec::with_capacity(received);
        let trace = crate::telemetry::context::current();
        for (index, item) in items.into_iter().enumerate() {
            let (outputs, summary, kept, mut stored) = if route.incoming.is_empty() {
                (vec![item], None, None, None)
            } else {
                let came_in = match &text {
                    Some(text) => Received::Sent { item: &item, text },
                    None => Received::Item(&item),
                };
                let keep = route.compiled.processing.keep_steps;
                let mut kept = provenance::record(came_in, None, keep, None);
                let mut capture =
                    (keep != KeepSteps::Never).then(|| StepCapture::new(kept.budget_left()));
                let (outputs, summary) = route
                    .incoming
                    .run_sync_from(vec![item], 0, capture.as_mut())
                    .map_err(|source| IntakeError::Transform { index, source })?;
                // One task: its item's text is the last step's kept one.
                let stored = capture
                    .as_ref()
                    .filter(|_| outputs.len() == 1)
                    .and_then(StepCapture::last_item_text)
                    .map(|text| StoredItem::new(text.to_owned()));
                with_steps(&mut kept, capture);
                (outputs, Some(summary), Some(kept), stored)
            };
            // One line for what came in and what the transformers made of it: a log row
            // per task is a write per task, on the hot path of intake.
            let mut message = format!(
                "Received via {source_text} (item {} of {received})",
                index + 1
            );
            if let Some(summary) = summary {
                message.push_str("; incoming transformers: ");
                message.push_str(&summary);
            }
            let line = redact_lines(vec![LogLine::now(message)]);
            for output in outputs {
                tasks.push(NewTask {
                    id: uuid::Uuid::now_v7().to_string(),
                    route: route.key.clone(),
                    item: output,
                    source,
                    log: line.clone(),
                    failure: None,
                    provenance: kept.clone(),
                    trace: trace.clone(),
                    stored: stored.take(),
                });
            }
        }
        Ok(Prepared {
            routes: vec![(route.metrics.clone(), tasks.len())],
            tasks,
            deferred: Vec::new(),
            received,
            source,
        })
    }

    /// After prepared tasks are durable: cursors and hashes may move, and the
    /// delivery of each route with new tasks wakes up. A failed write here means the
    /// items come again next time (at-least-once), never that they are lost.
    pub(crate) async fn committed(
        &self,
        routes: &[(Arc<RouteMetrics>, usize)],
        deferred: Vec<DeferredWrite>,
    ) {
        if let Err(error) = apply_deferred(self.storage.as_ref(), deferred).await {
            let names: Vec<&str> = routes.iter().map(|(r, _)| r.key().route.as_str()).collect();
            tracing::error!(routes = %names.join(","), error = %error, "Cannot save cursors or hashes after queueing; the items will be fetched again");
        }
        for (route, tasks) in routes {
            if *tasks > 0 {
                self.wakeup(route.key()).notify_one();
            }
        }
    }

    /// Preparation through a pipeline with batch or storage steps: the whole batch runs
    /// the pipeline at once (sort, dedupe and aggregate see every item of the request or
    /// fetch), and its storage writes (cursors, hashes) wait for the commit.
    async fn prepare_batch(
        &self,
        route: &RouteRuntime,
        items: Vec<Value>,
        source: &'static str,
        source_text: &str,
    ) -> Result<Prepared, IntakeError> {
        let received = items.len();
        let context = Context::new(route.key.namespace.clone(), self.storage.clone());
        let keep = route.compiled.processing.keep_steps;
        let mut kept = provenance::record(Received::Batch(&items), None, keep, None);
        let mut capture = (keep != KeepSteps::Never).then(|| StepCapture::new(kept.budget_left()));
        let (outputs, summary) = route
            .incoming
            .run_batch_from(items, &context, 0, capture.as_mut())
            .await
            .map_err(|source| IntakeError::Transform {
                index: source.item,
                source,
            })?;
        with_steps(&mut kept, capture);
        let came_in = LogLine::now(format!(
            "Received via {source_text} (batch of {received}, {} after the incoming transformers)",
            outputs.len()
        ));
        let trace = crate::telemetry::context::current();
        let tasks: Vec<NewTask> = outputs
            .into_iter()
            .map(|output| NewTask {
                id: uuid::Uuid::now_v7().to_string(),
                route: route.key.clone(),
                item: output,
                source,
                log: redact_lines(vec![
                    came_in.clone(),
                    LogLine::now(format!("Incoming transformers: {summary}")),
                ]),
                failure: None,
                provenance: Some(kept.clone()),
                trace: trace.clone(),
                stored: None,
            })
            .collect();
        Ok(Prepared {
            routes: vec![(route.metrics.clone(), tasks.len())],
            tasks,
            deferred: context.take_deferred(),
            received,
            source,
        })
    }
}

impl Engine {
    /// Commits one task in state `failed` recording that the batch `label` was rejected
    /// for `reason` (which says what and where, e.g. the file and line) and what
    /// happens to its input. The task is never delivered and cannot be retried (see
    /// [`crate::queue::UNREADABLE_SOURCE`]). Returns its id once it is durable.
    pub async fn record_rejected(
        &self,
        route: &RouteRuntime,
        label: &str,
        reason: &str,
        removal: Removal,
        claim: Option<&PollClaim>,
    ) -> Result<String, IntakeError> {
        let reason = redact::redact(reason).into_owned();
        let mut item = removal.item;
        item.insert("error".into(), Value::String(reason.clone()));
        let task = NewTask::unreadable(
            route.key.clone(),
            Value::Object(item),
            reason.clone(),
            redact_lines(vec![
                LogLine::now(format!(
                    "Read by a poll; none of its items were queued: {reason}"
                )),
                LogLine::now(removal.note),
            ]),
        );
        let id = task.id.clone();
        self.committer
            .enqueue_claimed(vec![task], claim, Vec::new())
            .await
            .map_err(IntakeError::Queue)?;
        tracing::info!(namespace = %route.key.namespace, route = %route.key.route, batch = %label, task = %id, "Recorded the rejected batch as a failed task");
        Ok(id)
    }
}

/// Task log lines pass through the redactor before they are stored.
pub(crate) fn redact_lines(mut lines: Vec<LogLine>) -> Vec<LogLine> {
    for line in &mut lines {
        if let std::borrow::Cow::Owned(clean) = redact::redact(&line.message) {
            line.message = clean;
        }
    }
    lines
}

/// Adds the captured steps to a record built before the pipeline ran.
fn with_steps(record: &mut Arc<KeptRecord>, capture: Option<StepCapture>) {
    if let (Some(capture), Some(record)) = (capture, Arc::get_mut(record)) {
        record.steps = provenance::steps_json(capture);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follower_refusal_is_categorized_by_its_root() {
        let refused = IntakeError::Refused(Refusal::DiskFloor {
            free_mib: 10,
            floor_mib: 100,
        });
        assert_eq!(refused.category(), "disk_floor");
        let follower = IntakeError::Follower {
            route: "audit".into(),
            source: Box::new(IntakeError::Follower {
                route: "archive".into(),
                source: Box::new(IntakeError::Suspended("default/archive".into())),
            }),
        };
        assert_eq!(follower.category(), "intake_suspended");
    }

    /// The text of a one-item body travels with it only while it fits what a task
    /// keeps; a larger body is not copied.
    #[test]
    fn only_the_text_of_one_item_that_fits_is_carried() {
        let item = serde_json::json!({"id": 1});
        let fits = "{ \"id\": 1 }";
        let one = Arrived::with_text(vec![item.clone()], Some(fits));
        assert_eq!(one.text.as_deref(), Some(fits));
        let two = Arrived::with_text(vec![item.clone(), item.clone()], Some(fits));
        assert_eq!(two.text, None);
        let spaced = format!("{fits}{}", " ".repeat(provenance::MAX_KEPT_BYTES));
        let large = Arrived::with_text(vec![item], Some(&spaced));
        assert_eq!(large.text, None);
    }
}
