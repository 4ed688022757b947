//! What a tenant gets: every object, owned by the Tenant, restricted, written by server-side
//! apply, as in the golden file; and a second reconcile writes nothing.

use crate::support::{
    API, FakeApi, TWO_REGIONS, children_of, condition, config, reconcile_tenant, text,
};
use crate::{objects, region_objects};
use serde_json::{Value, json};

#[tokio::test]
async fn a_tenant_with_two_regions_and_three_routes_gets_these_objects() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("reconciles");

    // Per region: ServiceAccount, Role, RoleBinding, ConfigMap, Service, NetworkPolicy,
    // PodDisruptionBudget and the runner workload: a StatefulSet for the SQLite queue of
    // eu-west-1, a Deployment for the PostgreSQL queue of us-east-1.
    let eu = region_objects("acme-eu-west-1", "StatefulSet");
    let us = region_objects("acme-us-east-1", "Deployment");
    let expected: Vec<(&str, &str)> = eu
        .iter()
        .chain(&us)
        .map(|(k, n)| (*k, n.as_str()))
        .collect();
    assert_eq!(children_of(&api, "acme"), objects(&expected));

    let tenant = api.get(API, "Tenant", "acme", "acme").expect("tenant");
    let uid = tenant["metadata"]["uid"].clone();
    for object in api
        .objects()
        .iter()
        .filter(|o| o["metadata"]["labels"]["switchyard.dev/tenant"] == "acme")
    {
        let owners = object["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(owners.len(), 1, "{}", object["metadata"]["name"]);
        assert_eq!(owners[0]["kind"], "Tenant");
        assert_eq!(owners[0]["uid"], uid);
        assert_eq!(owners[0]["controller"], true);
        assert_eq!(object["metadata"]["namespace"], "acme");
    }
    for workload in [
        api.get("apps/v1", "StatefulSet", "acme", "acme-eu-west-1"),
        api.get("apps/v1", "Deployment", "acme", "acme-us-east-1"),
    ] {
        assert_restricted(&workload.expect("workload exists")["spec"]["template"]["spec"]);
    }
    // The ValueTable the Transformer names is read, validated and reported on.
    let table = api
        .get(API, "ValueTable", "acme", "countries")
        .expect("value table");
    assert_eq!(condition(&table, "Ready")["status"], "True", "{table}");
    // Every write is a server-side apply with the operator's one field manager.
    for request in api.requests().iter().filter(|r| r.is_write()) {
        assert_eq!(request.method, http::Method::PATCH, "{request:?}");
        assert!(
            request.query.contains("fieldManager=switchyard-operator"),
            "{request:?}"
        );
        assert!(request.query.contains("force=true"), "{request:?}");
        let body = request.body.clone().unwrap_or_default();
        assert!(
            body["apiVersion"].is_string() && body["kind"].is_string(),
            "{request:?}"
        );
    }
    golden("two-regions", &api);
}

fn assert_restricted(pod: &Value) {
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    for container in pod["containers"].as_array().cloned().unwrap_or_default() {
        let sc = &container["securityContext"];
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["runAsNonRoot"], true);
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    }
}

/// Compares the tenant's objects with `tests/golden/<name>.yaml`, or rewrites it when
/// `UPDATE_GOLDEN` is set.
fn golden(name: &str, api: &FakeApi) {
    let mut objects: Vec<Value> = api
        .objects()
        .into_iter()
        .filter(|o| o["metadata"]["labels"]["switchyard.dev/tenant"].is_string())
        .map(|mut o| {
            // Server-assigned, not the operator's.
            if let Some(meta) = o["metadata"].as_object_mut() {
                for key in ["uid", "resourceVersion", "generation", "creationTimestamp"] {
                    meta.remove(key);
                }
            }
            o
        })
        .collect();
    objects.sort_by_key(|o| (text(&o["kind"]), text(&o["metadata"]["name"])));
    let rendered: String = objects
        .iter()
        .map(|o| serde_yaml::to_string(o).expect("renders"))
        .collect::<Vec<_>>()
        .join("---\n");
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.yaml"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).expect("golden file written");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == rendered,
        "{} differs from what the operator creates; review and regenerate with \
         `UPDATE_GOLDEN=1 cargo test -p switchyard-operator --test reconcile`",
        path.display()
    );
}

#[tokio::test]
async fn a_second_reconcile_with_nothing_changed_writes_nothing() {
    let api = FakeApi::default();
    api.seed(TWO_REGIONS);
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("first reconcile");
    api.clear_requests();
    reconcile_tenant(&api, "acme", "acme", config())
        .await
        .expect("second reconcile");
    let writes: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert!(writes.is_empty(), "unexpected writes: {writes:#?}");
}
