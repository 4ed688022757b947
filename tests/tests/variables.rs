//! `${{ vars.NAME }}` placeholders with a real runner: values from a `--vars-file`, the
//! environment and a `Variables` resource (plain and from a Secret) reach the receiver;
//! secret ones never show; undefined ones stop `validate` and `run` naming file,
//! resource and field, and keep a running runner on its last good configuration.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
};

/// From a Secret, through `spec.secretValues`.
const API_KEY: &str = "vars-e2e-API-KEY-5150";
/// From `SWITCHYARD_SECRET_VAR_SIGNATURE`.
const SIGNATURE: &str = "vars-e2e-SIGNATURE-0042";

const CONNECTIONS: &str = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: erp}
spec:
  http:
    baseUrl: "http://${{ vars.ERP_ADDRESS }}/${{ vars.ERP_PREFIX }}"
    headers:
      X-Partner-Key: "${{ vars.API_KEY }}"
      X-Literal: "$${{ vars.NOT_A_VARIABLE }}"
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: echo}
spec:
  http:
    baseUrl: "http://${{ vars.ECHO_ADDRESS }}"
    headers:
      X-Signature: "sig=${{ vars.SIGNATURE }}"
---
apiVersion: switchyard.dev/v1alpha1
kind: Variables
metadata: {name: erp}
spec:
  values:
    ERP_PREFIX: api
    ORDERS_PATH: from-the-resource
  secretValues:
    API_KEY: {secretKeyRef: {name: erp, key: api-key}}
"#;

fn routes(orders_path: &str) -> String {
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: orders}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing:
    connection: erp
    http: {{path: "{orders_path}"}}
  processing:
    maxConcurrency: "${{{{ vars.CONCURRENCY }}}}"
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: echoing}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing: {{connection: echo}}
  processing:
    retry: {{maxAttempts: 1}}
"#
    )
}

const ORDERS_PATH: &str = "/${{ vars.ORDERS_PATH }}/{{ .id }}";

struct Setup {
    receiver: Receiver,
    echo: Receiver,
    dir: tempfile::TempDir,
    files: tempfile::TempDir,
    options: RunnerOptions,
}

async fn setup() -> Setup {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    // A hostile system that echoes the credential it was sent in its error body.
    let echo = Receiver::start(ReceiverMode::Answer {
        status: 400,
        body: format!("rejected signature sig={SIGNATURE}"),
        headers: vec![],
    })
    .await;
    let dir = manifest_dir(&[
        ("connections.yaml", CONNECTIONS),
        ("routes.yaml", &routes(ORDERS_PATH)),
    ]);
    let files = tempfile::tempdir().expect("files dir");
    std::fs::create_dir_all(files.path().join("secrets/erp")).expect("secret dir");
    std::fs::write(files.path().join("secrets/erp/api-key"), API_KEY).expect("secret");
    let strip = |url: String| url.trim_start_matches("http://").to_owned();
    let vars_file = files.path().join("vars.yaml");
    std::fs::write(
        &vars_file,
        format!(
            "ERP_ADDRESS: {}\nECHO_ADDRESS: {}\nORDERS_PATH: from-the-file\nCONCURRENCY: 4\n",
            strip(receiver.base_url()),
            strip(echo.base_url())
        ),
    )
    .expect("vars file");
    let options = RunnerOptions {
        secrets_dir: Some(files.path().join("secrets")),
        env: vec![
            (
                "SWITCHYARD_VAR_ORDERS_PATH".into(),
                "orders-from-env".into(),
            ),
            ("SWITCHYARD_SECRET_VAR_SIGNATURE".into(), SIGNATURE.into()),
        ],
        args: vec!["--vars-file".into(), vars_file.display().to_string()],
        ..RunnerOptions::default()
    };
    Setup {
        receiver,
        echo,
        dir,
        files,
        options,
    }
}

async fn post(runner: &Runner, route: &str, body: &Value) -> String {
    let (status, answer) = runner
        .post_json(&format!("/webhooks/default/{route}"), body)
        .await;
    assert_eq!(status, 202, "{answer}");
    answer["taskIds"][0].as_str().expect("task id").to_owned()
}

#[tokio::test]
async fn variables_reach_the_receiver_and_secret_ones_never_show() {
    let setup = setup().await;
    let runner = Runner::start(runner_bin!(), setup.dir.path(), &setup.options).await;

    post(&runner, "orders", &json!({"id": 7})).await;
    let received = eventually(Duration::from_secs(20), "the order delivered", || {
        let receiver = &setup.receiver;
        async move { receiver.received().into_iter().next() }
    })
    .await;
    // baseUrl from the file and the resource, the path from the environment (over the
    // file and the resource), the `{{ jq }}` placeholder filled from the item.
    assert_eq!(received.path, "/api/orders-from-env/7");
    assert_eq!(
        received.headers.get("x-partner-key").map(String::as_str),
        Some(API_KEY)
    );
    assert_eq!(
        received.headers.get("x-literal").map(String::as_str),
        Some("${{ vars.NOT_A_VARIABLE }}")
    );

    let echo_task = post(&runner, "echoing", &json!({"id": 8})).await;
    let task = eventually(Duration::from_secs(20), "the echoed task to fail", || {
        let path = format!("/api/v1/namespaces/default/tasks/{echo_task}");
        let runner = &runner;
        async move {
            let task = runner.get_json(&path).await;
            (task["state"] == "failed").then_some(task)
        }
    })
    .await;
    // The secret was used...
    assert!(setup.echo.received().iter().any(|r| {
        r.headers.get("x-signature").map(String::as_str) == Some(&format!("sig={SIGNATURE}"))
    }));
    // ...and the echo of it masked in the task log.
    let log = task["log"].to_string();
    assert!(log.contains("rejected signature sig=***"), "{log}");

    let mut answers = vec![task.to_string(), runner.log()];
    for path in [
        "/api/v1/namespaces/default/connections",
        "/api/v1/namespaces/default/connections/erp",
        "/api/v1/namespaces/default/connections/echo",
        "/api/v1/namespaces/default/routes",
        "/api/v1/namespaces/default/tasks?limit=100",
        "/metrics",
    ] {
        answers.push(
            runner
                .client
                .get(runner.url(path))
                .send()
                .await
                .expect("GET")
                .text()
                .await
                .unwrap_or_default(),
        );
    }
    for text in &answers {
        for secret in [API_KEY, SIGNATURE] {
            assert!(!text.contains(secret), "{secret} leaked in:\n{text}");
        }
    }
}

#[test]
fn undefined_or_broken_placeholders_fail_validate_and_run_naming_file_resource_and_field() {
    let dir = manifest_dir(&[
        ("connections.yaml", CONNECTIONS),
        (
            "routes.yaml",
            &routes("/orders/${{ vars.ORDERS_PATH").replace("CONCURRENCY", "NOPE"),
        ),
    ]);
    let file = |name: &str| dir.path().join(name).display().to_string();
    let secrets = tempfile::tempdir().expect("secrets");
    std::fs::create_dir_all(secrets.path().join("erp")).expect("secret dir");
    std::fs::write(secrets.path().join("erp/api-key"), API_KEY).expect("secret");
    for subcommand in ["validate", "run"] {
        let data = tempfile::tempdir().expect("data");
        let output = Command::new(runner_bin!())
            .args([subcommand, "-f"])
            .arg(dir.path())
            .arg("--secrets-dir")
            .arg(secrets.path())
            .args(if subcommand == "run" {
                vec!["--data-dir".to_owned(), data.path().display().to_string()]
            } else {
                vec![]
            })
            .env("SWITCHYARD_VAR_ECHO_ADDRESS", "127.0.0.1:9")
            .env("SWITCHYARD_SECRET_VAR_SIGNATURE", SIGNATURE)
            .output()
            .expect("runner");
        assert_eq!(output.status.code(), Some(2), "{subcommand}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        for expected in [
            format!(
                "{} (document 1): Connection/default/erp: field `spec.http.baseUrl`: variable `ERP_ADDRESS` is not defined in namespace `default`",
                file("connections.yaml")
            ),
            format!(
                "{} (document 1): Route/default/orders: field `spec.outgoing.http.path`: unterminated placeholder",
                file("routes.yaml")
            ),
            format!(
                "{} (document 1): Route/default/orders: field `spec.processing.maxConcurrency`: variable `NOPE` is not defined",
                file("routes.yaml")
            ),
        ] {
            assert!(
                stderr.contains(&expected),
                "{subcommand}: {expected}\nin:\n{stderr}"
            );
        }
        assert!(
            !stderr.contains(API_KEY) && !stderr.contains(SIGNATURE),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn a_reload_with_an_undefined_variable_keeps_the_running_configuration() {
    let setup = setup().await;
    let runner = Runner::start(runner_bin!(), setup.dir.path(), &setup.options).await;
    post(&runner, "orders", &json!({"id": 1})).await;
    eventually(Duration::from_secs(20), "the first order delivered", || {
        let receiver = &setup.receiver;
        async move { (receiver.count() == 1).then_some(()) }
    })
    .await;

    // The Route now names a variable nobody defines: the reload is refused.
    std::fs::write(
        setup.dir.path().join("routes.yaml"),
        routes("/${{ vars.NEW_PATH }}/{{ .id }}"),
    )
    .expect("rewrite");
    eventually(Duration::from_secs(20), "the refused reload logged", || {
        let runner = &runner;
        async move {
            let log = runner.log();
            (log.contains("keeping the running configuration") && log.contains("`NEW_PATH`"))
                .then_some(())
        }
    })
    .await;
    post(&runner, "orders", &json!({"id": 2})).await;
    let second = eventually(
        Duration::from_secs(20),
        "the second order delivered",
        || {
            let receiver = &setup.receiver;
            async move { receiver.received().into_iter().nth(1) }
        },
    )
    .await;
    assert_eq!(second.path, "/api/orders-from-env/2");

    // Defining it in the (watched) vars file lets the reload through.
    let vars_file = setup.files.path().join("vars.yaml");
    let text = std::fs::read_to_string(&vars_file).expect("vars file");
    std::fs::write(&vars_file, format!("{text}NEW_PATH: renamed\n")).expect("vars file");
    eventually(Duration::from_secs(20), "the reload", || {
        let runner = &runner;
        async move {
            runner
                .log()
                .contains("Configuration reloaded")
                .then_some(())
        }
    })
    .await;
    post(&runner, "orders", &json!({"id": 3})).await;
    let third = eventually(Duration::from_secs(20), "the third order delivered", || {
        let receiver = &setup.receiver;
        async move { receiver.received().into_iter().nth(2) }
    })
    .await;
    assert_eq!(third.path, "/api/renamed/3");
}

#[test]
fn the_example_validates_with_its_vars_file() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/variables");
    let output = Command::new(runner_bin!())
        .args(["validate", "-f"])
        .arg(&example)
        .arg("--secrets-dir")
        .arg(example.join("secrets"))
        .arg("--vars-file")
        .arg(example.join("local.vars.yaml"))
        .output()
        .expect("run validate");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "1 route(s) valid"
    );
}
