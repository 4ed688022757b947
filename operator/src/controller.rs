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
use switchyard_crds::v1alpha1::{Connection, Route, Tenant, Transformer, ValueTable};

use crate::config::OperatorConfig;
use crate::error::Error;
use crate::names::{FIELD_MANAGER, MANAGED_BY};
use crate::reconcile::{Context, reconcile};

/// First retry delay after a failed reconcile.
const ERROR_REQUEUE: Duration = Duration::from_secs(15);

/// Runs the controller until SIGTERM or Ctrl-C.
pub async fn run(client: Client, config: OperatorConfig) {
    let owned =
        watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGED_BY}"));
    let controller = Controller::new(
        Api::<Tenant>::all(client.clone()),
        watcher::Config::default(),
    );
    let tenants = controller.store();
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
    let mut controller = controller
        .owns(Api::<ServiceAccount>::all(client.clone()), owned.clone())
        .owns(Api::<Role>::all(client.clone()), owned.clone())
        .owns(Api::<RoleBinding>::all(client.clone()), owned.clone())
        .owns(Api::<ConfigMap>::all(client.clone()), owned.clone())
        .owns(Api::<Service>::all(client.clone()), owned.clone())
        .owns(Api::<NetworkPolicy>::all(client.clone()), owned.clone())
        .owns(
            Api::<PodDisruptionBudget>::all(client.clone()),
            owned.clone(),
        )
        .owns(Api::<Deployment>::all(client.clone()), owned.clone())
        .owns(Api::<StatefulSet>::all(client.clone()), owned);
    // Routes, Connections, Transformers and ValueTables are watched untyped: one that does
    // not parse must still reach its Tenant, which reports the problem on it.
    for resource in [
        ApiResource::erase::<Route>(&()),
        ApiResource::erase::<Connection>(&()),
        ApiResource::erase::<Transformer>(&()),
        ApiResource::erase::<ValueTable>(&()),
    ] {
        let store = tenants.clone();
        controller = controller.watches_with(
            Api::<DynamicObject>::all_with(client.clone(), &resource),
            resource.clone(),
            watcher::Config::default(),
            move |object| tenants_of_namespace(&store, object.namespace()),
        );
    }
    controller
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(tenant = %object, "Reconciled."),
                Err(error) => tracing::warn!(%error, "Reconcile failed."),
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

fn error_policy(tenant: Arc<Tenant>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(
        tenant = %tenant.name_any(),
        namespace = tenant.namespace().unwrap_or_default(),
        category = error.category(),
        %error,
        "Reconcile failed; retrying."
    );
    Action::requeue(ERROR_REQUEUE)
}
