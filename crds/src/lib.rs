//! Switchyard's resource types, their validation and the compilation of a set of
//! manifests into one runnable configuration.
//!
//! This crate is the single source of truth shared by the operator, the runner and the
//! local mode: all of them reject the same bad manifests with the same messages, because
//! all of them call [`catalog::Catalog::build`].
//!
//! It has no Kubernetes client on purpose: it only knows types, YAML and rules.

// A `Problem` is big (file, resource, field, message) and only ever on the cold path of
// loading manifests; boxing it everywhere would buy nothing.
#![allow(clippy::result_large_err)]

pub mod catalog;
pub mod jq;
pub mod manifest;
pub mod path;
pub mod problem;
pub mod secret_refs;
pub mod template;
pub mod v1alpha1;
mod validate;
mod validate_circuit;
mod validate_connectors;
mod validate_edi;
mod validate_flows;
mod validate_notification;
mod validate_proxy;
mod validate_steps;
pub mod vars;
pub mod zone;

pub use validate_connectors::is_identifier;

/// The API group of every Switchyard resource.
pub const API_GROUP: &str = "switchyard.dev";
/// The API version served by this crate.
pub const API_VERSION: &str = "switchyard.dev/v1alpha1";
/// The namespace of a manifest that names none.
pub const DEFAULT_NAMESPACE: &str = "default";
