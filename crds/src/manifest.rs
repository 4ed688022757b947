//! Reading manifests from YAML files: multi-document files, directories, and typed
//! deserialization whose errors name the field.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::problem::{Origin, Problem, ResourceId};
use crate::v1alpha1::{Connection, Route, Transformer, ValueTable};
use crate::{API_GROUP, API_VERSION, DEFAULT_NAMESPACE};

/// Any Switchyard resource.
// Unboxed: Routes are the common case, so boxing them would save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum AnyResource {
    Connection(Connection),
    Transformer(Transformer),
    Route(Route),
    ValueTable(ValueTable),
}

/// A resource and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedResource {
    pub origin: Origin,
    pub id: ResourceId,
    pub resource: AnyResource,
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

/// Lists the manifest files under `paths`: files as given, directories recursively
/// (`.yaml` and `.yml`, sorted, hidden entries skipped).
pub fn manifest_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Problem> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files)?;
    }
    Ok(files)
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), Problem> {
    let unreadable = |error: std::io::Error| {
        Problem::new(
            &Origin {
                file: Some(path.to_owned()),
                document: None,
            },
            None,
            "",
            format!("cannot read: {error}"),
        )
    };
    if path.is_dir() {
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
                collect(&entry, files)?;
            }
        }
        Ok(())
    } else {
        std::fs::metadata(path).map_err(unreadable)?;
        files.push(path.to_owned());
        Ok(())
    }
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Loads every Switchyard resource under `paths`. Documents of other API groups (a
/// Secret, a ConfigMap…) are skipped: a catalog directory may hold them too.
pub fn load_paths(paths: &[PathBuf]) -> (Vec<LoadedResource>, Vec<Problem>) {
    let mut resources = Vec::new();
    let mut problems = Vec::new();
    match manifest_files(paths) {
        Ok(files) => {
            for file in files {
                match std::fs::read_to_string(&file) {
                    Ok(text) => {
                        let (mut r, mut p) = load_str(&text, Some(&file));
                        resources.append(&mut r);
                        problems.append(&mut p);
                    }
                    Err(error) => problems.push(Problem::new(
                        &Origin {
                            file: Some(file.clone()),
                            document: None,
                        },
                        None,
                        "",
                        format!("cannot read: {error}"),
                    )),
                }
            }
        }
        Err(problem) => problems.push(problem),
    }
    (resources, problems)
}

/// Loads every Switchyard resource in a multi-document YAML text.
pub fn load_str(text: &str, file: Option<&Path>) -> (Vec<LoadedResource>, Vec<Problem>) {
    let mut resources = Vec::new();
    let mut problems = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let origin = Origin {
            file: file.map(Path::to_owned),
            document: Some(index + 1),
        };
        let value = match serde_yaml::Value::deserialize(document) {
            Ok(serde_yaml::Value::Null) => continue,
            Ok(value) => value,
            Err(error) => {
                problems.push(Problem::new(
                    &origin,
                    None,
                    "",
                    format!("invalid YAML: {error}"),
                ));
                continue;
            }
        };
        match load_document(value, &origin) {
            Ok(Some(resource)) => resources.push(resource),
            Ok(None) => {}
            Err(problem) => problems.push(problem),
        }
    }
    (resources, problems)
}

fn load_document(
    value: serde_yaml::Value,
    origin: &Origin,
) -> Result<Option<LoadedResource>, Problem> {
    let head: DocumentHead = serde_yaml::from_value(value.clone()).map_err(|error| {
        Problem::new(
            origin,
            None,
            "",
            format!("not a Kubernetes manifest: {error}"),
        )
    })?;
    let api_version = head.api_version.unwrap_or_default();
    if api_version.split('/').next() != Some(API_GROUP) {
        return Ok(None);
    }
    let kind = head
        .kind
        .ok_or_else(|| Problem::new(origin, None, "kind", "is missing"))?;
    let id = ResourceId {
        kind: kind.clone(),
        namespace: head
            .metadata
            .namespace
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
        name: head.metadata.name.unwrap_or_default(),
    };
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
    let resource = match kind.as_str() {
        "Connection" => AnyResource::Connection(typed(value, origin, &id)?),
        "Transformer" => AnyResource::Transformer(typed(value, origin, &id)?),
        "Route" => AnyResource::Route(typed(value, origin, &id)?),
        "ValueTable" => AnyResource::ValueTable(typed(value, origin, &id)?),
        other => {
            return Err(Problem::new(
                origin,
                Some(&id),
                "kind",
                format!(
                    "unknown kind `{other}`; expected Connection, Transformer, Route or ValueTable"
                ),
            ));
        }
    };
    Ok(Some(LoadedResource {
        origin: origin.clone(),
        id,
        resource,
    }))
}

/// Deserializes a document into its type; an error names the field path.
fn typed<T: DeserializeOwned>(
    value: serde_yaml::Value,
    origin: &Origin,
    id: &ResourceId,
) -> Result<T, Problem> {
    // Through JSON: serde_yaml's own Value only reads enums written as YAML tags, while
    // manifests write them as maps (`- jq: '.a'`).
    let value = serde_json::to_value(value).map_err(|error| {
        Problem::new(
            origin,
            Some(id),
            "",
            format!("cannot be represented as JSON: {error}"),
        )
    })?;
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
}
