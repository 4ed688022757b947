//! A poll's tasks, its claim and its advanced cursor commit in one transaction: a runner
//! killed while that transaction waits leaves neither the tasks nor the cursor, and
//! after a restart every record is queued exactly once and the cursor moves on.
//!
//! The kill lands in the window deterministically: the test holds the PostgreSQL
//! queue's `storage_items` table in EXCLUSIVE mode (reads go on, so the runner loads
//! its cursor and fetches; writes wait), so the runner's commit waits on the cursor
//! write and is killed there. Were the cursor saved after the commit, the tasks would
//! be committed by then and the restart would poll the same records again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use sqlx::Connection;
use switchyard_e2e::pg::TestDatabase;
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin, serve,
};

/// Three records; every fetch's `since` is recorded.
async fn records(
    State(asked): State<Arc<Mutex<Vec<u64>>>>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let since: u64 = q
        .get("since")
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    asked.lock().expect("lock").push(since);
    let data: Vec<Value> = (since + 1..=3).map(|seq| json!({"seq": seq})).collect();
    Json(json!({ "data": data }))
}

async fn trigger(runner: &Runner) -> reqwest::Response {
    runner
        .client
        .post(runner.url("/api/v1/namespaces/default/routes/feed/trigger"))
        .send()
        .await
        .expect("trigger")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_mid_commit_leaves_neither_tasks_nor_cursor() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let asked = Arc::new(Mutex::new(Vec::new()));
    let source = serve(
        Router::new()
            .route("/records", get(records))
            .with_state(asked.clone()),
    )
    .await;
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let manifests = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: source}}
spec: {{http: {{baseUrl: "{source}"}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: receiver}}
spec: {{http: {{baseUrl: "{receiver}"}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: feed}}
spec:
  incoming:
    poll:
      connection: source
      schedule: "0 0 1 1 *"
      request: {{path: /records}}
      itemsPointer: /data
      cursor: {{param: since, field: seq, key: seq, initial: "0"}}
  outgoing:
    connection: receiver
"#,
        receiver = receiver.base_url()
    );
    let dir = manifest_dir(&[("route.yaml", &manifests)]);
    let options = RunnerOptions {
        queue_url: Some(database.url.clone()),
        ..Default::default()
    };
    let mut runner = Runner::start(runner_bin!(), dir.path(), &options).await;

    // Writes to the storage wait; reads go on.
    let mut blocker = sqlx::PgConnection::connect(&database.url)
        .await
        .expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut blocker)
        .await
        .expect("begin");
    sqlx::query("LOCK TABLE storage_items IN EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await
        .expect("lock");
    let pending = tokio::spawn({
        let client = runner.client.clone();
        let url = runner.url("/api/v1/namespaces/default/routes/feed/trigger");
        async move { client.post(url).send().await }
    });
    // The poll fetched, and its commit now waits for the lock.
    let mut watcher = sqlx::PgConnection::connect(&database.url)
        .await
        .expect("connect");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let fetched = !asked.lock().expect("lock").is_empty();
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&database.name)
        .fetch_one(&mut watcher)
        .await
        .expect("pg_stat_activity");
        if fetched && waiting > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the poll's commit never waited on the lock (fetched: {fetched})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !pending.is_finished(),
        "the poll answered while its commit waits"
    );
    runner.kill();
    sqlx::query("ROLLBACK")
        .execute(&mut blocker)
        .await
        .expect("rollback");
    let _ = pending.await;

    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks")
        .fetch_one(&mut blocker)
        .await
        .expect("count tasks");
    assert_eq!(
        queued, 0,
        "the tasks were committed without their cursor: the next poll would fetch them again"
    );
    let cursors: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM storage_items WHERE item_key = 'connector.cursor'",
    )
    .fetch_one(&mut blocker)
    .await
    .expect("count cursors");
    assert_eq!(cursors, 0, "the cursor moved without its tasks");

    // After a restart the records are queued once. The killed runner's poll claim holds
    // the route until its lease (15 s) runs out; until then the trigger answers 503.
    let restarted = Runner::restart(runner_bin!(), dir.path(), &runner.data_dir, &options).await;
    let deadline = Instant::now() + Duration::from_secs(40);
    let response = loop {
        let response = trigger(&restarted).await;
        if response.status().as_u16() != 503 || Instant::now() > deadline {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(response.status().as_u16(), 202);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer["count"], 3, "{answer}");
    eventually(Duration::from_secs(20), "three deliveries", || async {
        (receiver.count() == 3).then_some(())
    })
    .await;
    let stored = restarted
        .get_json("/api/v1/namespaces/default/storages/feed/items/connector.cursor")
        .await;
    assert_eq!(stored["value"]["value"], 3, "{stored}");

    // The next poll asks from the committed cursor and finds nothing new.
    let again: Value = trigger(&restarted).await.json().await.expect("JSON");
    assert_eq!(again["count"], 0, "{again}");
    assert_eq!(
        *asked.lock().expect("lock"),
        vec![0, 0, 3],
        "the killed fetch, its repeat after the restart, then from the committed cursor"
    );
    let mut delivered: Vec<u64> = receiver
        .received()
        .iter()
        .filter_map(|r| r.body["seq"].as_u64())
        .collect();
    delivered.sort_unstable();
    assert_eq!(delivered, vec![1, 2, 3], "each record exactly once");
    drop(blocker);
    drop(watcher);
    drop(restarted);
    drop(runner);
    database.drop_now().await;
}
