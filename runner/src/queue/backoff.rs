//! Exponential back-off with jitter.

use std::time::Duration;

use rand::Rng;
use switchyard_crds::catalog::RetrySettings;

/// Delay before the attempt after `attempts` failed ones: `initial · 2^(attempts-1)`,
/// capped at the maximum, then drawn uniformly from its upper half ("equal jitter"), so
/// many tasks failing together do not retry together yet never retry too early.
pub fn backoff_delay(settings: &RetrySettings, attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 32)).unwrap_or(32);
    let ceiling = settings
        .initial_backoff_ms
        .saturating_mul(1u64 << exponent.min(32))
        .min(settings.max_backoff_ms)
        .max(1);
    let half = ceiling / 2;
    Duration::from_millis(half + rand::rng().random_range(0..=ceiling - half))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_and_stops_at_the_ceiling() {
        let settings = RetrySettings {
            max_attempts: 10,
            initial_backoff_ms: 100,
            max_backoff_ms: 1_000,
        };
        for _ in 0..100 {
            let first = backoff_delay(&settings, 1).as_millis();
            assert!((50..=100).contains(&first), "{first}");
            let third = backoff_delay(&settings, 3).as_millis();
            assert!((200..=400).contains(&third), "{third}");
            let late = backoff_delay(&settings, 30).as_millis();
            assert!((500..=1_000).contains(&late), "{late}");
        }
    }
}
