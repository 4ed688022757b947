//! The lookup step against a real HTTP server on loopback and a real SQLite database.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use switchyard_crds::catalog::{Catalog, LabeledStep};
use switchyard_crds::manifest;
use switchyard_crds::v1alpha1::Step;

use crate::connectors::DeliveryError;
use crate::connectors::database::DatabasePool;
use crate::connectors::registry::Connections;
use crate::secrets::SecretSource;
use crate::storage::MemoryStorage;
use crate::transform::{Context, Resources, StepFailed, build_pipeline_with};

/// A service on loopback: `/status/<code>` answers that status, `/text` plain text,
/// `/customers/<id>` a customer (404 for id 0); it counts the requests.
async fn service() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let path = uri.path().to_owned();
            if let Some(code) = path.strip_prefix("/status/") {
                let status = code.parse().unwrap_or(500);
                return (
                    StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                    "nope",
                )
                    .into_response();
            }
            match path.strip_prefix("/customers/") {
                Some("0") => StatusCode::NOT_FOUND.into_response(),
                Some(id) => axum::Json(json!({"id": id, "name": "Ada", "query": uri.query()}))
                    .into_response(),
                None => "plain text".into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), hits)
}

fn catalog_connections(manifests: &str) -> Connections {
    let (resources, problems) = manifest::load_str(manifests, None);
    assert!(problems.is_empty(), "{problems:?}");
    let catalog = Catalog::build(resources);
    assert!(catalog.problems.is_empty(), "{:?}", catalog.problems);
    let mut problems = Vec::new();
    let built = Connections::build(&catalog, &SecretSource::default(), &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    built
}

fn http_connection(base_url: &str) -> String {
    format!(
        "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {{name: crm}}\nspec:\n  http: {{baseUrl: \"{base_url}\"}}\n"
    )
}

async fn run(
    connections: &Connections,
    step: Value,
    items: Vec<Value>,
) -> Result<Vec<Value>, StepFailed> {
    let step: Step =
        serde_json::from_value(json!({ "lookup": step })).unwrap_or_else(|e| panic!("{e}"));
    let pipeline = build_pipeline_with(
        &[LabeledStep {
            label: "incoming step 1".into(),
            step,
        }],
        &Resources {
            namespace: "default",
            connections: Some(connections),
            value_tables: None,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let context = Context::new("default", Arc::new(MemoryStorage::default()));
    pipeline
        .run_batch(items, &context)
        .await
        .map(|(items, _)| items)
}

#[tokio::test]
async fn merges_http_answers_and_asks_once_per_request_within_the_ttl() {
    let (url, hits) = service().await;
    let connections = catalog_connections(&http_connection(&url));
    let step = json!({
        "connection": "crm",
        "http": {"path": "/customers/{{ .id }}", "query": {"q": "{{ .q }}"}},
        "select": "{name, query}",
        "into": "customer",
    });
    let items = vec![
        json!({"id": 1, "q": "a b"}),
        json!({"id": 1, "q": "a b"}),
        json!({"id": 2, "q": "c"}),
        json!({"id": 0, "q": "c"}),
    ];
    let out = run(&connections, step, items)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out,
        vec![
            json!({"id": 1, "q": "a b", "customer": {"name": "Ada", "query": "q=a%20b"}}),
            json!({"id": 1, "q": "a b", "customer": {"name": "Ada", "query": "q=a%20b"}}),
            json!({"id": 2, "q": "c", "customer": {"name": "Ada", "query": "q=c"}}),
            json!({"id": 0, "q": "c"}),
        ]
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3,
        "the repeated request came from the cache"
    );
}

#[tokio::test]
async fn not_found_is_omitted_defaulted_or_fails() {
    let (url, _) = service().await;
    let connections = catalog_connections(&http_connection(&url));
    let base = json!({"connection": "crm", "http": {"path": "/customers/{{ .id }}"}, "into": "c", "select": ".name"});
    let mut with_default = base.clone();
    with_default["onNotFound"] = json!("default");
    with_default["default"] = json!("nobody");
    let out = run(&connections, with_default, vec![json!({"id": 0})])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out, vec![json!({"id": 0, "c": "nobody"})]);
    let mut failing = base;
    failing["onNotFound"] = json!("fail");
    let error = run(&connections, failing, vec![json!({"id": 0})])
        .await
        .err()
        .unwrap_or_else(|| panic!("a missing customer fails the item"));
    assert!(!error.is_transient());
    let message = error.to_string();
    assert!(
        message.starts_with("incoming step 1 (lookup) failed: Connection `crm`: GET ")
            && message.contains("/customers/0 found nothing"),
        "{message}"
    );
}

async fn failure(connections: &Connections, path: &str) -> StepFailed {
    let step = json!({"connection": "crm", "http": {"path": path}, "into": "x"});
    run(connections, step, vec![json!({})])
        .await
        .err()
        .unwrap_or_else(|| panic!("{path} fails"))
}

#[tokio::test]
async fn a_service_that_is_down_is_transient_a_refusal_is_not() {
    let (url, _) = service().await;
    let connections = catalog_connections(&http_connection(&url));
    for path in ["/status/503", "/status/429", "/status/500"] {
        let error = failure(&connections, path).await;
        assert!(error.is_transient(), "{path}: {error}");
        assert!(
            matches!(
                DeliveryError::from(error),
                DeliveryError::Unavailable { .. }
            ),
            "{path}"
        );
    }
    for path in ["/status/400", "/status/403", "/text"] {
        let error = failure(&connections, path).await;
        assert!(!error.is_transient(), "{path}: {error}");
        assert!(
            matches!(DeliveryError::from(error), DeliveryError::Request(_)),
            "{path}"
        );
    }
    // Nothing listens on the port of a closed listener.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"));
    let down = catalog_connections(&http_connection(&format!("http://{closed}")));
    let step = json!({"connection": "crm", "http": {"path": "/x"}, "into": "x"});
    let error = run(&down, step, vec![json!({})])
        .await
        .err()
        .unwrap_or_else(|| panic!("an unreachable service fails"));
    assert!(error.is_transient(), "{error}");
    assert!(error.to_string().contains("cannot connect"), "{error}");
}

#[tokio::test]
async fn reads_rows_with_bound_parameters_and_caches_them() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("stock.db").display()
    );
    let connections = catalog_connections(&format!(
        "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {{name: stock}}\nspec:\n  database: {{url: \"{url}\"}}\n"
    ));
    let pool = connections
        .database_pool("default", "stock")
        .unwrap_or_else(|e| panic!("{e}"));
    let DatabasePool::Sqlite(sqlite) = pool.as_ref() else {
        panic!("a SQLite pool");
    };
    for sql in [
        "CREATE TABLE stock (sku TEXT, location TEXT, qty INTEGER)",
        "INSERT INTO stock VALUES ('a', 'x', 1), ('a', 'y', 2), ('b''; DROP TABLE stock; --', 'z', 3)",
    ] {
        sqlx::query(sql)
            .execute(sqlite)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let first = json!({
        "connection": "stock",
        "database": {"sql": "SELECT location, qty FROM stock WHERE sku = :line.sku ORDER BY qty"},
        "into": "stock",
    });
    let items = vec![
        json!({"line": {"sku": "a"}}),
        json!({"line": {"sku": "b'; DROP TABLE stock; --"}}),
        json!({"line": {"sku": "zzz"}}),
    ];
    let out = run(&connections, first.clone(), items)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out[0]["stock"], json!({"location": "x", "qty": 1}));
    assert_eq!(
        out[1]["stock"],
        json!({"location": "z", "qty": 3}),
        "bound, not spliced"
    );
    assert_eq!(out[2].get("stock"), None);
    let mut all = first;
    all["database"]["allRows"] = json!(true);
    let out = run(
        &connections,
        all.clone(),
        vec![json!({"line": {"sku": "a"}})],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out[0]["stock"],
        json!([{"location": "x", "qty": 1}, {"location": "y", "qty": 2}])
    );

    // One pipeline keeps its answers: a change in the table shows only after the TTL.
    let step: Step =
        serde_json::from_value(json!({ "lookup": all })).unwrap_or_else(|e| panic!("{e}"));
    let pipeline = build_pipeline_with(
        &[LabeledStep {
            label: "outgoing step 1".into(),
            step,
        }],
        &Resources {
            namespace: "default",
            connections: Some(&connections),
            value_tables: None,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let context = Context::new("default", Arc::new(MemoryStorage::default()));
    let item = || vec![json!({"line": {"sku": "a"}})];
    let before = pipeline.run_batch(item(), &context).await.map(|r| r.0);
    sqlx::query("DELETE FROM stock")
        .execute(sqlite)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = pipeline.run_batch(item(), &context).await.map(|r| r.0);
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_lookup_without_its_connection_does_not_build() {
    let step: Step = serde_json::from_value(
        json!({"lookup": {"connection": "crm", "http": {"path": "/"}, "into": "x"}}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let labeled = [LabeledStep {
        label: "incoming step 1".into(),
        step,
    }];
    let error = build_pipeline_with(&labeled, &Resources::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("Connection `crm`"), "{error}");
    let none = catalog_connections("");
    let error = build_pipeline_with(
        &labeled,
        &Resources {
            namespace: "default",
            connections: Some(&none),
            value_tables: None,
        },
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(error.contains("crm"), "{error}");
}
