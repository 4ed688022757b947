//! Decoding task rows.

use std::str::FromStr;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::queue::{LogLine, QueueError, TaskState, TaskSummary};

pub(super) fn parse_state(id: &str, row: &AnyRow) -> Result<TaskState, QueueError> {
    let text: String = row
        .try_get("state")
        .map_err(QueueError::db("read task state"))?;
    TaskState::from_str(&text).map_err(|e| QueueError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    })
}

pub(super) fn summary(row: &AnyRow) -> Result<TaskSummary, QueueError> {
    let get = QueueError::db("read task");
    let id: String = row.try_get("id").map_err(QueueError::db("read task"))?;
    Ok(TaskSummary {
        state: parse_state(&id, row)?,
        namespace: row
            .try_get("namespace")
            .map_err(QueueError::db("read task"))?,
        route: row.try_get("route").map_err(QueueError::db("read task"))?,
        source: row.try_get("source").map_err(QueueError::db("read task"))?,
        attempts: row
            .try_get("attempts")
            .map_err(QueueError::db("read task"))?,
        created_at_ms: row
            .try_get("created_at")
            .map_err(QueueError::db("read task"))?,
        updated_at_ms: row
            .try_get("updated_at")
            .map_err(QueueError::db("read task"))?,
        next_attempt_at_ms: row
            .try_get("next_attempt_at")
            .map_err(QueueError::db("read task"))?,
        last_error: row.try_get("last_error").map_err(get)?,
        correlation: row
            .try_get("correlation")
            .map_err(QueueError::db("read task"))?,
        trace_id: row
            .try_get::<Option<String>, _>("trace_context")
            .map_err(QueueError::db("read task"))?
            .as_deref()
            .and_then(crate::telemetry::context::trace_id)
            .map(str::to_owned),
        id,
    })
}

pub(super) fn parse_item(id: &str, text: &str) -> Result<serde_json::Value, QueueError> {
    serde_json::from_str(text).map_err(|e| QueueError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    })
}

/// The lines of a task row's `log` column (see [`super::intake::log_text`]); none for
/// `NULL`.
pub(super) fn log_lines(id: &str, text: Option<&str>) -> Result<Vec<LogLine>, QueueError> {
    text.unwrap_or_default()
        .lines()
        .map(|line| {
            serde_json::from_str(line).map_err(|e| QueueError::Corrupt {
                id: id.to_owned(),
                reason: format!("task log line: {e}"),
            })
        })
        .collect()
}

pub(super) const SUMMARY_COLUMNS: &str = "id, namespace, route, state, source, attempts, created_at, updated_at, next_attempt_at, last_error, correlation, trace_context";

/// `text` for a LIKE pattern with `\` as the escape character.
pub(super) fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
