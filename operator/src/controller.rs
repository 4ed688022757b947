//! Wiring: the Tenant controller, the objects it owns, and the Switchyard resources that
//! map to the Tenant of their namespace.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use switchyard_crds::v1alpha1::{
    Connection, Notification, Route, Tenant, Transformer, ValueTable, Variables,
};
use tokio_util::sync::CancellationToken;

use crate::config::OperatorConfig;
use crate::error::Error;
use crate::names::{FIELD_MANAGER, MANAGED_BY};
use crate::reconcile::{Context, reconcile};

/// First retry delay after a failed reconcile.
const ERROR_REQUEUE: Duration = Duration::from_secs(15);

/// Runs the controllers until `shutdown` is cancelled, then lets in-flight reconciles
/// finish. One controller watches every namespace, or, with `watch_namespaces`, one per
/// listed namespace (so namespaced Roles suffice: nothing is listed cluster-wide).
pub async fn run(client: Client, config: OperatorConfig, shutdown: CancellationToken) {
    let scopes: Vec<Option<String>> = if config.watch_namespaces.is_empty() {
        vec![None]
    } else {
        config.watch_namespaces.iter().cloned().map(Some).collect()
    };
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: FIELD_MANAGER.to_owned(),
            instance: std::env::var("POD_NAME").ok(),
        },
    );
    let ctx = Arc::new(Context {
        client: client.clone(),
        config,
        recorder: Some(recorder),
    });
    futures::future::join_all(scopes.into_iter().map(|namespace| {
        run_scope(
            client.clone(),
            namespace,
            Arc::clone(&ctx),
            shutdown.clone(),
        )
    }))
    .await;
}

/// An API of `K` in `namespace`, or across every namespace.
fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// The Tenant controller of one namespace (or of all).
async fn run_scope(
    client: Client,
    namespace: Option<String>,
    ctx: Arc<Context>,
    shutdown: CancellationToken,
) {
    let ns = namespace.as_deref();
    let owned =
        watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGED_BY}"));
    let controller = Controller::new(scoped::<Tenant>(&client, ns), watcher::Config::default());
    let tenants = controller.store();
    let mut controller = controller
        .owns(scoped::<ServiceAccount>(&client, ns), owned.clone())
        .owns(scoped::<Role>(&client, ns), owned.clone())
        .owns(scoped::<RoleBinding>(&client, ns), owned.clone())
        .owns(scoped::<ConfigMap>(&client, ns), owned.clone())
        .owns(scoped::<Service>(&client, ns), owned.clone())
        .owns(scoped::<NetworkPolicy>(&client, ns), owned.clone())
        .owns(scoped::<PodDisruptionBudget>(&client, ns), owned.clone())
        .owns(scoped::<Deployment>(&client, ns), owned.clone())
        .owns(scoped::<StatefulSet>(&client, ns), owned);
    // Routes, Connections, Transformers, ValueTables and Notifications are watched untyped: one that does
    // not parse must still reach its Tenant, which reports the problem on it.
    for resource in [
        ApiResource::erase::<Route>(&()),
        ApiResource::erase::<Connection>(&()),
        ApiResource::erase::<Transformer>(&()),
        ApiResource::erase::<ValueTable>(&()),
        ApiResource::erase::<Notification>(&()),
        ApiResource::erase::<Variables>(&()),
    ] {
        let store = tenants.clone();
        let api = match ns {
            Some(ns) => Api::<DynamicObject>::namespaced_with(client.clone(), ns, &resource),
            None => Api::<DynamicObject>::all_with(client.clone(), &resource),
        };
        controller = controller.watches_with(
            api,
            resource.clone(),
            watcher::Config::default(),
            move |object| tenants_of_namespace(&store, object.namespace()),
        );
    }
    controller
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(tenant = %object, "Reconciled."),
                // Reconcile errors are logged where they are counted (`reconcile`).
                Err(error) => tracing::debug!(%error, "Reconcile failed."),
            }
        })
        .await;
}

fn tenants_of_namespace(
    store: &Store<Tenant>,
    namespace: Option<String>,
) -> Vec<ObjectRef<Tenant>> {
    store
        .state()
        .iter()
        .filter(|t| t.namespace() == namespace)
        .map(|t| ObjectRef::from_obj(t.as_ref()))
        .collect()
}

/// A failed reconcile (counted and logged by [`reconcile`]) is retried.
fn error_policy(_tenant: Arc<Tenant>, _error: &Error, _ctx: Arc<Context>) -> Action {
    Action::requeue(ERROR_REQUEUE)
}
