//! Webhooks signed with HMAC-SHA256: the signature of the raw body is checked through
//! the real HTTP path, and a wrong or missing signature queues nothing.

use serde_json::json;
use switchyard_e2e::{Runner, RunnerOptions, manifest_dir, runner_bin};
use switchyard_runner::connectors::webhook::sign;

const KEY: &str = "hmac-shared-key-for-e2e";

#[tokio::test]
async fn only_correctly_signed_bodies_are_queued() {
    let manifests = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: nowhere}
spec:
  http: {baseUrl: "http://127.0.0.1:9"}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {name: signed}
spec:
  incoming:
    webhook:
      auth:
        hmac:
          secret: {secretKeyRef: {name: partner, key: hmac}}
          header: X-Hub-Signature-256
          prefix: "sha256="
  outgoing: {connection: nowhere}
  # Delivery never runs here: only intake is under test.
  processing: {mode: scheduled, schedule: "0 0 1 1 *"}
"#;
    let dir = manifest_dir(&[("route.yaml", manifests)]);
    let options = RunnerOptions {
        env: vec![("SWITCHYARD_SECRET_PARTNER_HMAC".into(), KEY.into())],
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    let body = serde_json::to_vec(&json!({"id": 1, "note": "signed"})).expect("JSON");
    let post = |signature: Option<String>| {
        let mut request = runner
            .client
            .post(runner.url("/webhooks/default/signed"))
            .body(body.clone());
        if let Some(signature) = signature {
            request = request.header("X-Hub-Signature-256", signature);
        }
        async move {
            let response = request.send().await.expect("POST");
            (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            )
        }
    };

    let (status, answer) = post(None).await;
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer.contains("missing signature header `X-Hub-Signature-256`"),
        "{answer}"
    );
    let (status, answer) = post(Some(format!("sha256={}", sign(b"another-key", &body)))).await;
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer.contains("signature does not match the body"),
        "{answer}"
    );
    assert_eq!(runner.counts("signed").await["pending"], 0);

    let (status, answer) = post(Some(format!("sha256={}", sign(KEY.as_bytes(), &body)))).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(runner.counts("signed").await["pending"], 1);
    assert!(!runner.log().contains(KEY), "the key leaked into the log");
}
