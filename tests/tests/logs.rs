//! Logs for log pipelines: no colour codes when stderr is not a terminal, JSON lines with
//! `--log-format json`, and one structured `Task failed` line per task that ends `failed`.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
};

const TOKEN: &str = "sk_live_LOGSECRET_1717";

fn manifests(refusing: &str, unavailable: &str) -> String {
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: refusing}}
spec:
  http:
    baseUrl: {refusing}
    auth:
      bearer:
        token: {{secretKeyRef: {{name: partner, key: token}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: unavailable}}
spec:
  http:
    baseUrl: {unavailable}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: refused}}
spec:
  incoming:
    webhook: {{}}
  outgoing:
    connection: refusing
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: exhausted}}
spec:
  incoming:
    webhook: {{}}
  outgoing:
    connection: unavailable
  processing:
    retry: {{maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100}}
"#
    )
}

/// A runner whose stderr is a pipe and whose environment has no `NO_COLOR`.
async fn start(format: Option<&str>) -> (Runner, Receiver, Receiver, tempfile::TempDir) {
    // Refuses for good, quoting the credential it was sent (the log must mask it).
    let refusing = Receiver::start(ReceiverMode::Answer {
        status: 400,
        body: format!("rejected: you sent Bearer {TOKEN}"),
        headers: vec![],
    })
    .await;
    let unavailable = Receiver::start(ReceiverMode::Answer {
        status: 503,
        body: "down for maintenance".into(),
        headers: vec![],
    })
    .await;
    let dir = manifest_dir(&[(
        "all.yaml",
        &manifests(&refusing.base_url(), &unavailable.base_url()),
    )]);
    let env = vec![(
        "SWITCHYARD_SECRET_PARTNER_TOKEN".to_owned(),
        TOKEN.to_owned(),
    )]
    .into_iter()
    .chain(format.map(|f| ("SWITCHYARD_LOG_FORMAT".to_owned(), f.to_owned())))
    .collect();
    let options = RunnerOptions {
        env,
        stderr_pipe: true,
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    (runner, refusing, unavailable, dir)
}

/// Posts one item to `route` and waits for its task to end `failed`; returns its id.
async fn failed_task(runner: &Runner, route: &str) -> String {
    let (status, answer) = runner
        .post_json(&format!("/webhooks/default/{route}"), &json!({"id": 1}))
        .await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["taskIds"][0].as_str().expect("task id").to_owned();
    let path = format!("/api/v1/namespaces/default/tasks/{id}");
    eventually(Duration::from_secs(20), "the task to fail", || async {
        (runner.get_json(&path).await["state"] == "failed").then_some(())
    })
    .await;
    id
}

#[tokio::test]
async fn text_lines_to_a_pipe_carry_no_colour_codes() {
    let (runner, _refusing, _unavailable, _dir) = start(None).await;
    failed_task(&runner, "refused").await;
    let log = eventually(Duration::from_secs(10), "the Task failed line", || async {
        let log = runner.log();
        log.contains("Task failed").then_some(log)
    })
    .await;
    assert!(log.contains("Runner started"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a piped log:\n{log:?}"
    );
    assert!(log.contains("event=\"task_failed\""), "{log}");
    assert!(!log.contains(TOKEN), "the secret leaked:\n{log}");
}

/// The JSON line of the `Task failed` event of task `id`, once it is written.
async fn task_failed_line(runner: &Runner, id: &str) -> Value {
    eventually(Duration::from_secs(10), "the task_failed line", || async {
        runner.log().lines().find_map(|line| {
            let line: Value = serde_json::from_str(line).ok()?;
            (line["fields"]["event"] == "task_failed" && line["fields"]["task"] == id)
                .then_some(line)
        })
    })
    .await
}

#[tokio::test]
async fn json_lines_parse_and_a_failed_task_writes_one_structured_line() {
    let (mut runner, _refusing, unavailable, _dir) = start(Some("json")).await;

    // Refused for good at the first attempt.
    let refused = failed_task(&runner, "refused").await;
    let line = task_failed_line(&runner, &refused).await;
    let fields = &line["fields"];
    assert_eq!(line["level"], "WARN", "{line}");
    assert_eq!(fields["message"], "Task failed", "{line}");
    assert_eq!(fields["namespace"], "default", "{line}");
    assert_eq!(fields["route"], "refused", "{line}");
    assert_eq!(fields["attempts"], 1, "{line}");
    let reason = fields["reason"].as_str().expect("reason");
    assert!(reason.contains("400"), "{line}");
    assert!(reason.contains("***") && !reason.contains(TOKEN), "{line}");

    // Out of attempts after two 503s.
    let exhausted = failed_task(&runner, "exhausted").await;
    let line = task_failed_line(&runner, &exhausted).await;
    assert_eq!(line["fields"]["route"], "exhausted", "{line}");
    assert_eq!(line["fields"]["attempts"], 2, "{line}");
    assert_eq!(unavailable.received().len(), 2);

    runner.terminate();
    let log = runner.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 3, "{log}");
    for line in &lines {
        let parsed: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
        assert!(
            parsed["timestamp"].is_string() && parsed["level"].is_string(),
            "{line}"
        );
    }
    // One line per failed task, not one per attempt.
    let failed_lines = lines
        .iter()
        .filter(|l| l.contains("\"task_failed\""))
        .count();
    assert_eq!(failed_lines, 2, "{log}");
    assert!(!log.contains(TOKEN), "the secret leaked:\n{log}");
}

#[tokio::test]
async fn an_unknown_log_format_is_refused_at_start_up() {
    let output = std::process::Command::new(runner_bin!())
        .args(["validate", "-f", "."])
        .env("SWITCHYARD_LOG_FORMAT", "xml")
        .output()
        .expect("run the runner");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("xml") && stderr.contains("json") && stderr.contains("text"),
        "{stderr}"
    );
}
