//! The one place that maps a manifest step to its implementation. A new step kind is a
//! new file in this folder and one arm here.

use switchyard_crds::catalog::LabeledStep;
use switchyard_crds::jq::JqCompileError;
use switchyard_crds::path::{FieldPath, PathError};
use switchyard_crds::v1alpha1::Step;

use super::remove::RemoveFields;
use super::rename::RenameField;
use super::set::SetField;
use super::split::SplitArray;
use super::{JqProgram, LabeledTransform, Pipeline, Transform};

/// A step that validated but could not be built (it should not happen: validation runs
/// the same parsers).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{label}: {source}")]
    Jq {
        label: String,
        #[source]
        source: JqCompileError,
    },
    #[error("{label}: {source}")]
    Path {
        label: String,
        #[source]
        source: PathError,
    },
    #[error("{label}: Transformer calls must be expanded before building")]
    UnexpandedCall { label: String },
}

/// Builds a pipeline from compiled (expanded) steps.
pub fn build_pipeline(steps: &[LabeledStep]) -> Result<Pipeline, BuildError> {
    let steps = steps
        .iter()
        .map(|labeled| {
            let label = labeled.label.clone();
            let path = |text: &str| {
                FieldPath::parse(text).map_err(|source| BuildError::Path {
                    label: label.clone(),
                    source,
                })
            };
            let transform: Box<dyn Transform> = match &labeled.step {
                Step::Jq(code) => {
                    Box::new(JqProgram::compile(code).map_err(|source| BuildError::Jq {
                        label: label.clone(),
                        source,
                    })?)
                }
                Step::Set(set) => Box::new(SetField {
                    path: path(&set.path)?,
                    value: set.value.clone(),
                }),
                Step::Rename(rename) => Box::new(RenameField {
                    from: path(&rename.from)?,
                    to: path(&rename.to)?,
                }),
                Step::Remove(remove) => Box::new(RemoveFields {
                    paths: remove
                        .paths
                        .iter()
                        .map(|p| path(p))
                        .collect::<Result<_, _>>()?,
                }),
                Step::Split(split) => Box::new(SplitArray {
                    path: path(&split.path)?,
                }),
                Step::Transformer(_) => return Err(BuildError::UnexpandedCall { label }),
            };
            Ok(LabeledTransform { label, transform })
        })
        .collect::<Result<_, _>>()?;
    Ok(Pipeline { steps })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use switchyard_crds::v1alpha1::{RenameStep, SetStep, SplitStep};

    use super::*;

    fn labeled(step: Step) -> LabeledStep {
        LabeledStep {
            label: "incoming step".into(),
            step,
        }
    }

    #[test]
    fn runs_steps_in_order_with_a_summary() -> Result<(), Box<dyn std::error::Error>> {
        let pipeline = build_pipeline(&[
            labeled(Step::Split(SplitStep {
                path: "lines".into(),
            })),
            labeled(Step::Jq("select(.qty > 0)".into())),
            labeled(Step::Rename(RenameStep {
                from: "sku".into(),
                to: "product.sku".into(),
            })),
            labeled(Step::Set(SetStep {
                path: "source".into(),
                value: json!("shop"),
            })),
        ])?;
        let (items, summary) =
            pipeline.run(json!({"lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 0}]}))?;
        assert_eq!(
            items,
            vec![json!({"qty": 1, "product": {"sku": "a"}, "source": "shop"})]
        );
        assert!(
            summary.contains("split: 1 → 2") && summary.contains("jq: 2 → 1"),
            "{summary}"
        );
        Ok(())
    }

    #[test]
    fn a_failing_step_is_named() -> Result<(), Box<dyn std::error::Error>> {
        let pipeline = build_pipeline(&[labeled(Step::Split(SplitStep {
            path: "lines".into(),
        }))])?;
        let error = pipeline
            .run(json!({"lines": 3}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            error,
            "incoming step (split) failed: `lines`: expected an array, found a number"
        );
        Ok(())
    }
}
