//! A SOAP call with WS-Security reaches a SOAP service on loopback; a SOAP fault fails the
//! task with the fault string in its log.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use switchyard_e2e::{Runner, RunnerOptions, eventually, manifest_dir, runner_bin};

const PASSWORD: &str = "soap-Pa55-secret";

type Calls = Arc<Mutex<Vec<(String, String)>>>;

/// A CreateOrder service: answers with an order id, or a fault for customer 13.
async fn service(
    State(calls): State<Calls>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let action = headers
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    calls.lock().expect("lock").push((action, body.clone()));
    let envelope = |status, inner: &str| {
        (
            status,
            format!(
                r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>{inner}</soap:Body></soap:Envelope>"#
            ),
        )
    };
    if body.contains(">13<") {
        return envelope(
            StatusCode::INTERNAL_SERVER_ERROR,
            "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>Unknown customer 13</faultstring></soap:Fault>",
        );
    }
    envelope(
        StatusCode::OK,
        r#"<CreateOrderResponse xmlns="http://erp.example.com/orders"><OrderId>42</OrderId></CreateOrderResponse>"#,
    )
}

#[tokio::test]
async fn a_ws_security_call_reaches_the_service_and_a_fault_fails_the_task() {
    let calls = Calls::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = Router::new()
        .route("/services/OrderService", post(service))
        .with_state(calls.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let manifests = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: legacy-erp}}
spec:
  soap:
    url: http://{address}/services/OrderService
    version: "1.1"
    wsSecurity:
      username: switchyard
      password: {{secretKeyRef: {{name: legacy-erp, key: password}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: orders}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing:
    connection: legacy-erp
    soap:
      operation: CreateOrder
      namespace: http://erp.example.com/orders
      action: http://erp.example.com/orders/CreateOrder
      body: "{{Order: {{Id: .id, Customer: .customer}}}}"
  processing:
    retry: {{maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 200}}
"#
    );
    let dir = manifest_dir(&[("soap.yaml", &manifests)]);
    let options = RunnerOptions {
        env: vec![(
            "SWITCHYARD_SECRET_LEGACY_ERP_PASSWORD".into(),
            PASSWORD.into(),
        )],
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    let (status, answer) = runner
        .post_json(
            "/webhooks/default/orders",
            &json!([{"id": 1, "customer": 7}, {"id": 2, "customer": 13}]),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let ids: Vec<String> = answer["taskIds"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let settled = |id: String| {
        let runner = &runner;
        async move {
            eventually(Duration::from_secs(20), "the task to settle", || {
                let path = format!("/api/v1/namespaces/default/tasks/{id}");
                async move {
                    let task: Value = runner.get_json(&path).await;
                    matches!(task["state"].as_str(), Some("done" | "failed")).then_some(task)
                }
            })
            .await
        }
    };
    let delivered = settled(ids[0].clone()).await;
    assert_eq!(delivered["state"], "done", "{delivered}");
    let faulted = settled(ids[1].clone()).await;
    assert_eq!(faulted["state"], "failed", "{faulted}");
    assert_eq!(faulted["attempts"], 1, "a fault is permanent: {faulted}");
    assert!(
        faulted["log"].to_string().contains("Unknown customer 13"),
        "{faulted}"
    );

    let calls = calls.lock().expect("lock").clone();
    let (action, envelope) = calls
        .iter()
        .find(|(_, body)| body.contains(">7<"))
        .expect("the call for customer 7");
    assert!(
        action.contains("http://erp.example.com/orders/CreateOrder"),
        "{action}"
    );
    assert!(
        envelope.contains("UsernameToken") && envelope.contains(">switchyard<"),
        "{envelope}"
    );
    assert!(
        envelope.contains(&format!(">{PASSWORD}<")),
        "the password is sent in the token: {envelope}"
    );
    assert!(
        envelope.contains("CreateOrder") && envelope.contains(">1<"),
        "{envelope}"
    );
    // ...but never shown back.
    for text in [delivered.to_string(), faulted.to_string(), runner.log()] {
        assert!(!text.contains(PASSWORD), "{text}");
    }
}
