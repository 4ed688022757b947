//! The PostgreSQL queue shared by several runners: concurrent leasers never get the same
//! task (`FOR UPDATE SKIP LOCKED`), and together they get every task. Also, on both
//! dialects, tasks recording unreadable input.

// A test reports failure by panicking with a message.
#![allow(clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use switchyard_runner::queue::{
    LogLine, NewTask, QueueError, QueueStore, RouteKey, SqlQueue, TaskAction, TaskState,
    UNREADABLE_SOURCE, WriteBatch, now_ms,
};

mod common;

use common::{drop_database, fresh_database};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runners_lease_disjoint_tasks_and_all_of_them() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let route = RouteKey {
        namespace: "default".into(),
        route: "r".into(),
    };
    let first = Arc::new(
        SqlQueue::connect(&url, Duration::from_secs(60))
            .await
            .expect("connect"),
    );
    let tasks: Vec<NewTask> = (0..2_000)
        .map(|i| NewTask {
            id: uuid::Uuid::now_v7().to_string(),
            route: route.clone(),
            item: serde_json::json!({"i": i}),
            source: "webhook",
            log: vec![],
            failure: None,
            provenance: None,
            trace: None,
            stored: None,
        })
        .collect();
    first
        .write(WriteBatch {
            new_tasks: tasks,
            completions: vec![],
            claim: None,
            storage: Vec::new(),
        })
        .await
        .expect("enqueue");

    let mut runners = Vec::new();
    for _ in 0..4 {
        let queue = Arc::new(
            SqlQueue::connect(&url, Duration::from_secs(60))
                .await
                .expect("connect"),
        );
        let route = route.clone();
        runners.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let leased = queue.lease(&route, 25, now_ms()).await.expect("lease");
                if leased.is_empty() {
                    return mine;
                }
                mine.extend(leased.into_iter().map(|t| t.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for runner in runners {
        let ids = runner.await.expect("runner");
        total += ids.len();
        seen.extend(ids);
    }
    assert_eq!(total, 2_000, "some task was leased twice or not at all");
    assert_eq!(seen.len(), 2_000);
    let counts = first.counts("default").await.expect("counts");
    assert_eq!(counts[0].counts.processing, 2_000);
    drop(first);
    drop_database(&url).await;
}

/// A task recording unreadable input is stored `failed` with its error on both dialects,
/// is never leased, and refuses to be retried (alone or in bulk) but can be discarded.
#[tokio::test]
async fn unreadable_input_tasks_are_stored_failed_and_cannot_be_retried() {
    let data = tempfile::tempdir().expect("temp dir");
    let mut urls = vec![SqlQueue::default_url(data.path())];
    urls.extend(fresh_database().await);
    let route = RouteKey {
        namespace: "default".into(),
        route: "files".into(),
    };
    for url in urls {
        let queue = SqlQueue::connect(&url, Duration::from_secs(60))
            .await
            .expect("connect");
        let task = NewTask::unreadable(
            route.clone(),
            serde_json::json!({"file": "inbox/b.csv", "error": "line 4"}),
            "`inbox/b.csv` is not valid CSV: line 4".into(),
            vec![LogLine::now("read by a poll")],
        );
        let id = task.id.clone();
        queue
            .write(WriteBatch {
                new_tasks: vec![task],
                completions: vec![],
                claim: None,
                storage: Vec::new(),
            })
            .await
            .expect("enqueue");
        let detail = queue
            .get("default", &id)
            .await
            .expect("get")
            .expect("the task");
        assert_eq!(detail.summary.state, TaskState::Failed, "{url}");
        assert_eq!(detail.summary.source, UNREADABLE_SOURCE);
        assert_eq!(
            detail.summary.last_error.as_deref(),
            Some("`inbox/b.csv` is not valid CSV: line 4")
        );
        assert!(
            queue
                .lease(&route, 10, now_ms() + 1_000)
                .await
                .expect("lease")
                .is_empty()
        );
        let retry = TaskAction::Retry {
            actor: "test".into(),
        };
        assert!(matches!(
            queue.act("default", &id, &retry).await,
            Err(QueueError::NotRetriable { .. })
        ));
        assert_eq!(queue.retry_failed(&route, "test").await.expect("bulk"), 0);
        let discard = TaskAction::Discard {
            actor: "test".into(),
            reason: "fixed".into(),
        };
        assert_eq!(
            queue.act("default", &id, &discard).await.expect("discard"),
            Some(TaskState::Skipped)
        );
    }
}
