//! Polling an HTTP Connection: every pagination style, OAuth2 client credentials, and the
//! manual trigger.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use switchyard_e2e::{Receiver, ReceiverMode, Runner, RunnerOptions, manifest_dir, runner_bin};

/// Seven records, served by every listing style below.
fn record(n: u64) -> Value {
    json!({"id": n, "name": format!("record {n}")})
}

const TOTAL: u64 = 7;

#[derive(Clone, Default)]
struct Seen {
    authorizations: Arc<Mutex<Vec<String>>>,
    tokens_issued: Arc<Mutex<u32>>,
}

async fn page_number(Query(q): Query<HashMap<String, u64>>) -> Json<Value> {
    let page = q.get("page").copied().unwrap_or(1);
    let items: Vec<Value> = ((page - 1) * 3 + 1..=(page * 3).min(TOTAL))
        .map(record)
        .collect();
    Json(json!({"data": items}))
}

async fn offset(Query(q): Query<HashMap<String, u64>>) -> Json<Value> {
    let (offset, limit) = (
        q.get("offset").copied().unwrap_or(0),
        q.get("limit").copied().unwrap_or(2),
    );
    Json(json!(
        (offset + 1..=(offset + limit).min(TOTAL))
            .map(record)
            .collect::<Vec<_>>()
    ))
}

async fn next_link(Query(q): Query<HashMap<String, u64>>) -> Json<Value> {
    let after = q.get("after").copied().unwrap_or(0);
    let last = (after + 4).min(TOTAL);
    let next = (last < TOTAL).then(|| format!("/next-link?after={last}"));
    Json(
        json!({"items": (after + 1..=last).map(record).collect::<Vec<_>>(), "links": {"next": next}}),
    )
}

async fn cursor(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    seen.authorizations
        .lock()
        .expect("lock")
        .push(authorization);
    let start: u64 = q
        .get("cursor")
        .and_then(|c| c.strip_prefix("c"))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let last = (start + 5).min(TOTAL);
    let next = if last < TOTAL {
        json!(format!("c{last}"))
    } else {
        Value::Null
    };
    Json(
        json!({"results": (start + 1..=last).map(record).collect::<Vec<_>>(), "meta": {"next": next}}),
    )
}

async fn token(State(seen): State<Seen>, headers: HeaderMap, body: String) -> Json<Value> {
    // client_id:client_secret as HTTP Basic, grant in the form body.
    assert_eq!(
        headers.get("authorization").and_then(|v| v.to_str().ok()),
        Some("Basic c3luYzpjbGllbnQtc2VjcmV0LTk=")
    );
    assert!(body.contains("grant_type=client_credentials"), "{body}");
    *seen.tokens_issued.lock().expect("lock") += 1;
    Json(json!({"access_token": "issued-token-1", "token_type": "Bearer", "expires_in": 3600}))
}

fn route(name: &str, path: &str, items_pointer: &str, pagination: &str) -> String {
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: {name}}}
spec:
  incoming:
    poll:
      connection: source
      schedule: "0 0 1 1 *"
      request: {{path: {path}}}
      {items_pointer}
      {pagination}
  outgoing:
    connection: sink
"#
    )
}

#[tokio::test]
async fn every_pagination_style_fetches_every_record_once() {
    let seen = Seen::default();
    let app = Router::new()
        .route("/page-number", get(page_number))
        .route("/offset", get(offset))
        .route("/next-link", get(next_link))
        .route("/cursor", get(cursor))
        .route("/oauth/token", post(token))
        .with_state(seen.clone());
    let source = switchyard_e2e::serve(app).await;
    let sink = Receiver::start(ReceiverMode::Accept {
        delay: std::time::Duration::ZERO,
    })
    .await;
    let connections = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: source}}
spec:
  http:
    baseUrl: {source}
    auth:
      oauth2ClientCredentials:
        tokenUrl: {source}/oauth/token
        clientId: sync
        clientSecret: {{secretKeyRef: {{name: oauth, key: secret}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: sink}}
spec:
  http:
    baseUrl: {}
"#,
        sink.base_url()
    );
    let routes = [
        route(
            "by-page",
            "/page-number",
            "itemsPointer: /data",
            "pagination: {pageNumber: {param: page}}",
        ),
        route(
            "by-offset",
            "/offset",
            "",
            "pagination: {offset: {offsetParam: offset, limitParam: limit, limit: 2}}",
        ),
        route(
            "by-link",
            "/next-link",
            "itemsPointer: /items",
            "pagination: {nextLink: {pointer: /links/next}}",
        ),
        route(
            "by-cursor",
            "/cursor",
            "itemsPointer: /results",
            "pagination: {cursor: {pointer: /meta/next, param: cursor}}",
        ),
    ]
    .join("---\n");
    let dir = manifest_dir(&[("connections.yaml", &connections), ("routes.yaml", &routes)]);
    let options = RunnerOptions {
        env: vec![(
            "SWITCHYARD_SECRET_OAUTH_SECRET".into(),
            "client-secret-9".into(),
        )],
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;

    for name in ["by-page", "by-offset", "by-link", "by-cursor"] {
        let response = runner
            .client
            .post(runner.url(&format!("/api/v1/namespaces/default/routes/{name}/trigger")))
            .send()
            .await
            .expect("trigger");
        assert_eq!(response.status().as_u16(), 202, "{name}");
        let answer: Value = response.json().await.expect("JSON");
        assert_eq!(answer["count"], TOTAL, "{name}: {answer}");
        let page = runner
            .get_json(&format!(
                "/api/v1/namespaces/default/tasks?route={name}&limit=100"
            ))
            .await;
        let mut ids = Vec::new();
        for task in page["tasks"].as_array().expect("tasks") {
            let detail = runner
                .get_json(&format!(
                    "/api/v1/namespaces/default/tasks/{}",
                    task["id"].as_str().expect("id")
                ))
                .await;
            ids.push(detail["item"]["id"].as_u64().expect("record id"));
            assert_eq!(task["source"], "poll");
        }
        ids.sort_unstable();
        assert_eq!(ids, (1..=TOTAL).collect::<Vec<_>>(), "{name}");
    }
    // Every source request carried the OAuth2 token, fetched once and then cached.
    let authorizations = seen.authorizations.lock().expect("lock").clone();
    assert_eq!(authorizations, vec!["Bearer issued-token-1".to_owned(); 2]);
    assert_eq!(*seen.tokens_issued.lock().expect("lock"), 1);
    // A webhook-less trigger on a polling route that fails says why.
    let response = runner
        .client
        .post(runner.url("/api/v1/namespaces/default/routes/by-page/trigger"))
        .json(&json!({"id": 99}))
        .send()
        .await
        .expect("trigger with items");
    assert_eq!(
        response.status().as_u16(),
        202,
        "manual items are accepted on any route"
    );
}

/// Records served by the incremental listing: the server answers every record whose
/// `updatedAt` is at or after `updated_since`, as a well-behaved API does.
#[derive(Clone, Default)]
struct Changing {
    records: Arc<Mutex<Vec<Value>>>,
    asked_since: Arc<Mutex<Vec<String>>>,
}

async fn changed_since(
    State(state): State<Changing>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let since = q.get("updated_since").cloned().unwrap_or_default();
    state.asked_since.lock().expect("lock").push(since.clone());
    let records = state.records.lock().expect("lock");
    let items: Vec<Value> = records
        .iter()
        .filter(|r| r["updatedAt"].as_str().unwrap_or_default() >= since.as_str())
        .cloned()
        .collect();
    Json(json!({"data": items}))
}

fn changed(id: u64, at: &str) -> Value {
    json!({"id": id, "updatedAt": at})
}

#[tokio::test]
async fn an_incremental_cursor_fetches_only_new_records_on_the_next_run() {
    let state = Changing::default();
    state.records.lock().expect("lock").extend([
        changed(1, "2026-01-01T10:00:00Z"),
        changed(2, "2026-01-01T11:00:00Z"),
        changed(3, "2026-01-01T12:00:00Z"),
    ]);
    let app = Router::new()
        .route("/orders", get(changed_since))
        .with_state(state.clone());
    let source = switchyard_e2e::serve(app).await;
    let sink = Receiver::start(ReceiverMode::Accept {
        delay: std::time::Duration::ZERO,
    })
    .await;
    let manifests = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: shop}}
spec:
  http: {{baseUrl: "{source}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: sink}}
spec:
  http: {{baseUrl: "{}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: orders}}
spec:
  incoming:
    poll:
      connection: shop
      schedule: "0 0 1 1 *"
      request: {{path: /orders}}
      itemsPointer: /data
      cursor: {{param: updated_since, field: updatedAt, key: id, initial: "1970-01-01T00:00:00Z"}}
  outgoing:
    connection: sink
"#,
        sink.base_url()
    );
    let dir = manifest_dir(&[("route.yaml", &manifests)]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    let trigger = || async {
        let response = runner
            .client
            .post(runner.url("/api/v1/namespaces/default/routes/orders/trigger"))
            .send()
            .await
            .expect("trigger");
        assert_eq!(response.status().as_u16(), 202);
        let answer: Value = response.json().await.expect("JSON");
        answer["count"].as_u64().expect("count")
    };

    assert_eq!(trigger().await, 3, "the first run takes every record");
    // Meanwhile the shop changes: a record shares the last timestamp (written after
    // the first fetch), another is newer, and record 2 is not touched.
    state.records.lock().expect("lock").extend([
        changed(4, "2026-01-01T12:00:00Z"),
        changed(5, "2026-01-01T13:00:00Z"),
    ]);
    assert_eq!(
        trigger().await,
        2,
        "the second run takes only records 4 and 5"
    );
    assert_eq!(trigger().await, 0, "nothing changed since");

    let asked = state.asked_since.lock().expect("lock").clone();
    assert_eq!(
        asked,
        vec![
            "1970-01-01T00:00:00Z".to_owned(),
            "2026-01-01T12:00:00Z".to_owned(),
            "2026-01-01T13:00:00Z".to_owned(),
        ],
        "each run asks from the greatest value queued before"
    );
    switchyard_e2e::eventually(
        std::time::Duration::from_secs(10),
        "every record delivered",
        || async { (sink.count() == 5).then_some(()) },
    )
    .await;
    let mut delivered: Vec<u64> = sink
        .received()
        .iter()
        .map(|r| r.body["id"].as_u64().expect("id"))
        .collect();
    delivered.sort_unstable();
    assert_eq!(delivered, vec![1, 2, 3, 4, 5], "each record exactly once");
    // The cursor is visible (and editable) through the storage API.
    let stored = runner
        .get_json("/api/v1/namespaces/default/storages/orders/items/connector.cursor")
        .await;
    assert_eq!(stored["value"]["value"], "2026-01-01T13:00:00Z", "{stored}");
}
