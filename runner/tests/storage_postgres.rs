//! The storage counter on PostgreSQL (EDI control numbers come from it): runners on
//! their own connection pools incrementing one counter at the same time get distinct
//! numbers, each caller's numbers increase, none is skipped, and the counter goes on
//! where it was after every connection to the database was cut.

// A test reports failure by panicking with a message.
#![allow(clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;
use switchyard_runner::queue::SqlQueue;
use switchyard_runner::storage::{StorageScope, StorageStore};

mod common;

use common::{SERVER, drop_database, fresh_database};

const RUNNERS: usize = 4;
const CALLERS_PER_RUNNER: usize = 4;
const CALLS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_get_distinct_increasing_numbers_that_survive_a_reconnect() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let scope = StorageScope::new("default", "edi");
    let key = "x12:SENDER:RECIPIENT";
    let mut queues = Vec::new();
    for _ in 0..RUNNERS {
        queues.push(
            SqlQueue::connect(&url, Duration::from_secs(60))
                .await
                .expect("connect"),
        );
    }
    let mut callers = Vec::new();
    for queue in &queues {
        let storage: Arc<dyn StorageStore> = Arc::new(queue.storage());
        for _ in 0..CALLERS_PER_RUNNER {
            let storage = storage.clone();
            let scope = scope.clone();
            callers.push(tokio::spawn(async move {
                let mut mine = Vec::with_capacity(CALLS);
                for _ in 0..CALLS {
                    mine.push(storage.next_number(&scope, key).await.expect("next"));
                }
                mine
            }));
        }
    }
    let mut all = BTreeSet::new();
    let mut total = 0;
    for caller in callers {
        let numbers = caller.await.expect("caller");
        assert!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "one caller's numbers do not increase: {numbers:?}"
        );
        total += numbers.len();
        all.extend(numbers);
    }
    let expected = (RUNNERS * CALLERS_PER_RUNNER * CALLS) as i64;
    assert_eq!(total as i64, expected);
    assert_eq!(all.len() as i64, expected, "a number was handed out twice");
    assert_eq!(all.first(), Some(&1));
    assert_eq!(all.last(), Some(&expected), "a number was skipped");

    // Cut every connection to the database, then connect again as a restarted runner.
    let name = url.rsplit('/').next().expect("database name").to_owned();
    let mut admin = sqlx::PgConnection::connect(&format!("{SERVER}/postgres"))
        .await
        .expect("admin");
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .execute(&mut admin)
        .await
        .expect("terminate connections");
    drop(queues);
    let restarted = SqlQueue::connect(&url, Duration::from_secs(60))
        .await
        .expect("reconnect");
    let storage = restarted.storage();
    assert_eq!(
        storage.next_number(&scope, key).await.expect("next"),
        expected + 1
    );
    // Another partner's counter is its own.
    assert_eq!(
        storage
            .next_number(&scope, "x12:SENDER:OTHER")
            .await
            .expect("next"),
        1
    );
    drop(restarted);
    drop_database(&url).await;
}
