//! One reconcile of one Tenant: fetch → plan (pure: validate, build, statuses) → apply →
//! delete what is no longer wanted → write statuses → raise Events.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::chrono::Utc;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, TypeMeta};
use kube::discovery::ApiResource;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use switchyard_crds::v1alpha1::{
    Connection, Notification, Route, Tenant, Transformer, ValueTable, Variables,
};

use crate::child::{Child, ChildKind, contained_in};
use crate::config::{ApiEndpoint, OperatorConfig};
use crate::error::Error;
use crate::names::{FIELD_MANAGER, tenant_selector};
use crate::plan::{self, Note, Observed, StatusPatch};

/// How often a Tenant is reconciled with nothing changed (runner health, drift).
pub const RESYNC: Duration = Duration::from_secs(60);

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub config: OperatorConfig,
    /// Raises Events on condition changes; `None` in tests that do not look at them.
    pub recorder: Option<Recorder>,
}

/// Reconciles one Tenant, timed and counted.
pub async fn reconcile(tenant: Arc<Tenant>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let namespace = tenant.namespace().unwrap_or_default();
    let name = tenant.name_any();
    let result = reconcile_tenant(tenant, ctx).await;
    crate::metrics::reconciled(
        &namespace,
        &name,
        started.elapsed(),
        result.as_ref().map(|_| ()),
    );
    result
}

/// One reconcile. Reads like its table of contents.
async fn reconcile_tenant(tenant: Arc<Tenant>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = tenant
        .namespace()
        .ok_or_else(|| Error::NotNamespaced(tenant.name_any()))?;
    let mut observed = fetch(&ctx.client, &namespace, &tenant.name_any()).await?;
    if restricts_egress(&tenant) && ctx.config.api_server.fixed().is_none() {
        observed.api_server = api_server_endpoints(&ctx.client).await?;
    }
    let plan =
        plan::plan(&tenant, &observed, &ctx.config, Utc::now()).map_err(|source| Error::Build {
            tenant: tenant.name_any(),
            source,
        })?;
    if let Some(children) = &plan.children {
        apply(&ctx.client, &namespace, children, &observed).await?;
    }
    delete(&ctx.client, &namespace, &plan.stale).await?;
    write_statuses(&ctx.client, &namespace, &plan.statuses).await?;
    raise(&ctx, &namespace, &plan.notes).await;
    Ok(Action::requeue(RESYNC))
}

/// Reads the namespace: its Tenants, Switchyard resources, this tenant's objects and pods.
pub async fn fetch(client: &Client, namespace: &str, tenant: &str) -> Result<Observed, Error> {
    let failed = |what: &str| {
        let (what, namespace) = (what.to_owned(), namespace.to_owned());
        move |source| Error::Fetch {
            what,
            namespace,
            source,
        }
    };
    let tenants = Api::<Tenant>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .map_err(failed("tenants"))?
        .items;
    let mut sources = Vec::new();
    for resource in [
        ApiResource::erase::<Connection>(&()),
        ApiResource::erase::<Transformer>(&()),
        ApiResource::erase::<ValueTable>(&()),
        ApiResource::erase::<Notification>(&()),
        ApiResource::erase::<Variables>(&()),
        ApiResource::erase::<Route>(&()),
    ] {
        sources.extend(
            list(client, namespace, &resource, None)
                .await
                .map_err(failed(&resource.plural))?,
        );
    }
    let config_maps = crate::catalog::config_maps_named(&sources);
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
    );
    for name in config_maps {
        // A missing one is a problem of the Variables that names it.
        if let Some(mut object) = api.get_opt(&name).await.map_err(failed("configmaps"))? {
            object.types = Some(TypeMeta {
                api_version: "v1".to_owned(),
                kind: "ConfigMap".to_owned(),
            });
            sources.push(object);
        }
    }
    let selector = tenant_selector(tenant);
    let mut children = Vec::new();
    for kind in ChildKind::ALL {
        let resource = kind.api_resource();
        let objects = list(client, namespace, &resource, Some(&selector))
            .await
            .map_err(failed(&resource.plural))?;
        children.extend(objects.into_iter().map(|o| (kind, o)));
    }
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(failed("pods"))?
        .items;
    Ok(Observed {
        tenants,
        sources,
        children,
        pods,
        api_server: Vec::new(),
    })
}

/// Whether the Tenant's runners may reach only the destinations it lists.
fn restricts_egress(tenant: &Tenant) -> bool {
    tenant
        .spec
        .network
        .as_ref()
        .is_some_and(|n| n.egress.is_some())
}

/// Namespace and Service whose EndpointSlices hold the API server's addresses.
const API_SERVER_SERVICE: (&str, &str) = ("default", "kubernetes");

/// The API server's addresses and ports, from the `default/kubernetes` Service's
/// EndpointSlices: a NetworkPolicy matches the endpoints a Service forwards to, not the
/// Service's cluster IP.
pub async fn api_server_endpoints(client: &Client) -> Result<Vec<ApiEndpoint>, Error> {
    let (namespace, service) = API_SERVER_SERVICE;
    let slices = Api::<EndpointSlice>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}")))
        .await
        .map_err(|source| Error::Fetch {
            what: "the API server's endpointslices".to_owned(),
            namespace: namespace.to_owned(),
            source,
        })?
        .items;
    let mut endpoints = Vec::new();
    for slice in slices {
        let suffix = if slice.address_type == "IPv6" {
            128
        } else {
            32
        };
        let ports: Vec<i32> = slice
            .ports
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.port)
            .collect();
        for address in slice.endpoints.iter().flat_map(|e| &e.addresses) {
            for port in &ports {
                endpoints.push(ApiEndpoint {
                    cidr: format!("{address}/{suffix}"),
                    port: *port,
                });
            }
        }
    }
    if endpoints.is_empty() {
        tracing::warn!(
            "No API server address found in the default/kubernetes EndpointSlices; runners with restricted egress cannot report status (set --api-server-cidr)."
        );
    }
    endpoints.sort();
    endpoints.dedup();
    Ok(endpoints)
}

/// Lists objects of one kind, with their `apiVersion` and `kind` set (list items of
/// built-in kinds come without them).
async fn list(
    client: &Client,
    namespace: &str,
    resource: &ApiResource,
    selector: Option<&str>,
) -> Result<Vec<DynamicObject>, kube::Error> {
    let api = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, resource);
    let mut params = ListParams::default();
    if let Some(selector) = selector {
        params = params.labels(selector);
    }
    let mut items = api.list(&params).await?.items;
    for item in &mut items {
        item.types = Some(TypeMeta {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
        });
    }
    Ok(items)
}

/// Server-side applies every desired object that the live one does not already match, so
/// a reconcile with nothing changed writes nothing.
async fn apply(
    client: &Client,
    namespace: &str,
    children: &[Child],
    observed: &Observed,
) -> Result<(), Error> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for child in children {
        let live = observed
            .children
            .iter()
            .find(|(kind, o)| {
                *kind == child.kind && o.metadata.name.as_deref() == Some(&child.name)
            })
            .and_then(|(_, o)| serde_json::to_value(o).ok());
        if live.is_some_and(|live| contained_in(&child.object, &live)) {
            continue;
        }
        let resource = child.kind.api_resource();
        Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource)
            .patch(&child.name, &params, &Patch::Apply(&child.object))
            .await
            .map_err(|source| Error::Apply {
                kind: resource.kind.clone(),
                namespace: namespace.to_owned(),
                name: child.name.clone(),
                source,
            })?;
        crate::metrics::object_applied(&resource.kind, namespace, &child.name);
    }
    Ok(())
}

/// Deletes objects no longer wanted (a removed region, a switched queue backend).
async fn delete(
    client: &Client,
    namespace: &str,
    stale: &[(ChildKind, String)],
) -> Result<(), Error> {
    // Workloads first, so nothing runs on a configuration being removed.
    for (kind, name) in stale.iter().rev() {
        let resource = kind.api_resource();
        let result = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource)
            .delete(name, &DeleteParams::background())
            .await;
        match result {
            Ok(_) => crate::metrics::object_deleted(&resource.kind, namespace, name),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => {
                return Err(Error::Delete {
                    kind: resource.kind.clone(),
                    namespace: namespace.to_owned(),
                    name: name.clone(),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Server-side applies each changed status on the status subresource.
async fn write_statuses(
    client: &Client,
    namespace: &str,
    statuses: &[StatusPatch],
) -> Result<(), Error> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for patch in statuses {
        let resource = patch.kind.api_resource();
        let body = json!({
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "status": patch.status,
        });
        let result = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource)
            .patch_status(&patch.name, &params, &Patch::Apply(&body))
            .await;
        match result {
            Ok(_) => {}
            // Deleted since it was listed: nothing to report on.
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => {
                return Err(Error::Status {
                    kind: resource.kind.clone(),
                    namespace: namespace.to_owned(),
                    name: patch.name.clone(),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Raises an Event per `Ready` change. Best effort: a lost Event is logged, not retried.
async fn raise(ctx: &Context, namespace: &str, notes: &[Note]) {
    let Some(recorder) = &ctx.recorder else {
        return;
    };
    for note in notes {
        let resource = note.kind.api_resource();
        let mut object = DynamicObject::new(&note.name, &resource).within(namespace);
        object.types = Some(TypeMeta {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
        });
        let event = Event {
            type_: if note.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: note.reason.clone(),
            note: Some(note.message.chars().take(1000).collect()),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(error) = recorder
            .publish(&event, &object.object_ref(&resource))
            .await
        {
            tracing::warn!(kind = %resource.kind, name = %note.name, %error, "Cannot raise an Event.");
        }
    }
}
