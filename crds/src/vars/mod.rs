//! Variables: `${{ vars.NAME }}` placeholders in the string fields of a resource's
//! `spec`, replaced by the loader before the document is typed, so that every field of
//! every kind takes them without knowing about them.
//!
//! Where values come from, the first that defines a name winning:
//! 1. the environment (`SWITCHYARD_VAR_<NAME>`, `SWITCHYARD_SECRET_VAR_<NAME>`) and
//! 2. `--vars-file`s, a later file over an earlier one (the runner's [`VarSet::external`]);
//! 3. the `Variables` resources of the document's namespace (their `values`, their
//!    ConfigMaps, their `secretValues`).
//!
//! A variable is secret when any definition of it is: its value is looked up through a
//! [`SecretLookup`] (the runner's registers it with the redactor before it is used).
//! Substitution is one pass over the text as written: a value that contains `${{` is
//! inserted as it is and never expanded again.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::problem::ResourceId;

pub mod definitions;
mod placeholder;
mod substitute;

pub use definitions::{SecretLookup, StandIn, define};
pub use placeholder::{Piece, PlaceholderError, has_placeholder, is_name, parse};
pub use substitute::{
    Coercible, FieldError, MAX_EXPANDED_BYTES, Substitution, VarError, substitute,
};

/// Where a variable was defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Definition {
    /// An environment variable (its name).
    Environment(String),
    /// A `--vars-file` or `--secret-vars-file`.
    File(PathBuf),
    /// `spec.values` or `spec.secretValues` of a Variables resource.
    Resource(ResourceId),
    /// A ConfigMap a Variables resource names in `spec.valuesFrom`.
    ConfigMap { variables: ResourceId, name: String },
}

impl fmt::Display for Definition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment(name) => write!(f, "${name}"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Resource(id) => write!(f, "{id}"),
            Self::ConfigMap { variables, name } => write!(f, "ConfigMap `{name}` of {variables}"),
        }
    }
}

/// One variable's value.
#[derive(Clone, PartialEq, Eq)]
pub struct Variable {
    pub value: String,
    /// Taken from a Secret, a secret file or a secret environment variable.
    pub secret: bool,
    pub defined_by: Definition,
}

impl fmt::Debug for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.secret { "***" } else { &self.value };
        f.debug_struct("Variable")
            .field("value", &value)
            .field("secret", &self.secret)
            .field("defined_by", &self.defined_by)
            .finish()
    }
}

/// Every variable a load sees.
#[derive(Debug, Clone, Default)]
pub struct VarSet {
    /// Defined outside the manifests (files, environment): in every namespace, and over
    /// the namespace's own definitions.
    pub external: BTreeMap<String, Variable>,
    /// Defined by the Variables resources of each namespace.
    pub namespaced: BTreeMap<String, BTreeMap<String, Variable>>,
}

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup<'a> {
    pub value: &'a str,
    pub secret: bool,
}

impl VarSet {
    /// The value of `name` in `namespace`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Lookup<'_>> {
        let own = self
            .namespaced
            .get(namespace)
            .and_then(|vars| vars.get(name));
        let winner = self.external.get(name).or(own)?;
        Some(Lookup {
            value: &winner.value,
            secret: winner.secret || own.is_some_and(|v| v.secret),
        })
    }
}
