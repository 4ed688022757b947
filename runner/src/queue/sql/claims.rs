//! Poll claims and runner heartbeats in SQL (tables `poll_claims`, `runner_heartbeats`).
//!
//! A route has one claim row. Claiming tick `t` succeeds when the row's tick is earlier
//! than `t` and its claim is over (released, or its lease ran out): one statement, so
//! on PostgreSQL the row lock decides between replicas racing for the same tick, and
//! on SQLite (one runner, one writer) it always succeeds for a new tick. The same path
//! serves both.

use std::time::Duration;

use sqlx::Any;

use super::SqlQueue;
use crate::queue::{PollClaim, QueueError, now_ms};

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

impl SqlQueue {
    pub(super) async fn claim_poll_row(
        &self,
        claim: &PollClaim,
        lease: Duration,
    ) -> Result<bool, QueueError> {
        let now = now_ms();
        let claimed = sqlx::query(
            "INSERT INTO poll_claims (namespace, route, tick, holder, lease_until) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (namespace, route) DO UPDATE SET tick = excluded.tick, \
             holder = excluded.holder, lease_until = excluded.lease_until \
             WHERE poll_claims.tick < excluded.tick AND poll_claims.lease_until < $6",
        )
        .bind(claim.route.namespace.clone())
        .bind(claim.route.route.clone())
        .bind(claim.tick_ms)
        .bind(claim.holder.clone())
        .bind(now + millis(lease))
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(QueueError::db("claim a poll"))?
        .rows_affected();
        Ok(claimed == 1)
    }

    /// Extends the claim if `claim.holder` still holds it: on `executor` (the poll's
    /// commit transaction, or the pool).
    pub(super) async fn renew_claim_on<'e, E>(
        executor: E,
        claim: &PollClaim,
        lease: Duration,
    ) -> Result<bool, QueueError>
    where
        E: sqlx::Executor<'e, Database = Any>,
    {
        let now = now_ms();
        let renewed = sqlx::query(
            "UPDATE poll_claims SET lease_until = $1 WHERE namespace = $2 AND route = $3 \
             AND tick = $4 AND holder = $5 AND lease_until >= $6",
        )
        .bind(now + millis(lease))
        .bind(claim.route.namespace.clone())
        .bind(claim.route.route.clone())
        .bind(claim.tick_ms)
        .bind(claim.holder.clone())
        .bind(now)
        .execute(executor)
        .await
        .map_err(QueueError::db("renew a poll claim"))?
        .rows_affected();
        Ok(renewed == 1)
    }

    pub(super) async fn release_claim(&self, claim: &PollClaim) -> Result<(), QueueError> {
        sqlx::query(
            "UPDATE poll_claims SET lease_until = 0 WHERE namespace = $1 AND route = $2 \
             AND tick = $3 AND holder = $4",
        )
        .bind(claim.route.namespace.clone())
        .bind(claim.route.route.clone())
        .bind(claim.tick_ms)
        .bind(claim.holder.clone())
        .execute(&self.writer)
        .await
        .map_err(QueueError::db("release a poll claim"))?;
        Ok(())
    }

    pub(super) async fn beat(&self, holder: &str, ttl: Duration) -> Result<u32, QueueError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO runner_heartbeats (holder, seen_at) VALUES ($1, $2) \
             ON CONFLICT (holder) DO UPDATE SET seen_at = excluded.seen_at",
        )
        .bind(holder.to_owned())
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(QueueError::db("record a heartbeat"))?;
        // Runners gone for ten times the TTL are forgotten; the table stays small.
        sqlx::query("DELETE FROM runner_heartbeats WHERE seen_at < $1")
            .bind(now - 10 * millis(ttl))
            .execute(&self.writer)
            .await
            .map_err(QueueError::db("forget old heartbeats"))?;
        let live: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM runner_heartbeats WHERE seen_at >= $1")
                .bind(now - millis(ttl))
                .fetch_one(&self.writer)
                .await
                .map_err(QueueError::db("count live runners"))?;
        Ok(u32::try_from(live).unwrap_or(u32::MAX).max(1))
    }
}
