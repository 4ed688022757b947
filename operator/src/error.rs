//! Errors of a reconcile, each named after the step that failed.

use crate::child::ChildError;

/// A reconcile step failed; the Tenant is retried with back-off.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Tenant `{0}` has no namespace")]
    NotNamespaced(String),
    #[error("cannot list {what} in namespace `{namespace}`: {source}")]
    Fetch {
        what: String,
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot build the objects of Tenant `{tenant}`: {source}")]
    Build {
        tenant: String,
        #[source]
        source: ChildError,
    },
    #[error("cannot apply {kind} `{namespace}/{name}`: {source}")]
    Apply {
        kind: String,
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot delete {kind} `{namespace}/{name}`: {source}")]
    Delete {
        kind: String,
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot write the status of {kind} `{namespace}/{name}`: {source}")]
    Status {
        kind: String,
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// Every value of [`Error::category`].
    pub const CATEGORIES: [&'static str; 6] = [
        "not_namespaced",
        "fetch",
        "build",
        "apply",
        "delete",
        "status",
    ];

    /// A fixed label for metrics and Event reasons (never user data).
    pub fn category(&self) -> &'static str {
        match self {
            Error::NotNamespaced(_) => "not_namespaced",
            Error::Fetch { .. } => "fetch",
            Error::Build { .. } => "build",
            Error::Apply { .. } => "apply",
            Error::Delete { .. } => "delete",
            Error::Status { .. } => "status",
        }
    }
}
