//! The router against its declaration and its OpenAPI document, and roles end to end
//! over loopback HTTP.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::{Value, json};
use utoipa::OpenApi;

use super::auth::{Authenticator, Role, StaticTokens};
use super::*;
use crate::queue::{NewTask, QueueStore, RouteKey, SqlQueue, WriteBatch};
use crate::runtime::Runtime;
use crate::storage::StorageStore;

/// `(METHOD, path)` of every operation in the OpenAPI document.
fn documented() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(ApiDoc::openapi()).expect("document");
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn every_route_declares_a_role_and_the_openapi_document_lists_exactly_the_routes() {
    let routes = api_routes();
    let mut served: BTreeSet<(String, String)> = routes
        .declared()
        .iter()
        .map(|d| (d.method.to_string(), d.path.to_owned()))
        .collect();
    assert_eq!(
        served.len(),
        routes.declared().len(),
        "a route declared twice"
    );
    for declared in routes.declared() {
        assert!(
            declared.path.starts_with("/api/v1/"),
            "{declared:?}: routes with a role live under /api/v1/"
        );
    }
    served.extend(
        PUBLIC_ROUTES
            .iter()
            .map(|(method, path)| (method.to_string(), path.to_string())),
    );
    assert_eq!(
        served,
        documented(),
        "the router's routes and /openapi.json differ"
    );
}

#[test]
fn every_operation_is_documented_with_summary_tag_and_its_error_answers() {
    let doc = serde_json::to_value(ApiDoc::openapi()).expect("document");
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let at = format!("{method} {path}");
            assert!(
                operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{at}: no summary"
            );
            assert!(
                operation["description"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{at}: no description"
            );
            let tags = operation["tags"].as_array().expect("tags");
            assert!(
                tags.len() == 1 && !tags[0].as_str().unwrap_or("").contains("::"),
                "{at}: tags {tags:?} must be one resource name, not a module path"
            );
            if path.starts_with("/api/") {
                for status in ["401", "403"] {
                    assert!(
                        operation["responses"][status]["content"]["application/json"].is_object(),
                        "{at}: {status} undocumented"
                    );
                }
                assert!(
                    Role::parse(operation["x-switchyard-role"].as_str().unwrap_or("")).is_some(),
                    "{at}"
                );
            }
        }
    }
}

struct Served {
    url: String,
    store: Arc<dyn QueueStore>,
    _dir: tempfile::TempDir,
}

async fn serve(auth: Authenticator) -> Served {
    let dir = tempfile::tempdir().expect("dir");
    let queue = SqlQueue::connect(
        &SqlQueue::default_url(dir.path()),
        std::time::Duration::from_secs(60),
    )
    .await
    .expect("queue");
    let storage: Arc<dyn StorageStore> = Arc::new(queue.storage());
    let audit: Arc<dyn AuditLog> = Arc::new(queue.audit());
    let store: Arc<dyn QueueStore> = Arc::new(queue);
    let engine = Engine::new(store.clone(), storage, Runtime::default());
    let app = router(AppState {
        engine,
        auth: Arc::new(auth),
        audit,
        ready: Arc::new(AtomicBool::new(true)),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Served {
        url,
        store,
        _dir: dir,
    }
}

fn tokens() -> Authenticator {
    let mut tokens = StaticTokens::default();
    tokens.add("vera".into(), Role::Viewer, "viewer-token-0001".into());
    tokens.add("eddie".into(), Role::Editor, "editor-token-0002".into());
    Authenticator::new(tokens, None)
}

async fn failed_task(store: &dyn QueueStore) -> String {
    let task = NewTask::unreadable(
        RouteKey {
            namespace: "default".into(),
            route: "orders".into(),
        },
        json!({"order": 42}),
        "refused".into(),
        vec![],
    );
    let id = task.id.clone();
    // Not `unreadable`: a failed task that can be retried.
    let task = NewTask {
        source: "webhook",
        ..task
    };
    store
        .write(WriteBatch {
            new_tasks: vec![task],
            completions: vec![],
            claim: None,
            storage: Vec::new(),
        })
        .await
        .expect("write");
    id
}

async fn call(method: reqwest::Method, url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_viewer_is_refused_a_retry_naming_the_role_and_an_editors_retry_is_audited() {
    let served = serve(tokens()).await;
    let id = failed_task(served.store.as_ref()).await;
    let retry = format!("{}/api/v1/namespaces/default/tasks/{id}/retry", served.url);

    let (status, body) = call(reqwest::Method::POST, &retry, None).await;
    assert_eq!(
        (status, body["code"].clone()),
        (401, json!("unauthorized")),
        "{body}"
    );
    let (status, body) = call(reqwest::Method::POST, &retry, Some("wrong-token")).await;
    assert_eq!(status, 401, "{body}");

    let (status, body) = call(reqwest::Method::POST, &retry, Some("viewer-token-0001")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "forbidden");
    assert_eq!(body["requiredRole"], "editor");
    assert!(
        body["error"].as_str().unwrap_or("").contains("vera"),
        "{body}"
    );

    let (status, body) = call(reqwest::Method::POST, &retry, Some("editor-token-0002")).await;
    assert_eq!(
        (status, body["state"].clone()),
        (200, json!("pending")),
        "{body}"
    );

    let task = served
        .store
        .get("default", &id)
        .await
        .expect("get")
        .expect("task");
    assert!(
        task.log
            .iter()
            .any(|l| l.message.contains("Retry requested by eddie (token)")),
        "{:?}",
        task.log
    );
    let audit = format!("{}/api/v1/namespaces/default/audit", served.url);
    let (status, page) = call(reqwest::Method::GET, &audit, Some("viewer-token-0001")).await;
    assert_eq!(status, 200, "{page}");
    let event = &page["events"][0];
    assert_eq!(event["action"], "retry", "{page}");
    assert_eq!(event["actor"], "eddie (token)");
    assert_eq!(event["target"], id.as_str());
    assert_eq!(event["origin"], "127.0.0.1");
    assert_eq!(
        page["events"].as_array().map(Vec::len),
        Some(1),
        "refused calls are not actions"
    );

    let (status, me) = call(
        reqwest::Method::GET,
        &format!("{}/api/v1/whoami", served.url),
        Some("viewer-token-0001"),
    )
    .await;
    assert_eq!(
        (status, me["name"].clone(), me["role"].clone()),
        (200, json!("vera"), json!("viewer"))
    );
}

#[tokio::test]
async fn every_error_is_one_json_body_with_a_stable_code() {
    let served = serve(tokens()).await;
    let editor = Some("editor-token-0002");
    let cases = [
        (
            reqwest::Method::GET,
            "/nowhere".to_owned(),
            404,
            "not_found",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/namespaces/default/tasks?limit=zero".into(),
            400,
            "bad_request",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/namespaces/default/tasks?state=lost".into(),
            400,
            "bad_request",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/namespaces/default/tasks/nope".into(),
            404,
            "not_found",
        ),
        (
            reqwest::Method::DELETE,
            "/api/v1/namespaces/default/tasks".into(),
            405,
            "method_not_allowed",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/namespaces/default/audit?action=explode".into(),
            400,
            "bad_request",
        ),
    ];
    for (method, path, status, code) in cases {
        let (got, body) = call(method.clone(), &format!("{}{path}", served.url), editor).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {body}"
        );
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }
}
