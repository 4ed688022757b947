//! Variables from outside the manifests: `--vars-file`s, `--secret-vars-file`s and the
//! environment (`SWITCHYARD_VAR_<NAME>`, `SWITCHYARD_SECRET_VAR_<NAME>`), and the
//! values of `secretValues` read like every `secretKeyRef`. Every secret value is
//! registered with the redactor before a placeholder uses it.
//!
//! Precedence, the first that defines a name winning: the environment, then the files
//! (a later one over an earlier one), then the namespace's `Variables` resources. On
//! each level a secret definition wins over a plain one. A variable is redacted when
//! any of its definitions is secret.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use switchyard_crds::manifest::{Loaded, VarContext};
use switchyard_crds::problem::{Origin, Problem};
use switchyard_crds::v1alpha1::SecretValue;
use switchyard_crds::vars::{Definition, SecretLookup, Variable, is_name};

use crate::redact;
use crate::secrets::SecretSource;

/// Prefix of the environment variables that define plain variables.
pub const ENV_PREFIX: &str = "SWITCHYARD_VAR_";
/// Prefix of the environment variables that define secret variables.
pub const SECRET_ENV_PREFIX: &str = "SWITCHYARD_SECRET_VAR_";
/// Largest variables file read.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The command line's variables files.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct VarFiles {
    /// A YAML file of variables (`NAME: value`, values text, numbers or booleans) that
    /// `${{ vars.NAME }}` placeholders stand for. Repeat for several: a later file wins.
    /// `SWITCHYARD_VAR_<NAME>` in the environment wins over every file.
    #[arg(long = "vars-file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Like `--vars-file`, for secret values: they are redacted from every log, task
    /// log, API answer and error (`SWITCHYARD_SECRET_VAR_<NAME>` in the environment).
    #[arg(long = "secret-vars-file", value_name = "FILE")]
    pub secret_files: Vec<PathBuf>,
}

/// Why a variables file or environment variable cannot be used. Never carries a value.
#[derive(Debug, thiserror::Error)]
pub enum VarsError {
    #[error("cannot read: {0}")]
    Read(#[source] std::io::Error),
    #[error("is larger than {} KiB", MAX_FILE_BYTES >> 10)]
    TooLarge,
    #[error("is not a YAML mapping of variable names to values (at {at})")]
    Parse { at: String },
    #[error("`{0}` is not a variable name: letters, digits and `_`, not starting with a digit")]
    BadName(String),
    #[error("variable `{0}` is not text, a number or a boolean")]
    NotAScalar(String),
    #[error("variable `{0}` is set but empty or only whitespace; a secret cannot be empty")]
    EmptySecret(String),
}

impl VarsError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Read(_) => "vars_read",
            Self::TooLarge => "vars_too_large",
            Self::Parse { .. } => "vars_parse",
            Self::BadName(_) => "vars_bad_name",
            Self::NotAScalar(_) => "vars_not_a_scalar",
            Self::EmptySecret(_) => "vars_empty_secret",
        }
    }
}

impl VarFiles {
    /// The variables from the files and the environment, every secret one registered
    /// with the redactor. Problems name the file (or the environment variable).
    pub fn external(&self) -> Result<BTreeMap<String, Variable>, Vec<Problem>> {
        let mut vars = BTreeMap::new();
        let mut problems = Vec::new();
        for (files, secret) in [(&self.files, false), (&self.secret_files, true)] {
            for path in files {
                match read_file(path, secret) {
                    Ok(found) => vars.extend(found),
                    Err(error) => problems.push(problem(path, &error)),
                }
            }
        }
        for (found, secret) in [
            (environment(ENV_PREFIX), false),
            (environment(SECRET_ENV_PREFIX), true),
        ] {
            for (var, name, value) in found {
                match variable(&name, value, secret, Definition::Environment(var.clone())) {
                    Ok(variable) => {
                        vars.insert(name, variable);
                    }
                    Err(error) => problems.push(problem(Path::new(&format!("${var}")), &error)),
                }
            }
        }
        if problems.is_empty() {
            Ok(vars)
        } else {
            Err(problems)
        }
    }

    /// What a load needs: the outside variables and the Secrets to read `secretValues`
    /// from.
    pub fn context<'a>(&self, secrets: &'a SecretSource) -> Result<VarContext<'a>, Vec<Problem>> {
        Ok(VarContext {
            external: self.external()?,
            secrets,
        })
    }

    /// The files to watch for changes.
    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.files.iter().chain(&self.secret_files)
    }
}

/// Registers the outside values of variables that a namespace defines as secret (an
/// override of a secret stays secret).
pub fn register_overridden_secrets(loaded: &Loaded) {
    for (name, variable) in &loaded.vars.external {
        let secret_somewhere = loaded
            .vars
            .namespaced
            .values()
            .any(|vars| vars.get(name).is_some_and(|v| v.secret));
        if secret_somewhere && !variable.secret {
            redact::register(&variable.value);
        }
    }
}

fn problem(path: &Path, error: &VarsError) -> Problem {
    let origin = Origin {
        file: Some(path.to_owned()),
        ..Origin::default()
    };
    Problem::new(&origin, None, "", error.to_string())
}

/// `(environment variable, variable name, value)` of every environment variable with
/// `prefix`.
fn environment(prefix: &str) -> Vec<(String, String, String)> {
    std::env::vars_os()
        .filter_map(|(key, value)| {
            let key = key.into_string().ok()?;
            let name = key.strip_prefix(prefix)?.to_owned();
            let value = value.into_string().ok()?;
            Some((key, name, value))
        })
        .collect()
}

fn variable(
    name: &str,
    value: String,
    secret: bool,
    defined_by: Definition,
) -> Result<Variable, VarsError> {
    if !is_name(name) {
        return Err(VarsError::BadName(name.to_owned()));
    }
    if secret {
        if value.trim().is_empty() {
            return Err(VarsError::EmptySecret(name.to_owned()));
        }
        redact::register(&value);
    }
    Ok(Variable {
        value,
        secret,
        defined_by,
    })
}

fn read_file(path: &Path, secret: bool) -> Result<BTreeMap<String, Variable>, VarsError> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(VarsError::Read)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(VarsError::TooLarge);
    }
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let map: BTreeMap<String, serde_yaml::Value> =
        serde_yaml::from_str(&text).map_err(|error| VarsError::Parse {
            // serde_yaml's message can quote a value, and the file may hold secrets.
            at: error.location().map_or_else(
                || "the start".to_owned(),
                |l| format!("line {} column {}", l.line(), l.column()),
            ),
        })?;
    let mut vars = BTreeMap::new();
    for (name, value) in map {
        let text = match value {
            serde_yaml::Value::String(text) => text,
            serde_yaml::Value::Number(number) => number.to_string(),
            serde_yaml::Value::Bool(flag) => flag.to_string(),
            _ => return Err(VarsError::NotAScalar(name)),
        };
        let variable = variable(&name, text, secret, Definition::File(path.to_owned()))?;
        vars.insert(name, variable);
    }
    Ok(vars)
}

impl SecretLookup for SecretSource {
    fn lookup(
        &self,
        namespace: &str,
        value: &SecretValue,
    ) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        // `resolve` registers the value with the redactor.
        Ok(self.resolve(namespace, value)?.expose().to_owned())
    }
}

#[cfg(test)]
mod tests;
