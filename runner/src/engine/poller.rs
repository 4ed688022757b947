//! Polling routes: fetch on the cron schedule, then intake.
//!
//! Every tick is claimed first ([`crate::queue::QueueStore::claim_poll`]): of several
//! runners on one queue, only the one whose claim succeeded fetches, queues, moves the
//! files and saves the cursor; the claim is renewed while the poll runs, checked inside
//! every transaction that commits the poll's tasks, and released when the poll is over
//! (or runs out when its runner dies, and the next tick runs elsewhere).

use std::sync::Arc;
use std::time::Duration;

use chrono::{Timelike, Utc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{Engine, IntakeError};
use crate::metrics::events::{self, IntakeKind, RejectReason};
use crate::queue::{PollClaim, QueueStore};
use crate::replicas::{self, CLAIM_LEASE, CLAIM_RENEW_EVERY};
use crate::runtime::RouteRuntime;
use crate::telemetry::spans;

/// The next occurrence of a cron schedule: how long until it, and its time in ms since
/// the epoch (the tick every runner computes alike).
pub(super) fn next_tick(schedule: &croner::Cron) -> Option<(Duration, i64)> {
    let now = Utc::now();
    // croner keeps the sub-second part of its starting point, so from 12:00:03.532 the
    // "12:00:04" tick would come at 12:00:04.532. Start from the whole second.
    let whole_second = now.with_nanosecond(0).unwrap_or(now);
    let next = schedule.find_next_occurrence(&whole_second, false).ok()?;
    Some(((next - now).to_std().ok()?, next.timestamp_millis()))
}

pub(super) async fn run(engine: Arc<Engine>, route: Arc<RouteRuntime>, cancel: CancellationToken) {
    let Some(schedule) = &route.poll_schedule else {
        return;
    };
    loop {
        let Some((wait, tick_ms)) = next_tick(schedule) else {
            tracing::warn!(route = %route.key.route, "Poll schedule has no next occurrence; polling stops");
            return;
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        // Back-pressure: a route past a limit does not fetch at all this tick.
        if let Err(error) = engine.admit(&route).await {
            if let IntakeError::Refused(refusal) = error.root() {
                engine.poll_skipped(&route, refusal);
            }
            continue;
        }
        match poll_claimed(&engine, &route, tick_ms).await {
            Ok(Some(ids)) => {
                tracing::info!(namespace = %route.key.namespace, route = %route.key.route, tick = tick_ms, tasks = ids.len(), "Poll queued tasks")
            }
            Ok(None) => {
                tracing::debug!(namespace = %route.key.namespace, route = %route.key.route, tick = tick_ms, "Another runner polls this tick")
            }
            Err(error) => {
                tracing::warn!(namespace = %route.key.namespace, route = %route.key.route, error = %error, "Poll failed; next run on schedule")
            }
        }
    }
}

/// Claims tick `tick_ms` of the route's polls and, if this runner got it, polls under
/// the claim and releases it. `Ok(None)`: another runner has this tick, or is still
/// polling an earlier one.
pub(super) async fn poll_claimed(
    engine: &Engine,
    route: &RouteRuntime,
    tick_ms: i64,
) -> Result<Option<Vec<String>>, IntakeError> {
    let claim = PollClaim {
        route: route.key.clone(),
        tick_ms,
        holder: replicas::id().to_owned(),
    };
    let store = engine.store().clone();
    let claimed = store
        .claim_poll(&claim, CLAIM_LEASE)
        .await
        .map_err(|e| IntakeError::Queue(Arc::new(e)))?;
    if !claimed {
        return Ok(None);
    }
    let renewal = Renewal(tokio::spawn(renew(store.clone(), claim.clone())));
    let span = spans::intake(&route.key, "poll");
    let result = poll_once(engine, route, Some(&claim))
        .instrument(span.clone())
        .await;
    spans::intake_done(&span, result.as_ref().map(Vec::len).map_err(|_| ()));
    drop(renewal);
    // If this fails the claim runs out by itself within its lease.
    if let Err(error) = store.release_poll(&claim).await {
        tracing::warn!(namespace = %route.key.namespace, route = %route.key.route, error = %error, "Cannot release the poll claim; the next tick waits for it to run out");
    }
    result.map(Some)
}

/// Stops renewing a claim when the poll ends, however it ends.
struct Renewal(tokio::task::JoinHandle<()>);

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn renew(store: Arc<dyn QueueStore>, claim: PollClaim) {
    loop {
        tokio::time::sleep(CLAIM_RENEW_EVERY).await;
        match store.renew_poll(&claim, CLAIM_LEASE).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(namespace = %claim.route.namespace, route = %claim.route.route, "The poll lost its claim (stalled past its lease); what it has not queued yet stays for the next poll");
                return;
            }
            Err(error) => {
                tracing::warn!(namespace = %claim.route.namespace, route = %claim.route.route, error = %error, "Cannot renew the poll claim")
            }
        }
    }
}

/// One poll: fetch every batch (all pages, or one file each), then queue each batch
/// (with its advanced cursor, in the same transaction) and, once its tasks are durable,
/// run its after-commit step (move the file). A batch that cannot be read or whose pipeline fails is rejected and the
/// others go on; if rejecting takes its input away (a file to `failed/`), one `failed`
/// task recording what and where is committed first. A queue failure stops the poll
/// and leaves every unqueued batch where it was.
/// Every commit is fenced by `claim`: once it is lost, nothing more is queued and no
/// file is moved.
async fn poll_once(
    engine: &Engine,
    route: &RouteRuntime,
    claim: Option<&PollClaim>,
) -> Result<Vec<String>, IntakeError> {
    let Some(source) = &route.source else {
        return Ok(Vec::new());
    };
    let context = crate::connectors::PollContext {
        storage: engine.storage(),
        namespace: &route.key.namespace,
        route: &route.key.route,
    };
    let batches = source
        .fetch_batches(&context)
        .await
        .map_err(|e| IntakeError::Poll(e.to_string()))?;
    let mut ids = Vec::new();
    let mut first_failure = None;
    for mut batch in batches {
        let label = batch.label;
        // The advanced cursor commits with the batch's tasks, in one transaction.
        let storage = batch
            .after_commit
            .as_mut()
            .and_then(|hook| hook.commit_with())
            .into_iter()
            .collect();
        let outcome = match batch.error {
            Some(error) => Err(IntakeError::Poll(error)),
            None => {
                engine
                    .intake_claimed(route, batch.items.into(), "poll", claim, storage)
                    .await
            }
        };
        let Some(hook) = batch.after_commit else {
            ids.extend(outcome?);
            continue;
        };
        let settled = match outcome {
            Ok(new) => {
                ids.extend(new);
                hook.committed().await
            }
            Err(error @ (IntakeError::Queue(_) | IntakeError::Suspended(_))) => return Err(error),
            // Back-pressure: the batch stays where it is for a later poll.
            Err(error) if matches!(error.root(), IntakeError::Refused(_)) => return Err(error),
            Err(error) => {
                let why = match error.root() {
                    IntakeError::Poll(_) => RejectReason::Unreadable,
                    _ => RejectReason::Transform,
                };
                events::intake_rejected(&route.key, IntakeKind::Poll, why);
                let reason = error.to_string();
                tracing::warn!(namespace = %route.key.namespace, route = %route.key.route, batch = %label, error = %crate::redact::redact(&reason), "Batch rejected");
                let mut failure = format!("{label}: {reason}");
                // The input is about to go away (a file to failed/): record that as a
                // failed task first, and leave the input if the queue cannot take it.
                if let Some(removal) = hook.removal() {
                    let id = engine
                        .record_rejected(route, &label, &reason, removal, claim)
                        .await?;
                    failure.push_str(&format!(" (task {id})"));
                }
                first_failure.get_or_insert(failure);
                hook.rejected(&reason).await
            }
        };
        if let Err(error) = settled {
            tracing::warn!(namespace = %route.key.namespace, route = %route.key.route, batch = %label, error = %error, "After-commit step failed");
        }
    }
    match first_failure {
        Some(failure) if ids.is_empty() => Err(IntakeError::Poll(failure)),
        _ => Ok(ids),
    }
}
