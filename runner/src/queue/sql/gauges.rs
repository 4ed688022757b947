//! The queue gauges of `/metrics`, read cheaply: one grouped count over the
//! `tasks_listing` index (namespace, route, state, id) and, per route, one seek in it
//! for the oldest pending task (ids are UUIDv7, so the smallest is the oldest).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use sqlx::Row;

use super::SqlQueue;
use super::rows::parse_state;
use super::states::PENDING;
use crate::queue::{QueueError, RouteGauges, RouteKey, StateCounts};

/// A route's oldest pending task: one seek in `tasks_listing`.
static OLDEST_PENDING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT created_at FROM tasks WHERE namespace = $1 AND route = $2 AND state = {PENDING} \
         ORDER BY id LIMIT 1"
    )
});

impl SqlQueue {
    pub(super) async fn read_gauges(
        &self,
        routes: &[RouteKey],
    ) -> Result<Vec<RouteGauges>, QueueError> {
        let failed = QueueError::db;
        let mut gauges: BTreeMap<RouteKey, RouteGauges> = routes
            .iter()
            .map(|key| {
                let gauge = RouteGauges {
                    route: key.clone(),
                    counts: StateCounts::default(),
                    oldest_pending_ms: None,
                };
                (key.clone(), gauge)
            })
            .collect();
        let rows = sqlx::query(
            "SELECT namespace, route, state, COUNT(*) AS n FROM tasks GROUP BY namespace, route, state",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(failed("count tasks for metrics"))?;
        for row in rows {
            let key = RouteKey {
                namespace: row
                    .try_get("namespace")
                    .map_err(failed("count tasks for metrics"))?,
                route: row
                    .try_get("route")
                    .map_err(failed("count tasks for metrics"))?,
            };
            // Routes no longer configured are not reported: labels stay bounded by the
            // configuration.
            let Some(gauge) = gauges.get_mut(&key) else {
                continue;
            };
            let n: i64 = row
                .try_get("n")
                .map_err(failed("count tasks for metrics"))?;
            gauge.counts.add(parse_state(&key.route, &row)?, n);
        }
        for gauge in gauges.values_mut().filter(|g| g.counts.pending > 0) {
            gauge.oldest_pending_ms = sqlx::query(&OLDEST_PENDING)
                .bind(gauge.route.namespace.clone())
                .bind(gauge.route.route.clone())
                .fetch_optional(&self.reader)
                .await
                .map_err(failed("read the oldest pending task"))?
                .map(|row| row.try_get("created_at"))
                .transpose()
                .map_err(failed("read the oldest pending task"))?;
        }
        Ok(gauges.into_values().collect())
    }
}
