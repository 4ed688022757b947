//! Polling routes: fetch on the cron schedule, then intake.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{Engine, IntakeError};
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

/// One poll: fetch every page, then queue the items.
pub(super) async fn poll_once(
    engine: &Engine,
    route: &RouteRuntime,
) -> Result<Vec<String>, IntakeError> {
    let Some(source) = &route.source else {
        return Ok(Vec::new());
    };
    let items = source
        .fetch()
        .await
        .map_err(|e| IntakeError::Poll(e.to_string()))?;
    engine.intake(route, items, "poll").await
}
