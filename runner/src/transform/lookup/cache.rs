//! The per-route answer cache of a lookup: keyed by the rendered request, each answer
//! kept for a TTL, at most `capacity` answers (the oldest go first). Errors are never
//! cached, so a failed request is asked again on the next item.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// An answer: `None` is "not found", which is worth remembering too.
pub type Answer = Option<Value>;

pub struct Cache {
    ttl: Duration,
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Key → (stored at, generation, answer).
    entries: HashMap<String, (Instant, u64, Answer)>,
    /// Insertion order as (key, generation): an entry stored again gets a new
    /// generation, so its older place in the queue no longer evicts it.
    order: VecDeque<(String, u64)>,
    generation: u64,
}

impl Cache {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            state: Mutex::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The answer stored under `key` within the TTL.
    pub fn get(&self, key: &str) -> Option<Answer> {
        self.get_at(key, Instant::now())
    }

    pub fn put(&self, key: String, answer: Answer) {
        self.put_at(key, answer, Instant::now());
    }

    fn get_at(&self, key: &str, now: Instant) -> Option<Answer> {
        if !self.enabled() {
            return None;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match state.entries.get(key) {
            Some((at, _, answer)) if now.duration_since(*at) < self.ttl => Some(answer.clone()),
            Some(_) => {
                state.entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn put_at(&self, key: String, answer: Answer, now: Instant) {
        if !self.enabled() {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.generation += 1;
        let generation = state.generation;
        state.order.push_back((key.clone(), generation));
        state.entries.insert(key, (now, generation, answer));
        while state.entries.len() > self.capacity {
            let Some((oldest, generation)) = state.order.pop_front() else {
                break;
            };
            if state
                .entries
                .get(&oldest)
                .is_some_and(|e| e.1 == generation)
            {
                state.entries.remove(&oldest);
            }
        }
        // Keys stored again (after expiry) leave stale places behind; drop them before
        // the queue outgrows the entries it orders.
        if state.order.len() > 2 * self.capacity {
            let State { entries, order, .. } = &mut *state;
            order.retain(|(key, generation)| entries.get(key).is_some_and(|e| e.1 == *generation));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .len()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn answers_within_the_ttl_only() {
        let cache = Cache::new(Duration::from_secs(10), 10);
        let start = Instant::now();
        cache.put_at("a".into(), Some(json!(1)), start);
        cache.put_at("missing".into(), None, start);
        assert_eq!(
            cache.get_at("a", start + Duration::from_secs(9)),
            Some(Some(json!(1)))
        );
        assert_eq!(
            cache.get_at("missing", start),
            Some(None),
            "not found is cached"
        );
        assert_eq!(cache.get_at("a", start + Duration::from_secs(10)), None);
        assert_eq!(cache.get_at("b", start), None);
    }

    #[test]
    fn keeps_at_most_capacity_dropping_the_oldest() {
        let cache = Cache::new(Duration::from_secs(60), 2);
        let now = Instant::now();
        cache.put_at("a".into(), Some(json!("a")), now);
        cache.put_at("b".into(), Some(json!("b")), now);
        // Stored again: now the newest, so `b` is the oldest.
        cache.put_at("a".into(), Some(json!("a2")), now);
        cache.put_at("c".into(), Some(json!("c")), now);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get_at("b", now), None);
        assert_eq!(cache.get_at("a", now), Some(Some(json!("a2"))));
        assert_eq!(cache.get_at("c", now), Some(Some(json!("c"))));
        for i in 0..100 {
            cache.put_at("a".into(), Some(json!(i)), now);
        }
        let order = cache
            .state
            .lock()
            .map(|s| s.order.len())
            .unwrap_or_default();
        assert!(order <= 4, "stale places are dropped: {order}");
        assert_eq!(cache.get_at("c", now), Some(Some(json!("c"))));
    }

    #[test]
    fn a_zero_ttl_turns_it_off() {
        let cache = Cache::new(Duration::ZERO, 10);
        cache.put("a".into(), Some(json!(1)));
        assert_eq!(cache.get("a"), None);
    }
}
