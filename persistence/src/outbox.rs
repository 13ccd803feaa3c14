//! Types of the inherent, non-port methods both stores offer for tests and verification.

/// One outbox row as written.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxRow {
    pub event_id: u128,
    /// The aggregate's version after the event.
    pub sequence: i64,
    /// `<aggregate>.<event>`, see the `events` module.
    pub event_type: String,
    pub payload: serde_json::Value,
}

/// Attempts at claiming one idempotency key before giving up: each failed attempt means another
/// request claimed and released the key in between, so more than a few means a retry storm.
pub(crate) const CLAIM_ATTEMPTS_MAX: usize = 3;
