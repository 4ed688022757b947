//! An object the operator wants to exist, in the form server-side apply sends, and the
//! comparison that lets a reconcile with nothing changed write nothing.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Resource;
use kube::discovery::ApiResource;
use serde::Serialize;

/// A built object cannot be sent (a bug in a builder, not a user error).
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("cannot serialize a {kind}: {source}")]
    Serialize {
        kind: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the operator does not manage objects of kind {kind}")]
    UnknownKind { kind: String },
}

impl ChildError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Serialize { .. } => "child_serialize",
            Self::UnknownKind { .. } => "child_unknown_kind",
        }
    }
}

/// The kinds of object the operator creates, in apply order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChildKind {
    ServiceAccount,
    Role,
    RoleBinding,
    ConfigMap,
    Service,
    NetworkPolicy,
    PodDisruptionBudget,
    Deployment,
    StatefulSet,
}

impl ChildKind {
    /// Every kind, in apply order.
    pub const ALL: [ChildKind; 9] = [
        ChildKind::ServiceAccount,
        ChildKind::Role,
        ChildKind::RoleBinding,
        ChildKind::ConfigMap,
        ChildKind::Service,
        ChildKind::NetworkPolicy,
        ChildKind::PodDisruptionBudget,
        ChildKind::Deployment,
        ChildKind::StatefulSet,
    ];

    /// Group, version, kind and plural, for the dynamic API.
    pub fn api_resource(self) -> ApiResource {
        match self {
            ChildKind::ServiceAccount => ApiResource::erase::<ServiceAccount>(&()),
            ChildKind::Role => ApiResource::erase::<Role>(&()),
            ChildKind::RoleBinding => ApiResource::erase::<RoleBinding>(&()),
            ChildKind::ConfigMap => ApiResource::erase::<ConfigMap>(&()),
            ChildKind::Service => ApiResource::erase::<Service>(&()),
            ChildKind::NetworkPolicy => ApiResource::erase::<NetworkPolicy>(&()),
            ChildKind::PodDisruptionBudget => ApiResource::erase::<PodDisruptionBudget>(&()),
            ChildKind::Deployment => ApiResource::erase::<Deployment>(&()),
            ChildKind::StatefulSet => ApiResource::erase::<StatefulSet>(&()),
        }
    }

    /// The kind of a `kind` string, for the kinds the operator creates.
    pub fn from_kind(kind: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.api_resource().kind == kind)
    }
}

/// One desired object: its kind, name and full body as applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Child {
    pub kind: ChildKind,
    pub name: String,
    pub object: serde_json::Value,
}

impl Child {
    /// Wraps a built object.
    pub fn new<K>(object: &K) -> Result<Self, ChildError>
    where
        K: Resource<DynamicType = ()> + Serialize,
    {
        let kind_name = K::kind(&()).into_owned();
        let Some(kind) = ChildKind::from_kind(&kind_name) else {
            return Err(ChildError::UnknownKind { kind: kind_name });
        };
        let value = serde_json::to_value(object).map_err(|source| ChildError::Serialize {
            kind: kind_name,
            source,
        })?;
        Ok(Self {
            kind,
            name: object.meta().name.clone().unwrap_or_default(),
            object: value,
        })
    }
}

/// Whether everything `desired` sets is already in `live` with the same value. The API
/// server adds defaults and other managers' fields, so `live` may hold more; a list must
/// have as many elements as desired, each contained in the live one at its index.
pub fn contained_in(desired: &serde_json::Value, live: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (desired, live) {
        (Value::Object(want), Value::Object(have)) => want.iter().all(|(key, value)| {
            match have.get(key) {
                Some(live_value) => contained_in(value, live_value),
                // An empty map or list the server drops is the same as absent.
                None => is_empty(value),
            }
        }),
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| contained_in(w, h))
        }
        (Value::Array(want), Value::Null) => want.is_empty(),
        (want, have) => want == have,
    }
}

fn is_empty(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn server_defaults_do_not_count_as_a_change() {
        let desired = json!({"spec": {"ports": [{"port": 8080}], "selector": {"a": "b"}}});
        let live = json!({"spec": {"ports": [{"port": 8080, "protocol": "TCP"}],
            "selector": {"a": "b"}, "clusterIP": "10.0.0.1"}, "status": {}});
        assert!(contained_in(&desired, &live));
    }

    #[test]
    fn a_changed_or_missing_value_is_a_change() {
        let desired = json!({"spec": {"replicas": 2, "ports": [{"port": 8080}]}});
        assert!(!contained_in(
            &desired,
            &json!({"spec": {"replicas": 1, "ports": [{"port": 8080}]}})
        ));
        assert!(!contained_in(&desired, &json!({"spec": {"replicas": 2}})));
        assert!(!contained_in(
            &desired,
            &json!({"spec": {"replicas": 2, "ports": [{"port": 8080}, {"port": 9090}]}})
        ));
    }

    #[test]
    fn child_errors_have_static_categories() {
        let unknown = ChildError::UnknownKind {
            kind: "CronJob".into(),
        };
        assert_eq!(unknown.category(), "child_unknown_kind");
        let serialize = ChildError::Serialize {
            kind: "Service".into(),
            source: serde_json::Error::io(std::io::Error::other("broken")),
        };
        assert_eq!(serialize.category(), "child_serialize");
    }

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for kind in ChildKind::ALL {
            assert_eq!(ChildKind::from_kind(&kind.api_resource().kind), Some(kind));
        }
    }
}
