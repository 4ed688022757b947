//! Harness for end-to-end scenarios: the runner as a real process, real HTTP servers on
//! loopback, the real PostgreSQL on 127.0.0.1:5432.

pub mod faultfs;
pub mod helm;
pub mod pg;
pub mod receiver;
pub mod runner;
pub mod scenario;
pub mod servers;

pub use receiver::{Receiver, ReceiverMode};
pub use runner::{ApiTokens, Runner, RunnerOptions};

use std::time::{Duration, Instant};

/// The runner binary built by this package.
#[macro_export]
macro_rules! runner_bin {
    () => {
        std::path::Path::new(env!("CARGO_BIN_EXE_switchyard-runner-under-test"))
    };
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free port on loopback")
}

/// Serves `app` on a free loopback port until the test ends; returns its base URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after `timeout` with
/// `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes manifests (file name → YAML) into a new temporary directory.
pub fn manifest_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write manifest");
    }
    dir
}

/// A runner secrets directory as a mounted Secret would fill it: `(dir, key, value)`
/// writes `<root>/<dir>/<key>`, where `dir` is `<namespace>/<secret>` or `<secret>`.
pub fn secrets_dir(files: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("secrets dir");
    for (dir, key, value) in files {
        let secret = root.path().join(dir);
        std::fs::create_dir_all(&secret).expect("secret dir");
        std::fs::write(secret.join(key), value).expect("secret file");
    }
    root
}

/// Whether tests must not skip for a missing server.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}
