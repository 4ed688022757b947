//! Transformer tests: sample input → expected output, declared beside the manifests as
//! `TransformerTest` documents (API group `test.switchyard.dev`, which the manifest
//! loader skips), run by `runner test -f <dir>` with an in-memory storage.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use switchyard_crds::catalog::LabeledStep;
use switchyard_crds::v1alpha1::Step;

use super::registry::BuildError;
use super::{Context, Resources, StepFailed, build_pipeline_with};
use crate::connectors::registry::Connections;
use crate::secrets::SecretSource;
use crate::storage::MemoryStorage;

/// The API version of test documents.
pub const TEST_API_VERSION: &str = "test.switchyard.dev/v1alpha1";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestSpec {
    /// Steps written inline.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Or a Transformer of the catalog (same namespace).
    #[serde(default)]
    pub transformer: Option<String>,
    /// Or a Route's pipeline: `incoming` or `outgoing` of `route`.
    #[serde(default)]
    pub route: Option<String>,
    #[serde(default)]
    pub side: Side,
    pub cases: Vec<TestCase>,
}

/// Which steps of a Route a test runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Side {
    /// The incoming steps, before the queue (the default).
    #[default]
    Incoming,
    /// The outgoing steps, before delivery.
    Outgoing,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestCase {
    pub name: String,
    /// The batch of input items.
    pub input: Vec<Value>,
    /// The expected output items.
    #[serde(default)]
    pub expected: Vec<Value>,
    /// Or: the batch fails with an error containing this text (a schema violation
    /// naming its field, say). `expected` must then be empty.
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TestDocument {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Option<Value>,
    spec: Option<Value>,
}

/// A loaded test: its name and where it came from.
pub struct LoadedTest {
    pub file: PathBuf,
    pub name: String,
    pub namespace: String,
    pub spec: TestSpec,
}

/// Runs `steps` on a batch with a fresh in-memory storage.
pub async fn run_steps(steps: &[Step], input: Vec<Value>) -> Result<Vec<Value>, RunError> {
    run_steps_with(steps, input, &Resources::default()).await
}

/// Runs compiled steps on a batch with a fresh in-memory storage.
pub async fn run_labeled(steps: &[LabeledStep], input: Vec<Value>) -> Result<Vec<Value>, RunError> {
    run_labeled_with(steps, input, &Resources::default()).await
}

/// Runs `steps` with the resources they may name (lookups' Connections) on a batch
/// with a fresh in-memory storage.
pub async fn run_steps_with(
    steps: &[Step],
    input: Vec<Value>,
    resources: &Resources<'_>,
) -> Result<Vec<Value>, RunError> {
    let labeled: Vec<LabeledStep> = steps
        .iter()
        .enumerate()
        .map(|(i, step)| LabeledStep {
            label: format!("step {}", i + 1),
            step: step.clone(),
        })
        .collect();
    run_labeled_with(&labeled, input, resources).await
}

/// [`run_labeled`] with the resources the steps may name.
pub async fn run_labeled_with(
    steps: &[LabeledStep],
    input: Vec<Value>,
    resources: &Resources<'_>,
) -> Result<Vec<Value>, RunError> {
    let pipeline = build_pipeline_with(steps, resources)?;
    let namespace = if resources.namespace.is_empty() {
        "default"
    } else {
        resources.namespace
    };
    let context = Context::new(namespace, Arc::new(MemoryStorage::default()));
    pipeline
        .run_batch(input, &context)
        .await
        .map(|(items, _)| items)
        .map_err(RunError::from)
}

/// Why a batch did not run through the steps of a test.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The steps do not build (a JSON Schema that does not compile, say).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A step failed on the batch.
    #[error(transparent)]
    Step(#[from] StepFailed),
}

impl RunError {
    /// A static label for reports.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Build(error) => error.category(),
            Self::Step(failed) => failed.error.category(),
        }
    }
}

/// Why `runner test` could not run the tests.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// The manifests next to the tests have problems.
    #[error(transparent)]
    Problems(#[from] switchyard_crds::problem::Problems),
    /// A test file cannot be read.
    #[error("{file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// A case sets both `expected` and `error`.
    #[error("{file}: test `{name}`, case `{case}`: set `expected` or `error`, not both")]
    Case {
        file: String,
        name: String,
        case: String,
    },
    /// A test names a Transformer or Route that is not there.
    #[error("{file}: test `{name}`: {missing}")]
    Missing {
        file: String,
        name: String,
        missing: Missing,
    },
    /// A `TransformerTest` does not fit its schema.
    #[error("{file}: test `{name}`: {source}")]
    Spec {
        file: String,
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

/// What a test names that is not there.
#[derive(Debug, thiserror::Error)]
pub enum Missing {
    #[error("no Transformer `{0}`")]
    Transformer(String),
    #[error("no Route `{0}`")]
    Route(String),
    #[error("Transformer calls nest more than 16 deep")]
    TooDeep,
}

impl LoadedTest {
    fn error(&self, missing: Missing) -> TestError {
        TestError::Missing {
            file: self.file.display().to_string(),
            name: self.name.clone(),
            missing,
        }
    }
}

impl TestError {
    /// A static label for metrics and reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Problems(_) => "test_manifests",
            Self::Read { .. } => "test_read",
            Self::Spec { .. } => "test_spec",
            Self::Missing { .. } => "test_missing",
            Self::Case { .. } => "test_case",
        }
    }
}

/// Finds the test documents under `paths`.
pub fn load(paths: &[PathBuf]) -> Result<Vec<LoadedTest>, TestError> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files);
    }
    files.sort();
    let mut tests = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| TestError::Read {
            file: file.display().to_string(),
            source,
        })?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let Ok(document) = TestDocument::deserialize(document) else {
                continue;
            };
            if document.api_version.as_deref() != Some(TEST_API_VERSION)
                || document.kind.as_deref() != Some("TransformerTest")
            {
                continue;
            }
            let meta = document.metadata.unwrap_or_default();
            let name = meta["name"].as_str().unwrap_or("unnamed").to_owned();
            let namespace = meta["namespace"].as_str().unwrap_or("default").to_owned();
            let spec: TestSpec = serde_json::from_value(document.spec.unwrap_or_default())
                .map_err(|source| TestError::Spec {
                    file: file.display().to_string(),
                    name: name.clone(),
                    source,
                })?;
            if let Some(case) = spec
                .cases
                .iter()
                .find(|c| c.error.is_some() && !c.expected.is_empty())
            {
                return Err(TestError::Case {
                    file: file.display().to_string(),
                    name: name.clone(),
                    case: case.name.clone(),
                });
            }
            tests.push(LoadedTest {
                file: file.clone(),
                name,
                namespace,
                spec,
            });
        }
    }
    Ok(tests)
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_dir() {
        if let Ok(entries) = std::fs::read_dir(path) {
            for entry in entries.flatten() {
                collect(&entry.path(), files);
            }
        }
    } else if matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    ) {
        files.push(path.to_owned());
    }
}

/// A readable line diff of two JSON values (`-` expected, `+` actual).
pub fn diff(expected: &Value, actual: &Value) -> String {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let (left, right) = (pretty(expected), pretty(actual));
    let (left, right): (Vec<&str>, Vec<&str>) = (left.lines().collect(), right.lines().collect());
    // Longest common subsequence, fine for test-sized documents.
    let mut table = vec![vec![0usize; right.len() + 1]; left.len() + 1];
    for i in (0..left.len()).rev() {
        for j in (0..right.len()).rev() {
            table[i][j] = if left[i] == right[j] {
                table[i + 1][j + 1] + 1
            } else {
                table[i + 1][j].max(table[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < left.len() || j < right.len() {
        if i < left.len() && j < right.len() && left[i] == right[j] {
            out.push_str(&format!("   {}\n", left[i]));
            i += 1;
            j += 1;
        } else if j < right.len() && (i == left.len() || table[i][j + 1] >= table[i + 1][j]) {
            out.push_str(&format!(" + {}\n", right[j]));
            j += 1;
        } else {
            out.push_str(&format!(" - {}\n", left[i]));
            i += 1;
        }
    }
    out
}

/// Outcome of `runner test`.
#[derive(Debug, Default)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
}

/// Runs every `TransformerTest` under `paths` against the catalog there, printing one
/// line per case and a diff for each mismatch.
pub async fn run_all(
    paths: &[PathBuf],
    context: &switchyard_crds::manifest::VarContext<'_>,
) -> Result<Report, TestError> {
    use switchyard_crds::catalog::Catalog;
    use switchyard_crds::manifest::{self, AnyResource};

    let loaded = manifest::load_with(paths, context);
    let (resources, mut problems) = (loaded.resources, loaded.problems);
    let transformers: std::collections::BTreeMap<(String, String), Vec<Step>> = resources
        .iter()
        .filter_map(|r| match &r.resource {
            AnyResource::Transformer(t) => Some((
                (
                    t.metadata
                        .namespace
                        .clone()
                        .unwrap_or_else(|| "default".into()),
                    t.metadata.name.clone().unwrap_or_default(),
                ),
                t.spec.steps.clone(),
            )),
            _ => None,
        })
        .collect();
    let catalog = Catalog::build(resources);
    problems.extend(catalog.problems.iter().cloned());
    if !problems.is_empty() {
        return Err(switchyard_crds::problem::Problems(problems).into());
    }
    // Lookups ask the catalog's Connections, secrets from the environment as in local
    // mode; a Connection that cannot be built fails only the tests that use it.
    let connections = Connections::build(&catalog, &SecretSource::default(), &mut Vec::new());
    let mut report = Report::default();
    for test in load(paths)? {
        let resources = Resources {
            namespace: &test.namespace,
            connections: Some(&connections),
            value_tables: Some(&catalog.value_tables),
        };
        let steps: Vec<LabeledStep> = match (&test.spec.transformer, &test.spec.route) {
            (Some(name), _) => {
                let key = (test.namespace.clone(), name.clone());
                let steps = transformers
                    .get(&key)
                    .ok_or_else(|| test.error(Missing::Transformer(name.clone())))?;
                expand(steps, &test.namespace, &transformers, 0).map_err(|m| test.error(m))?
            }
            (None, Some(route)) => {
                let compiled = catalog
                    .routes
                    .values()
                    .find(|r| r.namespace() == test.namespace && r.name() == route)
                    .ok_or_else(|| test.error(Missing::Route(route.clone())))?;
                match test.spec.side {
                    Side::Outgoing => compiled.outgoing_steps.clone(),
                    Side::Incoming => compiled.incoming_steps.clone(),
                }
            }
            (None, None) => expand(&test.spec.steps, &test.namespace, &transformers, 0)
                .map_err(|m| test.error(m))?,
        };
        for case in &test.spec.cases {
            let actual = run_labeled_with(&steps, case.input.clone(), &resources).await;
            let expected = Value::Array(case.expected.clone());
            match (actual, &case.error) {
                (Err(error), Some(wanted)) if error.to_string().contains(wanted.as_str()) => {
                    report.passed += 1;
                    println!("ok    {} / {}", test.name, case.name);
                }
                (Ok(items), Some(wanted)) => {
                    report.failed += 1;
                    println!(
                        "FAIL  {} / {} ({}): expected an error containing `{wanted}`, got {}",
                        test.name,
                        case.name,
                        test.file.display(),
                        Value::Array(items)
                    );
                }
                (Err(error), Some(wanted)) => {
                    report.failed += 1;
                    println!(
                        "FAIL  {} / {} ({}): expected an error containing `{wanted}`, got: {error}",
                        test.name,
                        case.name,
                        test.file.display()
                    );
                }
                (Ok(items), None) if Value::Array(items.clone()) == expected => {
                    report.passed += 1;
                    println!("ok    {} / {}", test.name, case.name);
                }
                (Ok(items), None) => {
                    report.failed += 1;
                    println!(
                        "FAIL  {} / {} ({})",
                        test.name,
                        case.name,
                        test.file.display()
                    );
                    println!("{}", diff(&expected, &Value::Array(items)));
                }
                (Err(error), None) => {
                    report.failed += 1;
                    println!(
                        "FAIL  {} / {} ({}): {error}",
                        test.name,
                        case.name,
                        test.file.display()
                    );
                }
            }
        }
    }
    Ok(report)
}

/// Expands `transformer:` calls (at most 16 deep).
fn expand(
    steps: &[Step],
    namespace: &str,
    transformers: &std::collections::BTreeMap<(String, String), Vec<Step>>,
    depth: usize,
) -> Result<Vec<LabeledStep>, Missing> {
    if depth > 16 {
        return Err(Missing::TooDeep);
    }
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Transformer(name) => {
                let inner = transformers
                    .get(&(namespace.to_owned(), name.clone()))
                    .ok_or_else(|| Missing::Transformer(name.clone()))?;
                out.extend(expand(inner, namespace, transformers, depth + 1)?);
            }
            other => out.push(LabeledStep {
                label: format!("step {}", i + 1),
                step: other.clone(),
            }),
        }
    }
    Ok(out)
}
