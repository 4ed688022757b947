//! What one request or one poll may cost the runner, in memory and in time: items per
//! webhook request, body size, how long a client may take to send its headers and its
//! body, and for polls the items of one run, the size of one HTTP response and of one
//! file. Runner-wide defaults come from flags (each with an environment form) and are
//! set once at start ([`install`]); a Route overrides the per-route ones
//! (`incoming.webhook.maxItems`, `incoming.poll.maxItems`, `incoming.poll.maxResponseBytes`,
//! `incoming.poll.files.maxFileBytes`). The memory each bound buys is in README.md
//! ("Limits") and docs/connectors.md.

use std::sync::OnceLock;
use std::time::Duration;

use clap::Args;

/// Items one webhook request may carry unless the route says otherwise.
pub const DEFAULT_WEBHOOK_MAX_ITEMS: u32 = 10_000;
/// Largest request body: big enough for a batch of a few thousand orders.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 << 20;
/// Seconds a client may take to send a request's headers (and, between requests on a
/// kept-alive connection, to start the next one).
pub const DEFAULT_HEADER_READ_TIMEOUT_SECONDS: u64 = 10;
/// Seconds a client may take to send a request's body once its headers are in.
pub const DEFAULT_BODY_READ_TIMEOUT_SECONDS: u64 = 60;
/// Items one poll run may fetch (all pages together) unless the route says otherwise.
pub const DEFAULT_POLL_MAX_ITEMS: u32 = 100_000;
/// Largest HTTP response one poll page may have unless the route says otherwise.
pub const DEFAULT_POLL_MAX_RESPONSE_BYTES: u64 = 32 << 20;
/// Largest file a file poll reads unless the route says otherwise.
pub const DEFAULT_FILE_MAX_BYTES: u64 = 64 << 20;

/// The runner-wide bounds (`runner run` flags).
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Most items one webhook request may carry (the elements of a JSON array); past it
    /// the request gets 413 and nothing is queued. A Route's `incoming.webhook.maxItems`
    /// overrides it.
    #[arg(long, default_value_t = DEFAULT_WEBHOOK_MAX_ITEMS, env = "SWITCHYARD_WEBHOOK_MAX_ITEMS",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub webhook_max_items: u32,

    /// Largest request body in bytes; past it the request gets 413.
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES, env = "SWITCHYARD_MAX_BODY_BYTES",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_body_bytes: u64,

    /// Seconds a client may take to send a request's headers, or to start the next
    /// request on a kept-alive connection; then the connection is closed.
    #[arg(long, default_value_t = DEFAULT_HEADER_READ_TIMEOUT_SECONDS, env = "SWITCHYARD_HEADER_READ_TIMEOUT_SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_seconds: u64,

    /// Seconds a client may take to send a request's body; then it gets 408 and the
    /// connection is closed.
    #[arg(long, default_value_t = DEFAULT_BODY_READ_TIMEOUT_SECONDS, env = "SWITCHYARD_BODY_READ_TIMEOUT_SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub body_read_timeout_seconds: u64,

    /// Most items one run of an HTTP poll may fetch over all its pages; past it the run
    /// fails and nothing is queued. A Route's `incoming.poll.maxItems` overrides it.
    #[arg(long, default_value_t = DEFAULT_POLL_MAX_ITEMS, env = "SWITCHYARD_POLL_MAX_ITEMS",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub poll_max_items: u32,

    /// Largest response body in bytes of one HTTP poll page; past it the run fails. A
    /// Route's `incoming.poll.maxResponseBytes` overrides it.
    #[arg(long, default_value_t = DEFAULT_POLL_MAX_RESPONSE_BYTES, env = "SWITCHYARD_POLL_MAX_RESPONSE_BYTES",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_max_response_bytes: u64,

    /// Largest file in bytes a file poll reads; a larger one is recorded as a failed task
    /// and moved to the failed folder, unread. A Route's `incoming.poll.files.maxFileBytes`
    /// overrides it.
    #[arg(long, default_value_t = DEFAULT_FILE_MAX_BYTES, env = "SWITCHYARD_FILE_MAX_BYTES",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub file_max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            webhook_max_items: DEFAULT_WEBHOOK_MAX_ITEMS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_read_timeout_seconds: DEFAULT_HEADER_READ_TIMEOUT_SECONDS,
            body_read_timeout_seconds: DEFAULT_BODY_READ_TIMEOUT_SECONDS,
            poll_max_items: DEFAULT_POLL_MAX_ITEMS,
            poll_max_response_bytes: DEFAULT_POLL_MAX_RESPONSE_BYTES,
            file_max_bytes: DEFAULT_FILE_MAX_BYTES,
        }
    }
}

impl Limits {
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_seconds)
    }

    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_seconds)
    }

    pub fn max_body_bytes(&self) -> usize {
        usize::try_from(self.max_body_bytes).unwrap_or(usize::MAX)
    }
}

static INSTALLED: OnceLock<Limits> = OnceLock::new();

/// Sets the runner-wide bounds; the first call wins (once, at start).
pub fn install(limits: Limits) {
    let _ = INSTALLED.set(limits);
}

/// The runner-wide bounds: those installed, or the defaults.
pub fn get() -> &'static Limits {
    INSTALLED.get_or_init(Limits::default)
}

/// Most items one request to `route` may carry: its `incoming.webhook.maxItems`, or the
/// runner-wide bound.
pub fn webhook_max_items(route: &crate::runtime::RouteRuntime) -> usize {
    let own = route
        .compiled
        .spec
        .incoming
        .webhook
        .as_ref()
        .and_then(|w| w.max_items);
    items(own, get().webhook_max_items)
}

/// `route`'s own value, or the runner-wide one, as a count.
pub fn items(route: Option<u32>, default: u32) -> usize {
    usize::try_from(route.unwrap_or(default)).unwrap_or(usize::MAX)
}

/// `route`'s own value, or the runner-wide one, in bytes.
pub fn bytes(route: Option<u64>, default: u64) -> u64 {
    route.unwrap_or(default)
}
