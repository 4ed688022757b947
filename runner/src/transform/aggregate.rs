//! The `aggregate` step: group a batch by a key, collecting, counting and summing.

use serde_json::{Map, Value};
use switchyard_crds::path::FieldPath;

use super::{BatchTransform, TransformError, paths};

pub struct Aggregate {
    pub group_by: FieldPath,
    pub key_as: String,
    /// `None`: items are not collected.
    pub collect: Option<String>,
    pub count: Option<String>,
    pub sum: Vec<(String, FieldPath)>,
}

impl BatchTransform for Aggregate {
    fn kind(&self) -> &'static str {
        "aggregate"
    }

    fn apply_batch(&self, items: Vec<Value>) -> Result<Vec<Value>, (usize, TransformError)> {
        // Groups in order of first appearance; the key's JSON text identifies a group.
        let mut order: Vec<(String, Value, Vec<Value>)> = Vec::new();
        let mut index = std::collections::HashMap::new();
        for item in items {
            let key = paths::get(&item, &self.group_by)
                .cloned()
                .unwrap_or(Value::Null);
            let text = key.to_string();
            let slot = *index.entry(text.clone()).or_insert_with(|| {
                order.push((text, key, Vec::new()));
                order.len() - 1
            });
            order[slot].2.push(item);
        }
        let mut out = Vec::with_capacity(order.len());
        for (_, key, members) in order {
            let mut group = Map::new();
            group.insert(self.key_as.clone(), key);
            if let Some(count) = &self.count {
                group.insert(count.clone(), Value::from(members.len()));
            }
            for (name, path) in &self.sum {
                let mut total = 0.0;
                let mut whole = true;
                for (i, member) in members.iter().enumerate() {
                    match paths::get(member, path) {
                        None | Some(Value::Null) => {}
                        Some(Value::Number(n)) => {
                            whole &= n.is_i64() || n.is_u64();
                            total += n.as_f64().unwrap_or_default();
                        }
                        Some(other) => {
                            return Err((
                                i,
                                TransformError::Path {
                                    path: path.to_string(),
                                    reason: format!("cannot sum {other}: not a number"),
                                },
                            ));
                        }
                    }
                }
                let total = if whole {
                    Value::from(total as i64)
                } else {
                    serde_json::Number::from_f64(total).map_or(Value::Null, Value::Number)
                };
                group.insert(name.clone(), total);
            }
            if let Some(collect) = &self.collect {
                group.insert(collect.clone(), Value::Array(members));
            }
            out.push(Value::Object(group));
        }
        Ok(out)
    }
}
