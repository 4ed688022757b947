//! Incremental cursors: remember the highest `updated_at` (or id) seen, so the next
//! fetch asks only for newer records.
//!
//! The two ways other tools lose rows, and how this avoids them:
//! - **Advancing before the items are safe.** A [`CursorUpdate`] is only computed
//!   while fetching; the caller saves it with [`save`] after the items it covers are
//!   committed to the queue. A crash in between fetches them again (at-least-once).
//! - **Splitting items that share the cursor value.** The next fetch asks for values
//!   `>=` the cursor (inclusive), not `>`, so a record written later with the same
//!   timestamp is not skipped. The state keeps the keys of the items already seen *at*
//!   the cursor value, and [`CursorState::admits`] drops only those.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{StorageError, StorageScope, StorageStore};

/// What a cursor stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorState {
    /// The highest cursor value seen.
    pub value: Value,
    /// Keys of the items seen with exactly that value.
    #[serde(default)]
    pub keys: BTreeSet<String>,
}

/// Orders cursor values: numbers numerically, strings lexically (ISO 8601 timestamps in
/// one time zone sort correctly), anything else by its JSON text.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

impl CursorState {
    /// Whether an item with cursor `value` and identity `key` is new: above the cursor,
    /// or at it and not seen yet (items without a key at the cursor value are admitted:
    /// a duplicate is better than a lost row).
    pub fn admits(&self, value: &Value, key: Option<&str>) -> bool {
        match compare(value, &self.value) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => key.is_none_or(|k| !self.keys.contains(k)),
        }
    }

    /// A stored value as a cursor state; a cursor written by hand through the API may
    /// be a bare value.
    pub fn from_stored(value: Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or(Self {
            value,
            keys: BTreeSet::new(),
        })
    }

    /// Loads the cursor stored under `key`.
    pub async fn load(
        store: &dyn StorageStore,
        scope: &StorageScope,
        key: &str,
    ) -> Result<Option<Self>, StorageError> {
        let Some(entry) = store.get(scope, key).await? else {
            return Ok(None);
        };
        // A cursor written by hand through the API may be a bare value.
        Ok(Some(serde_json::from_value(entry.value.clone()).unwrap_or(
            Self {
                value: entry.value,
                keys: BTreeSet::new(),
            },
        )))
    }
}

/// The next cursor state, built while items are fetched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CursorUpdate {
    next: Option<CursorState>,
}

impl CursorUpdate {
    /// Starts from the stored state (or none).
    pub fn starting_from(previous: Option<CursorState>) -> Self {
        Self { next: previous }
    }

    /// Records an item that will be committed.
    pub fn observe(&mut self, value: &Value, key: Option<&str>) {
        match &mut self.next {
            Some(state) => match compare(value, &state.value) {
                Ordering::Greater => {
                    *state = CursorState {
                        value: value.clone(),
                        keys: key.map(str::to_owned).into_iter().collect(),
                    }
                }
                Ordering::Equal => {
                    if let Some(key) = key {
                        state.keys.insert(key.to_owned());
                    }
                }
                Ordering::Less => {}
            },
            None => {
                self.next = Some(CursorState {
                    value: value.clone(),
                    keys: key.map(str::to_owned).into_iter().collect(),
                })
            }
        }
    }

    /// The state to save once the observed items are committed.
    pub fn finish(self) -> Option<CursorState> {
        self.next
    }
}

/// Saves a cursor state (call only after the items it covers are committed).
pub async fn save(
    store: &dyn StorageStore,
    scope: &StorageScope,
    key: &str,
    state: &CursorState,
) -> Result<(), StorageError> {
    store.put(scope, key, &to_value(state), None).await
}

/// A cursor as it is stored.
pub fn to_value(state: &CursorState) -> Value {
    serde_json::to_value(state).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn never_splits_items_sharing_the_cursor_value() {
        let mut update = CursorUpdate::default();
        update.observe(&json!("2024-01-01T10:00:00Z"), Some("1"));
        update.observe(&json!("2024-01-01T10:00:05Z"), Some("2"));
        update.observe(&json!("2024-01-01T10:00:05Z"), Some("3"));
        let state = update.finish().unwrap_or_else(|| panic!("no state"));
        assert_eq!(state.value, json!("2024-01-01T10:00:05Z"));
        // The next (inclusive) fetch returns 2 and 3 again plus a late 4 at the same time.
        assert!(!state.admits(&json!("2024-01-01T10:00:05Z"), Some("2")));
        assert!(!state.admits(&json!("2024-01-01T10:00:05Z"), Some("3")));
        assert!(state.admits(&json!("2024-01-01T10:00:05Z"), Some("4")));
        assert!(!state.admits(&json!("2024-01-01T10:00:00Z"), Some("1")));
        assert!(state.admits(&json!("2024-01-01T10:00:06Z"), Some("5")));
    }

    #[test]
    fn numbers_compare_numerically() {
        let state = CursorState {
            value: json!(9),
            keys: BTreeSet::new(),
        };
        assert!(state.admits(&json!(10), None));
        assert!(!state.admits(&json!(8.5), None));
    }
}
