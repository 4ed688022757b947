//! Broken manifests stop the runner before anything starts, with every problem named by
//! file, resource and field.

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use switchyard_e2e::{Runner, RunnerOptions, eventually, free_port, manifest_dir, runner_bin};

const CONNECTION: &str = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: erp}
spec:
  http:
    baseUrl: https://erp.example.com/api
    auth:
      basic:
        username: sync
        password: hunter2-inline
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: legacy}
spec:
  soap:
    url: https://legacy.example.com/ws
    version: "1.3"
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: drop}
spec:
  fileSystem:
    sftp:
      host: sftp.example.com
      username: u
      privateKey: {secretKeyRef: {name: Drop_Key, key: id_ed25519}}
"#;

const ROUTE: &str = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: orders, namespace: shop}
spec:
  incoming:
    webhook: {}
  transformers:
    incoming:
      - jq: '.order | {id,'
      - transformer: does-not-exist
  outgoing:
    connection: missing-connection
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: poller}
spec:
  incoming:
    poll:
      connection: erp
      schedule: "every five minutes"
  outgoing:
    connection: erp
    http:
      headers:
        Authorization: Bearer abc
"#;

#[test]
fn run_exits_non_zero_naming_file_resource_and_field_and_starts_nothing() {
    let dir = manifest_dir(&[("connection.yaml", CONNECTION), ("routes.yaml", ROUTE)]);
    let port = free_port();
    let data = tempfile::tempdir().expect("data dir");
    let output = Command::new(runner_bin!())
        .args(["run", "-f"])
        .arg(dir.path())
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data.path().join("queue"))
        .output()
        .expect("run runner");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = |name: &str| dir.path().join(name).display().to_string();
    for expected in [
        // an inline password: the schema only takes a secretKeyRef
        format!(
            "{} (document 1): Connection/default/erp: field `spec.http.auth.basic.password`",
            file("connection.yaml")
        ),
        // a value outside an enum's set: no fallback to SOAP 1.1
        format!(
            "{} (document 2): Connection/default/legacy: field `spec.soap.version`: unknown variant `1.3`",
            file("connection.yaml")
        ),
        // a Secret name Kubernetes refuses, found by the secret-reference walk
        format!(
            "{} (document 3): Connection/default/drop: field `spec.fileSystem.sftp.privateKey.secretKeyRef.name`: `Drop_Key` is not a Secret name",
            file("connection.yaml")
        ),
        // bad jq
        format!(
            "{} (document 1): Route/shop/orders: field `spec.transformers.incoming[0].jq`: jq program does not compile",
            file("routes.yaml")
        ),
        // bad references
        format!(
            "{} (document 1): Route/shop/orders: field `spec.transformers.incoming[1].transformer`: Transformer `does-not-exist` does not exist in namespace `shop`",
            file("routes.yaml")
        ),
        format!(
            "{} (document 1): Route/shop/orders: field `spec.outgoing.connection`: Connection `missing-connection` does not exist",
            file("routes.yaml")
        ),
        // bad cron, inline credential in a header
        format!(
            "{} (document 2): Route/default/poller: field `spec.incoming.poll.schedule`",
            file("routes.yaml")
        ),
        format!(
            "{} (document 2): Route/default/poller: field `spec.outgoing.http.headers.Authorization`: credentials must not be written inline",
            file("routes.yaml")
        ),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(stderr.contains("Nothing was started."), "{stderr}");
    // Nothing started: no queue was created, nothing listens.
    assert!(
        !data.path().join("queue").exists(),
        "the data directory was created"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "something listens on the port"
    );
    // The message never repeats the inline password back.
    assert!(!stderr.contains("hunter2-inline"), "{stderr}");
}

#[test]
fn validate_accepts_the_examples() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    let output = Command::new(runner_bin!())
        .args(["validate", "-f"])
        .arg(&examples)
        .arg("--secrets-dir")
        .arg(examples.join("secrets"))
        .output()
        .expect("run validate");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "2 route(s) valid"
    );
}

/// A route file whose quote never closes: libyaml notices at the end of the file.
const UNCLOSED_QUOTE: &str = "apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: orders}
spec:
  incoming:
    webhook: {}
  transformers:
    incoming:
      - jq: '.order
  outgoing:
    connection: shop
";

#[test]
fn validate_stops_at_a_syntax_error_naming_file_line_and_column() {
    let dir = manifest_dir(&[("routes.yaml", UNCLOSED_QUOTE)]);
    let log = dir.path().join("validate.log");
    let started = std::time::Instant::now();
    let mut child = Command::new(runner_bin!())
        .args(["validate", "-f"])
        .arg(dir.path().join("routes.yaml"))
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("run validate");
    // The loader once looped on this file, growing without bound: never wait forever.
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for validate") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("`runner validate` still runs after 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    assert_eq!(status.code(), Some(2));
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
    let stderr = std::fs::read_to_string(&log).expect("validate's output");
    let expected = format!(
        "{}:12:1 (document 1): invalid YAML: ",
        dir.path().join("routes.yaml").display()
    );
    assert!(
        stderr.contains(&expected),
        "missing {expected:?} in:\n{stderr}"
    );
    assert!(
        stderr.contains("while scanning a quoted scalar at line 9 column 13"),
        "{stderr}"
    );
}

#[test]
fn run_refuses_an_empty_set_of_manifests() {
    let dir = tempfile::tempdir().expect("dir");
    let output = Command::new(runner_bin!())
        .args(["validate", "-f"])
        .arg(dir.path())
        .output()
        .expect("run validate");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no manifest file"), "{stderr}");
}

const SHOP: &str = "apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: shop}
spec: {http: {baseUrl: 'http://127.0.0.1:9'}}
";

const ORDERS: &str = "apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: orders}
spec:
  incoming: {webhook: {}}
  outgoing: {connection: shop}
";

#[tokio::test]
async fn a_running_runner_keeps_serving_through_a_broken_manifest_then_applies_a_fixed_one() {
    let dir = manifest_dir(&[("connection.yaml", SHOP), ("routes.yaml", ORDERS)]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    let post = |route: &'static str| {
        let runner = &runner;
        async move {
            runner
                .post_json(&format!("/webhooks/default/{route}"), &json!({"id": 1}))
                .await
                .0
        }
    };
    assert_eq!(post("orders").await, 202);

    std::fs::write(dir.path().join("routes.yaml"), UNCLOSED_QUOTE).expect("break the file");
    let routes = dir.path().join("routes.yaml").display().to_string();
    eventually(
        Duration::from_secs(20),
        "the refused reload in the log",
        || {
            let log = runner.log();
            let found = log.contains("keeping the running configuration")
                && log.contains(&format!("{routes}:12:1 (document 1): invalid YAML"));
            async move { found.then_some(()) }
        },
    )
    .await;
    assert_eq!(post("orders").await, 202, "{}", runner.log());

    // A valid change after the broken one is applied.
    let renamed = ORDERS.replace("name: orders", "name: invoices");
    std::fs::write(dir.path().join("routes.yaml"), renamed).expect("fix the file");
    eventually(
        Duration::from_secs(20),
        "the fixed manifest applied",
        || async { (post("invoices").await == 202).then_some(()) },
    )
    .await;
    assert_eq!(post("orders").await, 404);
}
