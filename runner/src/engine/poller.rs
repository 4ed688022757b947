//! Polling routes: fetch on the cron schedule, then intake.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{Engine, IntakeError};
use crate::metrics::events::{self, IntakeKind, RejectReason};
use crate::runtime::RouteRuntime;

pub(super) async fn run(engine: Arc<Engine>, route: Arc<RouteRuntime>, cancel: CancellationToken) {
    let Some(schedule) = &route.poll_schedule else {
        return;
    };
    loop {
        let Some(wait) = super::delivery::until_next(schedule) else {
            tracing::warn!(route = %route.key.route, "Poll schedule has no next occurrence; polling stops");
            return;
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        match poll_once(&engine, &route).await {
            Ok(ids) => {
                tracing::info!(namespace = %route.key.namespace, route = %route.key.route, tasks = ids.len(), "Poll queued tasks")
            }
            Err(error) => {
                tracing::warn!(namespace = %route.key.namespace, route = %route.key.route, error = %error, "Poll failed; next run on schedule")
            }
        }
    }
}

/// One poll: fetch every batch (all pages, or one file each), then queue each batch and,
/// once its tasks are durable, run its after-commit step (move the file, advance the
/// cursor). A batch that cannot be read or whose pipeline fails is rejected and the
/// others go on; if rejecting takes its input away (a file to `failed/`), one `failed`
/// task recording what and where is committed first. A queue failure stops the poll
/// and leaves every unqueued batch where it was.
pub(super) async fn poll_once(
    engine: &Engine,
    route: &RouteRuntime,
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
    for batch in batches {
        let label = batch.label;
        let outcome = match batch.error {
            Some(error) => Err(IntakeError::Poll(error)),
            None => engine.intake(route, batch.items, "poll").await,
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
                        .record_rejected(route, &label, &reason, removal)
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
