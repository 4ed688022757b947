//! What differs between SQLite and PostgreSQL in the queue's statements.

use std::fmt::Write as _;

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's parameter limits.
pub(super) const INSERT_CHUNK: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect of a queue URL, if it is one the queue supports.
    pub(super) fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// `count` parameter placeholders starting at number `first`. SQLite gets
    /// positional `?`: with numbered ones, binding looks each name up in a list, which
    /// makes a 5,000-parameter batch insert quadratic. PostgreSQL only takes `$n`.
    pub(super) fn params(self, first: usize, count: usize) -> String {
        let mut sql = String::with_capacity(count * 4);
        self.push_params(&mut sql, first, count);
        sql
    }

    /// `(…), (…)` placeholders for a multi-row INSERT of `rows` × `cols` values, written
    /// into one string (the statement of every group commit's batch).
    pub(super) fn rows(self, rows: usize, cols: usize) -> String {
        let mut sql = String::with_capacity(rows * (cols * 4 + 4));
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            self.push_params(&mut sql, row * cols + 1, cols);
            sql.push(')');
        }
        sql
    }

    fn push_params(self, sql: &mut String, first: usize, count: usize) {
        for n in first..first + count {
            if n > first {
                sql.push_str(", ");
            }
            match self {
                Self::Sqlite => sql.push('?'),
                // Writing to a String cannot fail.
                Self::Postgres => {
                    let _ = write!(sql, "${n}");
                }
            }
        }
    }

    /// `INSERT` for a statement that writes many rows in a transaction that is rolled
    /// back whole when any of its statements fails (every queue transaction: the group
    /// commit closes its connection on an error, the others drop theirs). On SQLite it
    /// is `INSERT OR FAIL`: a constraint that fails stops the statement without undoing
    /// its earlier rows, so SQLite keeps no statement journal (a copy of every page the
    /// statement changes, to undo that statement alone) — the transaction's rollback
    /// undoes them. The errors are the same.
    pub(super) fn insert(self) -> &'static str {
        match self {
            Self::Sqlite => "INSERT OR FAIL",
            Self::Postgres => "INSERT",
        }
    }

    /// `UPDATE` for a statement that changes many rows, as [`Dialect::insert`].
    pub(super) fn update(self) -> &'static str {
        match self {
            Self::Sqlite => "UPDATE OR FAIL",
            Self::Postgres => "UPDATE",
        }
    }

    /// `FROM tasks` read through the partial index `index` (of the tasks in one state).
    /// SQLite plans without statistics: it cannot know that the partial index is small,
    /// and would rather walk a route's every task in `tasks_by_route`. PostgreSQL's
    /// statistics know; it takes no hint.
    pub(crate) fn tasks_through(self, index: &str) -> String {
        match self {
            Self::Sqlite => format!("tasks INDEXED BY {index}"),
            Self::Postgres => "tasks".to_owned(),
        }
    }

    /// Row locking for concurrent leasing. SQLite has one writer at a time, so it needs
    /// none; PostgreSQL runners skip each other's rows instead of waiting for them.
    pub(super) fn lock_clause(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_and_positional_for_sqlite() {
        assert_eq!(Dialect::Postgres.params(3, 3), "$3, $4, $5");
        assert_eq!(Dialect::Sqlite.params(3, 3), "?, ?, ?");
        assert_eq!(Dialect::Postgres.params(1, 0), "");
        assert_eq!(Dialect::Postgres.rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(Dialect::Sqlite.rows(3, 2), "(?, ?), (?, ?), (?, ?)");
        assert_eq!(Dialect::Sqlite.rows(1, 1), "(?)");
        assert_eq!(Dialect::Sqlite.rows(0, 4), "");
    }
}
