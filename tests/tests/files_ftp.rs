//! The file-system connector against a real FTP server on loopback (pyftpdlib): a CSV
//! file becomes one task per row and moves to `processed/`, an outgoing route writes a
//! file through a temporary name, a wrong password fails clearly without showing it, and
//! the same works over explicit FTPS with a private CA.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::servers::ftp::FtpServer;
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
    secrets_dir,
};

/// The `files` Connection on `ftp`; FTPS (trusting the server's CA) when it has one.
fn ftp_connection(ftp: &FtpServer) -> String {
    let tls = ftp.ca_pem.as_deref().map_or_else(String::new, |pem| {
        let indented: String = pem.lines().map(|l| format!("        {l}\n")).collect();
        format!("      tls: true\n      caCertificate: |\n{indented}")
    });
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: files}}
spec:
  fileSystem:
    ftp:
      host: 127.0.0.1
      port: {port}
      username: {username}
      password: {{secretKeyRef: {{name: ftp, key: password}}}}
{tls}"#,
        port = ftp.port,
        username = ftp.username,
    )
}

/// A polling route `orders` (CSV in `inbox/`, to the receiver) and a webhook route
/// `export` (each item written as `out/order-<id>.csv`), both on the `files` Connection.
fn manifests(ftp: &FtpServer, receiver: &Receiver, schedule: &str) -> String {
    format!(
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
      connection: files
      schedule: "{schedule}"
      files: {{path: inbox, glob: "*.csv", format: csv}}
  outgoing:
    connection: sink
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: export}}
spec:
  incoming:
    webhook: {{}}
  outgoing:
    connection: files
    file: {{path: "out/order-{{{{ .id }}}}.csv", format: csv}}
"#,
        connection = ftp_connection(ftp),
        sink = receiver.base_url(),
    )
}

/// The runner with its manifests and secrets directories (kept until the test ends).
/// Polls every second, so files dropped before the start are picked up at once.
const EVERY_SECOND: &str = "* * * * * *";
/// Midnight on the first of January: never during a test, so only a trigger polls.
const NEVER_ON_ITS_OWN: &str = "0 0 1 1 *";

async fn start_runner(
    ftp: &FtpServer,
    receiver: &Receiver,
    password: &str,
    schedule: &str,
) -> (Runner, [tempfile::TempDir; 2]) {
    let secrets = secrets_dir(&[("default/ftp", "password", password)]);
    let dir = manifest_dir(&[("manifests.yaml", &manifests(ftp, receiver, schedule))]);
    let options = RunnerOptions {
        secrets_dir: Some(secrets.path().to_owned()),
        ..RunnerOptions::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    (runner, [secrets, dir])
}

/// Drops `inbox/orders.csv` and a broken CSV on the server, then checks that the rows
/// reach the receiver, the good file moves to `processed/` and the broken one to
/// `failed/`; then writes one file through the `export` route.
async fn polls_and_writes(ftp: &FtpServer) {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let inbox = ftp.root().join("inbox");
    std::fs::create_dir(&inbox).expect("inbox");
    std::fs::write(inbox.join("orders.csv"), "id,total\n1,10\n2,20\n").expect("csv");
    // Record 3 has one field too many: not valid CSV, at line 3.
    std::fs::write(inbox.join("broken.csv"), "id,total\n3,30\n4,40,extra\n").expect("csv");
    std::fs::write(inbox.join("notes.txt"), "not matched by the glob").expect("txt");
    let (mut runner, _dirs) = start_runner(ftp, &receiver, ftp.password, EVERY_SECOND).await;

    let files = eventually(
        Duration::from_secs(30),
        "the CSV files moved out of inbox/",
        || async {
            let files = ftp.files("inbox");
            (files
                == [
                    "inbox/failed/broken.csv",
                    "inbox/notes.txt",
                    "inbox/processed/orders.csv",
                ])
            .then_some(files)
        },
    )
    .await;
    assert_eq!(files.len(), 3, "{}", ftp.log());
    eventually(Duration::from_secs(15), "two rows delivered", || {
        let n = receiver.count();
        async move { (n >= 2).then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut bodies: Vec<Value> = receiver.received().into_iter().map(|r| r.body).collect();
    bodies.sort_by_key(Value::to_string);
    assert_eq!(
        bodies,
        [
            json!({"id": "1", "total": "10"}),
            json!({"id": "2", "total": "20"})
        ],
        "one task per row of the good file, nothing of the broken one"
    );
    let failed = runner
        .get_json("/api/v1/namespaces/default/tasks?route=orders&state=failed")
        .await;
    assert_eq!(
        failed["tasks"].as_array().map(Vec::len),
        Some(1),
        "{failed}"
    );

    let (status, answer) = runner
        .post_json(
            "/webhooks/default/export",
            &json!({"id": "A-1", "total": 12.5}),
        )
        .await;
    assert!((200..300).contains(&status), "{status} {answer}");
    let written = ftp.root().join("out/order-A-1.csv");
    let content = eventually(Duration::from_secs(15), "the file is written", || async {
        std::fs::read_to_string(&written).ok()
    })
    .await;
    assert_eq!(content, "id,total\nA-1,12.5\n");
    assert_eq!(
        ftp.files("out"),
        ["out/order-A-1.csv"],
        "no temporary file is left behind"
    );
    // The file appears when the rename lands; the task is recorded done once the FTP
    // session has closed and the outcome is committed, a moment later.
    eventually(Duration::from_secs(15), "the export task done", || async {
        (runner.counts("export").await["done"] == json!(1)).then_some(())
    })
    .await;
    runner.terminate();
    assert!(
        !runner.log().contains(ftp.password),
        "the password is never logged"
    );
}

#[tokio::test]
async fn ftp_files_become_tasks_and_routes_write_files() {
    let Some(ftp) = FtpServer::start().await else {
        return;
    };
    polls_and_writes(&ftp).await;
    // Written under a temporary name in the same directory, then renamed (pyftpdlib
    // logs each STOR and RNTO with its path).
    let log = ftp.log();
    let stored = log
        .lines()
        .find(|l| l.contains("STOR") && l.contains("/out/"))
        .unwrap_or_else(|| panic!("no STOR in the server log:\n{log}"));
    assert!(
        stored.contains("/out/.order-A-1.csv.") && stored.contains(".tmp"),
        "{stored}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("RNTO") && l.contains("/out/order-A-1.csv")),
        "no rename onto the final name:\n{log}"
    );
}

#[tokio::test]
async fn ftps_with_a_private_ca_polls_and_writes() {
    let Some(ftp) = FtpServer::start_tls().await else {
        return;
    };
    polls_and_writes(&ftp).await;
}

#[tokio::test]
async fn a_wrong_password_fails_clearly_and_is_never_shown() {
    let Some(ftp) = FtpServer::start().await else {
        return;
    };
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    std::fs::create_dir(ftp.root().join("inbox")).expect("inbox");
    std::fs::write(ftp.root().join("inbox/orders.csv"), "id\n1\n").expect("csv");
    let wrong = "not-the-password-51d2";
    // Polled only when triggered: a scheduled poll running at the same moment would
    // make the trigger answer 503 (busy) instead of the login failure.
    let (mut runner, _dirs) = start_runner(&ftp, &receiver, wrong, NEVER_ON_ITS_OWN).await;

    // Polling: the trigger answers 502 with the login failure.
    let response = reqwest::Client::new()
        .post(runner.url("/api/v1/namespaces/default/routes/orders/trigger"))
        .send()
        .await
        .expect("trigger");
    let status = response.status().as_u16();
    let answer = response.text().await.expect("answer");
    assert_eq!(status, 502, "{answer}");
    assert!(
        answer.contains("log in as `switchyard`") && answer.contains("530"),
        "{answer}"
    );
    assert!(!answer.contains(wrong), "{answer}");

    // Writing: the task fails at once (530 is permanent) and its log says why.
    let (status, answer) = runner
        .post_json("/webhooks/default/export", &json!({"id": "B-2"}))
        .await;
    assert!((200..300).contains(&status), "{status} {answer}");
    let tasks = eventually(Duration::from_secs(15), "the task fails", || async {
        let failed = runner
            .get_json("/api/v1/namespaces/default/tasks?route=export&state=failed")
            .await;
        failed["tasks"]
            .as_array()
            .filter(|tasks| !tasks.is_empty())
            .cloned()
    })
    .await;
    let id = tasks[0]["id"].as_str().expect("id");
    let task = runner
        .get_json(&format!("/api/v1/namespaces/default/tasks/{id}"))
        .await;
    assert_eq!(task["attempts"], json!(1), "not retried: {task}");
    let log = task["log"].to_string();
    assert!(
        log.contains("log in as `switchyard`") && log.contains("530"),
        "{log}"
    );
    assert!(!log.contains(wrong), "{log}");
    assert_eq!(
        ftp.files("inbox"),
        ["inbox/orders.csv"],
        "the file stays where it is"
    );
    assert_eq!(receiver.count(), 0);
    runner.terminate();
    assert!(
        !runner.log().contains(wrong),
        "the password is never logged"
    );
}
