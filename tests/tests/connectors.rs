//! Connectors against real servers on loopback: SFTP (sshd) → MariaDB, and a
//! PostgreSQL table polled with an incremental cursor, and an unparseable local file.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Row;
use switchyard_e2e::pg::TestDatabase;
use switchyard_e2e::servers::mariadb::MariaDb;
use switchyard_e2e::servers::sftp::SftpServer;
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
    secrets_dir,
};

#[tokio::test]
async fn a_csv_file_on_sftp_becomes_upserted_mariadb_rows_and_moves_to_processed() {
    let Some(sftp) = SftpServer::start().await else {
        return;
    };
    let Some(db) = MariaDb::create().await else {
        return;
    };
    let mut conn = db.connect().await;
    sqlx::query("CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL)")
        .execute(&mut conn)
        .await
        .expect("create table");
    sqlx::query("INSERT INTO customers VALUES (1, 'old name')")
        .execute(&mut conn)
        .await
        .expect("seed");
    let secrets = secrets_dir(&[("default/sftp", "privateKey", &sftp.private_key)]);
    let inbox = sftp.root.join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let manifests = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: supplier}}
spec:
  fileSystem:
    sftp:
      host: 127.0.0.1
      port: {port}
      username: {user}
      privateKey: {{secretKeyRef: {{name: sftp, key: privateKey}}}}
      root: {root}
      knownHostsStrategy: accept
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: erp}}
spec:
  database:
    url: {url}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: customers}}
spec:
  incoming:
    poll:
      connection: supplier
      schedule: "* * * * * *"
      files: {{path: inbox, glob: "*.csv", format: csv}}
  outgoing:
    connection: erp
    database:
      upsert: {{table: customers, key: [id]}}
"#,
        port = sftp.port,
        user = sftp.user,
        root = sftp.root.display(),
        url = db.url,
    );
    let dir = manifest_dir(&[("manifests.yaml", &manifests)]);
    let options = RunnerOptions {
        secrets_dir: Some(secrets.path().to_owned()),
        ..RunnerOptions::default()
    };
    let mut runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    std::fs::write(inbox.join("customers.csv"), "id,name\n1,Ann\n2,Bob\n").expect("drop file");

    let rows = eventually(Duration::from_secs(30), "both rows upserted", || {
        let url = db.url.clone();
        async move {
            use sqlx::Connection;
            let mut conn = sqlx::MySqlConnection::connect(&url).await.ok()?;
            let rows = sqlx::query("SELECT id, name FROM customers ORDER BY id")
                .fetch_all(&mut conn)
                .await
                .ok()?;
            let rows: Vec<(i32, String)> = rows
                .iter()
                .map(|r| (r.get::<i32, _>(0), r.get::<String, _>(1)))
                .collect();
            (rows.len() == 2 && rows[0].1 == "Ann").then_some(rows)
        }
    })
    .await;
    assert_eq!(rows, [(1, "Ann".to_owned()), (2, "Bob".to_owned())]);
    eventually(
        Duration::from_secs(10),
        "the file moved to processed/",
        || {
            let moved = inbox.join("processed/customers.csv").exists()
                && !inbox.join("customers.csv").exists();
            async move { moved.then_some(()) }
        },
    )
    .await;
    // Outcomes are committed to the queue just after the rows, so wait for them.
    eventually(
        Duration::from_secs(10),
        "one task per row, done",
        || async { (runner.counts("customers").await["done"] == json!(2)).then_some(()) },
    )
    .await;
    runner.terminate();
    db.drop_now().await;
}

#[tokio::test]
async fn a_postgres_table_polled_with_a_cursor_yields_only_new_rows() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
    sqlx::query(
        "CREATE TABLE orders (id INT PRIMARY KEY, name TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL)",
    )
    .execute(&pool)
    .await
    .expect("create table");
    sqlx::query(
        "INSERT INTO orders VALUES (1, 'a', '2024-01-01T10:00:00Z'), (2, 'b', '2024-01-01T10:00:05Z')",
    )
    .execute(&pool)
    .await
    .expect("seed");
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let manifests = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: shop}}
spec:
  database: {{url: "{url}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: sink}}
spec:
  http: {{baseUrl: "{sink}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: orders}}
spec:
  incoming:
    poll:
      connection: shop
      schedule: "0 0 1 1 *"
      query:
        sql: SELECT id, name, updated_at FROM orders WHERE updated_at >= :cursor::timestamptz ORDER BY updated_at, id
        cursor: {{column: updated_at, key: id, initial: "1970-01-01T00:00:00Z"}}
  outgoing:
    connection: sink
"#,
        url = db.url,
        sink = receiver.base_url(),
    );
    let dir = manifest_dir(&[("manifests.yaml", &manifests)]);
    let mut runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    let trigger = "/api/v1/namespaces/default/routes/orders/trigger";
    let poll = || async {
        let response = runner
            .client
            .post(runner.url(trigger))
            .send()
            .await
            .expect("trigger");
        assert!(
            response.status().is_success(),
            "{}\n{}",
            response.text().await.unwrap_or_default(),
            runner.log()
        );
    };
    poll().await;
    eventually(Duration::from_secs(10), "two rows delivered", || {
        let n = receiver.count();
        async move { (n == 2).then_some(()) }
    })
    .await;
    // Nothing new: the rows at the cursor value are not read twice.
    poll().await;
    // A row written later with the same timestamp as the cursor, and a newer one.
    sqlx::query(
        "INSERT INTO orders VALUES (3, 'c', '2024-01-01T10:00:05Z'), (4, 'd', '2024-01-02T00:00:00Z')",
    )
    .execute(&pool)
    .await
    .expect("insert");
    poll().await;
    eventually(Duration::from_secs(10), "four rows delivered", || {
        let n = receiver.count();
        async move { (n >= 4).then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ids: Vec<Value> = receiver
        .received()
        .iter()
        .map(|r| r.body["id"].clone())
        .collect();
    ids.sort_by_key(|v| v.as_i64());
    assert_eq!(
        ids,
        [json!(1), json!(2), json!(3), json!(4)],
        "each row once"
    );
    runner.terminate();
    pool.close().await;
    db.drop_now().await;
}

#[tokio::test]
async fn an_unparseable_file_is_one_failed_task_and_the_rest_of_the_poll_goes_on() {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let root = tempfile::tempdir().expect("root");
    let inbox = root.path().join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    std::fs::write(inbox.join("a-good.csv"), "id,name\n1,Ann\n2,Bob\n").expect("good file");
    // Line 4 has a field too many.
    std::fs::write(inbox.join("b-bad.csv"), "id,name\n3,Cy\n4,Di\n5,Ed,extra\n").expect("bad file");
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
metadata: {{name: sink}}
spec:
  http: {{baseUrl: "{sink}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: customers}}
spec:
  incoming:
    poll:
      connection: drop
      schedule: "0 0 1 1 *"
      files: {{path: inbox, glob: "*.csv", format: csv}}
  outgoing:
    connection: sink
"#,
        root = root.path().display(),
        sink = receiver.base_url(),
    );
    let dir = manifest_dir(&[("manifests.yaml", &manifests)]);
    let mut runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    trigger(&runner, "customers").await;
    eventually(Duration::from_secs(10), "the good rows delivered", || {
        let n = receiver.count();
        async move { (n == 2).then_some(()) }
    })
    .await;
    assert!(inbox.join("processed/a-good.csv").exists());
    assert!(inbox.join("failed/b-bad.csv").exists());
    assert!(!inbox.join("b-bad.csv").exists());

    let failed = runner
        .get_json("/api/v1/namespaces/default/tasks?route=customers&state=failed")
        .await;
    let tasks = failed["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 1, "one task for the bad file: {failed}");
    assert_eq!(tasks[0]["source"], "unreadable");
    assert!(
        tasks[0]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("inbox/b-bad.csv") && e.contains("line: 4")),
        "{failed}"
    );
    let id = tasks[0]["id"].as_str().expect("id").to_owned();
    let task = runner
        .get_json(&format!("/api/v1/namespaces/default/tasks/{id}"))
        .await;
    assert_eq!(
        task["item"],
        json!({
            "file": "inbox/b-bad.csv",
            "movedTo": "inbox/failed/b-bad.csv",
            "error": tasks[0]["lastError"],
        })
    );
    let log = task["log"].to_string();
    assert!(
        log.contains("line: 4") && log.contains("inbox/failed/b-bad.csv"),
        "{log}"
    );

    // It cannot be retried (its item is not data to deliver), not even in bulk; it can
    // be discarded once the file is dealt with.
    let retry = format!("/api/v1/namespaces/default/tasks/{id}/retry");
    let (status, answer) = runner.post_json(&retry, &json!({})).await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"].to_string().contains("put it back"),
        "{answer}"
    );
    let (status, answer) = runner
        .post_json(
            "/api/v1/namespaces/default/routes/customers/retry-failed",
            &Value::Null,
        )
        .await;
    assert_eq!(
        (status, answer["count"].clone()),
        (200, json!(0)),
        "{answer}"
    );
    let discard = format!("/api/v1/namespaces/default/tasks/{id}/discard");
    let (status, answer) = runner
        .post_json(&discard, &json!({"reason": "fixed"}))
        .await;
    assert_eq!(
        (status, answer["state"].clone()),
        (200, json!("skipped")),
        "{answer}"
    );

    // The fixed file put back is read again.
    std::fs::write(inbox.join("b-bad.csv"), "id,name\n3,Cy\n").expect("fixed file");
    trigger(&runner, "customers").await;
    eventually(Duration::from_secs(10), "the fixed row delivered", || {
        let n = receiver.count();
        async move { (n == 3).then_some(()) }
    })
    .await;
    eventually(Duration::from_secs(10), "three tasks done", || async {
        (runner.counts("customers").await["done"] == json!(3)).then_some(())
    })
    .await;
    runner.terminate();
}

/// Polls `route` now (an empty trigger request).
async fn trigger(runner: &Runner, route: &str) {
    let response = runner
        .client
        .post(runner.url(&format!(
            "/api/v1/namespaces/default/routes/{route}/trigger"
        )))
        .send()
        .await
        .expect("trigger");
    let status = response.status();
    assert!(
        status.is_success(),
        "{status}: {}",
        response.text().await.unwrap_or_default()
    );
}
