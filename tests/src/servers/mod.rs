//! Throw-away servers on loopback for connector tests. Each `start` returns `None` after
//! printing why when the server cannot be had (the test then skips), except under
//! `CI=true`, where it panics.

pub mod ftp;
pub mod mariadb;
pub mod otlp;
pub mod prometheus;
pub mod python;
pub mod s3;
pub mod sftp;
pub mod smtp;

/// Skips (prints and returns `None`) locally; fails under CI.
pub(crate) fn unavailable<T>(message: String) -> Option<T> {
    assert!(!crate::in_ci(), "{message}; CI requires it");
    eprintln!("SKIPPED: {message}");
    None
}
