//! Resolving `secretKeyRef`s in local mode: from a secrets directory laid out like
//! Kubernetes mounts Secrets, or from environment variables.
//!
//! Every `secretKeyRef` names a credential (a token, a password, a key, TLS material),
//! so resolving fails closed: an empty or whitespace-only value is an error naming the
//! Secret, its key and where it was read, never a credential that matches nothing (or
//! everything).

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

/// Why a `secretKeyRef` gave no usable credential. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "Secret `{name}` key `{key}` not found in namespace `{namespace}` (looked in {looked})"
    )]
    NotFound {
        namespace: String,
        name: String,
        key: String,
        looked: String,
    },
    #[error(
        "Secret `{name}` key `{key}` in namespace `{namespace}` is empty or only whitespace (read from {from}); a credential cannot be empty"
    )]
    Empty {
        namespace: String,
        name: String,
        key: String,
        from: String,
    },
}

impl SecretError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "secret_not_found",
            Self::Empty { .. } => "secret_empty",
        }
    }
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

    /// Resolves one reference and registers the value with the redactor; an empty or
    /// whitespace-only value is [`SecretError::Empty`].
    pub fn resolve(&self, namespace: &str, value: &SecretValue) -> Result<Secret, SecretError> {
        let selector = &value.secret_key_ref;
        let found = |text: String, from: String| {
            if text.trim().is_empty() {
                return Err(SecretError::Empty {
                    namespace: namespace.to_owned(),
                    name: selector.name.clone(),
                    key: selector.key.clone(),
                    from,
                });
            }
            Ok(Secret::new(text))
        };
        let mut looked = Vec::new();
        if let Some(dir) = &self.dir {
            for path in [
                dir.join(namespace).join(&selector.name).join(&selector.key),
                dir.join(&selector.name).join(&selector.key),
            ] {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    let text = text.strip_suffix('\n').unwrap_or(&text);
                    let text = text.strip_suffix('\r').unwrap_or(text).to_owned();
                    return found(text, path.display().to_string());
                }
                looked.push(path.display().to_string());
            }
        }
        let var = Self::env_var(&selector.name, &selector.key);
        if let Ok(text) = std::env::var(&var) {
            return found(text, format!("${var}"));
        }
        looked.push(format!("${var}"));
        Err(SecretError::NotFound {
            namespace: namespace.to_owned(),
            name: selector.name.clone(),
            key: selector.key.clone(),
            looked: looked.join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use switchyard_crds::v1alpha1::SecretKeySelector;

    use super::*;

    fn reference(key: &str) -> SecretValue {
        SecretValue {
            secret_key_ref: SecretKeySelector {
                name: "partner".into(),
                key: key.into(),
            },
        }
    }

    #[test]
    fn empty_and_whitespace_values_fail_closed() {
        let dir = tempfile::tempdir().expect("test setup");
        let secret = dir.path().join("partner");
        std::fs::create_dir_all(&secret).expect("test setup");
        for (key, text) in [("empty", ""), ("newline", "\n"), ("blank", " \t\r\n")] {
            std::fs::write(secret.join(key), text).expect("test setup");
        }
        std::fs::write(secret.join("good"), "v4lue\n").expect("test setup");
        let source = SecretSource {
            dir: Some(dir.path().to_owned()),
        };
        for key in ["empty", "newline", "blank"] {
            match source.resolve("default", &reference(key)) {
                Err(error @ SecretError::Empty { .. }) => {
                    let text = error.to_string();
                    assert!(
                        text.contains("`partner` key `") && text.contains(key),
                        "{text}"
                    );
                }
                other => panic!("{key}: {other:?}"),
            }
        }
        let good = source.resolve("default", &reference("good"));
        assert_eq!(good.map(|s| s.expose().to_owned()), Ok("v4lue".to_owned()));
    }
}
