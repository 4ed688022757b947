//! The PostgreSQL queue shared by several runners: concurrent leasers never get the same
//! task (`FOR UPDATE SKIP LOCKED`), and together they get every task.

// A test reports failure by panicking with a message.
#![allow(clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;
use switchyard_runner::queue::{NewTask, QueueStore, RouteKey, SqlQueue, WriteBatch, now_ms};

const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

async fn fresh_database() -> Option<String> {
    let mut admin = match sqlx::PgConnection::connect(&format!("{SERVER}/postgres")).await {
        Ok(connection) => connection,
        Err(error) => {
            let message = format!("PostgreSQL is not reachable at {SERVER} ({error})");
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "{message}; CI requires it"
            );
            eprintln!("SKIPPED: {message}");
            return None;
        }
    };
    let name = format!("switchyard_queue_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    Some(format!("{SERVER}/{name}"))
}

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
        })
        .collect();
    first
        .write(WriteBatch {
            new_tasks: tasks,
            completions: vec![],
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
    if let Ok(mut admin) = sqlx::PgConnection::connect(&format!("{SERVER}/postgres")).await {
        let name = url.rsplit('/').next().unwrap_or_default();
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await;
    }
}
