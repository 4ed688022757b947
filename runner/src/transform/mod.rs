//! Transformer steps. Each step is a [`Transform`]: one item in, zero or more out. The
//! [`registry`] turns a manifest `Step` into its implementation; a [`Pipeline`] runs a
//! route's steps in order.

mod jq;
mod paths;
pub mod registry;
mod remove;
mod rename;
mod set;
mod split;

pub use jq::JqProgram;
pub use registry::build_pipeline;

use serde_json::Value;

/// Why a step failed on an item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("jq failed: {0}")]
    Jq(String),
    #[error("`{path}`: {reason}")]
    Path { path: String, reason: String },
}

/// One transformer step.
pub trait Transform: Send + Sync {
    /// A short name for logs, e.g. `jq` or `rename`.
    fn kind(&self) -> &'static str;
    /// Transforms `item`, pushing the resulting items to `out` (none filters it out).
    fn apply(&self, item: Value, out: &mut Vec<Value>) -> Result<(), TransformError>;
}

/// A step that failed, named as it was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{label} ({kind}) failed: {error}")]
pub struct StepFailed {
    pub label: String,
    pub kind: &'static str,
    #[source]
    pub error: TransformError,
}

struct LabeledTransform {
    label: String,
    transform: Box<dyn Transform>,
}

/// The ordered steps of one side of a route.
#[derive(Default)]
pub struct Pipeline {
    steps: Vec<LabeledTransform>,
}

impl Pipeline {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Runs every step on `item`; returns the resulting items and a one-line summary for
    /// the task log (`step 1 jq: 1 → 2; step 2 set: 2 → 2`).
    pub fn run(&self, item: Value) -> Result<(Vec<Value>, String), StepFailed> {
        let mut items = vec![item];
        let mut summary = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let before = items.len();
            let mut next = Vec::with_capacity(before);
            for item in items {
                step.transform
                    .apply(item, &mut next)
                    .map_err(|error| StepFailed {
                        label: step.label.clone(),
                        kind: step.transform.kind(),
                        error,
                    })?;
            }
            summary.push(format!(
                "{} {}: {before} → {}",
                step.label,
                step.transform.kind(),
                next.len()
            ));
            items = next;
            if items.is_empty() {
                break;
            }
        }
        Ok((items, summary.join("; ")))
    }
}
