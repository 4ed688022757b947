//! The audit trail: every mutating action — retry, discard, retry-failed, trigger,
//! storage writes, replays, configuration reloads — recorded with who did it (the
//! authenticated identity, never a request body), what, when and from where, in the
//! queue database. Kept for a configurable time ([`DEFAULT_RETENTION`]).

mod reload;
mod sql;

pub use reload::{Fingerprint, record_reload};
pub use sql::SqlAudit;

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use crate::queue::now_ms;

/// How long audit events are kept unless configured.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    /// A task put back to `pending`.
    Retry,
    /// A task discarded.
    Discard,
    /// Every failed task of a route put back to `pending`.
    RetryFailed,
    /// A route run now (a poll, or items given in the request).
    Trigger,
    /// A storage entry written.
    StoragePut,
    /// A storage entry deleted.
    StorageDelete,
    /// A task's item run again from a step, into a new task.
    Replay,
    /// A waiting task acknowledged.
    Ack,
    /// The configuration reloaded (the detail lists the resources that changed).
    Reload,
}

impl AuditAction {
    pub const ALL: [AuditAction; 9] = [
        Self::Retry,
        Self::Discard,
        Self::RetryFailed,
        Self::Trigger,
        Self::StoragePut,
        Self::StorageDelete,
        Self::Replay,
        Self::Ack,
        Self::Reload,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Discard => "discard",
            Self::RetryFailed => "retry-failed",
            Self::Trigger => "trigger",
            Self::StoragePut => "storage-put",
            Self::StorageDelete => "storage-delete",
            Self::Replay => "replay",
            Self::Ack => "ack",
            Self::Reload => "reload",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// One recorded action.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: String,
    pub namespace: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Who: the authenticated identity (`alice (oidc)`, `ci-bot (token)`), or `runner`.
    pub actor: String,
    pub action: AuditAction,
    /// What it acted on: a task id, a route, `storage/key`, or `configuration`.
    pub target: String,
    /// What changed (task ids, counts, resources).
    pub detail: Value,
    /// From where: the client's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl AuditEvent {
    /// A new event, now.
    pub fn new(
        namespace: &str,
        actor: String,
        origin: Option<String>,
        action: AuditAction,
        target: impl Into<String>,
        detail: Value,
    ) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            namespace: namespace.to_owned(),
            at_ms: now_ms(),
            actor,
            action,
            target: target.into(),
            detail,
            origin,
        }
    }
}

/// Which events to list: newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<AuditAction>,
    /// Only events at or after this time (ms).
    pub since_ms: Option<i64>,
    /// Only events older than this id (the `nextCursor` of the previous page).
    pub cursor: Option<String>,
    pub limit: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit database error during {operation}: {source}")]
    Database {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("stored audit event {id} is corrupt: {reason}")]
    Corrupt { id: String, reason: String },
}

impl AuditError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Database { .. } => "audit_database",
            Self::Corrupt { .. } => "audit_corrupt",
        }
    }

    fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { operation, source }
    }
}

/// Where audit events are kept.
#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    async fn record(&self, event: &AuditEvent) -> Result<(), AuditError>;
    async fn list(
        &self,
        namespace: &str,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEvent>, AuditError>;
    /// Deletes events older than `before_ms`; returns how many.
    async fn purge(&self, before_ms: i64) -> Result<u64, AuditError>;
}

/// Records `event`; a failure is logged (the action itself already happened).
pub async fn record(log: &dyn AuditLog, event: AuditEvent) {
    if let Err(error) = log.record(&event).await {
        tracing::error!(error = %error, action = event.action.as_str(), target = %event.target, "Cannot record an audit event");
    }
}

/// Deletes events past `retention` every hour.
pub async fn retention_loop(log: std::sync::Arc<dyn AuditLog>, retention: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let before = now_ms() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX / 2);
        match log.purge(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "Deleted audit events past their retention"),
            Err(error) => tracing::error!(error = %error, "Cannot delete old audit events"),
        }
    }
}

#[cfg(test)]
mod tests;
