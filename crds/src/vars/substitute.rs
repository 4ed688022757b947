//! Replacing placeholders in a document's JSON value, every string at any depth.

use serde_json::Value;

use super::VarSet;
use super::placeholder::{Piece, PlaceholderError, has_placeholder, parse};

/// How much longer substitution may make one document: bounded like a manifest file,
/// so a large value used many times cannot exhaust memory.
pub const MAX_EXPANDED_BYTES: usize = 4 << 20;

/// Why a placeholder cannot be replaced. Never carries a variable's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    #[error(transparent)]
    Placeholder(#[from] PlaceholderError),
    #[error(
        "variable `{name}` is not defined in namespace `{namespace}` (define it in a Variables resource, a --vars-file or $SWITCHYARD_VAR_{name})"
    )]
    Undefined { name: String, namespace: String },
    #[error(
        "substituting variables makes the document more than {} MiB longer",
        MAX_EXPANDED_BYTES >> 20
    )]
    TooLarge,
}

impl VarError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Placeholder(error) => error.category(),
            Self::Undefined { .. } => "var_undefined",
            Self::TooLarge => "var_too_large",
        }
    }
}

/// A placeholder problem and the field (`spec.http.baseUrl`) it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub error: VarError,
}

/// A field that is only a placeholder and whose value reads as a number or a boolean.
/// It is given as text; where the field's type refuses text, as this value.
#[derive(Debug, Clone, PartialEq)]
pub struct Coercible {
    /// The field path as serde reports it (`spec.processing.maxConcurrent`).
    pub field: String,
    /// Its JSON pointer (`/spec/processing/maxConcurrent`).
    pub pointer: String,
    pub value: Value,
}

/// What substituting one document did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Substitution {
    /// Whether any placeholder (or escape) was replaced.
    pub changed: bool,
    pub coercible: Vec<Coercible>,
}

struct Walk<'a> {
    namespace: &'a str,
    vars: &'a VarSet,
    budget: usize,
    done: Substitution,
    errors: Vec<FieldError>,
}

/// Replaces the placeholders in every string under `value`, whose own path is `field`
/// (`spec`) and pointer `pointer` (`/spec`). Every problem is reported, with its field.
pub fn substitute(
    value: &mut Value,
    field: &str,
    pointer: &str,
    namespace: &str,
    vars: &VarSet,
) -> Result<Substitution, Vec<FieldError>> {
    let mut walk = Walk {
        namespace,
        vars,
        budget: MAX_EXPANDED_BYTES,
        done: Substitution::default(),
        errors: Vec::new(),
    };
    walk.value(value, field, pointer);
    if walk.errors.is_empty() {
        Ok(walk.done)
    } else {
        Err(walk.errors)
    }
}

impl Walk<'_> {
    fn value(&mut self, value: &mut Value, field: &str, pointer: &str) {
        match value {
            Value::String(text) if has_placeholder(text) => {
                if let Some(replaced) = self.text(text, field, pointer) {
                    *text = replaced;
                    self.done.changed = true;
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter_mut().enumerate() {
                    self.value(
                        item,
                        &format!("{field}[{index}]"),
                        &format!("{pointer}/{index}"),
                    );
                }
            }
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    let escaped = key.replace('~', "~0").replace('/', "~1");
                    self.value(
                        item,
                        &format!("{field}.{key}"),
                        &format!("{pointer}/{escaped}"),
                    );
                }
            }
            _ => {}
        }
    }

    /// The text with its placeholders replaced; `None` after an error (recorded).
    fn text(&mut self, text: &str, field: &str, pointer: &str) -> Option<String> {
        let fail = |walk: &mut Self, error: VarError| {
            walk.errors.push(FieldError {
                field: field.to_owned(),
                error,
            });
            None
        };
        let pieces = match parse(text) {
            Ok(pieces) => pieces,
            Err(error) => return fail(self, error.into()),
        };
        let mut out = String::with_capacity(text.len());
        let mut missing = false;
        for piece in &pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(name) => match self.vars.get(self.namespace, name) {
                    Some(found) => {
                        let grown = found.value.len().saturating_sub(name.len());
                        if grown > self.budget {
                            // Reported once: every later field would say the same.
                            if self.errors.iter().any(|e| e.error == VarError::TooLarge) {
                                return None;
                            }
                            return fail(self, VarError::TooLarge);
                        }
                        self.budget -= grown;
                        out.push_str(found.value);
                    }
                    None => {
                        missing = true;
                        fail(
                            self,
                            VarError::Undefined {
                                name: (*name).to_owned(),
                                namespace: self.namespace.to_owned(),
                            },
                        );
                    }
                },
            }
        }
        if missing {
            return None;
        }
        if let [Piece::Var(_)] = pieces.as_slice()
            && let Some(coerced) = scalar(&out)
        {
            self.done.coercible.push(Coercible {
                field: field.to_owned(),
                pointer: pointer.to_owned(),
                value: coerced,
            });
        }
        Some(out)
    }
}

/// `8080`, `0.5`, `true`, `false` as the JSON value they read as.
fn scalar(text: &str) -> Option<Value> {
    match text {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        _ => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<u64>().map(Value::from))
            .ok()
            .or_else(|| {
                text.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde_json::json;

    use super::super::{Definition, Variable};
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> VarSet {
        let mut set = VarSet::default();
        for (name, value) in pairs {
            set.external.insert(
                (*name).to_owned(),
                Variable {
                    value: (*value).to_owned(),
                    secret: false,
                    defined_by: Definition::Environment(format!("SWITCHYARD_VAR_{name}")),
                },
            );
        }
        set
    }

    fn run(value: &mut Value, set: &VarSet) -> Result<Substitution, Vec<FieldError>> {
        substitute(value, "spec", "/spec", "default", set)
    }

    #[test]
    fn replaces_placeholders_at_any_depth_and_names_bad_fields() {
        let set = vars(&[("HOST", "erp.test"), ("PORT", "8443")]);
        let mut doc = json!({
            "http": {"baseUrl": "https://${{ vars.HOST }}:${{ vars.PORT }}", "headers": {"X-Port": "${{ vars.PORT }}"}},
            "steps": [{"set": {"a/b": "${{vars.HOST}}"}}]
        });
        let done = run(&mut doc, &set).unwrap_or_default();
        assert_eq!(doc["http"]["baseUrl"], "https://erp.test:8443");
        assert_eq!(doc["steps"][0]["set"]["a/b"], "erp.test");
        assert_eq!(
            done.coercible,
            vec![Coercible {
                field: "spec.http.headers.X-Port".into(),
                pointer: "/spec/http/headers/X-Port".into(),
                value: json!(8443),
            }]
        );

        let mut doc =
            json!({"http": {"baseUrl": "${{ vars.NOPE }}"}, "list": ["ok", "${{ vars.x"]});
        let errors = run(&mut doc, &set).err().unwrap_or_default();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["spec.http.baseUrl", "spec.list[1]"]);
        assert!(matches!(&errors[0].error, VarError::Undefined { name, .. } if name == "NOPE"));
        assert!(matches!(
            errors[1].error,
            VarError::Placeholder(PlaceholderError::Unterminated { .. })
        ));
    }

    #[test]
    fn expansion_is_bounded() {
        let big = "x".repeat(1 << 20);
        let set = vars(&[("BIG", &big)]);
        let mut doc = json!(vec!["${{ vars.BIG }}"; 8]);
        assert!(matches!(
            run(&mut doc, &set).err().as_deref(),
            Some([FieldError {
                error: VarError::TooLarge,
                ..
            }])
        ));
    }

    proptest! {
        #[test]
        fn text_without_placeholders_is_unchanged(text in "\\PC*", key in "[a-z$/{}~]{0,6}") {
            prop_assume!(!text.contains("${{"));
            let original = json!({key.clone(): [text.clone(), {"deeper": text.clone()}]});
            let mut doc = original.clone();
            let done = run(&mut doc, &VarSet::default());
            prop_assert_eq!(done, Ok(Substitution::default()));
            prop_assert_eq!(doc, original);
        }

        #[test]
        fn values_are_never_expanded_again(
            prefix in "[^$]{0,8}",
            suffix in "[^$]{0,8}",
            inner in "[A-Z_]{1,6}",
        ) {
            prop_assume!(inner != "X");
            // A value that looks like a placeholder (even of a defined variable) is
            // inserted as it is: substitution is a single pass.
            let injected = format!("${{{{ vars.{inner} }}}}");
            let set = vars(&[("X", &injected), (&inner, "EXPANDED")]);
            let mut doc = json!(format!("{prefix}${{{{ vars.X }}}}{suffix}"));
            let done = run(&mut doc, &set);
            prop_assert!(done.is_ok());
            prop_assert_eq!(doc, json!(format!("{prefix}{injected}{suffix}")));
        }
    }

    #[test]
    fn scalars() {
        let reads: BTreeMap<&str, Option<Value>> = [
            ("8080", Some(json!(8080))),
            ("-1", Some(json!(-1))),
            ("0.5", Some(json!(0.5))),
            ("true", Some(json!(true))),
            ("yes", None),
            ("NaN", None),
            ("", None),
        ]
        .into_iter()
        .collect();
        for (text, expected) in reads {
            assert_eq!(scalar(text), expected, "{text}");
        }
    }
}
