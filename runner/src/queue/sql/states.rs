//! The task states as SQL literals. Statements that test or set a fixed state spell it
//! with these constants (never as a literal of their own), so the stored names live in
//! one place beside [`TaskState::as_str`]; a test keeps the two in step.

use crate::queue::TaskState;

/// `state` as a quoted SQL string literal.
pub(crate) const fn literal(state: TaskState) -> &'static str {
    match state {
        TaskState::Pending => "'pending'",
        TaskState::Processing => "'processing'",
        TaskState::Done => "'done'",
        TaskState::Failed => "'failed'",
        TaskState::Skipped => "'skipped'",
        TaskState::Waiting => "'waiting'",
    }
}

pub(crate) const PENDING: &str = literal(TaskState::Pending);
pub(crate) const PROCESSING: &str = literal(TaskState::Processing);
pub(crate) const DONE: &str = literal(TaskState::Done);
pub(crate) const FAILED: &str = literal(TaskState::Failed);
pub(crate) const WAITING: &str = literal(TaskState::Waiting);

/// The partial index holding the tasks in `state` alone (the migrations define them with
/// `WHERE state = ` [`literal`]); done tasks, the bulk, are in none. A task enters one
/// when it reaches the state and leaves it when it moves on.
pub(crate) const fn partial_index(state: TaskState) -> Option<&'static str> {
    match state {
        TaskState::Pending => Some("tasks_pending"),
        TaskState::Processing => Some("tasks_leases"),
        TaskState::Waiting => Some("tasks_waiting"),
        TaskState::Failed => Some("tasks_failed"),
        TaskState::Skipped => Some("tasks_skipped"),
        TaskState::Done => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_literal_quotes_the_stored_name() {
        for state in TaskState::ALL {
            assert_eq!(literal(state), format!("'{}'", state.as_str()));
        }
    }
}
