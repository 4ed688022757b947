//! Each step of [`super::plan`] on the two-region fixture: validate (paused, duplicate,
//! served regions), build (one workload per region, stale objects) and statuses.

use k8s_openapi::chrono::{TimeZone, Utc};
use kube::api::DynamicObject;
use serde::Deserialize;
use switchyard_crds::v1alpha1::Tenant;

use super::build::{build, stale};
use super::statuses;
use super::validate::{Gate, validate};
use super::{Observed, Plan, StatusKind};
use crate::child::ChildKind;
use crate::config::OperatorConfig;
use crate::status::Blocked;

const FIXTURE: &str = include_str!("../build/fixtures/two-regions.yaml");

fn documents() -> Vec<serde_yaml::Value> {
    serde_yaml::Deserializer::from_str(FIXTURE)
        .filter_map(|doc| serde_yaml::Value::deserialize(doc).ok())
        .collect()
}

fn kind(doc: &serde_yaml::Value) -> &str {
    doc.get("kind").and_then(|k| k.as_str()).unwrap_or_default()
}

fn tenant() -> Tenant {
    let doc = documents().into_iter().find(|d| kind(d) == "Tenant");
    serde_yaml::from_value(doc.expect("the fixture has a Tenant")).expect("the Tenant parses")
}

fn observed(tenant: &Tenant) -> Observed {
    let sources = documents()
        .into_iter()
        .filter(|d| {
            d.get("apiVersion")
                .and_then(|a| a.as_str())
                .is_some_and(|a| a.starts_with("switchyard.dev/"))
                && kind(d) != "Tenant"
        })
        .map(|d| serde_yaml::from_value::<DynamicObject>(d).expect("a resource parses"))
        .collect();
    Observed {
        tenants: vec![tenant.clone()],
        sources,
        ..Observed::default()
    }
}

fn config() -> OperatorConfig {
    OperatorConfig {
        runner_image: "ghcr.io/switchyard/runner:default".into(),
        namespace: "switchyard-system".into(),
        ..OperatorConfig::default()
    }
}

#[test]
fn validate_gates_paused_and_duplicate_tenants_and_keeps_the_served_regions() {
    let tenant = tenant();
    let observed = observed(&tenant);
    let validated = validate(&tenant, &observed, &config()).expect("a valid Tenant");
    let regions: Vec<&str> = validated.regions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(regions, ["eu-west-1", "us-east-1"]);
    assert_eq!(validated.image, "ghcr.io/switchyard/runner:0.1.0");
    assert_eq!(validated.catalog.valid_routes.len(), 3);

    let one_region = OperatorConfig {
        region: Some("us-east-1".into()),
        ..config()
    };
    let validated = validate(&tenant, &observed, &one_region).expect("a valid Tenant");
    let regions: Vec<&str> = validated.regions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(regions, ["us-east-1"]);

    let mut paused = tenant.clone();
    paused
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(crate::names::ANNOTATION_PAUSE.into(), "true".into());
    assert!(matches!(
        validate(&paused, &observed, &config()),
        Err(Gate::Paused)
    ));

    let mut older = tenant.clone();
    older.metadata.name = Some("aaa-first".into());
    let with_other = Observed {
        tenants: vec![tenant.clone(), older],
        ..observed.clone()
    };
    match validate(&tenant, &with_other, &config()) {
        Err(Gate::Blocked(Blocked::Duplicate { other, .. })) => assert_eq!(other, "aaa-first"),
        Err(other) => panic!("expected a duplicate, got {other:?}"),
        Ok(_) => panic!("expected a duplicate, got a validated Tenant"),
    }
}

#[test]
fn build_makes_one_workload_per_region_and_finds_what_is_stale() {
    let tenant = tenant();
    let observed = observed(&tenant);
    let config = config();
    let validated = validate(&tenant, &observed, &config).expect("a valid Tenant");
    let built = build(&validated, &config).expect("the fixture builds");
    let workloads: Vec<(ChildKind, i32, usize)> = built
        .regions
        .iter()
        .map(|r| (r.workload.0, r.replicas, r.routes))
        .collect();
    // eu-west-1: SQLite (a StatefulSet), its two routes; us-east-1: PostgreSQL (a
    // Deployment), two replicas, its two routes.
    assert_eq!(
        workloads,
        [
            (ChildKind::StatefulSet, 1, 2),
            (ChildKind::Deployment, 2, 2)
        ]
    );
    for region in &built.regions {
        assert!(
            built
                .children
                .iter()
                .any(|c| c.kind == region.workload.0 && c.name == region.workload.1),
            "{} has no workload among the children",
            region.name
        );
    }

    let object = |name: &str, region: &str| {
        let mut object: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {crate::names::LABEL_REGION: region}},
        }))
        .expect("an object");
        object.metadata.namespace = Some("acme".into());
        object
    };
    let kept = built.children[0].clone();
    let existing = vec![
        (kept.kind, object(&kept.name, "eu-west-1")),
        (ChildKind::ConfigMap, object("gone", "eu-west-1")),
        (ChildKind::ConfigMap, object("elsewhere", "ap-south-1")),
    ];
    let serving_eu = OperatorConfig {
        region: Some("eu-west-1".into()),
        ..config.clone()
    };
    assert_eq!(
        stale(&built.children, &existing, &serving_eu),
        [(ChildKind::ConfigMap, "gone".to_owned())]
    );
}

#[test]
fn statuses_say_paused_running_and_raise_an_event_when_ready_changes() {
    let tenant = tenant();
    let observed = observed(&tenant);
    let config = config();
    let now = Utc
        .with_ymd_and_hms(2026, 12, 2, 12, 0, 0)
        .single()
        .expect("a time");

    let mut plan = Plan::default();
    statuses::gated(&mut plan, &tenant, &Gate::Paused, now);
    let [patch] = plan.statuses.as_slice() else {
        panic!("one status: {:?}", plan.statuses);
    };
    assert_eq!(patch.kind, StatusKind::Tenant);
    let text = patch.status.to_string();
    assert!(text.contains("ReconciliationPaused"), "{text}");

    let validated = validate(&tenant, &observed, &config).expect("a valid Tenant");
    let built = build(&validated, &config).expect("the fixture builds");
    let health = statuses::health(&built, &observed);
    assert_eq!(health.len(), 2);
    assert!(health.iter().all(|h| h.ready == 0), "no pods observed");
    let mut plan = Plan::default();
    statuses::tenant(&mut plan, &validated, &built, &health, &config, now);
    let status = &plan.statuses[0].status;
    assert_eq!(status["routes"], 3);
    assert_eq!(status["regions"][1]["name"], "us-east-1");
    assert_eq!(status["regions"][1]["replicas"], 2);
    // No runner is ready yet: `Ready` becomes False, which is an Event.
    let note = plan
        .notes
        .first()
        .expect("an Event for the new Ready condition");
    assert!(note.warning, "{note:?}");

    let mut plan = Plan::default();
    statuses::sources(
        &mut plan,
        &observed,
        &validated.catalog,
        &health,
        &config,
        now,
    );
    let kinds: Vec<StatusKind> = plan.statuses.iter().map(|s| s.kind).collect();
    assert!(kinds.contains(&StatusKind::Route), "{kinds:?}");
    assert!(kinds.contains(&StatusKind::Connection), "{kinds:?}");
}
