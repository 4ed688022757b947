//! Lookups: items enriched from an HTTP service and a PostgreSQL table on loopback, the
//! answers cached within their TTL; a lookup service that is down makes delivery retry
//! (and a webhook answer 503) instead of failing the items.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::pg::TestDatabase;
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
};

fn answer(status: u16, body: Value) -> ReceiverMode {
    ReceiverMode::Answer {
        status,
        body: body.to_string(),
        headers: vec![("content-type".into(), "application/json".into())],
    }
}

/// The lookup requests the CRM received, by path.
fn lookups(crm: &Receiver) -> Vec<String> {
    crm.received().into_iter().map(|r| r.path).collect()
}

#[tokio::test]
async fn items_are_enriched_over_http_and_from_postgres_and_answers_are_cached() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
    sqlx::query("CREATE TABLE tiers (customer_id INT PRIMARY KEY, tier TEXT NOT NULL)")
        .execute(&pool)
        .await
        .expect("create table");
    sqlx::query("INSERT INTO tiers VALUES (42, 'gold'), (7, 'silver')")
        .execute(&pool)
        .await
        .expect("seed");
    let crm = Receiver::start(answer(
        200,
        json!({"name": "Ada", "email": "ada@example.com"}),
    ))
    .await;
    let sink = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let manifests = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: crm}}
spec:
  http: {{baseUrl: "{crm}/api"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: warehouse}}
spec:
  database: {{url: "{db}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: sink}}
spec:
  http: {{baseUrl: "{sink}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: orders}}
spec:
  incoming:
    webhook: {{}}
  transformers:
    incoming:
      - lookup:
          connection: crm
          http:
            path: /customers/{{{{ .customerId }}}}
            query: {{fields: "{{{{ .fields }}}}"}}
          select: '{{name}}'
          into: customer
          cacheTtlSeconds: 60
    outgoing:
      - lookup:
          connection: warehouse
          database: {{sql: "SELECT tier FROM tiers WHERE customer_id = :customerId"}}
          select: .tier
          into: customer.tier
          cacheTtlSeconds: 60
          onNotFound: default
          default: none
  outgoing:
    connection: sink
"#,
        crm = crm.base_url(),
        db = db.url,
        sink = sink.base_url(),
    );
    let dir = manifest_dir(&[("manifests.yaml", &manifests)]);
    let mut runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    let order = |id: u64, customer: u64| json!({"orderId": id, "customerId": customer, "fields": "name&email"});
    let (status, body) = runner
        .post_json(
            "/webhooks/default/orders",
            &json!([order(1, 42), order(2, 42), order(3, 7), order(4, 99)]),
        )
        .await;
    assert_eq!(status, 202, "{body}\n{}", runner.log());
    eventually(Duration::from_secs(10), "four orders delivered", || {
        let n = sink.count();
        async move { (n == 4).then_some(()) }
    })
    .await;
    // One request per customer, not per order; the placeholder value is encoded as one
    // query value.
    let mut asked = lookups(&crm);
    asked.sort();
    assert_eq!(
        asked,
        [
            "/api/customers/42?fields=name%26email",
            "/api/customers/7?fields=name%26email",
            "/api/customers/99?fields=name%26email",
        ],
        "{}",
        runner.log()
    );
    let delivered = |id: u64| {
        sink.received()
            .into_iter()
            .map(|r| r.body)
            .find(|b| b["orderId"] == json!(id))
            .unwrap_or_else(|| panic!("order {id} not delivered"))
    };
    assert_eq!(
        delivered(1)["customer"],
        json!({"name": "Ada", "tier": "gold"})
    );
    assert_eq!(
        delivered(3)["customer"],
        json!({"name": "Ada", "tier": "silver"})
    );
    assert_eq!(
        delivered(4)["customer"],
        json!({"name": "Ada", "tier": "none"})
    );

    // Within the TTL neither service is asked again: the CRM sees no new request and a
    // changed row still reads as before.
    sqlx::query("UPDATE tiers SET tier = 'platinum' WHERE customer_id = 42")
        .execute(&pool)
        .await
        .expect("update");
    let (status, _) = runner
        .post_json("/webhooks/default/orders", &json!([order(5, 42)]))
        .await;
    assert_eq!(status, 202);
    eventually(Duration::from_secs(10), "the fifth order delivered", || {
        let n = sink.count();
        async move { (n == 5).then_some(()) }
    })
    .await;
    assert_eq!(lookups(&crm).len(), 3, "{:?}", lookups(&crm));
    assert_eq!(
        delivered(5)["customer"],
        json!({"name": "Ada", "tier": "gold"})
    );

    runner.terminate();
    pool.close().await;
    db.drop_now().await;
}

#[tokio::test]
async fn a_lookup_service_that_is_down_is_retried_at_delivery_and_refused_with_503_at_intake() {
    let crm = Receiver::start(answer(503, json!({"error": "maintenance"}))).await;
    let sink = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let manifests = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: crm}}
spec:
  http: {{baseUrl: "{crm}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: sink}}
spec:
  http: {{baseUrl: "{sink}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: enrich-late}}
spec:
  incoming:
    webhook: {{}}
  transformers:
    outgoing:
      - lookup:
          connection: crm
          http: {{path: "/customers/{{{{ .customerId }}}}"}}
          into: customer
  outgoing:
    connection: sink
  processing:
    retry: {{maxAttempts: 50, initialBackoffMs: 100, maxBackoffMs: 200}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: enrich-early}}
spec:
  incoming:
    webhook: {{}}
  transformers:
    incoming:
      - lookup:
          connection: crm
          http: {{path: "/customers/{{{{ .customerId }}}}"}}
          into: customer
  outgoing:
    connection: sink
"#,
        crm = crm.base_url(),
        sink = sink.base_url(),
    );
    let dir = manifest_dir(&[("manifests.yaml", &manifests)]);
    let mut runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;

    let (status, body) = runner
        .post_json("/webhooks/default/enrich-early", &json!({"customerId": 1}))
        .await;
    assert_eq!(status, 503, "{body}");
    let message = body.to_string();
    assert!(
        message.contains("lookup")
            && message.contains("Connection `crm`")
            && message.contains("503"),
        "{message}"
    );

    let (status, body) = runner
        .post_json("/webhooks/default/enrich-late", &json!({"customerId": 1}))
        .await;
    assert_eq!(status, 202, "{body}");
    eventually(Duration::from_secs(10), "the lookup retried", || {
        let n = crm.count();
        async move { (n >= 4).then_some(()) }
    })
    .await;
    assert_eq!(sink.count(), 0, "nothing delivered while the lookup fails");
    crm.set_mode(answer(200, json!({"name": "Ada"})));
    eventually(
        Duration::from_secs(10),
        "delivered once the service is back",
        || {
            let n = sink.count();
            async move { (n == 1).then_some(()) }
        },
    )
    .await;
    assert_eq!(sink.received()[0].body["customer"], json!({"name": "Ada"}));
    runner.terminate();
}
