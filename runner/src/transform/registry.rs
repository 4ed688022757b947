//! The one place that maps a manifest step to its implementation. A new step kind is a
//! new file in this folder and one arm here.

use switchyard_crds::catalog::{CompiledValueTable, Key, LabeledStep};
use switchyard_crds::jq::JqCompileError;
use switchyard_crds::path::{FieldPath, PathError};
use switchyard_crds::v1alpha1::Step;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::connectors::registry::Connections;
use crate::metrics::StepTimer;

use super::aggregate::Aggregate;
use super::convert::{Conversion, Convert};
use super::copy::CopyField;
use super::cursor::Cursor;
use super::dedupe::Dedupe;
use super::filter::Filter;
use super::interchange::{Acknowledge, RenderInterchange};
use super::lookup::Lookup;
use super::map::{MapFields, Mapping, Source};
use super::only_changed::OnlyChanged;
use super::parse::Parse;
use super::pipeline::{LabeledStage, Stage, When};
use super::remove::RemoveFields;
use super::rename::RenameField;
use super::render::Render;
use super::set::SetField;
use super::sort::Sort;
use super::split::SplitArray;
use super::storage_steps::{StorageDelete, StorageGet, StoragePut};
use super::trigger::Trigger;
use super::validate::Validate;
use super::value_map::{StoredValueMap, ValueMap};
use super::{AsyncTransform, BatchTransform, JqProgram, Pipeline, Transform};

/// A step that validated but could not be built (most cannot happen: validation runs
/// the same parsers; a JSON Schema or a date format is checked only here).
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
    #[error("{label}: {message}")]
    Config { label: String, message: String },
    #[error("{label}: {source}")]
    Lookup {
        label: String,
        #[source]
        source: super::lookup::LookupError,
    },
    #[error("{label}: {source}")]
    Schema {
        label: String,
        #[source]
        source: super::validate::SchemaError,
    },
}

impl BuildError {
    /// A static label for metrics and reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Jq { .. } => "jq",
            Self::Path { .. } => "path",
            Self::UnexpandedCall { .. } => "unexpanded_call",
            Self::Config { .. } => "config",
            Self::Lookup { source, .. } => source.category(),
            Self::Schema { source, .. } => source.category(),
        }
    }
}

/// What steps may use beyond themselves: the route's namespace, its Connections
/// (lookups) and ValueTables (value maps). A step naming one that is not here does not
/// build.
#[derive(Clone, Copy, Default)]
pub struct Resources<'a> {
    pub namespace: &'a str,
    pub connections: Option<&'a Connections>,
    pub value_tables: Option<&'a BTreeMap<Key, CompiledValueTable>>,
}

/// Builds a pipeline from compiled (expanded) steps that name no other resource.
pub fn build_pipeline(steps: &[LabeledStep]) -> Result<Pipeline, BuildError> {
    build_pipeline_with(steps, &Resources::default())
}

/// Builds a pipeline from compiled (expanded) steps of a route in `resources.namespace`.
pub fn build_pipeline_with(
    steps: &[LabeledStep],
    resources: &Resources<'_>,
) -> Result<Pipeline, BuildError> {
    let steps = steps
        .iter()
        .map(|labeled| {
            Ok(LabeledStage {
                label: labeled.label.clone(),
                stage: build_stage(&labeled.label, &labeled.step, resources)?,
                timer: StepTimer::default(),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Pipeline { steps })
}

fn build_stage(label: &str, step: &Step, resources: &Resources<'_>) -> Result<Stage, BuildError> {
    let path = |text: &str| {
        FieldPath::parse(text).map_err(|source| BuildError::Path {
            label: label.to_owned(),
            source,
        })
    };
    let jq = |code: &str| {
        JqProgram::compile(code).map_err(|source| BuildError::Jq {
            label: label.to_owned(),
            source,
        })
    };
    let config = |message: String| BuildError::Config {
        label: label.to_owned(),
        message,
    };
    let item = |t: Box<dyn Transform>| Ok(Stage::Item(t));
    let batch = |t: Box<dyn BatchTransform>| Ok(Stage::Batch(t));
    let asynchronous = |t: Box<dyn AsyncTransform>| Ok(Stage::Async(t));
    match step {
        Step::Jq(code) => item(Box::new(jq(code)?)),
        Step::Set(set) => item(Box::new(SetField {
            path: path(&set.path)?,
            value: set.value.clone(),
        })),
        Step::Rename(rename) => item(Box::new(RenameField {
            from: path(&rename.from)?,
            to: path(&rename.to)?,
        })),
        Step::Remove(remove) => item(Box::new(RemoveFields {
            paths: remove
                .paths
                .iter()
                .map(|p| path(p))
                .collect::<Result<_, _>>()?,
        })),
        Step::Split(split) => item(Box::new(SplitArray {
            path: path(&split.path)?,
        })),
        Step::Transformer(_) => Err(BuildError::UnexpandedCall {
            label: label.to_owned(),
        }),
        Step::Filter(code) => item(Box::new(Filter::new(code, jq(code)?))),
        Step::Map(map) => {
            let mut fields = Vec::with_capacity(map.fields.len());
            for field in &map.fields {
                let source = match (&field.from, &field.jq) {
                    (Some(from), _) => Source::Path(path(from)?),
                    (None, Some(code)) => Source::Jq(jq(code)?),
                    (None, None) => Source::None,
                };
                fields.push(Mapping {
                    to: path(&field.to)?,
                    source,
                    default: field.default.clone(),
                });
            }
            item(Box::new(MapFields::new(fields, map.keep)))
        }
        Step::Copy(copy) => item(Box::new(CopyField {
            from: path(&copy.from)?,
            to: path(&copy.to)?,
        })),
        Step::Convert(convert) => {
            let mut fields = Vec::with_capacity(convert.fields.len());
            for field in &convert.fields {
                fields.push(
                    Conversion::build(field, path(&field.path)?)
                        .map_err(|e| config(e.to_string()))?,
                );
            }
            item(Box::new(Convert { fields }))
        }
        Step::ValueMap(map) => {
            let mut table = map.table.clone();
            let mut default = map.default.clone();
            if let Some(name) = &map.value_table {
                let named = resources
                    .value_tables
                    .and_then(|tables| tables.get(&(resources.namespace.to_owned(), name.clone())))
                    .ok_or_else(|| config(format!("ValueTable `{name}` is not available here")))?;
                // The inline table wins over the named one, the step's default over the
                // table's.
                for (key, value) in &named.spec.entries {
                    table.entry(key.clone()).or_insert_with(|| value.clone());
                }
                default = default.or_else(|| named.spec.default.clone());
            }
            let inline = ValueMap {
                path: path(&map.path)?,
                into: path(map.into.as_deref().unwrap_or(&map.path))?,
                table,
                default,
            };
            match &map.storage {
                Some(storage) => asynchronous(Box::new(StoredValueMap {
                    inline,
                    storage: storage.clone(),
                })),
                None => item(Box::new(inline)),
            }
        }
        Step::When(when) => {
            let nested = |steps: &[Step], branch: &str| -> Result<Pipeline, BuildError> {
                let steps = steps
                    .iter()
                    .enumerate()
                    .map(|(i, step)| {
                        let label = format!("{label} {branch}[{i}]");
                        Ok(LabeledStage {
                            stage: build_stage(&label, step, resources)?,
                            label,
                            timer: StepTimer::default(),
                        })
                    })
                    .collect::<Result<_, BuildError>>()?;
                Ok(Pipeline { steps })
            };
            Ok(Stage::When(Box::new(When {
                condition: jq(&when.condition)?,
                then: nested(&when.steps, "steps")?,
                otherwise: nested(&when.otherwise, "else")?,
            })))
        }
        Step::Sort(sort) => batch(Box::new(Sort {
            by: path(&sort.by)?,
            descending: sort.descending,
        })),
        Step::Dedupe(dedupe) => batch(Box::new(Dedupe {
            by: dedupe
                .by
                .iter()
                .map(|p| path(p))
                .collect::<Result<_, _>>()?,
        })),
        Step::Aggregate(aggregate) => batch(Box::new(Aggregate {
            group_by: path(&aggregate.group_by)?,
            key_as: aggregate.key_as.clone().unwrap_or_else(|| "key".into()),
            collect: match aggregate.collect.as_deref() {
                None => Some("items".into()),
                Some("") => None,
                Some(name) => Some(name.to_owned()),
            },
            count: aggregate.count.clone(),
            sum: aggregate
                .sum
                .iter()
                .map(|(name, p)| Ok((name.clone(), path(p)?)))
                .collect::<Result<_, BuildError>>()?,
        })),
        Step::Validate(validate) => {
            item(Box::new(Validate::build(validate).map_err(|source| {
                BuildError::Schema {
                    label: label.to_owned(),
                    source,
                }
            })?))
        }
        Step::Parse(parse) => item(Box::new(Parse {
            format: parse.format,
            path: path(&parse.path)?,
            into: path(parse.into.as_deref().unwrap_or(&parse.path))?,
            base64_encoding: parse.base64_encoding,
            options: crate::formats::Options {
                csv: parse.csv.clone().unwrap_or_default(),
                xml: parse.xml.clone().unwrap_or_default(),
                root: None,
            },
            interchange: parse.interchange,
            dictionary: parse.dictionary,
        })),
        Step::Render(render) if render.envelope.is_some() => {
            asynchronous(Box::new(RenderInterchange {
                format: render.format,
                path: path(&render.path)?,
                into: path(render.into.as_deref().unwrap_or(&render.path))?,
                envelope: render.envelope.clone().unwrap_or_else(|| unreachable!()),
            }))
        }
        Step::Acknowledge(acknowledge) => item(Box::new(Acknowledge {
            format: acknowledge.format,
            x12: acknowledge.x12_acknowledgement.unwrap_or_default(),
            path: path(&acknowledge.path)?,
            into: path(&acknowledge.into)?,
            dictionary: acknowledge.dictionary,
        })),
        Step::Render(render) => item(Box::new(Render {
            format: render.format,
            path: path(&render.path)?,
            into: path(render.into.as_deref().unwrap_or(&render.path))?,
            options: crate::formats::Options {
                csv: render.csv.clone().unwrap_or_default(),
                root: render.root.clone(),
                ..Default::default()
            },
        })),
        Step::StorageGet(get) => asynchronous(Box::new(StorageGet {
            storage: get.storage.clone(),
            key: jq(&get.key)?,
            into: path(&get.into)?,
            default: get.default.clone(),
        })),
        Step::StoragePut(put) => asynchronous(Box::new(StoragePut {
            storage: put.storage.clone(),
            key: jq(&put.key)?,
            value: put.value.as_deref().map(jq).transpose()?,
            ttl: put.ttl_seconds.map(Duration::from_secs),
            at: put.at,
        })),
        Step::StorageDelete(delete) => asynchronous(Box::new(StorageDelete {
            storage: delete.storage.clone(),
            key: jq(&delete.key)?,
        })),
        Step::OnlyChanged(only) => asynchronous(Box::new(OnlyChanged {
            storage: only.storage.clone(),
            key: jq(&only.key)?,
            hash: only.hash.as_deref().map(jq).transpose()?,
        })),
        Step::Cursor(cursor) => asynchronous(Box::new(Cursor {
            storage: cursor.storage.clone(),
            key: cursor.key.clone().unwrap_or_else(|| "cursor".into()),
            field: path(&cursor.field)?,
            id: cursor.id.as_deref().map(path).transpose()?,
        })),
        Step::Trigger(trigger) => asynchronous(Box::new(Trigger {
            route: trigger.route.clone(),
            item: trigger.item.as_deref().map(jq).transpose()?,
        })),
        Step::Lookup(lookup) => asynchronous(Box::new(
            Lookup::build(
                lookup,
                path(&lookup.into)?,
                lookup.select.as_deref().map(jq).transpose()?,
                resources,
            )
            .map_err(|source| BuildError::Lookup {
                label: label.to_owned(),
                source,
            })?,
        )),
    }
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
