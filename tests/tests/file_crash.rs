//! A file is moved away only after its tasks are committed: a runner killed between
//! reading a file and committing its tasks leaves the file in place, and after a restart
//! it is processed once.
//!
//! The kill lands in that window deterministically: the test holds an exclusive lock on
//! the PostgreSQL queue's `tasks` table, so the runner reads the file and then waits on
//! its commit, and is killed there.

use std::time::Duration;

use serde_json::Value;
use sqlx::Connection;
use switchyard_e2e::pg::TestDatabase;
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_runner_leaves_the_file_and_the_restart_processes_it_once() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let root = tempfile::tempdir().expect("file root");
    std::fs::create_dir_all(root.path().join("inbox")).expect("inbox");
    let manifests = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: drop}}
spec:
  fileSystem:
    local: {{root: "{root}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: receiver}}
spec:
  http: {{baseUrl: "{receiver}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: rows}}
spec:
  incoming:
    poll:
      connection: drop
      schedule: "0 0 1 1 *"
      files: {{path: inbox, glob: "*.csv", format: csv}}
  outgoing:
    connection: receiver
"#,
        root = root.path().display(),
        receiver = receiver.base_url()
    );
    let dir = manifest_dir(&[("route.yaml", &manifests)]);
    let options = RunnerOptions {
        queue_url: Some(database.url.clone()),
        ..Default::default()
    };
    let mut runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    let file = root.path().join("inbox/orders.csv");
    std::fs::write(&file, "id,sku\n1,GEAR\n2,CAM\n3,LENS\n").expect("drop the file");

    // Block the queue's commits, trigger the poll, and kill the runner while it waits.
    let mut blocker = sqlx::PgConnection::connect(&database.url)
        .await
        .expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut blocker)
        .await
        .expect("begin");
    sqlx::query("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await
        .expect("lock");
    let trigger = runner
        .client
        .post(runner.url("/api/v1/namespaces/default/routes/rows/trigger"))
        .send();
    let pending = tokio::spawn(trigger);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(
        !pending.is_finished(),
        "the poll committed although the queue was locked"
    );
    runner.kill();
    sqlx::query("ROLLBACK")
        .execute(&mut blocker)
        .await
        .expect("rollback");
    let _ = pending.await;

    assert!(
        file.exists(),
        "the file was moved before its tasks were committed"
    );
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks")
        .fetch_one(&mut blocker)
        .await
        .expect("count");
    assert_eq!(queued, 0, "tasks were committed before the kill");

    // After a restart the file is processed once.
    let restarted = Runner::restart(runner_bin!(), dir.path(), &runner.data_dir, &options).await;
    // The killed runner's poll claim holds the route until its lease (15 s) runs out;
    // until then the trigger answers 503 (another poll is under way).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    let response = loop {
        let response = restarted
            .client
            .post(restarted.url("/api/v1/namespaces/default/routes/rows/trigger"))
            .send()
            .await
            .expect("trigger");
        if response.status().as_u16() != 503 || std::time::Instant::now() > deadline {
            break response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(response.status().as_u16(), 202);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer["count"], 3, "{answer}");
    eventually(Duration::from_secs(20), "three deliveries", || async {
        (receiver.count() == 3).then_some(())
    })
    .await;
    assert!(!file.exists(), "the processed file is still in the inbox");
    assert!(
        root.path().join("inbox/processed/orders.csv").exists(),
        "the file did not reach processed/"
    );
    // A second poll finds nothing more.
    let again: Value = restarted
        .client
        .post(restarted.url("/api/v1/namespaces/default/routes/rows/trigger"))
        .send()
        .await
        .expect("trigger")
        .json()
        .await
        .expect("JSON");
    assert_eq!(again["count"], 0, "{again}");
    let skus: Vec<String> = receiver
        .received()
        .iter()
        .filter_map(|r| r.body["sku"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(skus.len(), 3, "{skus:?}");
    drop(blocker);
    drop(restarted);
    drop(runner);
    database.drop_now().await;
}
