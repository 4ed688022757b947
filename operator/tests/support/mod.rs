//! Shared helpers of the operator's reconcile tests.

// Each test binary uses a part of these helpers.
#![allow(dead_code)]

pub mod fake_api;

use std::sync::Arc;

use kube::api::Api;
use serde_json::Value;
use switchyard_crds::v1alpha1::Tenant;
use switchyard_operator::config::OperatorConfig;
use switchyard_operator::error::Error;
use switchyard_operator::reconcile::{Context, reconcile};

pub use fake_api::FakeApi;

/// The fixture the builders' unit tests use: Tenant `acme` (eu-west-1 on SQLite,
/// us-east-1 on PostgreSQL with two replicas), two Connections, a Transformer and three
/// Routes (`orders` everywhere, `eu-invoices` pinned to eu-west-1, `us-stock` to us-east-1).
pub const TWO_REGIONS: &str = include_str!("../../src/build/fixtures/two-regions.yaml");

pub const API: &str = "switchyard.dev/v1alpha1";

/// The operator as the chart starts it: every region.
pub fn config() -> OperatorConfig {
    OperatorConfig {
        runner_image: "ghcr.io/switchyard/runner:test".to_owned(),
        region: None,
        namespace: "switchyard-system".to_owned(),
        ..OperatorConfig::default()
    }
}

/// Reads the Tenant from the fake API and reconciles it once.
pub async fn reconcile_tenant(
    api: &FakeApi,
    namespace: &str,
    name: &str,
    config: OperatorConfig,
) -> Result<(), Error> {
    let client = api.client();
    let tenant = Api::<Tenant>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .expect("the Tenant exists in the fake API");
    let ctx = Arc::new(Context {
        client,
        config,
        recorder: None,
    });
    reconcile(Arc::new(tenant), ctx).await.map(|_| ())
}

/// `(kind, name)` of every object labelled as belonging to `tenant`, sorted.
pub fn children_of(api: &FakeApi, tenant: &str) -> Vec<(String, String)> {
    let mut children: Vec<(String, String)> = api
        .objects()
        .into_iter()
        .filter(|o| o["metadata"]["labels"]["switchyard.dev/tenant"] == tenant)
        .map(|o| (text(&o["kind"]), text(&o["metadata"]["name"])))
        .collect();
    children.sort();
    children
}

/// The condition `type_` of a stored object's status.
pub fn condition(object: &Value, type_: &str) -> Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_).cloned())
        .unwrap_or(Value::Null)
}

pub fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// Polls `check` every 20 ms until it gives a value; panics after `timeout`, naming
/// `what`.
pub async fn eventually<T, F, Fut>(timeout: std::time::Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
