//! The audit trail in the queue database (SQLite or PostgreSQL through `sqlx::Any`).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::{AuditAction, AuditError, AuditEvent, AuditFilter, AuditLog};

/// Built from the queue's pools ([`crate::queue::SqlQueue::audit`]), so that SQLite keeps
/// its single writer.
#[derive(Clone)]
pub struct SqlAudit {
    writer: AnyPool,
    reader: AnyPool,
}

impl SqlAudit {
    /// Uses `writer` for writes and `reader` for reads; the schema must be migrated.
    pub fn new(writer: AnyPool, reader: AnyPool) -> Self {
        Self { writer, reader }
    }
}

fn event(row: &AnyRow) -> Result<AuditEvent, AuditError> {
    let read = || AuditError::db("read audit event");
    let id: String = row.try_get("id").map_err(read())?;
    let action: String = row.try_get("action").map_err(read())?;
    let detail: String = row.try_get("detail").map_err(read())?;
    Ok(AuditEvent {
        action: AuditAction::parse(&action).ok_or_else(|| AuditError::Corrupt {
            id: id.clone(),
            reason: format!("unknown action `{action}`"),
        })?,
        detail: serde_json::from_str(&detail).map_err(|e| AuditError::Corrupt {
            id: id.clone(),
            reason: e.to_string(),
        })?,
        namespace: row.try_get("namespace").map_err(read())?,
        at_ms: row.try_get("at").map_err(read())?,
        actor: row.try_get("actor").map_err(read())?,
        target: row.try_get("target").map_err(read())?,
        origin: row.try_get("origin").map_err(read())?,
        id,
    })
}

#[async_trait]
impl AuditLog for SqlAudit {
    async fn record(&self, event: &AuditEvent) -> Result<(), AuditError> {
        sqlx::query(
            "INSERT INTO audit_events (id, namespace, at, actor, action, target, detail, origin) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(event.id.clone())
        .bind(event.namespace.clone())
        .bind(event.at_ms)
        .bind(event.actor.clone())
        .bind(event.action.as_str())
        .bind(event.target.clone())
        .bind(event.detail.to_string())
        .bind(event.origin.clone())
        .execute(&self.writer)
        .await
        .map_err(AuditError::db("record audit event"))?;
        Ok(())
    }

    async fn list(
        &self,
        namespace: &str,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEvent>, AuditError> {
        let mut sql = String::from(
            "SELECT id, namespace, at, actor, action, target, detail, origin FROM audit_events WHERE namespace = $1",
        );
        let mut binds: Vec<String> = vec![namespace.to_owned()];
        if let Some(action) = filter.action {
            binds.push(action.as_str().to_owned());
            sql.push_str(&format!(" AND action = ${}", binds.len()));
        }
        if let Some(cursor) = &filter.cursor {
            binds.push(cursor.clone());
            sql.push_str(&format!(" AND id < ${}", binds.len()));
        }
        let mut next = binds.len() + 1;
        if filter.since_ms.is_some() {
            sql.push_str(&format!(" AND at >= ${next}"));
            next += 1;
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${next}"));
        let mut query = sqlx::query(&sql);
        for value in binds {
            query = query.bind(value);
        }
        if let Some(since) = filter.since_ms {
            query = query.bind(since);
        }
        query
            .bind(i64::from(filter.limit))
            .fetch_all(&self.reader)
            .await
            .map_err(AuditError::db("list audit events"))?
            .iter()
            .map(event)
            .collect()
    }

    async fn purge(&self, before_ms: i64) -> Result<u64, AuditError> {
        Ok(sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(before_ms)
            .execute(&self.writer)
            .await
            .map_err(AuditError::db("purge audit events"))?
            .rows_affected())
    }
}
