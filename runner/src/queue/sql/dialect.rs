//! What differs between SQLite and PostgreSQL in the queue's statements.

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
        match self {
            Self::Sqlite => vec!["?"; count].join(", "),
            Self::Postgres => (first..first + count)
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// `(…), (…)` placeholders for a multi-row INSERT of `rows` × `cols` values.
    pub(super) fn rows(self, rows: usize, cols: usize) -> String {
        (0..rows)
            .map(|row| format!("({})", self.params(row * cols + 1, cols)))
            .collect::<Vec<_>>()
            .join(", ")
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
