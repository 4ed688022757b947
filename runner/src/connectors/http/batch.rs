//! Outgoing HTTP batches: the items of several tasks in one request body (a JSON array
//! or JSON Lines), split by item count and body size, and the receiver's per-item
//! results mapped back to the items by an optional jq program.

use std::ops::Range;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use switchyard_crds::v1alpha1::{
    BatchFormat, DEFAULT_HTTP_BATCH_BYTES, DEFAULT_HTTP_BATCH_ITEMS, HttpBatch,
};

use super::endpoint::EndpointError;
use crate::transform::{JqProgram, TransformError};

/// What each item adds to a body besides itself: a comma or a newline.
const SEPARATOR_BYTES: usize = 1;

/// A route's batch settings, with defaults applied.
pub(super) struct BatchSettings {
    pub max_items: usize,
    pub max_bytes: usize,
    pub max_wait: Duration,
    pub format: BatchFormat,
    /// Maps a response to one result per item.
    pub results: Option<JqProgram>,
}

impl BatchSettings {
    pub fn new(spec: &HttpBatch) -> Result<Self, EndpointError> {
        Ok(Self {
            max_items: spec.max_items.unwrap_or(DEFAULT_HTTP_BATCH_ITEMS) as usize,
            max_bytes: usize::try_from(spec.max_bytes.unwrap_or(DEFAULT_HTTP_BATCH_BYTES))
                .unwrap_or(usize::MAX),
            max_wait: Duration::from_millis(spec.max_wait_ms.unwrap_or(0)),
            format: spec.format.unwrap_or_default(),
            results: spec
                .results
                .as_deref()
                .map(JqProgram::compile)
                .transpose()
                .map_err(|e| EndpointError::Invalid {
                    field: "spec.outgoing.http.batch.results".into(),
                    message: e.to_string(),
                })?,
        })
    }

    /// Splits items of these encoded sizes into requests of at most `max_items` items
    /// and `max_bytes` bytes of body; an item larger than `max_bytes` goes alone.
    pub fn requests(&self, sizes: &[usize]) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut bytes = 0;
        for (index, size) in sizes.iter().enumerate() {
            let with = bytes + size + SEPARATOR_BYTES;
            let full = index - start >= self.max_items || (index > start && with > self.max_bytes);
            if full {
                out.push(start..index);
                start = index;
                bytes = 0;
            }
            bytes += size + SEPARATOR_BYTES;
        }
        if start < sizes.len() {
            out.push(start..sizes.len());
        }
        out
    }

    /// The request body of encoded items, and its content type.
    pub fn body(&self, encoded: &[&[u8]]) -> (Vec<u8>, &'static str) {
        let total: usize = encoded.iter().map(|e| e.len() + 1).sum();
        let mut body = Vec::with_capacity(total + 2);
        match self.format {
            BatchFormat::Json => {
                body.push(b'[');
                for (index, item) in encoded.iter().enumerate() {
                    if index > 0 {
                        body.push(b',');
                    }
                    body.extend_from_slice(item);
                }
                body.push(b']');
                (body, "application/json")
            }
            BatchFormat::JsonLines => {
                for item in encoded {
                    body.extend_from_slice(item);
                    body.push(b'\n');
                }
                (body, "application/x-ndjson")
            }
        }
    }
}

/// One item's result, as the `results` program says.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ItemResult {
    Delivered,
    Failed { message: String, retry: bool },
}

/// What is wrong with the output of a batch's `results` program (`position`: 1-based).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(super) enum ResultsError {
    #[error("the batch `results` program failed: {0}")]
    Program(#[source] TransformError),
    #[error("the batch `results` program did not yield an array")]
    NotArray,
    #[error("the batch `results` program yielded {found} results for {count} items")]
    Count { found: usize, count: usize },
    #[error("result {position} has no boolean `ok`: {result}")]
    NoOk { position: usize, result: Value },
    #[error("result {position} is neither a boolean nor an object: {result}")]
    NotAResult { position: usize, result: Value },
}

/// Runs `program` on `response` and reads one result per item: `true`, `false` or
/// `{ok, message, retry}`. The error says what was wrong with the program's output.
pub(super) fn item_results(
    program: &JqProgram,
    response: &Value,
    count: usize,
) -> Result<Vec<ItemResult>, ResultsError> {
    let output = program
        .first(response.clone())
        .map_err(ResultsError::Program)?;
    let Some(Value::Array(results)) = output else {
        return Err(ResultsError::NotArray);
    };
    if results.len() != count {
        return Err(ResultsError::Count {
            found: results.len(),
            count,
        });
    }
    results
        .iter()
        .enumerate()
        .map(|(index, result)| match result {
            Value::Bool(true) => Ok(ItemResult::Delivered),
            Value::Bool(false) => Ok(ItemResult::Failed {
                message: "the receiver refused the item".into(),
                retry: false,
            }),
            Value::Object(fields) => match fields.get("ok") {
                Some(Value::Bool(true)) => Ok(ItemResult::Delivered),
                Some(Value::Bool(false)) => Ok(ItemResult::Failed {
                    message: match fields.get("message") {
                        None | Some(Value::Null) => "the receiver refused the item".into(),
                        Some(Value::String(text)) => text.clone(),
                        Some(other) => other.to_string(),
                    },
                    retry: fields.get("retry") == Some(&Value::Bool(true)),
                }),
                _ => Err(ResultsError::NoOk {
                    position: index + 1,
                    result: result.clone(),
                }),
            },
            other => Err(ResultsError::NotAResult {
                position: index + 1,
                result: other.clone(),
            }),
        })
        .collect()
}

/// The `Idempotency-Key` of a batch request: the same items in the same order (a retry
/// of the whole batch) get the same key.
pub(super) fn batch_key(keys: &[&str]) -> String {
    let mut hash = Sha256::new();
    for key in keys {
        hash.update(key.as_bytes());
        hash.update(b"\n");
    }
    format!("batch-{}", &hex::encode(hash.finalize())[..32])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn settings(max_items: u32, max_bytes: u64, format: BatchFormat) -> BatchSettings {
        BatchSettings::new(&HttpBatch {
            max_items: Some(max_items),
            max_bytes: Some(max_bytes),
            format: Some(format),
            ..HttpBatch::default()
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn requests_respect_item_count_and_body_size() {
        let by_count = settings(3, 1_000_000, BatchFormat::Json);
        assert_eq!(by_count.requests(&[1; 7]), vec![0..3, 3..6, 6..7]);
        let by_size = settings(100, 25, BatchFormat::Json);
        // 10 + 1 bytes each: two fit in 25, a third does not; a 40-byte item goes alone.
        assert_eq!(
            by_size.requests(&[10, 10, 10, 40, 10]),
            vec![0..2, 2..3, 3..4, 4..5]
        );
        assert_eq!(by_size.requests(&[]), Vec::<Range<usize>>::new());
    }

    #[test]
    fn bodies_are_a_json_array_or_json_lines() {
        let items: Vec<&[u8]> = vec![b"{\"a\":1}", b"{\"a\":2}"];
        let (body, kind) = settings(10, 1000, BatchFormat::Json).body(&items);
        assert_eq!(kind, "application/json");
        let parsed: Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(parsed, json!([{"a": 1}, {"a": 2}]));
        let (body, kind) = settings(10, 1000, BatchFormat::JsonLines).body(&items);
        assert_eq!(kind, "application/x-ndjson");
        assert_eq!(body, b"{\"a\":1}\n{\"a\":2}\n");
    }

    #[test]
    fn results_map_back_to_items_or_say_what_is_wrong() {
        let program = JqProgram::compile(
            "[.body.items[] | {ok: (.status < 300), message: .error, retry: (.status >= 500)}]",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let response = json!({"status": 200, "body": {"items": [
            {"status": 201},
            {"status": 409, "error": "duplicate"},
            {"status": 503, "error": "busy"},
        ]}});
        assert_eq!(
            item_results(&program, &response, 3),
            Ok(vec![
                ItemResult::Delivered,
                ItemResult::Failed {
                    message: "duplicate".into(),
                    retry: false
                },
                ItemResult::Failed {
                    message: "busy".into(),
                    retry: true
                },
            ])
        );
        let wrong = item_results(&program, &response, 2).unwrap_err();
        assert_eq!(wrong, ResultsError::Count { found: 3, count: 2 });
        assert!(
            wrong.to_string().contains("3 results for 2 items"),
            "{wrong}"
        );
        let booleans = JqProgram::compile("[true, false]").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            item_results(&booleans, &Value::Null, 2).map(|r| r.len()),
            Ok(2)
        );
        let broken = JqProgram::compile("[1]").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            item_results(&broken, &Value::Null, 1),
            Err(ResultsError::NotAResult {
                position: 1,
                result: json!(1)
            })
        );
        let no_ok = JqProgram::compile("[{message: \"x\"}]").unwrap_or_else(|e| panic!("{e}"));
        let error = item_results(&no_ok, &Value::Null, 1).unwrap_err();
        assert!(
            error.to_string().contains("result 1 has no boolean `ok`"),
            "{error}"
        );
    }

    #[test]
    fn a_batch_key_depends_on_its_items_and_their_order() {
        assert_eq!(batch_key(&["a", "b"]), batch_key(&["a", "b"]));
        assert_ne!(batch_key(&["a", "b"]), batch_key(&["b", "a"]));
        assert_ne!(batch_key(&["ab"]), batch_key(&["a", "b"]));
    }
}
