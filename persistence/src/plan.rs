//! What one `commit_*` call writes, worked out before any SQL runs, identically for both
//! adapters: the version check, the final state, the updated-at instant and the outbox rows.
//!
//! The checks here are assertions on the caller (the runtime and the actors): a batch whose
//! versions do not chain, or whose events do not number the versions they produce, is a bug
//! upstream. It is refused whole with `StoreError::Other` so nothing half-right is written.

use actors::ports::{Recorded, StoreError};

use crate::convert::{now_ms, to_i64};
use crate::events::Describe;

/// Events one commit may carry. The runtime's group commit bounds its batch far lower; this
/// bound keeps a runaway batch from building an unbounded statement.
pub(crate) const BATCH_EVENTS_MAX: usize = 10_000;

/// One change of one aggregate, as the plan needs to see it.
pub(crate) trait Change {
    type Event: Describe;
    /// The `outbox.aggregate_type` of every event.
    const AGGREGATE_TYPE: &'static str;
    /// The aggregate's id as the outbox and the tables spell it (a SKU, a hyphenated UUID).
    fn aggregate_id(&self) -> String;
    fn expected_version(&self) -> u64;
    /// The aggregate's version after this change.
    fn version(&self) -> u64;
    fn events(&self) -> &[Recorded<Self::Event>];
}

/// One outbox row, ready to bind.
#[derive(Clone, Debug)]
pub(crate) struct OutboxEntry {
    pub event_id: u128,
    pub sequence: i64,
    pub event_type: &'static str,
    /// The payload as JSON text, a JSON object.
    pub payload: String,
    pub created_at_ms: i64,
}

/// The outcome of checking a batch: what the adapter writes.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    /// The version the stored row must have; 0 means the row must not exist.
    pub expected_version: i64,
    /// The version the row has afterwards.
    pub version: i64,
    /// When the first event of the batch was decided: the `created_at` of a new row.
    pub created_at_ms: i64,
    /// When the last event of the batch was decided: the row's `updated_at`.
    pub updated_at_ms: i64,
    pub outbox: Vec<OutboxEntry>,
}

/// The outbox's `schema_version` of every payload this code writes.
pub(crate) const PAYLOAD_SCHEMA_VERSION: i32 = 1;

/// Checks `changes` and works out what to write, or `None` for an empty batch (nothing to do).
pub(crate) fn plan<C: Change>(changes: &[C]) -> Result<Option<Plan>, StoreError> {
    let (Some(first), Some(last)) = (changes.first(), changes.last()) else {
        return Ok(None);
    };
    let aggregate_id = first.aggregate_id();
    let mut outbox = Vec::new();
    let mut previous_version = first.expected_version();
    for change in changes {
        check_change(change, &aggregate_id, previous_version)?;
        for recorded in change.events() {
            outbox.push(outbox_entry(&aggregate_id, recorded)?);
        }
        previous_version = change.version();
    }
    if outbox.len() > BATCH_EVENTS_MAX {
        return Err(bug(format!(
            "batch of {} events exceeds {BATCH_EVENTS_MAX}",
            outbox.len()
        )));
    }
    // A batch without events (which the actors do not send) still gets a plausible time.
    let created_at_ms = outbox
        .first()
        .map_or_else(now_ms, |entry| entry.created_at_ms);
    let updated_at_ms = outbox
        .last()
        .map_or(created_at_ms, |entry| entry.created_at_ms);
    Ok(Some(Plan {
        aggregate_type: C::AGGREGATE_TYPE,
        aggregate_id,
        expected_version: to_i64(first.expected_version(), "expected version")?,
        version: to_i64(last.version(), "version")?,
        created_at_ms,
        updated_at_ms,
        outbox,
    }))
}

/// Asserts that `change` belongs to the batch's aggregate, follows the previous change, and that
/// its events number exactly the versions it moves through.
fn check_change<C: Change>(
    change: &C,
    aggregate_id: &str,
    previous_version: u64,
) -> Result<(), StoreError> {
    if change.aggregate_id() != aggregate_id {
        return Err(bug(format!(
            "batch mixes aggregates {aggregate_id} and {}",
            change.aggregate_id()
        )));
    }
    if change.expected_version() != previous_version {
        return Err(bug(format!(
            "versions do not chain: expected {} after version {previous_version}",
            change.expected_version()
        )));
    }
    let mut sequence = change.expected_version();
    for recorded in change.events() {
        sequence = sequence
            .checked_add(1)
            .ok_or_else(|| bug("version overflow".to_owned()))?;
        if recorded.sequence != sequence {
            return Err(bug(format!(
                "event sequence {} where {sequence} was due",
                recorded.sequence
            )));
        }
    }
    if change.version() != sequence {
        return Err(bug(format!(
            "version {} after events ending at {sequence}",
            change.version()
        )));
    }
    Ok(())
}

fn outbox_entry<E: Describe>(
    aggregate_id: &str,
    recorded: &Recorded<E>,
) -> Result<OutboxEntry, StoreError> {
    let (event_type, payload) = recorded.event.describe(aggregate_id)?;
    Ok(OutboxEntry {
        event_id: recorded.event_id,
        sequence: to_i64(recorded.sequence, "event sequence")?,
        event_type,
        payload,
        created_at_ms: recorded.occurred_at.unix_ms(),
    })
}

fn bug(message: String) -> StoreError {
    StoreError::Other(format!("refused commit batch: {message}"))
}

impl Change for actors::ports::ProductChange {
    type Event = domain::catalog::Event;
    const AGGREGATE_TYPE: &'static str = "product";
    fn aggregate_id(&self) -> String {
        self.product.sku.as_str().to_owned()
    }
    fn expected_version(&self) -> u64 {
        self.expected_version
    }
    fn version(&self) -> u64 {
        self.product.version
    }
    fn events(&self) -> &[Recorded<Self::Event>] {
        &self.events
    }
}

impl Change for actors::ports::InventoryChange {
    type Event = domain::inventory::Event;
    const AGGREGATE_TYPE: &'static str = "inventory";
    fn aggregate_id(&self) -> String {
        self.sku.as_str().to_owned()
    }
    fn expected_version(&self) -> u64 {
        self.expected_version
    }
    fn version(&self) -> u64 {
        self.counters.version
    }
    fn events(&self) -> &[Recorded<Self::Event>] {
        &self.events
    }
}

impl Change for actors::ports::CartChange {
    type Event = domain::cart::Event;
    const AGGREGATE_TYPE: &'static str = "cart";
    fn aggregate_id(&self) -> String {
        self.cart.id.to_string()
    }
    fn expected_version(&self) -> u64 {
        self.expected_version
    }
    fn version(&self) -> u64 {
        self.cart.version
    }
    fn events(&self) -> &[Recorded<Self::Event>] {
        &self.events
    }
}

/// The reservations a batch of inventory changes leaves behind, each once in its final state
/// (a later change of the batch may move a reservation an earlier one created), ordered by id
/// so concurrent writers lock rows in one order.
pub(crate) fn final_reservations(
    changes: &[actors::ports::InventoryChange],
) -> Vec<domain::Reservation> {
    let mut latest = std::collections::BTreeMap::new();
    for reservation in changes.iter().flat_map(|change| &change.reservations) {
        latest.insert(reservation.id(), *reservation);
    }
    latest.into_values().collect()
}

/// Whether a batch of order changes moved the order's payment (authorized, declined, voided):
/// only then does the `payments` row, which mirrors it, need a write.
pub(crate) fn payment_changed(changes: &[actors::ports::OrderChange]) -> bool {
    use domain::order::Event;
    changes.iter().flat_map(|c| &c.events).any(|e| {
        matches!(
            e.event,
            Event::PaymentAuthorized { .. } | Event::PaymentDeclined { .. } | Event::PaymentVoided
        )
    })
}

impl Change for actors::ports::OrderChange {
    type Event = domain::order::Event;
    const AGGREGATE_TYPE: &'static str = "order";
    fn aggregate_id(&self) -> String {
        self.order.id.to_string()
    }
    fn expected_version(&self) -> u64 {
        self.expected_version
    }
    fn version(&self) -> u64 {
        self.order.version
    }
    fn events(&self) -> &[Recorded<Self::Event>] {
        &self.events
    }
}
