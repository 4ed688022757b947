//! Broken manifests stop the runner before anything starts, with every problem named by
//! file, resource and field.

use std::process::Command;

use switchyard_e2e::{free_port, manifest_dir, runner_bin};

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
