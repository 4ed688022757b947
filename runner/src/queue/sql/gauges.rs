//! The queue gauges of `/metrics`, read cheaply: the counts kept in `task_counts` (see
//! [`super::counts`]) and, per route with pending tasks, its oldest pending task from
//! the entries of `tasks_pending`.

use std::collections::BTreeMap;

use sqlx::Row;

use super::SqlQueue;
use super::api::oldest_pending_sql;
use super::counts::CountScope;
use crate::queue::{QueueError, RouteGauges, RouteKey};

impl SqlQueue {
    pub(super) async fn read_gauges(
        &self,
        routes: &[RouteKey],
    ) -> Result<Vec<RouteGauges>, QueueError> {
        let failed = QueueError::db;
        let mut counts = self.read_counts(CountScope::All).await?;
        // Routes no longer configured are not reported: labels stay bounded by the
        // configuration.
        let mut gauges: BTreeMap<RouteKey, RouteGauges> = routes
            .iter()
            .map(|key| {
                let gauge = RouteGauges {
                    route: key.clone(),
                    counts: counts.remove(key).unwrap_or_default(),
                    oldest_pending_ms: None,
                };
                (key.clone(), gauge)
            })
            .collect();
        let oldest = oldest_pending_sql(self.dialect);
        for gauge in gauges.values_mut().filter(|g| g.counts.pending > 0) {
            gauge.oldest_pending_ms = sqlx::query(&oldest)
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
