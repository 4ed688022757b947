//! The one walk over the secret references of a resource: every `secretKeyRef` anywhere
//! in a spec (a [`SecretValue`](crate::v1alpha1::SecretValue), a secret header value, a
//! PEM from a Secret…), found through the spec's serialized form, so a credential field
//! added to any type is found without a list to keep up to date. Validation checks the
//! references it finds, the catalog collects them for the operator's Secret mounts, and
//! the runner resolves them before it builds anything.

use serde::Serialize;
use serde_json::Value;

use crate::v1alpha1::SecretKeySelector;

/// The field that marks a secret reference.
const MARKER: &str = "secretKeyRef";

/// One secret reference and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// Path of the value that holds `secretKeyRef`, e.g. `spec.http.auth.basic.password`
    /// (`[i]` for array elements, `.name` for map keys).
    pub field: String,
    pub selector: SecretKeySelector,
}

/// Every secret reference in `spec`, whose fields start at `root` (usually `spec`), in
/// the order they are written.
pub fn secret_refs<T: Serialize>(spec: &T, root: &str) -> Vec<SecretRef> {
    match serde_json::to_value(spec) {
        Ok(value) => secret_refs_in(&value, root),
        // Specs are plain data: they always serialize. Nothing to report otherwise.
        Err(_) => Vec::new(),
    }
}

/// Every secret reference in an already serialized `value` at `root`.
pub fn secret_refs_in(value: &Value, root: &str) -> Vec<SecretRef> {
    let mut found = Vec::new();
    walk(value, root.to_owned(), &mut found);
    found
}

fn walk(value: &Value, path: String, found: &mut Vec<SecretRef>) {
    match value {
        Value::Object(map) => {
            if let Some(reference) = map.get(MARKER)
                && let Ok(selector) = serde_json::from_value(reference.clone())
            {
                found.push(SecretRef {
                    field: path.clone(),
                    selector,
                });
            }
            for (key, inner) in map {
                if key != MARKER {
                    walk(inner, join(&path, key), found);
                }
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                walk(inner, format!("{path}[{index}]"), found);
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// What is wrong with a reference's Secret name or key, if anything: Kubernetes takes a
/// DNS subdomain name (lower-case letters, digits, `-`, `.`) and a key of letters,
/// digits, `-`, `_` and `.`.
pub(crate) fn check(reference: &SecretRef) -> Vec<(String, String)> {
    let SecretKeySelector { name, key } = &reference.selector;
    let mut problems = Vec::new();
    let subdomain = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if !subdomain {
        problems.push((
            format!("{}.{MARKER}.name", reference.field),
            format!(
                "`{name}` is not a Secret name (lower-case letters, digits, `-` and `.`, at most 253)"
            ),
        ));
    }
    let valid_key = !key.is_empty()
        && key.len() <= 253
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid_key {
        problems.push((
            format!("{}.{MARKER}.key", reference.field),
            format!("`{key}` is not a Secret key (letters, digits, `-`, `_` and `.`)"),
        ));
    }
    problems
}

#[cfg(test)]
mod tests;
