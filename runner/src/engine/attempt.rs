//! One delivery attempt: the outgoing pipeline, the send, the after-delivery steps,
//! and the outcome to record. A batch attempt sends the items of several tasks in one
//! go to a sink that takes batches (a database writes them in one transaction); each
//! task still gets its own outcome.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Engine;
use super::intake::{IntakeError, Prepared, redact_lines};
use crate::circuit::{Pass, Verdict};
use crate::connectors::{DeliveryError, DeliveryReport, read_stored};
use crate::metrics::events;
use crate::queue::{Completion, LeasedTask, LogLine, Outcome, backoff_delay, now_ms};
use crate::runtime::RouteRuntime;
use crate::storage::StorageError;
use crate::telemetry::spans;
use crate::transform::{Context, StepFailed, Triggered, apply_deferred};
use tracing::Instrument;

/// What a delivery attempt leaves to commit.
pub(super) struct Attempted {
    pub completion: Completion,
    /// Tasks the after-delivery steps queued for other routes.
    pub follow_ups: Vec<FollowUp>,
}

/// Tasks for another route (and the routes that take its intake), prepared by their
/// incoming pipelines.
pub(super) struct FollowUp {
    pub prepared: Prepared,
}

/// How a delivery ended, short of a delivery error.
enum Delivered {
    /// Sent; with the tasks the after-delivery steps queued for other routes, and the
    /// receiver's answer to the first item (for `outgoing.await`).
    Done(Vec<FollowUp>, Option<Value>),
    /// The outgoing transformers filtered the item out.
    Skipped,
    /// Sent, but an after-delivery step failed (the message says which).
    AfterDeliveryFailed(String),
}

/// A task whose outgoing pipeline ran: the items to send, and what it has to say.
struct Outgoing {
    task: LeasedTask,
    log: Vec<LogLine>,
    /// Holds the outgoing steps' deferred storage writes until the items are sent.
    context: Context,
    items: Vec<Value>,
    /// The task's attempt span.
    span: tracing::Span,
}

/// One delivery attempt of one task.
/// `pass`: the Connection's circuit let it through; it hears how the sending went.
pub(super) async fn attempt(
    engine: &Engine,
    route: &RouteRuntime,
    task: LeasedTask,
    pass: Pass,
) -> Attempted {
    let started = Instant::now();
    first_attempt(route, &task);
    let span = spans::attempt(&task);
    let mut log = Vec::new();
    if pass.is_trial() {
        log.push(LogLine::now(format!(
            "Attempt {}: the trial delivery of the half-open circuit of Connection `{}`",
            task.attempts, route.compiled.spec.outgoing.connection
        )));
    }
    let result = deliver_one(engine, route, &task, pass, &mut log)
        .instrument(span.clone())
        .await;
    settled(route, task, log, result, started, &span)
}

/// Counts how long a task waited in the queue before its first attempt.
/// (And traces that wait.)
fn first_attempt(route: &RouteRuntime, task: &LeasedTask) {
    if task.attempts == 1 {
        events::first_attempt(&route.metrics, since(task.created_at_ms));
        spans::queue_wait(task);
    }
}

/// Time since `at_ms` (ms since the Unix epoch); zero for a time in the future.
fn since(at_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(now_ms() - at_ms).unwrap_or(0))
}

/// Runs the outgoing pipeline and sends each resulting item, stopping at the first
/// failure. A route without outgoing or after-delivery steps sends the item as it was
/// stored ([`send_stored`]).
async fn deliver_one(
    engine: &Engine,
    route: &RouteRuntime,
    task: &LeasedTask,
    pass: Pass,
    log: &mut Vec<LogLine>,
) -> Result<Delivered, DeliveryError> {
    if route.outgoing.is_empty() && route.after_delivery.is_empty() {
        return send_stored(route, task, pass, log).await;
    }
    // Filtered out or not built: nothing was sent, the pass drops unsettled.
    let item = read_stored(&task.item)?;
    let Some((context, items)) = outgoing(engine, route, item, log).await? else {
        return Ok(Delivered::Skipped);
    };
    let keys = idempotency_keys(task, items.len());
    let mut reports = Vec::with_capacity(items.len());
    for (item, key) in items.iter().zip(&keys) {
        match route.sink.send(item, key).await {
            Ok(report) => reports.push(report),
            Err(error) => {
                pass.settle(verdict(&error));
                // The items sent before this one are in the log, so a human sees them.
                log_reports(task, &reports, log);
                return Err(error);
            }
        }
    }
    pass.settle(Verdict::Answered);
    delivered(engine, route, task, items, reports, &context, log).await
}

/// Sends an item the route does not reshape on its way out as the queue stored it:
/// nothing reads the item or the receiver's answer into values, unless the sink needs
/// them (see [`crate::connectors::Sink::send_stored`]).
async fn send_stored(
    route: &RouteRuntime,
    task: &LeasedTask,
    pass: Pass,
    log: &mut Vec<LogLine>,
) -> Result<Delivered, DeliveryError> {
    match route.sink.send_stored(&task.item, &task.id).await {
        Ok(report) => {
            pass.settle(Verdict::Answered);
            log_reports(task, std::slice::from_ref(&report), log);
            Ok(Delivered::Done(Vec::new(), report.response))
        }
        Err(error) => {
            pass.settle(verdict(&error));
            Err(error)
        }
    }
}

/// One delivery attempt of several tasks, sent to the sink as one batch.
pub(super) async fn attempt_batch(
    engine: &Engine,
    route: &RouteRuntime,
    tasks: Vec<LeasedTask>,
    pass: Pass,
) -> Vec<Attempted> {
    let started = Instant::now();
    let mut attempted = Vec::with_capacity(tasks.len());
    let mut ready = Vec::with_capacity(tasks.len());
    for task in tasks {
        first_attempt(route, &task);
        let span = spans::attempt(&task);
        let mut log = Vec::new();
        let ran = match read_stored(&task.item) {
            Ok(item) => {
                outgoing(engine, route, item, &mut log)
                    .instrument(span.clone())
                    .await
            }
            Err(error) => Err(error),
        };
        match ran {
            Err(error) => attempted.push(settled(route, task, log, Err(error), started, &span)),
            Ok(None) => attempted.push(settled(
                route,
                task,
                log,
                Ok(Delivered::Skipped),
                started,
                &span,
            )),
            Ok(Some((context, items))) => ready.push(Outgoing {
                task,
                log,
                context,
                items,
                span,
            }),
        }
    }
    if ready.is_empty() {
        return attempted;
    }
    let keys: Vec<Vec<String>> = ready
        .iter()
        .map(|r| idempotency_keys(&r.task, r.items.len()))
        .collect();
    let requests: Vec<(&Value, &str)> = ready
        .iter()
        .zip(&keys)
        .flat_map(|(r, keys)| r.items.iter().zip(keys.iter().map(String::as_str)))
        .collect();
    let results = route.sink.send_batch(&requests).await;
    pass.settle(batch_verdict(&results));
    let mut results = results.into_iter();
    for mut task in ready {
        let mut mine: Vec<Result<DeliveryReport, DeliveryError>> =
            results.by_ref().take(task.items.len()).collect();
        mine.resize_with(task.items.len(), || Err(missing_result()));
        let mine: Result<Vec<DeliveryReport>, DeliveryError> = mine.into_iter().collect();
        let result = match mine {
            Ok(reports) => {
                delivered(
                    engine,
                    route,
                    &task.task,
                    task.items,
                    reports,
                    &task.context,
                    &mut task.log,
                )
                .instrument(task.span.clone())
                .await
            }
            Err(error) => Err(error),
        };
        attempted.push(settled(
            route, task.task, task.log, result, started, &task.span,
        ));
    }
    attempted
}

/// What a failed delivery tells the Connection's circuit breaker: a transient failure
/// counts (with the wait the receiver asked for); a refusal means the system answers; a
/// request that could not be built was never sent.
fn verdict(error: &DeliveryError) -> Verdict {
    match error {
        DeliveryError::Unavailable {
            message,
            retry_after,
        } => Verdict::Failed {
            why: crate::redact::redact(message).into_owned(),
            retry_after: *retry_after,
        },
        DeliveryError::Rejected(_) => Verdict::Answered,
        DeliveryError::Request(_) => Verdict::NotSent,
    }
}

/// A batch answered when any of its items was answered; otherwise its first failure
/// counts, with the longest wait asked for.
fn batch_verdict(results: &[Result<DeliveryReport, DeliveryError>]) -> Verdict {
    let mut verdicts = results.iter().map(|result| match result {
        Ok(_) => Verdict::Answered,
        Err(error) => verdict(error),
    });
    let mut failed: Option<Verdict> = None;
    for next in verdicts.by_ref() {
        match next {
            Verdict::Answered => return Verdict::Answered,
            Verdict::NotSent => {}
            Verdict::Failed { why, retry_after } => match &mut failed {
                Some(Verdict::Failed {
                    retry_after: longest,
                    ..
                }) => *longest = (*longest).max(retry_after),
                _ => failed = Some(Verdict::Failed { why, retry_after }),
            },
        }
    }
    failed.unwrap_or(Verdict::NotSent)
}

/// A sink answered fewer results than it was given items (a bug in the sink); the
/// task is tried again rather than guessed delivered.
fn missing_result() -> DeliveryError {
    DeliveryError::Unavailable {
        message: "the sink gave no result for this item".into(),
        retry_after: None,
    }
}

/// Several requests per task each get their own key, stable across attempts.
fn idempotency_keys(task: &LeasedTask, count: usize) -> Vec<String> {
    if count == 1 {
        return vec![task.id.clone()];
    }
    (1..=count).map(|n| format!("{}-{n}", task.id)).collect()
}

/// Runs the outgoing pipeline on a task's item (read from the stored text; nothing
/// after the pipeline reads the task's item). `None`: the item was filtered out.
async fn outgoing(
    engine: &Engine,
    route: &RouteRuntime,
    item: Value,
    log: &mut Vec<LogLine>,
) -> Result<Option<(Context, Vec<Value>)>, DeliveryError> {
    let context = Context::new(route.key.namespace.clone(), engine.storage().clone());
    let items = if route.outgoing.is_empty() {
        vec![item]
    } else {
        let ran = if route.outgoing.needs_context() {
            route.outgoing.run_batch(vec![item], &context).await
        } else {
            route.outgoing.run(item)
        };
        match ran {
            Ok((items, summary)) => {
                log.push(LogLine::now(format!("Outgoing transformers: {summary}")));
                items
            }
            // A transient failure (a lookup service down) is retried; others are not.
            Err(error) => return Err(error.into()),
        }
    };
    if items.is_empty() {
        log.push(LogLine::now(
            "Skipped: the outgoing transformers filtered the item out",
        ));
        return Ok(None);
    }
    Ok(Some((context, items)))
}

/// The items were sent: log the receiver's answers, apply the writes that waited for
/// the delivery, and run the after-delivery steps.
async fn delivered(
    engine: &Engine,
    route: &RouteRuntime,
    task: &LeasedTask,
    items: Vec<Value>,
    reports: Vec<DeliveryReport>,
    context: &Context,
    log: &mut Vec<LogLine>,
) -> Result<Delivered, DeliveryError> {
    log_reports(task, &reports, log);
    let responses: Vec<Value> = reports
        .into_iter()
        .map(|r| r.response.unwrap_or(Value::Null))
        .collect();
    let first_response = responses.first().cloned();
    let deferred = context.take_deferred();
    if !deferred.is_empty() {
        match apply_deferred(engine.storage().as_ref(), deferred).await {
            Ok(count) => log.push(LogLine::now(format!(
                "After delivery: {count} storage write(s)"
            ))),
            Err(error) => log.push(LogLine::now(format!(
                "After delivery: storage writes failed: {error}"
            ))),
        }
    }
    if route.after_delivery.is_empty() {
        return Ok(Delivered::Done(Vec::new(), first_response));
    }
    let delivered = items.into_iter().zip(responses).collect();
    Ok(match after_delivery(engine, route, delivered, log).await {
        Ok(follow_ups) => Delivered::Done(follow_ups, first_response),
        Err(error) => {
            let error = format!(
                "delivered, but {error}; a retry delivers again (with the same Idempotency-Key)"
            );
            log.push(LogLine::now(format!("Attempt {}: {error}", task.attempts)));
            Delivered::AfterDeliveryFailed(error)
        }
    })
}

fn log_reports(task: &LeasedTask, reports: &[DeliveryReport], log: &mut Vec<LogLine>) {
    for report in reports {
        log.push(LogLine::now(format!(
            "Attempt {}: {}",
            task.attempts, report.summary
        )));
    }
}

/// Why the work after a delivery (its steps, their storage writes and triggers) failed;
/// the items are delivered either way.
#[derive(Debug, thiserror::Error)]
enum AfterDeliveryError {
    #[error("the after-delivery steps failed: {0}")]
    Steps(#[source] StepFailed),
    #[error("the after-delivery storage writes failed: {0}")]
    Storage(#[source] StorageError),
    #[error("trigger: Route `{route}` does not run on this runner (another region?)")]
    TriggerElsewhere { route: String },
    #[error("trigger: Route `{route}`: {source}")]
    Trigger {
        route: String,
        #[source]
        source: IntakeError,
    },
}

/// Runs the after-delivery steps on `{item, response}` for each delivered item, applies
/// their storage writes, and prepares the tasks their `trigger` steps asked for (through
/// each target route's incoming pipeline; the caller commits them with this task).
async fn after_delivery(
    engine: &Engine,
    route: &RouteRuntime,
    delivered: Vec<(Value, Value)>,
    log: &mut Vec<LogLine>,
) -> Result<Vec<FollowUp>, AfterDeliveryError> {
    let context = Context::new(route.key.namespace.clone(), engine.storage().clone());
    let inputs = delivered
        .into_iter()
        .map(|(item, response)| json!({ "item": item, "response": response }))
        .collect();
    let (_, summary) = route
        .after_delivery
        .run_batch(inputs, &context)
        .instrument(spans::after_delivery())
        .await
        .map_err(AfterDeliveryError::Steps)?;
    log.push(LogLine::now(format!("After delivery: {summary}")));
    // The item is delivered: writes meant for "once it is safe" are due now.
    apply_deferred(engine.storage().as_ref(), context.take_deferred())
        .await
        .map_err(AfterDeliveryError::Storage)?;
    let runtime = engine.runtime();
    let mut follow_ups = Vec::new();
    for Triggered { route: name, item } in context.take_triggered() {
        let Some(target) = runtime.route(&route.key.namespace, &name) else {
            return Err(AfterDeliveryError::TriggerElsewhere { route: name });
        };
        let prepared = engine
            .prepare(target, vec![item].into(), "trigger")
            .await
            .map_err(|source| AfterDeliveryError::Trigger {
                route: name.clone(),
                source,
            })?;
        let ids: Vec<&str> = prepared.tasks.iter().map(|t| t.id.as_str()).collect();
        log.push(LogLine::now(format!(
            "After delivery: queued task(s) {} for route {name}",
            ids.join(", ")
        )));
        follow_ups.push(FollowUp { prepared });
    }
    Ok(follow_ups)
}

/// [`settle`], and the outcome on the attempt's span.
fn settled(
    route: &RouteRuntime,
    task: LeasedTask,
    log: Vec<LogLine>,
    result: Result<Delivered, DeliveryError>,
    started: Instant,
    span: &tracing::Span,
) -> Attempted {
    // Inside the attempt's span, so the `Task failed` line carries its trace.
    let attempted = span.in_scope(|| settle(route, task, log, result, started));
    spans::attempt_done(span, &attempted.completion.outcome);
    attempted
}

/// The outcome to record: done, skipped, retry later (with back-off, honouring the
/// receiver's Retry-After) or failed (not retriable, or out of attempts).
fn settle(
    route: &RouteRuntime,
    task: LeasedTask,
    mut log: Vec<LogLine>,
    result: Result<Delivered, DeliveryError>,
    started: Instant,
) -> Attempted {
    let retry = route.compiled.processing.retry;
    let mut follow_ups = Vec::new();
    let outcome = match result {
        Ok(Delivered::Done(triggered, response)) => {
            follow_ups = triggered;
            match &route.awaiting {
                None => Outcome::Done,
                Some(awaiting) => wait_for_ack(awaiting, &task, response, &mut log),
            }
        }
        Ok(Delivered::Skipped) => Outcome::Skipped,
        Ok(Delivered::AfterDeliveryFailed(error)) => Outcome::Failed { error },
        Err(error) if error.is_retriable() && task.attempts < i64::from(retry.max_attempts) => {
            let mut delay = backoff_delay(&retry, task.attempts);
            if let Some(asked) = error.retry_after() {
                delay = delay.max(asked);
            }
            let next_attempt_at_ms =
                now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
            log.push(LogLine::now(format!(
                "Attempt {} failed: {error}; retrying in {} ms",
                task.attempts,
                delay.as_millis()
            )));
            Outcome::Retry {
                next_attempt_at_ms,
                error: error.to_string(),
            }
        }
        Err(error) => {
            let why = if error.is_retriable() {
                format!(
                    "out of attempts ({} of {})",
                    task.attempts, retry.max_attempts
                )
            } else {
                "not retriable".to_owned()
            };
            log.push(LogLine::now(format!(
                "Attempt {} failed: {error}; task failed ({why})",
                task.attempts
            )));
            Outcome::Failed {
                error: error.to_string(),
            }
        }
    };
    events::task_attempted(&route.metrics, &task, &outcome, started.elapsed());
    if outcome == Outcome::Done {
        events::task_delivered(&route.metrics, since(task.created_at_ms));
    }
    Attempted {
        completion: Completion {
            id: task.id,
            route: task.route,
            lease_token: task.lease_token,
            outcome,
            log: redact_lines(log),
        },
        follow_ups,
    }
}

/// A delivered task of a route with `outgoing.await`: `waiting` with the correlation
/// value from the receiver's answer, or `failed` when there is none (it was delivered,
/// but nothing can acknowledge it).
fn wait_for_ack(
    awaiting: &crate::waiting::Awaiting,
    task: &LeasedTask,
    response: Option<Value>,
    log: &mut Vec<LogLine>,
) -> Outcome {
    match awaiting.correlation_of(&response.unwrap_or(Value::Null)) {
        Ok(correlation) => {
            let timeout = awaiting.timeout;
            log.push(LogLine::now(format!(
                "Waiting for the receiver's acknowledgement (correlation `{correlation}`), at most {} s",
                timeout.as_secs()
            )));
            Outcome::Waiting {
                correlation,
                until_ms: now_ms() + i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX / 2),
            }
        }
        Err(error) => {
            let error = format!("delivered, but it cannot be acknowledged: {error}");
            log.push(LogLine::now(format!("Attempt {}: {error}", task.attempts)));
            Outcome::Failed { error }
        }
    }
}
