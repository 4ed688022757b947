//! Reconcile scenarios against an in-memory API server (see `support/fake_api.rs`): a
//! real `kube::Client` sends the operator's requests, so list, server-side apply, status
//! apply and delete go through the same code as in a cluster.
//!
//! Start with `a_tenant_with_two_regions_and_three_routes_gets_these_objects`: it lists
//! every object a tenant gets, and `tests/golden/two-regions.yaml` shows them in full
//! (regenerate with `UPDATE_GOLDEN=1 cargo test -p switchyard-operator --test reconcile`).

// Test helpers outside #[test] functions panic on broken fixtures, which is their job.
#![allow(clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod objects;
mod regions;
mod status;

/// `(kind, name)` pairs, sorted, as [`support::children_of`] lists them.
pub fn objects(kind_names: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut list: Vec<(String, String)> = kind_names
        .iter()
        .map(|(k, n)| ((*k).to_owned(), (*n).to_owned()))
        .collect();
    list.sort();
    list
}

const EVERY_REGION_OBJECT: [&str; 7] = [
    "ConfigMap",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Role",
    "RoleBinding",
    "Service",
    "ServiceAccount",
];

/// The objects of one region's runner, with its workload kind.
pub fn region_objects(name: &str, workload: &'static str) -> Vec<(&'static str, String)> {
    EVERY_REGION_OBJECT
        .iter()
        .map(|k| (*k, name.to_owned()))
        .chain([(workload, name.to_owned())])
        .collect()
}
