//! Reading manifests from YAML files: multi-document files, directories, and typed
//! deserialization whose errors name the field.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::problem::{Origin, Problem, ResourceId};
use crate::v1alpha1::{Connection, Notification, Route, Transformer, ValueTable, Variables};
use crate::vars::VarSet;
use crate::{API_GROUP, API_VERSION, DEFAULT_NAMESPACE};

mod flow_depth;
mod resolve;
mod yaml;

pub use resolve::{VarContext, load_values};
pub use yaml::{MAX_TEXT_BYTES_PER_FILE, MAX_VALUES_PER_FILE, YamlError, documents};

/// Any Switchyard resource.
// Unboxed: Routes are the common case, so boxing them would save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum AnyResource {
    Connection(Connection),
    Transformer(Transformer),
    Route(Route),
    ValueTable(ValueTable),
    Notification(Notification),
    Variables(Variables),
}

/// A resource and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedResource {
    pub origin: Origin,
    pub id: ResourceId,
    pub resource: AnyResource,
    /// The `spec` as written, when it held `${{ vars.NAME }}` placeholders (`resource`
    /// has them replaced): what the operator ships, so Secret values never leave the
    /// runner.
    pub template: Option<serde_json::Value>,
}

/// The identifying head of any Kubernetes document.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocumentHead {
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    metadata: HeadMetadata,
}

#[derive(Deserialize, Default)]
struct HeadMetadata {
    name: Option<String>,
    namespace: Option<String>,
}

/// Largest manifest file read. Kubernetes itself stores at most 1.5 MiB per object.
pub const MAX_FILE_BYTES: u64 = 4 << 20;
/// Deepest directory nesting searched for manifests.
const MAX_DIRECTORY_DEPTH: usize = 32;

/// Lists the manifest files under `paths`: files as given, directories recursively
/// (`.yaml` and `.yml`, sorted, hidden entries skipped, each directory once even when
/// symbolic links loop).
pub fn manifest_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Problem> {
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    for path in paths {
        collect(path, 0, &mut seen, &mut files)?;
    }
    Ok(files)
}

fn file_problem(path: &Path, message: impl Into<String>) -> Problem {
    Problem::new(
        &Origin {
            file: Some(path.to_owned()),
            ..Origin::default()
        },
        None,
        "",
        message,
    )
}

fn collect(
    path: &Path,
    depth: usize,
    seen: &mut BTreeSet<PathBuf>,
    files: &mut Vec<PathBuf>,
) -> Result<(), Problem> {
    let unreadable = |error: std::io::Error| file_problem(path, format!("cannot read: {error}"));
    if !path.is_dir() {
        std::fs::metadata(path).map_err(unreadable)?;
        files.push(path.to_owned());
        return Ok(());
    }
    if depth > MAX_DIRECTORY_DEPTH {
        return Err(file_problem(
            path,
            format!("directories nest deeper than {MAX_DIRECTORY_DEPTH} levels"),
        ));
    }
    if !seen.insert(std::fs::canonicalize(path).map_err(unreadable)?) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(unreadable)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() || is_yaml(&entry) {
            collect(&entry, depth + 1, seen, files)?;
        }
    }
    Ok(())
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// What identifies one version of a file's content cheaply: its length and change time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub len: u64,
    pub modified: Option<SystemTime>,
}

impl FileStamp {
    /// The stamp of `path` now; `None` when it cannot be read.
    pub fn of(path: &Path) -> Option<Self> {
        std::fs::metadata(path).ok().map(|m| Self {
            len: m.len(),
            modified: m.modified().ok(),
        })
    }
}

/// What loading found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSummary {
    pub path: PathBuf,
    /// Taken before the file was read: a file that has another stamp now changed while
    /// it was read (it may have been half-written).
    pub stamp: Option<FileStamp>,
    /// Switchyard resources read from it.
    pub resources: usize,
    /// Whether it holds no YAML document at all (empty, or only comments).
    pub empty: bool,
}

/// Every resource under some paths, the problems found, and what each file held.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub resources: Vec<LoadedResource>,
    pub problems: Vec<Problem>,
    pub files: Vec<FileSummary>,
    /// The variables the placeholders were replaced with.
    pub vars: VarSet,
}

/// Loads every Switchyard resource under `paths`. Documents of other API groups (a
/// Secret, a ConfigMap…) are skipped: a catalog directory may hold them too.
pub fn load_paths(paths: &[PathBuf]) -> (Vec<LoadedResource>, Vec<Problem>) {
    let loaded = load(paths);
    (loaded.resources, loaded.problems)
}

/// Like [`load_paths`], with what each file held.
pub fn load(paths: &[PathBuf]) -> Loaded {
    load_with(paths, &VarContext::default())
}

/// Like [`load`], with variables from outside the manifests and a way to read the
/// values of secret variables.
pub fn load_with(paths: &[PathBuf], context: &VarContext<'_>) -> Loaded {
    let mut loaded = Loaded::default();
    let files = match manifest_files(paths) {
        Ok(files) => files,
        Err(problem) => {
            loaded.problems.push(problem);
            return loaded;
        }
    };
    let mut raw = Vec::new();
    for file in files {
        let stamp = FileStamp::of(&file);
        let text = match read_text(&file) {
            Ok(text) => text,
            Err(problem) => {
                loaded.problems.push(problem);
                continue;
            }
        };
        let (mut documents, mut problems) = read_documents(&text, Some(&file));
        loaded.files.push(FileSummary {
            path: file,
            stamp,
            resources: 0,
            empty: documents.is_empty() && problems.is_empty(),
        });
        raw.append(&mut documents);
        loaded.problems.append(&mut problems);
    }
    let (resources, mut problems, vars) = resolve::resolve(raw, context);
    for summary in &mut loaded.files {
        summary.resources = resources
            .iter()
            .filter(|r| r.origin.file.as_deref() == Some(summary.path.as_path()))
            .count();
    }
    loaded.resources = resources;
    loaded.problems.append(&mut problems);
    loaded.vars = vars;
    loaded
}

impl Loaded {
    /// Finding nothing to run under `paths` is a problem: no manifest file, or files
    /// without a single Switchyard resource (a wrong directory). Only a catalog whose
    /// every file is empty is empty on purpose (the operator writes one for a tenant
    /// without resources).
    pub fn nothing_to_run(&self, paths: &[PathBuf]) -> Option<Problem> {
        if !self.resources.is_empty() || !self.problems.is_empty() {
            return None;
        }
        let described = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let origin = Origin {
            file: Some(PathBuf::from(&described)),
            ..Origin::default()
        };
        let message = if self.files.is_empty() {
            "no manifest file (.yaml or .yml) found: nothing to run".to_owned()
        } else if self.files.iter().any(|f| !f.empty) {
            format!(
                "no Switchyard resource (apiVersion `{API_VERSION}`) in {} file(s): nothing to run",
                self.files.len()
            )
        } else {
            return None;
        };
        Some(Problem::new(&origin, None, "", message))
    }
}

/// The text of one manifest file, at most [`MAX_FILE_BYTES`].
fn read_text(path: &Path) -> Result<String, Problem> {
    let unreadable = |error: std::io::Error| file_problem(path, format!("cannot read: {error}"));
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(file_problem(
            path,
            format!(
                "is larger than {} MiB; split it into several files",
                MAX_FILE_BYTES >> 20
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|error| {
        file_problem(
            path,
            format!(
                "is not UTF-8 text (invalid byte at offset {})",
                error.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Loads every Switchyard resource in a multi-document YAML text. Reading stops at the
/// first YAML error (named with its line and column); the documents before it load.
/// Placeholders take the text's own Variables (see [`load_with`] for more).
pub fn load_str(text: &str, file: Option<&Path>) -> (Vec<LoadedResource>, Vec<Problem>) {
    let (documents, mut problems) = read_documents(text, file);
    let (resources, mut more, _) = resolve::resolve(documents, &VarContext::default());
    problems.append(&mut more);
    (resources, problems)
}

/// The (non-empty) documents of a text with where each came from, and the YAML error
/// that stopped reading.
fn read_documents(
    text: &str,
    file: Option<&Path>,
) -> (Vec<(Origin, serde_json::Value)>, Vec<Problem>) {
    let mut problems = Vec::new();
    let (documents, error) = documents(text);
    let documents = documents
        .into_iter()
        .map(|(index, value)| {
            let origin = Origin {
                file: file.map(Path::to_owned),
                document: Some(index),
                position: None,
            };
            (origin, value)
        })
        .collect();
    if let Some(error) = error {
        let origin = Origin {
            file: file.map(Path::to_owned),
            document: Some(error.document),
            position: error.position,
        };
        problems.push(Problem::new(
            &origin,
            None,
            "",
            format!(
                "invalid YAML: {} (the file is read no further)",
                error.message
            ),
        ));
    }
    (documents, problems)
}

/// What a document is: a Switchyard resource (its kind and id), a ConfigMap (whose data
/// may hold variables) or something else (skipped).
enum Identified {
    Switchyard(ResourceId),
    ConfigMap(ResourceId),
    Foreign,
}

fn identify(value: &serde_json::Value, origin: &Origin) -> Result<Identified, Problem> {
    let head = DocumentHead::deserialize(value).map_err(|error| {
        Problem::new(
            origin,
            None,
            "",
            format!("not a Kubernetes manifest: {error}"),
        )
    })?;
    let api_version = head.api_version.unwrap_or_default();
    let id = |kind: String| ResourceId {
        kind,
        namespace: head
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
        name: head.metadata.name.clone().unwrap_or_default(),
    };
    if api_version.split('/').next() != Some(API_GROUP) {
        return Ok(match head.kind {
            Some(kind) if api_version == "v1" && kind == "ConfigMap" => {
                Identified::ConfigMap(id(kind))
            }
            _ => Identified::Foreign,
        });
    }
    let kind = head
        .kind
        .clone()
        .ok_or_else(|| Problem::new(origin, None, "kind", "is missing"))?;
    let id = id(kind);
    if api_version != API_VERSION {
        return Err(Problem::new(
            origin,
            Some(&id),
            "apiVersion",
            format!("`{api_version}` is not served; use `{API_VERSION}`"),
        ));
    }
    if id.name.is_empty() {
        return Err(Problem::new(
            origin,
            Some(&id),
            "metadata.name",
            "is missing",
        ));
    }
    Ok(Identified::Switchyard(id))
}

/// Types a Switchyard document whose placeholders are replaced.
fn typed_resource(
    value: serde_json::Value,
    origin: &Origin,
    id: &ResourceId,
    coercible: &[crate::vars::Coercible],
) -> Result<AnyResource, Problem> {
    let typed = |value| -> Result<AnyResource, Problem> {
        Ok(match id.kind.as_str() {
            "Connection" => AnyResource::Connection(typed(value, origin, id)?),
            "Transformer" => AnyResource::Transformer(typed(value, origin, id)?),
            "Route" => AnyResource::Route(typed(value, origin, id)?),
            "ValueTable" => AnyResource::ValueTable(typed(value, origin, id)?),
            "Notification" => AnyResource::Notification(typed(value, origin, id)?),
            "Variables" => AnyResource::Variables(typed(value, origin, id)?),
            other => {
                return Err(Problem::new(
                    origin,
                    Some(id),
                    "kind",
                    format!(
                        "unknown kind `{other}`; expected Connection, Transformer, Route, ValueTable, Notification or Variables"
                    ),
                ));
            }
        })
    };
    resolve::coercing(value, coercible, typed)
}

/// Deserializes a document into its type; an error names the field path.
fn typed<T: DeserializeOwned>(
    value: serde_json::Value,
    origin: &Origin,
    id: &ResourceId,
) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let field = error.path().to_string();
        let field = if field == "." { String::new() } else { field };
        Problem::new(
            origin,
            Some(id),
            field,
            scrub(&error.into_inner().to_string()),
        )
    })
}

/// serde quotes the offending value (`invalid type: string "hunter2", expected …`). That
/// value may be a credential written where a `secretKeyRef` belongs, so it is dropped;
/// the field path already says where to look.
fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find("string \"") {
        out.push_str(&rest[..start]);
        out.push_str("a string");
        let after = &rest[start + "string \"".len()..];
        rest = match after.find("\", ").or_else(|| after.rfind('"')) {
            Some(end) => &after[end + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    if out.contains("SecretValue") {
        out.push_str(" (credentials are never written inline: use `secretKeyRef: {name, key}`)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_several_documents_and_skips_foreign_kinds() {
        let text = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: other}
---
apiVersion: switchyard.dev/v1alpha1
kind: Transformer
metadata: {name: t, namespace: shop}
spec:
  steps:
    - jq: '.a'
"#;
        let (resources, problems) = load_str(text, None);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(resources.len(), 1);
        assert_eq!(resources[0].id.to_string(), "Transformer/shop/t");
        assert_eq!(resources[0].origin.document, Some(2));
    }

    #[test]
    fn a_type_error_names_the_field_path() {
        let text = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: shop}
spec:
  http:
    baseUrl: https://shop.example.com
    auth:
      basic: {username: u, password: hunter2}
"#;
        let (_, problems) = load_str(text, Some(Path::new("c.yaml")));
        assert_eq!(problems.len(), 1);
        let message = problems[0].to_string();
        assert!(message.starts_with("c.yaml (document 1): Connection/default/shop: field `spec.http.auth.basic.password`"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(message.contains("use `secretKeyRef"), "{message}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let text = r#"
apiVersion: switchyard.dev/v1alpha1
kind: Transformer
metadata: {name: t}
spec:
  steps: []
  stpes: []
"#;
        let (_, problems) = load_str(text, None);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("stpes"), "{problems:?}");
    }

    #[test]
    fn a_syntax_error_names_file_line_and_column_and_stops_the_file() {
        let text = "apiVersion: switchyard.dev/v1alpha1\nkind: Transformer\nmetadata: {name: t}\nspec:\n  steps:\n    - jq: '.a\n";
        let (resources, problems) = load_str(text, Some(Path::new("t.yaml")));
        assert!(resources.is_empty());
        assert_eq!(problems.len(), 1, "{problems:?}");
        let message = problems[0].to_string();
        assert!(
            message.starts_with("t.yaml:7:1 (document 1): invalid YAML: "),
            "{message}"
        );
    }

    #[test]
    fn finding_nothing_to_run_is_a_problem_unless_every_file_is_empty() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let paths = [dir.path().to_owned()];
        let problem = |loaded: &Loaded| {
            loaded
                .nothing_to_run(&paths)
                .map(|p| p.to_string())
                .unwrap_or_default()
        };
        assert!(
            problem(&load(&paths)).contains("no manifest file (.yaml or .yml) found"),
            "{:?}",
            problem(&load(&paths))
        );
        std::fs::write(dir.path().join("empty.yaml"), "# nothing yet\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let empty = load(&paths);
        assert_eq!(problem(&empty), "");
        assert!(empty.files[0].empty);
        std::fs::write(
            dir.path().join("secret.yaml"),
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            problem(&load(&paths)).contains("no Switchyard resource"),
            "{:?}",
            problem(&load(&paths))
        );
    }

    #[test]
    fn directory_loops_and_oversized_files_are_bounded() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let inner = dir.path().join("inner");
        std::fs::create_dir(&inner).unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(dir.path(), inner.join("loop"))
            .unwrap_or_else(|e| panic!("{e}"));
        let big = "#".repeat(MAX_FILE_BYTES as usize + 1);
        std::fs::write(inner.join("big.yaml"), big).unwrap_or_else(|e| panic!("{e}"));
        let loaded = load(&[dir.path().to_owned()]);
        assert_eq!(loaded.problems.len(), 1, "{:?}", loaded.problems);
        assert!(
            loaded.problems[0].message.contains("larger than 4 MiB"),
            "{:?}",
            loaded.problems
        );
    }
}
