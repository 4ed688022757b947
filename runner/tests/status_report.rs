//! The runner writes route status through the Kubernetes API: server-side apply on the
//! status subresource, under its own field manager, with the queue snapshot — checked
//! against a stand-in API server on loopback that records each request.

// A test reports failure by panicking with a message.
#![allow(clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::patch;
use serde_json::{Value, json};
use switchyard_runner::queue::{
    Completion, NewTask, Outcome, QueueStore, RouteKey, SqlQueue, WriteBatch, now_ms,
};
use switchyard_runner::status_report::{Reported, report_once};

/// One request to the stand-in API server: target, query, content type, body.
type Request = (String, String, String, Value);

#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Vec<Request>>>);

async fn apply_status(
    State(recorded): State<Recorded>,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: String,
) -> axum::Json<Value> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let patch: Value = serde_json::from_str(&body).expect("the patch is JSON");
    recorded.0.lock().expect("lock").push((
        format!("{namespace}/{name}"),
        query.unwrap_or_default(),
        content_type,
        patch.clone(),
    ));
    // Answer like the API server: the object with its new status.
    let spec = if patch["kind"] == "Route" {
        json!({"incoming": {"webhook": {}}, "outgoing": {"connection": "c"}})
    } else {
        json!({})
    };
    axum::Json(json!({
        "apiVersion": "switchyard.dev/v1alpha1",
        "kind": patch["kind"],
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
        "status": patch["status"],
    }))
}

fn task(route: &RouteKey, n: u64) -> NewTask {
    NewTask {
        id: uuid::Uuid::now_v7().to_string(),
        route: route.clone(),
        item: json!({"n": n}),
        source: "webhook",
        log: vec![],
        failure: None,
        provenance: None,
        trace: None,
        stored: None,
    }
}

#[tokio::test]
async fn snapshots_are_applied_to_the_route_status_and_throttled() {
    let recorded = Recorded::default();
    let app = Router::new()
        .route(
            "/apis/switchyard.dev/v1alpha1/namespaces/{namespace}/routes/{name}/status",
            patch(apply_status),
        )
        .with_state(recorded.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let config = kube::Config::new(format!("http://{address}").parse().expect("URL"));
    let client = kube::Client::try_from(config).expect("client");

    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqlQueue::connect(&SqlQueue::default_url(dir.path()), Duration::from_secs(60))
        .await
        .expect("queue");
    let route = RouteKey {
        namespace: "shop".into(),
        route: "orders".into(),
    };
    store
        .write(WriteBatch {
            new_tasks: (0..3).map(|n| task(&route, n)).collect(),
            completions: vec![],
            claim: None,
            storage: Vec::new(),
        })
        .await
        .expect("enqueue");
    let leased = store.lease(&route, 2, now_ms()).await.expect("lease");
    let completions = vec![
        Completion::of(&leased[0], Outcome::Done),
        Completion::of(
            &leased[1],
            Outcome::Failed {
                error: "POST https://erp/orders answered 422".into(),
            },
        ),
    ];
    store
        .write(WriteBatch {
            new_tasks: vec![],
            completions,
            claim: None,
            storage: Vec::new(),
        })
        .await
        .expect("complete");

    let mut reported = Reported::default();
    assert_eq!(
        report_once(&store, std::slice::from_ref(&route), &client, &mut reported).await,
        1
    );
    let requests = recorded.0.lock().expect("lock").clone();
    let (target, query, content_type, patch) = &requests[0];
    assert_eq!(target, "shop/orders");
    assert!(
        query.contains("fieldManager=switchyard-runner") && query.contains("force=true"),
        "{query}"
    );
    assert_eq!(content_type, "application/apply-patch+yaml");
    assert_eq!(patch["kind"], "Route");
    let queue = &patch["status"]["queue"];
    assert_eq!(
        (
            queue["pending"].as_i64(),
            queue["done"].as_i64(),
            queue["failed"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert!(
        queue["oldestPendingAgeSeconds"]
            .as_i64()
            .is_some_and(|age| age >= 0),
        "{queue}"
    );
    assert!(
        queue["lastSuccessTime"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{queue}"
    );
    assert_eq!(queue["lastError"]["taskId"], json!(leased[1].id));
    assert_eq!(
        queue["lastError"]["message"],
        "POST https://erp/orders answered 422"
    );
    assert!(
        patch["status"].get("conditions").is_none(),
        "the runner must not touch the operator's conditions"
    );

    // Nothing changed: no write until the refresh interval.
    assert_eq!(
        report_once(&store, std::slice::from_ref(&route), &client, &mut reported).await,
        0
    );
    assert_eq!(recorded.0.lock().expect("lock").len(), 1);
}

async fn refuse(headers: HeaderMap) -> (axum::http::StatusCode, &'static str) {
    // Accepts only the right token, like a real API.
    if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer right-token") {
        (axum::http::StatusCode::OK, "ok")
    } else {
        (axum::http::StatusCode::UNAUTHORIZED, "no")
    }
}

#[tokio::test]
async fn connection_probes_are_written_to_the_connection_status() {
    let recorded = Recorded::default();
    let app = Router::new()
        .route(
            "/apis/switchyard.dev/v1alpha1/namespaces/{namespace}/connections/{name}/status",
            patch(apply_status),
        )
        .with_state(recorded.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let api_address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = kube::Client::try_from(kube::Config::new(
        format!("http://{api_address}").parse().expect("URL"),
    ))
    .expect("client");

    // A system that refuses the token it is given, and one that is down.
    let system = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let system_address = system.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(system, Router::new().fallback(refuse)).await;
    });
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let manifests = tempfile::tempdir().expect("dir");
    let connection = |name: &str, url: String| {
        format!(
            "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {{name: {name}}}\nspec:\n  http:\n    baseUrl: {url}\n    auth:\n      bearer:\n        token: {{secretKeyRef: {{name: probe, key: token}}}}\n---\n"
        )
    };
    let text = connection("refusing", format!("http://{system_address}"))
        + &connection("down", format!("http://{down}"));
    std::fs::write(manifests.path().join("c.yaml"), text).expect("write");
    let secrets = tempfile::tempdir().expect("dir");
    std::fs::create_dir_all(secrets.path().join("probe")).expect("dir");
    std::fs::write(secrets.path().join("probe/token"), "wrong-token-value").expect("secret");
    let runtime = switchyard_runner::runtime::load(
        &[manifests.path().to_owned()],
        &switchyard_runner::secrets::SecretSource {
            dir: Some(secrets.path().to_owned()),
        },
    )
    .expect("valid manifests");

    let written =
        switchyard_runner::status_report::probe_connections(&runtime.connections, &client).await;
    assert_eq!(written, 2);
    let requests = recorded.0.lock().expect("lock").clone();
    let probe_of = |name: &str| {
        requests
            .iter()
            .find(|(target, ..)| target == &format!("default/{name}"))
            .map(|(_, query, _, patch)| {
                assert!(query.contains("fieldManager=switchyard-runner"), "{query}");
                patch["status"]["probe"].clone()
            })
            .expect("a status write")
    };
    let refusing = probe_of("refusing");
    assert_eq!(refusing["ok"], false);
    assert!(
        refusing["message"]
            .as_str()
            .is_some_and(|m| m.contains("credentials were refused (401")),
        "{refusing}"
    );
    let down = probe_of("down");
    assert_eq!(down["ok"], false);
    assert!(
        down["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot connect")),
        "{down}"
    );
    assert!(
        !format!("{requests:?}").contains("wrong-token-value"),
        "the secret leaked into a status"
    );
}

#[tokio::test]
async fn circuit_changes_are_written_to_the_connection_status_once() {
    use switchyard_runner::circuit::{self, Gate, Settings, Verdict};

    let recorded = Recorded::default();
    let app = Router::new()
        .route(
            "/apis/switchyard.dev/v1alpha1/namespaces/{namespace}/connections/{name}/status",
            patch(apply_status),
        )
        .with_state(recorded.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = kube::Client::try_from(kube::Config::new(
        format!("http://{address}").parse().expect("URL"),
    ))
    .expect("client");

    let breaker = circuit::breaker(
        "shop",
        "erp",
        Settings {
            failures: 2,
            open_for: Duration::from_secs(60),
        },
    );
    for _ in 0..2 {
        match breaker.admit(now_ms()) {
            Gate::Go(pass) => pass.settle(Verdict::Failed {
                why: "status 503 Service Unavailable: down".into(),
                retry_after: None,
            }),
            Gate::Wait { .. } => panic!("a closed circuit held a delivery back"),
        }
    }
    let mut reported = Reported::default();
    assert_eq!(
        switchyard_runner::status_report::report_circuits(&client, &mut reported).await,
        1
    );
    let requests = recorded.0.lock().expect("lock").clone();
    let (target, query, _, patch) = &requests[0];
    assert_eq!(target, "shop/erp");
    assert!(query.contains("fieldManager=switchyard-runner"), "{query}");
    let status = &patch["status"]["circuit"];
    assert_eq!(status["state"], "Open", "{status}");
    let since = status["since"].as_str().expect("since");
    let until = status["until"].as_str().expect("until");
    assert!(until > since, "{status}");
    assert!(
        status["reason"]
            .as_str()
            .is_some_and(|r| r.contains("2 failures in a row") && r.contains("503")),
        "{status}"
    );
    assert!(
        patch["status"].get("conditions").is_none(),
        "the runner must not touch the operator's conditions"
    );
    // Unchanged: not written again.
    assert_eq!(
        switchyard_runner::status_report::report_circuits(&client, &mut reported).await,
        0
    );
}
