//! After-delivery steps: once the receiver accepted an item, its answer is written to
//! storage and another route is triggered with it — the new task committed together with
//! the delivered one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
};

/// An ERP that assigns its own id to each order it creates.
async fn create_order(
    State(created): State<Arc<Mutex<Vec<Value>>>>,
    Json(order): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let sku = order["sku"].as_str().unwrap_or_default().to_owned();
    created.lock().expect("lock").push(order);
    (
        StatusCode::CREATED,
        Json(json!({"id": format!("ERP-{sku}"), "state": "open"})),
    )
}

#[tokio::test]
async fn the_receivers_id_is_stored_and_another_route_is_triggered() {
    let created = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/orders", post(create_order))
        .with_state(created.clone());
    let erp = switchyard_e2e::serve(app).await;
    let shop = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let manifests = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: erp}}
spec:
  http: {{baseUrl: "{erp}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: shop}}
spec:
  http: {{baseUrl: "{shop}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: orders-to-erp}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing:
    connection: erp
    http: {{path: /orders}}
  transformers:
    afterDelivery:
      - storagePut: {{storage: erp-ids, key: .item.sku, value: .response.body.id}}
      - when:
          condition: .response.status == 201
          steps:
            - trigger: {{route: confirm-to-shop, item: '{{sku: .item.sku, erpId: .response.body.id}}'}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: confirm-to-shop}}
spec:
  incoming: {{webhook: {{}}}}
  transformers:
    incoming:
      - set: {{path: confirmed, value: true}}
  outgoing:
    connection: shop
    http: {{path: /confirmations}}
"#,
        shop = shop.base_url()
    );
    let dir = manifest_dir(&[("routes.yaml", &manifests)]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;

    let (status, answer) = runner
        .post_json(
            "/webhooks/default/orders-to-erp",
            &json!([{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}]),
        )
        .await;
    assert_eq!(status, 202, "{answer}");

    eventually(
        Duration::from_secs(15),
        "both confirmations at the shop",
        || async { (shop.count() == 2).then_some(()) },
    )
    .await;
    let mut confirmations: Vec<Value> = shop.received().into_iter().map(|r| r.body).collect();
    confirmations.sort_by_key(|c| c["sku"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        confirmations,
        vec![
            json!({"sku": "A-1", "erpId": "ERP-A-1", "confirmed": true}),
            json!({"sku": "B-7", "erpId": "ERP-B-7", "confirmed": true}),
        ],
        "the triggered route ran its own incoming transformers"
    );
    assert_eq!(
        created.lock().expect("lock").len(),
        2,
        "each order sent once"
    );

    // The receiver's id is in storage, under the item's key.
    let stored = runner
        .get_json("/api/v1/namespaces/default/storages/erp-ids/items/A-1")
        .await;
    assert_eq!(stored["value"], "ERP-A-1", "{stored}");

    // The delivered task's log tells which task it queued; that task came from a trigger.
    let tasks = runner
        .get_json("/api/v1/namespaces/default/tasks?route=orders-to-erp&limit=10")
        .await;
    let first = tasks["tasks"][0]["id"]
        .as_str()
        .expect("task id")
        .to_owned();
    let detail = runner
        .get_json(&format!("/api/v1/namespaces/default/tasks/{first}"))
        .await;
    assert_eq!(detail["state"], "done", "{detail}");
    let log: Vec<&str> = detail["log"]
        .as_array()
        .expect("log")
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    let queued = log
        .iter()
        .find_map(|l| l.strip_prefix("After delivery: queued task(s) "))
        .unwrap_or_else(|| panic!("no trigger line in {log:?}"));
    let triggered_id = queued
        .split(' ')
        .next()
        .expect("the triggered task id")
        .to_owned();
    let triggered = runner
        .get_json(&format!("/api/v1/namespaces/default/tasks/{triggered_id}"))
        .await;
    assert_eq!(triggered["route"], "confirm-to-shop", "{triggered}");
    assert_eq!(triggered["source"], "trigger", "{triggered}");
}

#[tokio::test]
async fn a_failing_after_delivery_step_fails_the_task_and_says_it_was_delivered() {
    let erp = Receiver::start(ReceiverMode::Answer {
        status: 200,
        body: "not json".into(),
        headers: Vec::new(),
    })
    .await;
    let manifests = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: erp}}
spec:
  http: {{baseUrl: "{}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: orders}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing: {{connection: erp}}
  transformers:
    afterDelivery:
      # The ERP answered text, so there is no id to store: the key expression fails.
      - storagePut: {{storage: erp-ids, key: .response.body.id, value: .item.sku}}
"#,
        erp.base_url()
    );
    let dir = manifest_dir(&[("routes.yaml", &manifests)]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    let (status, _) = runner
        .post_json("/webhooks/default/orders", &json!({"sku": "A-1"}))
        .await;
    assert_eq!(status, 202);
    let task = eventually(Duration::from_secs(15), "the task to fail", || async {
        let tasks = runner
            .get_json("/api/v1/namespaces/default/tasks?route=orders&state=failed")
            .await;
        tasks["tasks"].as_array().and_then(|t| t.first()).cloned()
    })
    .await;
    assert_eq!(erp.count(), 1, "delivered once, not retried on its own");
    let error = task["lastError"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("delivered, but the after-delivery steps failed"),
        "{error}"
    );
    assert!(error.contains("storagePut"), "names the step: {error}");
}
