//! The HTTP edge's bounds and timings, named in one place.

use std::time::Duration;

/// Bytes in an `Idempotency-Key`: enough for a UUID or a client's composite key, small enough to
/// index.
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 255;

/// Bytes in a client-supplied `x-request-id`; longer ones are replaced, not truncated, so a log
/// search for the client's id never matches a prefix of someone else's.
pub const REQUEST_ID_BYTES_MAX: usize = 128;

/// Characters in a payment token: provider tokens are short opaque strings, and the token is
/// stored with the saga, so its size is bounded like every other stored field.
pub const PAYMENT_TOKEN_CHARS_MAX: usize = 255;

/// How often a request that finds its idempotency key in progress looks at the order again.
pub const IDEMPOTENCY_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long `/readyz` waits for the store before declaring the process not ready.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(1);

/// Limits of the HTTP edge, set by the bootstrap from configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest accepted request body; the biggest legitimate body (a buy-now order with
    /// `ORDER_LINES_MAX` lines and an address) is a few KiB.
    pub body_bytes_max: usize,
    /// How long a retried checkout waits for the first attempt with the same idempotency key to
    /// finish before answering `idempotency_in_progress`.
    pub idempotency_wait: Duration,
    /// Requests handled at once; beyond it requests are shed with 503 instead of queueing, so
    /// latency stays bounded and memory cannot grow with the backlog.
    pub concurrency_max: usize,
    /// The `Retry-After` seconds of every retryable answer.
    pub retry_after_secs: u64,
    /// Sign-ups one client address may make per minute (also the burst).
    pub signups_per_minute_per_client: u32,
    /// Login attempts one client address may make per minute (also the burst).
    pub logins_per_minute_per_client: u32,
    /// Login attempts against one email per minute, from anywhere (also the burst).
    pub logins_per_minute_per_email: u32,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            body_bytes_max: 16 * 1024,
            idempotency_wait: Duration::from_secs(5),
            concurrency_max: 4096,
            retry_after_secs: 1,
            signups_per_minute_per_client: 10,
            logins_per_minute_per_client: 30,
            logins_per_minute_per_email: 10,
        }
    }
}
