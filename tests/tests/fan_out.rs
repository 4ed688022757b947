//! Fan-out and content-based routing: one webhook feeds three routes, one of them only
//! for Dutch orders. With that route's receiver down, the other two deliver and its
//! tasks wait; once it is back they arrive too. An item one route refuses queues
//! nothing for any of them.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, free_port, manifest_dir, runner_bin,
};

fn manifests(erp: &str, wms: &str, tax: &str) -> String {
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: erp}}
spec: {{http: {{baseUrl: "{erp}", timeoutSeconds: 2}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: wms}}
spec: {{http: {{baseUrl: "{wms}", timeoutSeconds: 2}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: tax}}
spec: {{http: {{baseUrl: "{tax}", timeoutSeconds: 2}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: orders}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing: {{connection: erp, http: {{path: /orders}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: warehouse}}
spec:
  incoming: {{route: orders}}
  transformers:
    incoming:
      - jq: '{{sku: .id, qty: 1}}'
  outgoing: {{connection: wms, http: {{path: /picks}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: dutch-tax}}
spec:
  incoming:
    route: orders
    when: '.country == "NL"'
  transformers:
    incoming:
      - jq: '{{id, vat: (.total * 0.21)}}'
  outgoing: {{connection: tax, http: {{path: /vat}}}}
  processing:
    retry: {{maxAttempts: 1000, initialBackoffMs: 100, maxBackoffMs: 300}}
"#
    )
}

fn messages(task: &Value) -> Vec<String> {
    task["log"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| l["message"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn one_webhook_feeds_three_routes_and_a_down_receiver_holds_back_only_its_own() {
    let accept = || ReceiverMode::Accept {
        delay: Duration::ZERO,
    };
    let erp = Receiver::start(accept()).await;
    let wms = Receiver::start(accept()).await;
    let tax_port = free_port();
    let tax_url = format!("http://127.0.0.1:{tax_port}");
    let dir = manifest_dir(&[(
        "routes.yaml",
        &manifests(&erp.base_url(), &wms.base_url(), &tax_url),
    )]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;

    let orders = json!([
        {"id": 1, "country": "NL", "total": 100},
        {"id": 2, "country": "DE", "total": 50},
        {"id": 3, "country": "NL", "total": 10},
    ]);
    let (status, answer) = runner.post_json("/webhooks/default/orders", &orders).await;
    assert_eq!(status, 202, "{answer}");
    // Three for orders, three for the warehouse, two Dutch orders for the tax office.
    let ids = answer["taskIds"].as_array().cloned().unwrap_or_default();
    assert_eq!(ids.len(), 8, "{answer}");

    eventually(
        Duration::from_secs(20),
        "orders and warehouse delivered",
        || async {
            (runner.counts("orders").await["done"] == 3
                && runner.counts("warehouse").await["done"] == 3)
                .then_some(())
        },
    )
    .await;
    let mut picks: Vec<Value> = wms.received().iter().map(|r| r.body.clone()).collect();
    picks.sort_by_key(|p| p["sku"].as_i64());
    assert_eq!(
        picks,
        vec![
            json!({"sku": 1, "qty": 1}),
            json!({"sku": 2, "qty": 1}),
            json!({"sku": 3, "qty": 1})
        ]
    );
    assert_eq!(erp.count(), 3);

    // The tax office is down: its two tasks wait and retry, none failed, none done.
    let tax = runner.counts("dutch-tax").await;
    assert_eq!(tax["done"], 0, "{tax}");
    assert_eq!(tax["failed"], 0, "{tax}");
    assert_eq!(
        tax["pending"].as_i64().unwrap_or(0) + tax["processing"].as_i64().unwrap_or(0),
        2,
        "{tax}"
    );
    let routes = runner.get_json("/api/v1/namespaces/default/routes").await;
    let info = routes
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "dutch-tax").cloned())
        .unwrap_or(Value::Null);
    assert_eq!(info["incoming"], "route", "{info}");
    assert_eq!(info["follows"], "orders", "{info}");

    let tasks = runner
        .get_json("/api/v1/namespaces/default/tasks?route=dutch-tax")
        .await;
    let first = tasks["tasks"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let task = runner
        .get_json(&format!("/api/v1/namespaces/default/tasks/{first}"))
        .await;
    assert_eq!(task["item"], json!({"id": 1, "vat": 21.0}), "{task}");
    let log = messages(&task);
    assert!(
        log[0].starts_with("Received via webhook of route orders (item 1 of 3)"),
        "{log:#?}"
    );

    // An item the tax route's transformers cannot handle: nothing queued anywhere.
    let (status, answer) = runner
        .post_json(
            "/webhooks/default/orders",
            &json!({"id": 4, "country": "NL", "total": "a lot"}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    let error = answer.to_string();
    assert!(error.contains("route dutch-tax"), "{error}");
    let listed = runner.get_json("/api/v1/namespaces/default/tasks").await;
    assert_eq!(
        listed["tasks"].as_array().map(Vec::len),
        Some(8),
        "{listed}"
    );

    // The tax office comes back: its tasks go out.
    let tax_office = Receiver::start_on(
        tax_port,
        ReceiverMode::Accept {
            delay: Duration::ZERO,
        },
    )
    .await;
    eventually(
        Duration::from_secs(20),
        "the tax tasks delivered",
        || async { (runner.counts("dutch-tax").await["done"] == 2).then_some(()) },
    )
    .await;
    let mut vat: Vec<i64> = tax_office
        .received()
        .iter()
        .filter_map(|r| r.body["id"].as_i64())
        .collect();
    vat.sort_unstable();
    assert_eq!(vat, vec![1, 3]);
    assert_eq!(erp.count(), 3, "orders delivered once each");
}

#[test]
fn the_flows_examples_are_valid() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/flows");
    let output = std::process::Command::new(runner_bin!())
        .args(["validate", "-f"])
        .arg(&examples)
        .env("SWITCHYARD_SECRET_CRM_TOKEN", "example-token")
        .env("SWITCHYARD_SECRET_PRINT_SHOP_API_KEY", "example-key")
        .env(
            "SWITCHYARD_SECRET_PRINT_SHOP_CALLBACK_KEY",
            "example-callback-key",
        )
        .env(
            "SWITCHYARD_SECRET_ERP_OAUTH_CLIENT_SECRET",
            "example-secret",
        )
        .env(
            "SWITCHYARD_SECRET_SHOP_CALLER_TOKEN",
            "example-caller-token",
        )
        .output()
        .expect("run validate");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
