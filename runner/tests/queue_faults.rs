//! Commits that fail, at the queue's own level: a SQLite database locked past its busy
//! time-out, and a PostgreSQL `COMMIT` whose answer is lost (the connection is cut while
//! the server commits). The end-to-end faults (full disk, read-only files, terminated
//! connections under load) are in `tests/tests/storage_faults/`.

// A test reports failure by panicking with a message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Connection;
use switchyard_runner::queue::{
    Committer, NewTask, QueueStore, RouteKey, SqlQueue, StorageFault, WriteBatch,
};
use tokio::task::JoinHandle;

mod common;

use common::{drop_database, fresh_database};

fn task() -> NewTask {
    NewTask {
        id: uuid::Uuid::now_v7().to_string(),
        route: RouteKey {
            namespace: "default".into(),
            route: "r".into(),
        },
        item: serde_json::json!({"n": 1}),
        source: "webhook",
        log: vec![],
        failure: None,
        provenance: None,
        trace: None,
        stored: None,
    }
}

async fn until(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Another process holds SQLite's write lock past the busy time-out: the commit fails
/// for its caller (nothing half-done is reported as committed), the committer reports
/// the fault, its probe notices when the lock is gone, and later commits are durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_past_its_busy_timeout_fails_the_commit_then_recovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = SqlQueue::default_url(dir.path());
    let queue = Arc::new(
        SqlQueue::connect_with(&url, Duration::from_secs(60), Duration::from_millis(200))
            .await
            .expect("connect"),
    );
    let committer = Committer::start(queue.clone());
    let (before, during, after) = (task(), task(), task());
    let ids = [before.id.clone(), during.id.clone(), after.id.clone()];
    committer.enqueue(vec![before]).await.expect("first commit");

    let mut other = sqlx::SqliteConnection::connect(&url).await.expect("open");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("take the write lock");
    let error = committer
        .enqueue(vec![during])
        .await
        .expect_err("a commit while another process holds the lock");
    assert_eq!(error.fault(), StorageFault::Locked, "{error}");
    let failure = committer
        .failing()
        .expect("the committer reports the fault");
    assert_eq!(failure.fault, StorageFault::Locked);

    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("release the lock");
    until(
        "the probe to see commits succeed",
        Duration::from_secs(10),
        async || committer.failing().is_none(),
    )
    .await;
    committer.enqueue(vec![after]).await.expect("commit after");

    // What a fresh connection (another process, a restart) sees.
    let stored = |id: String| {
        let url = url.clone();
        async move {
            let mut fresh = sqlx::SqliteConnection::connect(&url).await.expect("open");
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM tasks WHERE id = ?")
                .bind(id)
                .fetch_one(&mut fresh)
                .await
                .expect("count")
        }
    };
    let [before, during, after] = ids;
    assert_eq!(stored(before).await, 1);
    assert_eq!(stored(during).await, 0, "the refused commit left its task");
    assert_eq!(
        stored(after).await,
        1,
        "the commit after recovery is not durable"
    );
}

/// A TCP relay to PostgreSQL that can cut every connection it carries.
struct Relay {
    port: u16,
    pipes: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Relay {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let pipes: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let pipes = pipes.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let pipe = tokio::spawn(async move {
                        if let Ok(mut server) =
                            tokio::net::TcpStream::connect("127.0.0.1:5432").await
                        {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    pipes.lock().unwrap().push(pipe);
                }
            }
        });
        Self {
            port,
            pipes,
            accept,
        }
    }

    /// Closes both ends of every connection now open; new ones still get through.
    fn cut(&self) {
        for pipe in self.pipes.lock().unwrap().drain(..) {
            pipe.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// The runner's connection breaks while PostgreSQL executes its `COMMIT` (a deferred
/// trigger makes the commit take a second). The server finishes on its own: when it
/// committed, the write is reported committed (a 503 would make the sender send the
/// items twice); when it rolled back, the write fails. Asked of the server, never
/// guessed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_commit_whose_answer_is_lost_is_asked_of_the_server() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let relay = Relay::start().await;
    let relayed = url.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", relay.port));
    let queue = Arc::new(
        SqlQueue::connect(&relayed, Duration::from_secs(60))
            .await
            .expect("connect through the relay"),
    );
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("admin");
    for (at_commit, commits) in [
        ("PERFORM pg_sleep(1); RETURN NULL;", true),
        (
            "PERFORM pg_sleep(1); RAISE EXCEPTION 'refused at commit';",
            false,
        ),
    ] {
        sqlx::raw_sql(&format!(
            "CREATE OR REPLACE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN {at_commit} END $$; \
             DROP TRIGGER IF EXISTS slow_commit ON tasks; \
             CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON tasks \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();"
        ))
        .execute(&mut admin)
        .await
        .expect("install the slow commit");
        let new = task();
        let id = new.id.clone();
        let write = tokio::spawn({
            let queue = queue.clone();
            async move {
                queue
                    .write(WriteBatch {
                        new_tasks: vec![new],
                        completions: vec![],
                        claim: None,
                        storage: Vec::new(),
                    })
                    .await
            }
        });
        until(
            "the COMMIT under way",
            Duration::from_secs(10),
            async || {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND state = 'active' AND query = 'COMMIT'",
                )
                .fetch_one(&mut admin)
                .await
                .expect("pg_stat_activity")
                    > 0
            },
        )
        .await;
        relay.cut();
        let result = write.await.expect("write task");
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE id = $1")
            .bind(&id)
            .fetch_one(&mut admin)
            .await
            .expect("count");
        if commits {
            assert!(result.is_ok(), "committed, yet reported failed: {result:?}");
            assert_eq!(stored, 1);
        } else {
            let error = result.expect_err("rolled back, yet reported committed");
            assert_eq!(error.fault(), StorageFault::ConnectionLost, "{error}");
            assert_eq!(stored, 0);
        }
    }
    drop(queue);
    drop(admin);
    drop_database(&url).await;
}
