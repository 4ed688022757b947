//! Provenance: what a task keeps of how its item came to be — the item as received,
//! the items after each incoming step (as the route's `processing.keepSteps` says), and
//! the task it replays. Bounded: at most [`MAX_KEPT_BYTES`] of items per task; a part
//! over the budget is left out and its size noted.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use switchyard_crds::v1alpha1::KeepSteps;

/// Bytes of JSON a task keeps of its item as received and its items after each step,
/// together.
pub const MAX_KEPT_BYTES: usize = 64 * 1024;

/// The items after one incoming step, as kept with a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeptStep {
    /// The step's number in the route's incoming pipeline (1 is the first step; a
    /// Transformer's steps are counted one by one).
    pub step: u32,
    /// Where the step was written, e.g. `incoming step 2` or `Transformer/default/clean step 1`.
    pub label: String,
    /// The step's kind (`jq`, `set`, `split`…).
    pub kind: String,
    /// The items the step produced; absent when they did not fit the per-task budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Value>>,
    /// Set when `items` was left out: their size in bytes of JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omitted_bytes: Option<u64>,
}

/// Where a replayed task came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayOf {
    /// The replayed task.
    pub task: String,
    /// The step the replay started at (1: from the item as received).
    pub from_step: u32,
}

/// How a task's item came to be (the task detail's `provenance`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// The item as received, before the incoming steps (when `batch`: the array of
    /// every item of the request or poll, since the steps saw them together). Absent
    /// when it was over the per-task budget of 64 KiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<Value>,
    /// Size of the item as received, in bytes of JSON.
    pub received_bytes: u64,
    /// Whether the incoming steps ran on the whole batch (sort, dedupe, aggregate or
    /// storage steps): then `received` and each step's `items` are the batch's.
    pub batch: bool,
    /// The items after each incoming step, in order, up to the step that produced this
    /// task's item. Absent when not kept: `keepSteps` is `never`, or `failed` and the
    /// task is done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<KeptStep>>,
    /// The route's `processing.keepSteps` when the task was queued.
    pub keep_steps: String,
    /// Set for a task made by a replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<ReplayOf>,
    /// Tasks made by replaying this one, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replays: Vec<String>,
}

impl Provenance {
    /// The items that went into step `step` (1-based): the item(s) as received for step
    /// 1, else the items after step `step - 1`. `Err`: why they are not available.
    pub fn input_of(&self, step: u32) -> Result<Vec<Value>, MissingInput> {
        let as_batch = |value: &Value| match (self.batch, value) {
            (true, Value::Array(items)) => items.clone(),
            _ => vec![value.clone()],
        };
        if step <= 1 {
            return self
                .received
                .as_ref()
                .map(as_batch)
                .ok_or(MissingInput::Omitted {
                    what: "the item as received".into(),
                    bytes: self.received_bytes,
                });
        }
        let Some(steps) = &self.steps else {
            return Err(MissingInput::NotKept);
        };
        let before = steps
            .iter()
            .find(|kept| kept.step == step - 1)
            .ok_or(MissingInput::NotReached { step: step - 1 })?;
        before.items.clone().ok_or(MissingInput::Omitted {
            what: format!("the items after step {}", step - 1),
            bytes: before.omitted_bytes.unwrap_or(0),
        })
    }
}

/// Why the input of a step cannot be had from a task's provenance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MissingInput {
    #[error("{what} ({bytes} bytes) was over the 64 KiB a task keeps and was left out")]
    Omitted { what: String, bytes: u64 },
    #[error(
        "the items after each step were not kept (the route's `processing.keepSteps` is \
         `never`, or `failed` and the task was done); replay from step 1"
    )]
    NotKept,
    #[error("the item never went through step {step} (an earlier step dropped it)")]
    NotReached { step: u32 },
}

/// A task's provenance as it is written: JSON already serialized (the tasks one item
/// became share one record).
#[derive(Debug, Clone, PartialEq)]
pub struct KeptRecord {
    pub received: Option<String>,
    pub received_bytes: u64,
    pub batch: bool,
    pub steps: Option<String>,
    pub keep_steps: KeepSteps,
    pub replay_of: Option<ReplayOf>,
}

/// Collects the items after each step while a pipeline runs, within a byte budget.
#[derive(Debug)]
pub struct StepCapture {
    budget: usize,
    steps: Vec<CapturedStep>,
}

/// A [`KeptStep`] as captured: its items already JSON text, serialized once when the
/// step ran, instead of copied as values and serialized again with the other steps.
/// Written as a [`KeptStep`] is read.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CapturedStep {
    step: u32,
    label: String,
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    items: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    omitted_bytes: Option<u64>,
    /// How many items the step made (not stored: `items` holds them).
    #[serde(skip)]
    made: usize,
}

impl StepCapture {
    /// A capture that keeps up to `budget` bytes of items.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            steps: Vec::new(),
        }
    }

    /// A capture that goes on from `earlier` steps (a replay from a later step), which
    /// count against `budget`.
    pub fn continuing(budget: usize, earlier: Vec<KeptStep>) -> Self {
        let steps = earlier
            .into_iter()
            .map(|kept| CapturedStep {
                step: kept.step,
                label: kept.label,
                kind: kept.kind,
                made: kept.items.as_ref().map_or(0, Vec::len),
                items: kept.items.as_deref().and_then(raw_json),
                omitted_bytes: kept.omitted_bytes,
            })
            .collect();
        let mut capture = Self { budget, steps };
        capture.budget = budget.saturating_sub(json_len(&capture.steps));
        capture
    }

    /// Notes the items after step `index` (0-based in the pipeline).
    pub fn record(&mut self, index: usize, label: &str, kind: &str, items: &[Value]) {
        let count = items.len();
        // Counted first: no text is built for items over the budget.
        let bytes = json_len(items);
        let items = (bytes <= self.budget).then(|| raw_json(items)).flatten();
        if items.is_some() {
            self.budget -= bytes;
        }
        self.steps.push(CapturedStep {
            step: u32::try_from(index + 1).unwrap_or(u32::MAX),
            label: label.to_owned(),
            kind: kind.to_owned(),
            omitted_bytes: items.is_none().then_some(bytes as u64),
            items,
            made: count,
        });
    }

    /// The JSON text of the one item the last captured step made, when it made exactly
    /// one and kept it: the text `[item]` was written as, without the brackets — the
    /// item as the queue stores it, not serialized again.
    pub fn last_item_text(&self) -> Option<&str> {
        let last = self.steps.last().filter(|step| step.made == 1)?;
        let text = last.items.as_ref()?.get();
        text.strip_prefix('[')?.strip_suffix(']')
    }
}

/// `items` as JSON text, kept as it is (serialized once, not parsed again). JSON
/// values always serialize (their keys are strings): `None` cannot happen.
fn raw_json(items: &[Value]) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(items).ok()
}

/// The kept steps of `capture` as stored: read back as [`KeptStep`]s.
pub fn steps_json(capture: StepCapture) -> Option<String> {
    // JSON values always serialize (their keys are strings).
    serde_json::to_string(&capture.steps).ok()
}

/// What came into a pipeline: one item, or a whole batch.
#[derive(Debug, Clone, Copy)]
pub enum Received<'a> {
    /// One item (steps that run item by item).
    Item(&'a Value),
    /// One item with the JSON text it arrived as (a request whose body was that one
    /// object): the text is kept as sent, not serialized again.
    Sent { item: &'a Value, text: &'a str },
    /// Every item of a request or poll (steps that see the whole batch).
    Batch(&'a [Value]),
}

/// Builds the record of `received` and of the steps captured while it ran, for a route
/// that keeps steps as `keep` says. `capture`: `None` when steps were not captured.
pub fn record(
    received: Received<'_>,
    capture: Option<StepCapture>,
    keep: KeepSteps,
    replay_of: Option<ReplayOf>,
) -> Arc<KeptRecord> {
    // Serialized once: the text is kept when it fits the budget, else only its size.
    let (text, received_bytes) = match received {
        Received::Sent { text, .. } if text.len() <= MAX_KEPT_BYTES => {
            (Some(text.to_owned()), text.len())
        }
        // Sent with more whitespace than fits: kept if its compact form does.
        Received::Item(item) | Received::Sent { item, .. } => json_text(item, MAX_KEPT_BYTES),
        Received::Batch(items) => json_text(items, MAX_KEPT_BYTES),
    };
    let steps = capture.and_then(steps_json);
    Arc::new(KeptRecord {
        received: text,
        received_bytes: received_bytes as u64,
        batch: matches!(received, Received::Batch(_)),
        steps,
        keep_steps: keep,
        replay_of,
    })
}

impl KeptRecord {
    /// What is left of the per-task budget for the steps, once the item as received
    /// is kept.
    pub fn budget_left(&self) -> usize {
        MAX_KEPT_BYTES.saturating_sub(usize::try_from(self.received_bytes).unwrap_or(usize::MAX))
    }
}

/// `value` as JSON text if it is at most `cap` bytes long, and its length in bytes
/// either way: one serialization, and no text built past the cap.
fn json_text<T: Serialize + ?Sized>(value: &T, cap: usize) -> (Option<String>, usize) {
    struct Capped {
        text: Option<Vec<u8>>,
        len: usize,
        cap: usize,
    }
    impl std::io::Write for Capped {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.len += buf.len();
            if self.len > self.cap {
                self.text = None;
            } else if let Some(text) = &mut self.text {
                text.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Capped {
        text: Some(Vec::new()),
        len: 0,
        cap,
    };
    // Writing JSON values to memory cannot fail.
    let _ = serde_json::to_writer(&mut out, value);
    // serde_json writes valid UTF-8.
    let text = out.text.and_then(|bytes| String::from_utf8(bytes).ok());
    (text, out.len)
}

/// Bytes of `value` as JSON, without building the text.
fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing JSON values to a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn capture_keeps_steps_within_the_budget_and_notes_what_it_left_out() {
        let mut capture = StepCapture::new(20);
        capture.record(0, "incoming step 1", "set", &[json!({"a": 1})]);
        capture.record(1, "incoming step 2", "jq", &[json!({"b": "x".repeat(40)})]);
        let steps = read_back(capture);
        assert_eq!(steps[0].items, Some(vec![json!({"a": 1})]));
        assert_eq!(steps[1].items, None);
        assert_eq!(steps[1].omitted_bytes, Some(50));
    }

    /// The last step's one item is the text the queue would write for it.
    #[test]
    fn the_last_steps_one_item_is_its_stored_text() {
        let item = json!({"id": 7, "name": "a\"b]", "lines": [1.5, null, [2]]});
        let mut capture = StepCapture::new(MAX_KEPT_BYTES);
        assert_eq!(capture.last_item_text(), None, "no step yet");
        capture.record(0, "incoming step 1", "split", &[json!(1), json!(2)]);
        assert_eq!(capture.last_item_text(), None, "two items");
        capture.record(1, "incoming step 2", "jq", std::slice::from_ref(&item));
        assert_eq!(
            capture.last_item_text(),
            Some(crate::queue::StoredItem::of(&item).text())
        );
        capture.record(2, "incoming step 3", "jq", &[]);
        assert_eq!(capture.last_item_text(), None, "no item");
        let mut small = StepCapture::new(4);
        small.record(0, "incoming step 1", "jq", std::slice::from_ref(&item));
        assert_eq!(small.last_item_text(), None, "over the budget: not kept");
    }

    fn read_back(capture: StepCapture) -> Vec<KeptStep> {
        let text = steps_json(capture).expect("the steps as JSON");
        serde_json::from_str(&text).expect("read back as kept steps")
    }

    /// The steps are stored as text serialized while the pipeline ran; they read back as
    /// the values they were, in the budget's bytes, and a replay that goes on from them
    /// writes them again as they were.
    #[test]
    fn captured_steps_read_back_as_the_items_each_step_made() {
        let first = [json!({"id": 7, "name": "a\"b", "lines": [1.5, null]})];
        let second = [json!({"id": 7}), json!({"id": 8, "tags": ["x"]})];
        let budget = json_len(&first) + json_len(&second);
        let mut capture = StepCapture::new(budget);
        capture.record(0, "incoming step 1", "set", &first);
        capture.record(1, "Transformer/default/split step 1", "split", &second);
        assert_eq!(capture.budget, 0, "both fit the budget exactly");
        capture.record(2, "incoming step 3", "jq", &[json!({})]);
        let text = steps_json(capture).expect("the steps as JSON");
        let steps: Vec<KeptStep> = serde_json::from_str(&text).expect("kept steps");
        assert_eq!(
            steps,
            vec![
                KeptStep {
                    step: 1,
                    label: "incoming step 1".into(),
                    kind: "set".into(),
                    items: Some(first.to_vec()),
                    omitted_bytes: None,
                },
                KeptStep {
                    step: 2,
                    label: "Transformer/default/split step 1".into(),
                    kind: "split".into(),
                    items: Some(second.to_vec()),
                    omitted_bytes: None,
                },
                KeptStep {
                    step: 3,
                    label: "incoming step 3".into(),
                    kind: "jq".into(),
                    items: None,
                    omitted_bytes: Some(4),
                },
            ]
        );
        let replay = StepCapture::continuing(MAX_KEPT_BYTES, steps[..2].to_vec());
        assert_eq!(
            replay.last_item_text(),
            None,
            "the last step made two items"
        );
        assert_eq!(replay.budget, MAX_KEPT_BYTES - json_len(&replay.steps));
        assert_eq!(read_back(replay), steps[..2].to_vec());
    }

    #[test]
    fn input_of_a_step_is_the_output_of_the_one_before() {
        let provenance = Provenance {
            received: Some(json!({"n": 1})),
            received_bytes: 7,
            batch: false,
            steps: Some(vec![KeptStep {
                step: 1,
                label: "incoming step 1".into(),
                kind: "set".into(),
                items: Some(vec![json!({"n": 2})]),
                omitted_bytes: None,
            }]),
            keep_steps: "failed".into(),
            replay_of: None,
            replays: Vec::new(),
        };
        assert_eq!(provenance.input_of(1), Ok(vec![json!({"n": 1})]));
        assert_eq!(provenance.input_of(2), Ok(vec![json!({"n": 2})]));
        assert_eq!(
            provenance.input_of(3),
            Err(MissingInput::NotReached { step: 2 })
        );
        let big = json!("x".repeat(MAX_KEPT_BYTES));
        let big = record(Received::Item(&big), None, KeepSteps::Never, None);
        assert_eq!(big.received, None);
        assert_eq!(big.received_bytes, MAX_KEPT_BYTES as u64 + 2);
        assert_eq!(big.budget_left(), 0);
    }

    #[test]
    fn the_received_text_is_the_json_of_the_item_or_batch() {
        let item = json!({"id": 7, "name": "a\"b", "lines": [1.5, null]});
        let one = record(Received::Item(&item), None, KeepSteps::Failed, None);
        assert_eq!(one.received.as_deref(), Some(item.to_string().as_str()));
        assert_eq!(one.received_bytes, item.to_string().len() as u64);
        assert_eq!(one.budget_left(), MAX_KEPT_BYTES - item.to_string().len());
        // An item with the text it came as keeps that text, its bytes as sent.
        let text = "{ \"id\": 7,\n  \"name\": \"a\\\"b\", \"lines\": [1.5, null] }";
        let sent = record(
            Received::Sent { item: &item, text },
            None,
            KeepSteps::Failed,
            None,
        );
        assert_eq!(sent.received.as_deref(), Some(text));
        assert_eq!(sent.received_bytes, text.len() as u64);
        let read: Value = serde_json::from_str(text).unwrap();
        assert_eq!(read, item, "the text is the item");
        // A text over the cap is kept compact if that fits, else only its size.
        let spaced = format!("{text}{}", " ".repeat(MAX_KEPT_BYTES));
        let compact = record(
            Received::Sent {
                item: &item,
                text: &spaced,
            },
            None,
            KeepSteps::Failed,
            None,
        );
        assert_eq!(compact.received, Some(item.to_string()));
        let big = json!("x".repeat(MAX_KEPT_BYTES));
        let big_text = big.to_string();
        let over = record(
            Received::Sent {
                item: &big,
                text: &big_text,
            },
            None,
            KeepSteps::Failed,
            None,
        );
        assert_eq!(
            (over.received.clone(), over.received_bytes),
            (None, big_text.len() as u64)
        );
        let items = [item.clone(), json!(2)];
        let batch = record(Received::Batch(&items), None, KeepSteps::Failed, None);
        let expected = Value::from(items.to_vec()).to_string();
        assert_eq!(batch.received.as_deref(), Some(expected.as_str()));
        assert!(batch.batch);
        // Exactly at the cap it is kept; one byte over, only its size.
        assert_eq!(
            json_text(&item, item.to_string().len()).0,
            Some(item.to_string())
        );
        assert_eq!(
            json_text(&item, item.to_string().len() - 1),
            (None, item.to_string().len())
        );
    }
}
