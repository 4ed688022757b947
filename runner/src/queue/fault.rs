//! Why the queue's storage refused a write, as a fixed category: metric labels, log
//! fields and the reason webhooks give with their `503`.

use std::fmt;

use super::QueueError;

/// A storage fault class. Never carries driver text (which can hold user data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageFault {
    /// No space left on the device (SQLite `SQLITE_FULL`, PostgreSQL `53100`).
    DiskFull,
    /// The device failed a read or write (SQLite `SQLITE_IOERR`, PostgreSQL `58030`).
    IoError,
    /// The database or its file system is read-only.
    ReadOnly,
    /// Another process held a lock past the busy time-out, or a lock wait was cut off.
    Locked,
    /// The connection to the database broke (PostgreSQL: terminated, network, TLS).
    ConnectionLost,
    /// No connection could be had, or the writer has stopped.
    Unavailable,
    /// Anything else.
    Other,
}

impl StorageFault {
    pub const ALL: [StorageFault; 7] = [
        Self::DiskFull,
        Self::IoError,
        Self::ReadOnly,
        Self::Locked,
        Self::ConnectionLost,
        Self::Unavailable,
        Self::Other,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DiskFull => "disk_full",
            Self::IoError => "io_error",
            Self::ReadOnly => "read_only",
            Self::Locked => "locked",
            Self::ConnectionLost => "connection_lost",
            Self::Unavailable => "unavailable",
            Self::Other => "other",
        }
    }

    /// What a human should read.
    pub fn describe(self) -> &'static str {
        match self {
            Self::DiskFull => "the disk holding the queue is full",
            Self::IoError => "the queue's storage reports I/O errors",
            Self::ReadOnly => "the queue's storage is read-only",
            Self::Locked => "the queue database is locked by another process",
            Self::ConnectionLost => "the connection to the queue database was lost",
            Self::Unavailable => "the queue database cannot be reached",
            Self::Other => "the queue database refused the write",
        }
    }

    /// Classifies a driver error. SQLite reports numeric (extended) result codes, of
    /// which the low byte is the primary code; PostgreSQL five-character SQLSTATEs.
    pub fn of_sqlx(error: &sqlx::Error) -> Self {
        match error {
            sqlx::Error::Database(db) => match db.code() {
                Some(code) if code.len() == 5 => Self::of_sqlstate(&code),
                Some(code) => code
                    .parse::<i32>()
                    .map_or(Self::Other, |code| Self::of_sqlite(code & 0xff)),
                None => Self::Other,
            },
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => {
                Self::ConnectionLost
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                Self::Unavailable
            }
            _ => Self::Other,
        }
    }

    fn of_sqlite(primary: i32) -> Self {
        match primary {
            13 => Self::DiskFull,         // SQLITE_FULL
            10 | 14 => Self::IoError,     // SQLITE_IOERR, SQLITE_CANTOPEN
            3 | 8 | 23 => Self::ReadOnly, // SQLITE_PERM, SQLITE_READONLY, SQLITE_AUTH
            5 | 6 => Self::Locked,        // SQLITE_BUSY, SQLITE_LOCKED
            _ => Self::Other,
        }
    }

    fn of_sqlstate(code: &str) -> Self {
        match code {
            "53100" => Self::DiskFull,
            "58030" => Self::IoError,
            "25006" => Self::ReadOnly,
            "55P03" | "40P01" | "57014" => Self::Locked,
            "57P01" | "57P02" | "57P03" => Self::ConnectionLost,
            _ if code.starts_with("08") => Self::ConnectionLost,
            _ => Self::Other,
        }
    }
}

impl fmt::Display for StorageFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl QueueError {
    /// The storage fault behind this error.
    pub fn fault(&self) -> StorageFault {
        match self {
            Self::Database { source, .. } => StorageFault::of_sqlx(source),
            Self::CommitUnknown { .. } => StorageFault::ConnectionLost,
            Self::WriterStopped => StorageFault::Unavailable,
            Self::Migrate(_)
            | Self::InvalidTransition { .. }
            | Self::NotRetriable { .. }
            | Self::Corrupt { .. } => StorageFault::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_by_primary_code_and_sqlstates() {
        assert_eq!(StorageFault::of_sqlite(13), StorageFault::DiskFull);
        // SQLITE_IOERR_WRITE (778) and SQLITE_BUSY_TIMEOUT (773) by their low byte.
        assert_eq!(StorageFault::of_sqlite(778 & 0xff), StorageFault::IoError);
        assert_eq!(StorageFault::of_sqlite(773 & 0xff), StorageFault::Locked);
        assert_eq!(StorageFault::of_sqlite(8), StorageFault::ReadOnly);
        assert_eq!(StorageFault::of_sqlite(19), StorageFault::Other);
        assert_eq!(StorageFault::of_sqlstate("53100"), StorageFault::DiskFull);
        assert_eq!(
            StorageFault::of_sqlstate("57P01"),
            StorageFault::ConnectionLost
        );
        assert_eq!(
            StorageFault::of_sqlstate("08006"),
            StorageFault::ConnectionLost
        );
        assert_eq!(StorageFault::of_sqlstate("23505"), StorageFault::Other);
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(StorageFault::of_sqlx(&io), StorageFault::ConnectionLost);
        assert_eq!(
            StorageFault::of_sqlx(&sqlx::Error::PoolTimedOut),
            StorageFault::Unavailable
        );
    }
}
