//! Resolving `secretKeyRef`s in local mode: from a secrets directory laid out like
//! Kubernetes mounts Secrets, or from environment variables.

use std::path::PathBuf;

use switchyard_crds::v1alpha1::SecretValue;

use crate::redact::Secret;

/// Where secret values come from, in order:
/// 1. `<secrets-dir>/<namespace>/<secret>/<key>`
/// 2. `<secrets-dir>/<secret>/<key>` (the layout of a Secret mounted as a volume)
/// 3. the environment variable `SWITCHYARD_SECRET_<SECRET>_<KEY>` (upper-cased, every
///    character other than a letter or digit replaced by `_`)
///
/// One trailing newline of a file is dropped (`echo x > file` writes one).
#[derive(Debug, Clone, Default)]
pub struct SecretSource {
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Secret `{name}` key `{key}` not found in namespace `{namespace}` (looked in {looked})")]
pub struct SecretNotFound {
    pub namespace: String,
    pub name: String,
    pub key: String,
    pub looked: String,
}

impl SecretSource {
    pub fn env_var(name: &str, key: &str) -> String {
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        format!("SWITCHYARD_SECRET_{}_{}", clean(name), clean(key))
    }

    /// Resolves one reference and registers the value with the redactor.
    pub fn resolve(&self, namespace: &str, value: &SecretValue) -> Result<Secret, SecretNotFound> {
        let selector = &value.secret_key_ref;
        let mut looked = Vec::new();
        if let Some(dir) = &self.dir {
            for path in [
                dir.join(namespace).join(&selector.name).join(&selector.key),
                dir.join(&selector.name).join(&selector.key),
            ] {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    let text = text.strip_suffix('\n').unwrap_or(&text);
                    return Ok(Secret::new(
                        text.strip_suffix('\r').unwrap_or(text).to_owned(),
                    ));
                }
                looked.push(path.display().to_string());
            }
        }
        let var = Self::env_var(&selector.name, &selector.key);
        if let Ok(text) = std::env::var(&var) {
            return Ok(Secret::new(text));
        }
        looked.push(format!("${var}"));
        Err(SecretNotFound {
            namespace: namespace.to_owned(),
            name: selector.name.clone(),
            key: selector.key.clone(),
            looked: looked.join(", "),
        })
    }
}
