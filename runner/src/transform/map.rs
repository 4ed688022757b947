//! The `map` step: build the item from field mappings, for people who do not write jq.

use serde_json::{Map, Value};
use switchyard_crds::path::FieldPath;

use super::{JqProgram, Transform, TransformError, paths};

pub enum Source {
    Path(FieldPath),
    Jq(JqProgram),
    None,
}

pub struct Mapping {
    pub to: FieldPath,
    pub source: Source,
    pub default: Option<Value>,
}

pub struct MapFields {
    fields: Vec<Mapping>,
    keep: bool,
    /// Per mapping: its source may be moved out of the input instead of cloned. The
    /// input is dropped after the step unless `keep`, so a value that no other mapping
    /// (and no jq expression) reads is moved — cloning subtrees was most of the step.
    movable: Vec<bool>,
}

impl MapFields {
    pub fn new(fields: Vec<Mapping>, keep: bool) -> Self {
        let any_jq = fields.iter().any(|m| matches!(m.source, Source::Jq(_)));
        let paths: Vec<Option<&[String]>> = fields
            .iter()
            .map(|m| match &m.source {
                Source::Path(path) => Some(path.segments()),
                _ => None,
            })
            .collect();
        let overlaps = |a: &[String], b: &[String]| a.starts_with(b) || b.starts_with(a);
        let movable = paths
            .iter()
            .enumerate()
            .map(|(index, path)| {
                let Some(path) = path else {
                    return false;
                };
                !keep
                    && !any_jq
                    && paths
                        .iter()
                        .enumerate()
                        .all(|(other, p)| other == index || p.is_none_or(|p| !overlaps(path, p)))
            })
            .collect();
        Self {
            fields,
            keep,
            movable,
        }
    }
}

impl Transform for MapFields {
    fn kind(&self) -> &'static str {
        "map"
    }

    fn apply(&self, mut item: Value, out: &mut Vec<Value>) -> Result<(), TransformError> {
        let mut output = if self.keep {
            item.clone()
        } else {
            Value::Object(Map::with_capacity(self.fields.len()))
        };
        for (mapping, movable) in self.fields.iter().zip(&self.movable) {
            let value = match &mapping.source {
                // Leaves `null` behind, so array indices of later mappings hold.
                Source::Path(path) if *movable => {
                    paths::get_mut(&mut item, path).map(std::mem::take)
                }
                Source::Path(path) => paths::get(&item, path).cloned(),
                Source::Jq(program) => program.first(item.clone())?,
                Source::None => None,
            };
            let value = match value {
                Some(Value::Null) | None => mapping.default.clone(),
                some => some,
            };
            if let Some(value) = value {
                paths::set(&mut output, &mapping.to, value)?;
            }
        }
        out.push(output);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mapping(to: &str, from: &str) -> Mapping {
        let path = |p: &str| FieldPath::parse(p).unwrap_or_else(|e| panic!("{e}"));
        Mapping {
            to: path(to),
            source: Source::Path(path(from)),
            default: None,
        }
    }

    #[test]
    fn moved_sources_give_the_same_result_as_cloned_ones() {
        let input = json!({"lines": [{"sku": "A"}, {"sku": "B"}], "id": 7, "c": {"n": "x"}});
        let fields = || {
            vec![
                mapping("first", "lines.0.sku"),
                mapping("second", "lines.1.sku"),
                mapping("customer", "c"),
                mapping("name", "c.n"),
                mapping("ref", "id"),
            ]
        };
        let moving = MapFields::new(fields(), false);
        // `c` and `c.n` overlap, so both are cloned; the rest are moved.
        assert_eq!(moving.movable, vec![true, true, false, false, true]);
        let mut out = Vec::new();
        moving
            .apply(input.clone(), &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            out,
            vec![
                json!({"first": "A", "second": "B", "customer": {"n": "x"}, "name": "x", "ref": 7})
            ]
        );
        let keeping = MapFields::new(fields(), true);
        assert!(keeping.movable.iter().all(|m| !m));
    }
}
