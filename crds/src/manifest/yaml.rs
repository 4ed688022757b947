//! Splitting a YAML text into JSON documents, within bounds whatever the input.
//!
//! serde_yaml's multi-document iterator yields the same syntax error forever once its
//! parser failed, so reading stops at the first error of a file. Aliases can make a
//! small text expand into a huge value (a "billion laughs" file), so every value built
//! is charged to a per-file [`Budget`] and reading stops when it runs out. Nesting is
//! bounded by serde_yaml (128 levels), and flow nesting checked before libyaml scans it
//! (see [`flow_depth`]).

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::flow_depth;
use crate::problem::Position;

/// Most JSON values (objects, arrays, scalars) one manifest file may expand to.
pub const MAX_VALUES_PER_FILE: usize = 1_000_000;
/// Most bytes of text (keys and strings, aliases expanded) one manifest file may hold.
pub const MAX_TEXT_BYTES_PER_FILE: usize = 16 << 20;

/// The first error of a file: the documents after it were not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based index of the document that failed.
    pub document: usize,
    pub position: Option<Position>,
    pub message: String,
}

/// The documents of a text (empty ones left out, each with its 1-based index), and the
/// error that stopped reading, if any.
pub fn documents(text: &str) -> (Vec<(usize, Value)>, Option<YamlError>) {
    let Some(deep) = flow_depth::too_deep(text) else {
        return parsed(text);
    };
    // The documents before the one nested too deeply still load.
    let (out, error) = parsed(&text[..deep.document_start]);
    let error = error.unwrap_or(YamlError {
        document: deep.document,
        position: Some(deep.position),
        message: format!(
            "flow collections (`[`, `{{`) nest deeper than {} levels",
            flow_depth::MAX_FLOW_DEPTH
        ),
    });
    (out, Some(error))
}

fn parsed(text: &str) -> (Vec<(usize, Value)>, Option<YamlError>) {
    let budget = Budget::default();
    let mut out = Vec::new();
    // serde_yaml yields at most one document more than the text has separators; the
    // bound only guards against an iterator that never ends.
    let most = text.len() + 2;
    for (index, document) in serde_yaml::Deserializer::from_str(text)
        .take(most)
        .enumerate()
    {
        match (Bounded { budget: &budget }).deserialize(document) {
            Ok(Value::Null) => {}
            Ok(value) => out.push((index + 1, value)),
            Err(error) => {
                let position = error.location().map(|l| Position {
                    line: l.line(),
                    column: l.column(),
                });
                return (
                    out,
                    Some(YamlError {
                        document: index + 1,
                        position,
                        message: error.to_string(),
                    }),
                );
            }
        }
    }
    (out, None)
}

/// What a file may still expand to.
#[derive(Default)]
struct Budget {
    values: Cell<usize>,
    text: Cell<usize>,
}

impl Budget {
    fn charge<E: de::Error>(&self, text: usize) -> Result<(), E> {
        let values = self.values.get() + 1;
        let text = self.text.get().saturating_add(text);
        if values > MAX_VALUES_PER_FILE {
            return Err(E::custom(format_args!(
                "the file expands to more than {MAX_VALUES_PER_FILE} values (aliases included); split it"
            )));
        }
        if text > MAX_TEXT_BYTES_PER_FILE {
            return Err(E::custom(format_args!(
                "the file expands to more than {} MiB of text (aliases included); split it",
                MAX_TEXT_BYTES_PER_FILE >> 20
            )));
        }
        self.values.set(values);
        self.text.set(text);
        Ok(())
    }
}

/// Deserializes one JSON value, charging the budget for every node.
#[derive(Clone, Copy)]
struct Bounded<'a> {
    budget: &'a Budget,
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-compatible YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.budget.charge(0)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.budget.charge(0)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.budget.charge(0)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.budget.charge(0)?;
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format_args!("`{v}` is not a JSON number")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.budget.charge(v.len())?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.budget.charge(0)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.budget.charge(0)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.budget.charge(0)?;
        let mut object = Map::new();
        while let Some(key) = map.next_key_seed(Key {
            budget: self.budget,
        })? {
            let value = map.next_value_seed(self)?;
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _data: A) -> Result<Value, A::Error> {
        Err(de::Error::custom("YAML tags (`!name`) are not supported"))
    }
}

/// A mapping key: any scalar, as text (`1: x` has the key `"1"`, as in Kubernetes).
struct Key<'a> {
    budget: &'a Budget,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar mapping key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.budget.charge(v.len())?;
        Ok(v.to_owned())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        self.visit_str("null")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reading_stops_at_the_first_syntax_error_and_names_its_position() {
        let text = "a: 1\n---\nb: \"unclosed\nc: 2\n---\nd: 4\n";
        let (read, error) = documents(text);
        assert_eq!(read, [(1, json!({"a": 1}))]);
        let error = error.unwrap_or_else(|| panic!("no error"));
        assert_eq!(error.document, 2);
        // libyaml notices at the next document marker, and names where the quote opened.
        assert_eq!(error.position.map(|p| p.line), Some(5), "{error:?}");
        assert!(
            error.message.contains("quoted scalar at line 3 column 4"),
            "{error:?}"
        );
    }

    #[test]
    fn scalar_keys_are_text_and_duplicates_are_refused() {
        let (read, error) = documents("1: one\ntrue: yes\n");
        assert_eq!(error, None);
        assert_eq!(read, [(1, json!({"1": "one", "true": "yes"}))]);
        let (_, error) = documents("a: 1\na: 2\n");
        assert!(
            error.is_some_and(|e| e.message.contains("duplicate key `a`")),
            "duplicate accepted"
        );
    }

    #[test]
    fn deep_flow_nesting_is_refused_before_libyaml_scans_it() {
        // Quadratic in libyaml: a hundred thousand levels took minutes.
        let deep = "[".repeat(100_000);
        let text = format!("a: 1\n---\nb: {deep}\n");
        let began = std::time::Instant::now();
        let (read, error) = documents(&text);
        assert!(began.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(read, [(1, json!({"a": 1}))]);
        let error = error.unwrap_or_else(|| panic!("no error"));
        assert_eq!(error.document, 2);
        assert_eq!(error.position.map(|p| p.line), Some(3));
        assert!(error.message.contains("nest deeper than 160"), "{error:?}");
    }

    #[test]
    fn an_alias_bomb_runs_out_of_budget() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut previous = 'a';
        for name in 'b'..='j' {
            let refs = vec![format!("*{previous}"); 10].join(", ");
            text.push_str(&format!("{name}: &{name} [{refs}]\n"));
            previous = name;
        }
        let (read, error) = documents(&text);
        assert!(read.is_empty());
        let message = error.map(|e| e.message).unwrap_or_default();
        assert!(
            message.contains("more than") || message.contains("repetition limit"),
            "{message}"
        );
    }
}
