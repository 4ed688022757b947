//! Background chores of a running runner: retention of finished tasks, deadlines of
//! waiting tasks, and requests the operator leaves in the catalog directory
//! (`ops.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::queue::{RouteKey, TaskState, now_ms};

/// How often retention runs.
const RETENTION_INTERVAL: Duration = Duration::from_secs(600);
/// How often waiting tasks past their deadline are looked for.
const WAIT_TIMEOUT_INTERVAL: Duration = Duration::from_secs(1);
/// The file the operator writes next to the catalog.
pub const OPS_FILE: &str = "ops.json";
/// Where a runner remembers which operator requests it has carried out.
const HANDLED_FILE: &str = "ops-handled.json";

/// How long finished tasks are kept. `None`: forever.
#[derive(Debug, Clone, Copy, Default)]
pub struct Retention {
    /// For `done` and `skipped` tasks.
    pub done: Option<Duration>,
    /// For `failed` tasks.
    pub failed: Option<Duration>,
}

/// Deletes finished tasks past their retention, every [`RETENTION_INTERVAL`].
pub async fn retention_loop(engine: Arc<Engine>, retention: Retention) {
    if retention.done.is_none() && retention.failed.is_none() {
        return;
    }
    loop {
        purge_once(&engine, retention).await;
        tokio::time::sleep(RETENTION_INTERVAL).await;
    }
}

/// How often kept steps of done tasks are dropped (`keepSteps: failed`).
const PROVENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// Drops the items after each step kept with done tasks of routes that keep them only
/// for failed tasks, every [`PROVENANCE_INTERVAL`].
pub async fn provenance_loop(engine: Arc<Engine>) {
    loop {
        tokio::time::sleep(PROVENANCE_INTERVAL).await;
        match engine.store().prune_provenance().await {
            Ok(0) => {}
            Ok(tasks) => tracing::debug!(tasks, "Dropped the kept steps of done tasks"),
            Err(error) => {
                tracing::warn!(error = %error, "Dropping kept steps of done tasks failed; trying again later")
            }
        }
    }
}

/// Ends waiting tasks past their deadline (`outgoing.await.timeoutSeconds`), every
/// [`WAIT_TIMEOUT_INTERVAL`]: failed, or sent again, as each route says.
pub async fn wait_timeout_loop(engine: Arc<Engine>) {
    loop {
        crate::waiting::expire_once(&engine).await;
        tokio::time::sleep(WAIT_TIMEOUT_INTERVAL).await;
    }
}

/// One retention pass; returns how many tasks were deleted.
pub async fn purge_once(engine: &Engine, retention: Retention) -> u64 {
    let rules = [
        (retention.done, &[TaskState::Done, TaskState::Skipped][..]),
        (retention.failed, &[TaskState::Failed][..]),
    ];
    let mut purged = 0;
    for (keep, states) in rules {
        let Some(keep) = keep else { continue };
        let before = now_ms() - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX / 2);
        match engine.store().purge(states, before).await {
            Ok(count) => purged += count,
            Err(error) => {
                tracing::warn!(error = %error, "Retention pass failed; trying again later")
            }
        }
    }
    if purged > 0 {
        tracing::info!(
            tasks = purged,
            "Deleted finished tasks past their retention"
        );
    }
    purged
}

/// What the operator asks for, keyed by route: `{"retryFailed": {"orders": "<request>"}}`.
/// A request value changes each time someone asks again.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OpsRequests {
    #[serde(default)]
    pub retry_failed: BTreeMap<String, String>,
}

/// Reads `ops.json` from every catalog directory (namespace: the one of the catalog's
/// routes; the operator runs one tenant, one namespace, per runner).
fn read_requests(paths: &[PathBuf]) -> OpsRequests {
    let mut requests = OpsRequests::default();
    for dir in paths.iter().filter(|p| p.is_dir()) {
        let Ok(text) = std::fs::read_to_string(dir.join(OPS_FILE)) else {
            continue;
        };
        match serde_json::from_str::<OpsRequests>(&text) {
            Ok(found) => requests.retry_failed.extend(found.retry_failed),
            Err(error) => {
                tracing::warn!(file = %dir.join(OPS_FILE).display(), error = %error, "Ignoring an unreadable operations file")
            }
        }
    }
    requests
}

/// Carries out operator requests not carried out before; remembers them in `data_dir`.
pub async fn apply_requests(engine: &Engine, paths: &[PathBuf], data_dir: &Path) {
    let requests = read_requests(paths);
    if requests.retry_failed.is_empty() {
        return;
    }
    let handled_path = data_dir.join(HANDLED_FILE);
    let mut handled: OpsRequests = std::fs::read_to_string(&handled_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let runtime = engine.runtime();
    for (route, request) in &requests.retry_failed {
        if handled.retry_failed.get(route) == Some(request) {
            continue;
        }
        let Some(key) = runtime.routes.keys().find(|k| &k.route == route).cloned() else {
            continue;
        };
        match engine
            .store()
            .retry_failed(&key, &format!("operator request {request}"))
            .await
        {
            Ok(count) => {
                tracing::info!(route = %route, tasks = count, "Retried failed tasks at the operator's request");
                engine.wake(&RouteKey {
                    namespace: key.namespace,
                    route: key.route,
                });
                handled.retry_failed.insert(route.clone(), request.clone());
            }
            Err(error) => {
                tracing::warn!(route = %route, error = %error, "Cannot retry failed tasks; trying at the next reload")
            }
        }
    }
    if let Ok(text) = serde_json::to_string(&handled)
        && let Err(error) = std::fs::write(&handled_path, text)
    {
        tracing::warn!(error = %error, "Cannot remember carried-out operator requests");
    }
}
