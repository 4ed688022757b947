//! The file-system connector against a real S3-compatible server on loopback (moto's
//! server mode): files in a bucket become tasks and move to `processed/` (or, unreadable,
//! to `failed/` with a failed task), and an outgoing route writes objects.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::servers::s3::S3Server;
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
    secrets_dir,
};

/// Secrets for the S3 Connection in a runner secrets directory
/// (`<dir>/<namespace>/<secret>/<key>`).
fn s3_secrets(s3: &S3Server) -> tempfile::TempDir {
    secrets_dir(&[
        ("default/s3", "accessKeyId", s3.access_key_id),
        ("default/s3", "secretAccessKey", s3.secret_access_key),
    ])
}

fn s3_connection(s3: &S3Server) -> String {
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: bucket}}
spec:
  fileSystem:
    s3:
      bucket: {bucket}
      endpoint: "{endpoint}"
      region: us-east-1
      accessKeyId: {{secretKeyRef: {{name: s3, key: accessKeyId}}}}
      secretAccessKey: {{secretKeyRef: {{name: s3, key: secretAccessKey}}}}
"#,
        bucket = s3.bucket,
        endpoint = s3.endpoint,
    )
}

#[tokio::test]
async fn files_in_a_bucket_become_tasks_and_move_to_processed_or_failed() {
    let Some(s3) = S3Server::start().await else {
        return;
    };
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let secrets = s3_secrets(&s3);
    let manifests = format!(
        r#"{connection}
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
      connection: bucket
      schedule: "* * * * * *"
      files: {{path: inbox, glob: "*.csv", format: csv}}
  outgoing:
    connection: sink
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: events}}
spec:
  incoming:
    poll:
      connection: bucket
      schedule: "* * * * * *"
      files: {{path: events, format: json}}
  outgoing:
    connection: sink
"#,
        connection = s3_connection(&s3),
        sink = receiver.base_url(),
    );
    // The files are in the bucket before the runner starts, so the first poll sees all.
    let put = |path: &'static str, body: &'static str| s3.bucket_op.write(path, body);
    put("inbox/orders.csv", "id,total\n1,10\n2,20\n")
        .await
        .expect("put");
    // Record 3 has one field too many: not valid CSV, at line 3.
    put("inbox/broken.csv", "id,total\n3,30\n4,40,extra\n")
        .await
        .expect("put");
    put("events/batch.json", r#"[{"event": "a"}, {"event": "b"}]"#)
        .await
        .expect("put");
    let dir = manifest_dir(&[("manifests.yaml", &manifests)]);
    let options = RunnerOptions {
        secrets_dir: Some(secrets.path().to_owned()),
        ..RunnerOptions::default()
    };
    let mut runner = Runner::start(runner_bin!(), dir.path(), &options).await;

    eventually(Duration::from_secs(30), "four items delivered", || {
        let n = receiver.count();
        async move { (n >= 4).then_some(()) }
    })
    .await;
    let keys = eventually(
        Duration::from_secs(15),
        "every file moved out of its folder",
        || async {
            let keys = s3.keys("").await;
            (keys
                == [
                    "events/processed/batch.json",
                    "inbox/failed/broken.csv",
                    "inbox/processed/orders.csv",
                ])
            .then_some(keys)
        },
    )
    .await;
    assert_eq!(keys.len(), 3, "{}", s3.log());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut bodies: Vec<Value> = receiver.received().into_iter().map(|r| r.body).collect();
    bodies.sort_by_key(Value::to_string);
    assert_eq!(
        bodies,
        [
            json!({"event": "a"}),
            json!({"event": "b"}),
            json!({"id": "1", "total": "10"}),
            json!({"id": "2", "total": "20"}),
        ],
        "nothing of the broken file is delivered, everything else once"
    );
    // The broken file is one failed task that says what and where.
    let failed = runner
        .get_json("/api/v1/namespaces/default/tasks?route=orders&state=failed")
        .await;
    let tasks = failed["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 1, "{failed}");
    let id = tasks[0]["id"].as_str().expect("id");
    let task = runner
        .get_json(&format!("/api/v1/namespaces/default/tasks/{id}"))
        .await;
    assert_eq!(task["item"]["file"], "inbox/broken.csv", "{task}");
    assert_eq!(task["item"]["movedTo"], "inbox/failed/broken.csv", "{task}");
    let log = task["log"].to_string();
    assert!(
        log.contains("inbox/broken.csv") && log.contains("line: 3"),
        "{log}"
    );
    runner.terminate();
}

#[tokio::test]
async fn an_outgoing_route_writes_objects_to_the_bucket() {
    let Some(s3) = S3Server::start().await else {
        return;
    };
    let secrets = s3_secrets(&s3);
    let manifests = format!(
        r#"{connection}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: export}}
spec:
  incoming:
    webhook: {{}}
  outgoing:
    connection: bucket
    file: {{path: "out/order-{{{{ .id }}}}.csv", format: csv}}
"#,
        connection = s3_connection(&s3),
    );
    let dir = manifest_dir(&[("manifests.yaml", &manifests)]);
    let options = RunnerOptions {
        secrets_dir: Some(secrets.path().to_owned()),
        ..RunnerOptions::default()
    };
    let mut runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    let (status, answer) = runner
        .post_json(
            "/webhooks/default/export",
            &json!({"id": "A-1", "total": 12.5}),
        )
        .await;
    assert!((200..300).contains(&status), "{status} {answer}");
    let content = eventually(Duration::from_secs(15), "the object is written", || async {
        s3.bucket_op
            .read("out/order-A-1.csv")
            .await
            .ok()
            .map(|buffer| String::from_utf8_lossy(&buffer.to_vec()).into_owned())
    })
    .await;
    assert_eq!(content, "id,total\nA-1,12.5\n");
    assert_eq!(
        s3.keys("out/").await,
        ["out/order-A-1.csv"],
        "no temporary object is left behind"
    );
    // The object appears when the copy lands; the task is recorded done once the
    // temporary object is deleted and the outcome committed, a moment later.
    eventually(Duration::from_secs(15), "the export task done", || async {
        (runner.counts("export").await["done"] == json!(1)).then_some(())
    })
    .await;
    runner.terminate();
}
