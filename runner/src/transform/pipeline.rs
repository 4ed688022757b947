//! A route's steps in order, and how they run: synchronous steps item by item, batch
//! steps on the whole batch, asynchronous steps with a [`Context`].

use futures::future::BoxFuture;
use serde_json::Value;

use crate::metrics::StepTimer;
use crate::queue::RouteKey;
use crate::queue::provenance::StepCapture;
use crate::telemetry::spans;

use super::{AsyncTransform, BatchTransform, Context, JqProgram, Transform, TransformError};

/// A step that failed, named as it was written, with the index of the item (in that
/// step's input) that made it fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{label} ({kind}) failed: {error}")]
pub struct StepFailed {
    pub label: String,
    pub kind: &'static str,
    /// Index of the failing item among the items the step received.
    pub item: usize,
    #[source]
    pub error: TransformError,
}

impl StepFailed {
    /// Whether another attempt on the same item may succeed.
    pub fn is_transient(&self) -> bool {
        self.error.is_transient()
    }
}

/// At delivery, a step that failed transiently (a lookup service that is down) is
/// retried like an unavailable receiver; any other failure cannot change on retry.
impl From<StepFailed> for crate::connectors::DeliveryError {
    fn from(error: StepFailed) -> Self {
        if error.is_transient() {
            Self::Unavailable {
                message: error.to_string(),
                retry_after: None,
            }
        } else {
            Self::Request(error.to_string())
        }
    }
}

pub(crate) enum Stage {
    Item(Box<dyn Transform>),
    Batch(Box<dyn BatchTransform>),
    Async(Box<dyn AsyncTransform>),
    When(Box<When>),
}

pub(crate) struct When {
    pub condition: JqProgram,
    pub then: Pipeline,
    pub otherwise: Pipeline,
}

impl Stage {
    fn kind(&self) -> &'static str {
        match self {
            Self::Item(t) => t.kind(),
            Self::Batch(t) => t.kind(),
            Self::Async(t) => t.kind(),
            Self::When(_) => "when",
        }
    }

    fn needs_context(&self) -> bool {
        match self {
            Self::Item(_) | Self::Batch(_) => false,
            Self::Async(_) => true,
            Self::When(when) => when.then.needs_context() || when.otherwise.needs_context(),
        }
    }
}

pub(crate) struct LabeledStage {
    pub label: String,
    pub stage: Stage,
    /// Times the step (top-level steps of a route only).
    pub timer: StepTimer,
}

/// A step under way: its span, when its timer started, and the items it got.
struct Running {
    span: tracing::Span,
    started: Option<std::time::Instant>,
    before: usize,
}

/// The ordered steps of one side of a route.
#[derive(Default)]
pub struct Pipeline {
    pub(crate) steps: Vec<LabeledStage>,
}

impl Pipeline {
    /// Times each top-level step into the route's step-duration histogram.
    pub fn timed(mut self, route: &RouteKey) -> Self {
        for step in &mut self.steps {
            step.timer = StepTimer::new(route, &step.label, step.stage.kind());
        }
        self
    }

    /// Top-level steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Whether a step sees the whole batch (sort, dedupe, aggregate).
    pub fn has_batch_steps(&self) -> bool {
        self.steps.iter().any(|s| match &s.stage {
            Stage::Batch(_) => true,
            Stage::When(when) => when.then.has_batch_steps() || when.otherwise.has_batch_steps(),
            Stage::Item(_) | Stage::Async(_) => false,
        })
    }

    /// Whether a step needs storage: then only [`Pipeline::run_batch`] can run it.
    pub fn needs_context(&self) -> bool {
        self.steps.iter().any(|s| s.stage.needs_context())
    }

    /// Runs every step on one item without a context (the fast path; steps that need
    /// storage fail). Returns the items and a one-line summary for the task log
    /// (`step 1 jq: 1 → 2; step 2 set: 2 → 2`).
    pub fn run(&self, item: Value) -> Result<(Vec<Value>, String), StepFailed> {
        self.run_sync(vec![item])
    }

    /// [`Pipeline::run`] on a batch.
    pub fn run_sync(&self, items: Vec<Value>) -> Result<(Vec<Value>, String), StepFailed> {
        self.run_sync_from(items, 0, None)
    }

    /// [`Pipeline::run_sync`] from step `from` (0-based) on, noting the items after
    /// each step in `capture` (provenance).
    pub fn run_sync_from(
        &self,
        items: Vec<Value>,
        from: usize,
        mut capture: Option<&mut StepCapture>,
    ) -> Result<(Vec<Value>, String), StepFailed> {
        let mut items = items;
        // One buffer for the log line: it is built for every item on the hot path.
        let mut summary = String::with_capacity(24 * self.steps.len());
        for (index, step) in self.steps.iter().enumerate().skip(from) {
            let running = step.start(items.len());
            let before = running.before;
            let result = match &step.stage {
                Stage::Item(t) => apply_items(t.as_ref(), items),
                Stage::Batch(t) => t.apply_batch(items),
                Stage::Async(_) => Err((0, TransformError::NoContext)),
                Stage::When(when) => {
                    let mut out = Vec::with_capacity(before);
                    let mut failed = None;
                    for (index, item) in items.into_iter().enumerate() {
                        let branch = when.branch(&item).map_err(|e| (index, e));
                        let result = branch
                            .and_then(|b| b.run_sync(vec![item]).map_err(|e| (index, nested(e))));
                        match result {
                            Ok((produced, _)) => out.extend(produced),
                            Err(error) => {
                                failed = Some(error);
                                break;
                            }
                        }
                    }
                    failed.map_or(Ok(out), Err)
                }
            };
            items = step.finish(running, index, result, &mut summary, capture.as_deref_mut())?;
            if items.is_empty() {
                break;
            }
        }
        Ok((items, summary))
    }

    /// Runs every step on a batch, with storage. Deferred writes stay in `context` for
    /// the caller to apply once the items are safe.
    pub fn run_batch<'a>(
        &'a self,
        items: Vec<Value>,
        context: &'a Context,
    ) -> BoxFuture<'a, Result<(Vec<Value>, String), StepFailed>> {
        self.run_batch_from(items, context, 0, None)
    }

    /// [`Pipeline::run_batch`] from step `from` (0-based) on, noting the items after
    /// each step in `capture` (provenance).
    pub fn run_batch_from<'a>(
        &'a self,
        items: Vec<Value>,
        context: &'a Context,
        from: usize,
        mut capture: Option<&'a mut StepCapture>,
    ) -> BoxFuture<'a, Result<(Vec<Value>, String), StepFailed>> {
        Box::pin(async move {
            let mut items = items;
            let mut summary = String::with_capacity(24 * self.steps.len());
            for (index, step) in self.steps.iter().enumerate().skip(from) {
                let running = step.start(items.len());
                let before = running.before;
                let result = match &step.stage {
                    Stage::Item(t) => apply_items(t.as_ref(), items),
                    Stage::Batch(t) => t.apply_batch(items),
                    Stage::Async(t) => {
                        let mut out = Vec::with_capacity(before);
                        let mut failed = None;
                        for (index, item) in items.into_iter().enumerate() {
                            if let Err(error) = t.apply(item, context, &mut out).await {
                                failed = Some((index, error));
                                break;
                            }
                        }
                        failed.map_or(Ok(out), Err)
                    }
                    Stage::When(when) => {
                        let mut out = Vec::with_capacity(before);
                        let mut failed = None;
                        for (index, item) in items.into_iter().enumerate() {
                            let branch = match when.branch(&item) {
                                Ok(branch) => branch,
                                Err(error) => {
                                    failed = Some((index, error));
                                    break;
                                }
                            };
                            match branch.run_batch(vec![item], context).await {
                                Ok((produced, _)) => out.extend(produced),
                                Err(error) => {
                                    failed = Some((index, nested(error)));
                                    break;
                                }
                            }
                        }
                        failed.map_or(Ok(out), Err)
                    }
                };
                let capture = capture.as_deref_mut();
                items = step.finish(running, index, result, &mut summary, capture)?;
                if items.is_empty() {
                    break;
                }
            }
            Ok((items, summary))
        })
    }
}

impl When {
    fn branch(&self, item: &Value) -> Result<&Pipeline, TransformError> {
        let result = self.condition.first(item.clone())?;
        Ok(if super::truthy(&result) {
            &self.then
        } else {
            &self.otherwise
        })
    }
}

impl LabeledStage {
    /// Starts the step on `before` items: its span and its timer.
    fn start(&self, before: usize) -> Running {
        Running {
            span: spans::step(&self.label, self.stage.kind(), before),
            started: self.timer.start(),
            before,
        }
    }

    /// Ends the step: stops its timer and span, adds it to the summary and the capture
    /// (the step's `index`), and returns the items it left, or its failure.
    fn finish(
        &self,
        running: Running,
        index: usize,
        result: Result<Vec<Value>, (usize, TransformError)>,
        summary: &mut String,
        capture: Option<&mut StepCapture>,
    ) -> Result<Vec<Value>, StepFailed> {
        let result = result.map_err(|(item, error)| self.failed(item, error));
        self.timer.stop(running.started);
        spans::step_done(&running.span, result.as_ref().map(Vec::len).map_err(|_| ()));
        let items = result?;
        self.summarize(summary, running.before, items.len());
        if let Some(capture) = capture {
            capture.record(index, &self.label, self.stage.kind(), &items);
        }
        Ok(items)
    }

    fn failed(&self, item: usize, error: TransformError) -> StepFailed {
        StepFailed {
            label: self.label.clone(),
            kind: self.stage.kind(),
            item,
            error,
        }
    }

    /// Appends `label kind: before → after` to the summary, `; `-separated.
    fn summarize(&self, summary: &mut String, before: usize, after: usize) {
        use std::fmt::Write;
        if !summary.is_empty() {
            summary.push_str("; ");
        }
        // Writing to a String cannot fail.
        let _ = write!(
            summary,
            "{} {}: {before} → {after}",
            self.label,
            self.stage.kind()
        );
    }
}

fn apply_items(
    transform: &dyn Transform,
    items: Vec<Value>,
) -> Result<Vec<Value>, (usize, TransformError)> {
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        transform.apply(item, &mut out).map_err(|e| (index, e))?;
    }
    Ok(out)
}

/// A failure inside a `when` block, as the block's error (naming the inner step).
fn nested(error: StepFailed) -> TransformError {
    TransformError::Nested {
        step: error.label,
        kind: error.kind,
        error: Box::new(error.error),
    }
}
