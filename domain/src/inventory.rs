//! Stock of one SKU and the reservations held against it.
//!
//! Units are conserved: every unit ever restocked is either on hand or sold.
//! A reservation holds units without moving them; committing moves them out
//! as sold, and returning moves them back on hand.

use std::collections::BTreeMap;
use std::fmt;

use crate::corrupt::{ensure, CorruptState};
use crate::ids::{Quantity, ReservationId, SkuCode};
use crate::limits::INVENTORY_UNITS_MAX;
use crate::time::Timestamp;

/// Where a reservation is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReservationStatus {
    /// Units are set aside and count against `available`.
    Held,
    /// Units were sold.
    Committed,
    /// The holder gave the units back before buying.
    Released,
    /// Nobody committed before the deadline, so the units went back.
    Expired,
    /// Sold units came back after a cancellation.
    Returned,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Held => "held",
            ReservationStatus::Committed => "committed",
            ReservationStatus::Released => "released",
            ReservationStatus::Expired => "expired",
            ReservationStatus::Returned => "returned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "held" => Some(ReservationStatus::Held),
            "committed" => Some(ReservationStatus::Committed),
            "released" => Some(ReservationStatus::Released),
            "expired" => Some(ReservationStatus::Expired),
            "returned" => Some(ReservationStatus::Returned),
            _ => None,
        }
    }
}

impl fmt::Display for ReservationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Units set aside for one order line.
///
/// Finished reservations are kept so that a retried `Reserve` with the same
/// id is recognised and never reserves twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    id: ReservationId,
    quantity: Quantity,
    status: ReservationStatus,
    /// When a `Held` reservation may be expired by the sweeper.
    expires_at: Timestamp,
}

impl Reservation {
    pub fn restore(
        id: ReservationId,
        quantity: Quantity,
        status: ReservationStatus,
        expires_at: Timestamp,
    ) -> Reservation {
        Reservation {
            id,
            quantity,
            status,
            expires_at,
        }
    }

    pub fn id(&self) -> ReservationId {
        self.id
    }

    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    pub fn status(&self) -> ReservationStatus {
        self.status
    }

    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
}

/// What a caller asks of a SKU's stock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Restock {
        quantity: Quantity,
    },
    Reserve {
        reservation_id: ReservationId,
        quantity: Quantity,
        expires_at: Timestamp,
    },
    Release {
        reservation_id: ReservationId,
    },
    Commit {
        reservation_id: ReservationId,
    },
    Expire {
        reservation_id: ReservationId,
    },
    Return {
        reservation_id: ReservationId,
    },
}

/// What happened to a SKU's stock.
///
/// Every reservation event carries its quantity so that consumers can keep
/// counts without reading the aggregate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Restocked {
        quantity: Quantity,
    },
    Reserved {
        reservation_id: ReservationId,
        quantity: Quantity,
        expires_at: Timestamp,
    },
    Released {
        reservation_id: ReservationId,
        quantity: Quantity,
    },
    Committed {
        reservation_id: ReservationId,
        quantity: Quantity,
    },
    Expired {
        reservation_id: ReservationId,
        quantity: Quantity,
    },
    Returned {
        reservation_id: ReservationId,
        quantity: Quantity,
    },
}

/// Why a stock command was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    OutOfStock {
        requested: u32,
        available: u64,
    },
    ReservationNotFound,
    /// The same reservation id was reserved again with a different quantity.
    ReservationConflict,
    ReservationNotHeld {
        status: ReservationStatus,
    },
    ReservationNotCommitted {
        status: ReservationStatus,
    },
    NotYetExpired,
    /// A restock would push the SKU past `INVENTORY_UNITS_MAX`.
    StockOverflow,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::OutOfStock {
                requested,
                available,
            } => write!(
                f,
                "out of stock: requested {requested}, available {available}"
            ),
            Error::ReservationNotFound => f.write_str("reservation not found"),
            Error::ReservationConflict => {
                f.write_str("reservation id already used with a different quantity")
            }
            Error::ReservationNotHeld { status } => write!(f, "reservation is {status}, not held"),
            Error::ReservationNotCommitted { status } => {
                write!(f, "reservation is {status}, not committed")
            }
            Error::NotYetExpired => f.write_str("reservation has not expired yet"),
            Error::StockOverflow => f.write_str("restock would exceed the stock limit"),
        }
    }
}

impl std::error::Error for Error {}

/// A SKU's stock as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InventorySnapshot {
    pub sku: SkuCode,
    pub on_hand: u64,
    pub reserved: u64,
    pub sold: u64,
    pub reservations: Vec<Reservation>,
    pub version: u64,
}

/// The stock aggregate for one SKU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InventorySku {
    sku: SkuCode,
    /// Units in the warehouse not yet sold, reserved ones included.
    on_hand: u64,
    /// Units held by `Held` reservations; always at most `on_hand`.
    reserved: u64,
    /// Units of `Committed` reservations.
    sold: u64,
    /// Every reservation ever made, keyed for idempotent retries; a
    /// `BTreeMap` so iteration and snapshots are deterministic.
    reservations: BTreeMap<ReservationId, Reservation>,
    /// Number of events applied, for optimistic concurrency.
    version: u64,
}

impl InventorySku {
    pub fn new(sku: SkuCode) -> InventorySku {
        InventorySku {
            sku,
            on_hand: 0,
            reserved: 0,
            sold: 0,
            reservations: BTreeMap::new(),
            version: 0,
        }
    }

    /// Rebuilds stock from storage, refusing state that breaks an invariant.
    pub fn restore(s: InventorySnapshot) -> Result<InventorySku, CorruptState> {
        let mut reservations = BTreeMap::new();
        for reservation in s.reservations {
            let duplicate = reservations.insert(reservation.id, reservation).is_some();
            ensure(!duplicate, "inventory: duplicate reservation id")?;
        }
        let inventory = InventorySku {
            sku: s.sku,
            on_hand: s.on_hand,
            reserved: s.reserved,
            sold: s.sold,
            reservations,
            version: s.version,
        };
        inventory.check_invariants()?;
        Ok(inventory)
    }

    pub fn snapshot(&self) -> InventorySnapshot {
        InventorySnapshot {
            sku: self.sku.clone(),
            on_hand: self.on_hand,
            reserved: self.reserved,
            sold: self.sold,
            reservations: self.reservations.values().copied().collect(),
            version: self.version,
        }
    }

    pub fn sku(&self) -> &SkuCode {
        &self.sku
    }

    pub fn on_hand(&self) -> u64 {
        self.on_hand
    }

    pub fn reserved(&self) -> u64 {
        self.reserved
    }

    /// Units that a new reservation may take.
    pub fn available(&self) -> u64 {
        self.on_hand.saturating_sub(self.reserved)
    }

    pub fn sold(&self) -> u64 {
        self.sold
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn reservation(&self, id: &ReservationId) -> Option<&Reservation> {
        self.reservations.get(id)
    }

    pub fn reservations(&self) -> impl Iterator<Item = &Reservation> {
        self.reservations.values()
    }

    /// Held reservations whose deadline has passed, for the expiry sweeper.
    pub fn held_expired_before(&self, now: Timestamp) -> Vec<ReservationId> {
        self.reservations
            .values()
            .filter(|r| r.status == ReservationStatus::Held && r.expires_at <= now)
            .map(|r| r.id)
            .collect()
    }

    pub fn handle(&self, cmd: &Command, now: Timestamp) -> Result<Vec<Event>, Error> {
        match cmd {
            Command::Restock { quantity } => self.restock(*quantity),
            Command::Reserve {
                reservation_id,
                quantity,
                expires_at,
            } => self.reserve(*reservation_id, *quantity, *expires_at),
            Command::Release { reservation_id } => self.release(*reservation_id),
            Command::Commit { reservation_id } => self.commit(*reservation_id),
            Command::Expire { reservation_id } => self.expire(*reservation_id, now),
            Command::Return { reservation_id } => self.return_sold(*reservation_id),
        }
    }

    fn restock(&self, quantity: Quantity) -> Result<Vec<Event>, Error> {
        // Bounding on_hand + sold bounds every counter, since reserved is
        // part of on_hand.
        let restocked_total = self
            .on_hand
            .checked_add(self.sold)
            .and_then(|units| units.checked_add(u64::from(quantity.get())))
            .ok_or(Error::StockOverflow)?;
        if restocked_total > INVENTORY_UNITS_MAX {
            return Err(Error::StockOverflow);
        }
        Ok(vec![Event::Restocked { quantity }])
    }

    fn reserve(
        &self,
        reservation_id: ReservationId,
        quantity: Quantity,
        expires_at: Timestamp,
    ) -> Result<Vec<Event>, Error> {
        if let Some(existing) = self.reservations.get(&reservation_id) {
            // A retry must never reserve twice, even after a release, so any
            // known id with the same quantity is already done.
            if existing.quantity == quantity {
                return Ok(vec![]);
            }
            return Err(Error::ReservationConflict);
        }
        let available = self.available();
        if available < u64::from(quantity.get()) {
            return Err(Error::OutOfStock {
                requested: quantity.get(),
                available,
            });
        }
        Ok(vec![Event::Reserved {
            reservation_id,
            quantity,
            expires_at,
        }])
    }

    fn release(&self, reservation_id: ReservationId) -> Result<Vec<Event>, Error> {
        let reservation = self.find(reservation_id)?;
        match reservation.status {
            ReservationStatus::Held => Ok(vec![Event::Released {
                reservation_id,
                quantity: reservation.quantity,
            }]),
            ReservationStatus::Released | ReservationStatus::Expired => Ok(vec![]),
            status @ (ReservationStatus::Committed | ReservationStatus::Returned) => {
                Err(Error::ReservationNotHeld { status })
            }
        }
    }

    fn commit(&self, reservation_id: ReservationId) -> Result<Vec<Event>, Error> {
        let reservation = self.find(reservation_id)?;
        match reservation.status {
            ReservationStatus::Held => Ok(vec![Event::Committed {
                reservation_id,
                quantity: reservation.quantity,
            }]),
            ReservationStatus::Committed => Ok(vec![]),
            status => Err(Error::ReservationNotHeld { status }),
        }
    }

    fn expire(&self, reservation_id: ReservationId, now: Timestamp) -> Result<Vec<Event>, Error> {
        let reservation = self.find(reservation_id)?;
        match reservation.status {
            ReservationStatus::Held if reservation.expires_at <= now => Ok(vec![Event::Expired {
                reservation_id,
                quantity: reservation.quantity,
            }]),
            ReservationStatus::Held => Err(Error::NotYetExpired),
            // The sweeper races with commits and releases; losing the race
            // is not an error, there is simply nothing left to expire.
            _ => Ok(vec![]),
        }
    }

    fn return_sold(&self, reservation_id: ReservationId) -> Result<Vec<Event>, Error> {
        let reservation = self.find(reservation_id)?;
        match reservation.status {
            ReservationStatus::Committed => Ok(vec![Event::Returned {
                reservation_id,
                quantity: reservation.quantity,
            }]),
            ReservationStatus::Returned => Ok(vec![]),
            status => Err(Error::ReservationNotCommitted { status }),
        }
    }

    fn find(&self, reservation_id: ReservationId) -> Result<&Reservation, Error> {
        self.reservations
            .get(&reservation_id)
            .ok_or(Error::ReservationNotFound)
    }

    /// Folds an event into the state. `handle` has already decided, so this
    /// only moves counters; saturating arithmetic keeps replay panic-free and
    /// the debug assertions catch any event `handle` could not have emitted.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::Restocked { quantity } => {
                self.on_hand = self.on_hand.saturating_add(units(*quantity));
            }
            Event::Reserved {
                reservation_id,
                quantity,
                expires_at,
            } => {
                let reservation = Reservation::restore(
                    *reservation_id,
                    *quantity,
                    ReservationStatus::Held,
                    *expires_at,
                );
                self.reservations.insert(*reservation_id, reservation);
                self.reserved = self.reserved.saturating_add(units(*quantity));
            }
            Event::Released {
                reservation_id,
                quantity,
            } => self.unhold(*reservation_id, *quantity, ReservationStatus::Released),
            Event::Expired {
                reservation_id,
                quantity,
            } => self.unhold(*reservation_id, *quantity, ReservationStatus::Expired),
            Event::Committed {
                reservation_id,
                quantity,
            } => self.apply_committed(*reservation_id, *quantity),
            Event::Returned {
                reservation_id,
                quantity,
            } => self.apply_returned(*reservation_id, *quantity),
        }
        self.version += 1;
        self.debug_assert_invariants();
    }

    /// Ends a hold without selling: the units stay on hand.
    fn unhold(&mut self, id: ReservationId, quantity: Quantity, status: ReservationStatus) {
        self.set_status(id, status);
        self.reserved = self.reserved.saturating_sub(units(quantity));
    }

    fn apply_committed(&mut self, id: ReservationId, quantity: Quantity) {
        self.set_status(id, ReservationStatus::Committed);
        self.reserved = self.reserved.saturating_sub(units(quantity));
        self.on_hand = self.on_hand.saturating_sub(units(quantity));
        self.sold = self.sold.saturating_add(units(quantity));
    }

    fn apply_returned(&mut self, id: ReservationId, quantity: Quantity) {
        self.set_status(id, ReservationStatus::Returned);
        self.sold = self.sold.saturating_sub(units(quantity));
        self.on_hand = self.on_hand.saturating_add(units(quantity));
    }

    fn set_status(&mut self, id: ReservationId, status: ReservationStatus) {
        let reservation = self.reservations.get_mut(&id);
        debug_assert!(reservation.is_some(), "event for an unknown reservation");
        if let Some(reservation) = reservation {
            reservation.status = status;
        }
    }

    fn debug_assert_invariants(&self) {
        debug_assert!(self.reserved <= self.on_hand, "reserved exceeds on hand");
        debug_assert_eq!(
            Some(self.reserved),
            self.sum_quantities(ReservationStatus::Held),
            "reserved differs from held reservations"
        );
        debug_assert_eq!(
            Some(self.sold),
            self.sum_quantities(ReservationStatus::Committed),
            "sold differs from committed reservations"
        );
    }

    fn check_invariants(&self) -> Result<(), CorruptState> {
        ensure(
            self.reserved <= self.on_hand,
            "inventory: reserved exceeds on hand",
        )?;
        ensure(
            Some(self.reserved) == self.sum_quantities(ReservationStatus::Held),
            "inventory: reserved differs from held reservations",
        )?;
        ensure(
            Some(self.sold) == self.sum_quantities(ReservationStatus::Committed),
            "inventory: sold differs from committed reservations",
        )?;
        let restocked_total = self.on_hand.checked_add(self.sold);
        ensure(
            restocked_total.is_some_and(|total| total <= INVENTORY_UNITS_MAX),
            "inventory: units exceed the stock limit",
        )
    }

    /// Sum of the quantities in `status`, or `None` on overflow.
    fn sum_quantities(&self, status: ReservationStatus) -> Option<u64> {
        self.reservations
            .values()
            .filter(|r| r.status == status)
            .try_fold(0u64, |sum, r| sum.checked_add(units(r.quantity)))
    }
}

fn units(quantity: Quantity) -> u64 {
    u64::from(quantity.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_unix_ms(1_000_000);
    const LATER: Timestamp = Timestamp::from_unix_ms(2_000_000);

    fn sku() -> SkuCode {
        SkuCode::parse("SKU-1").expect("valid sku")
    }

    fn q(v: u32) -> Quantity {
        Quantity::new(v).expect("valid quantity")
    }

    fn rid(v: u128) -> ReservationId {
        ReservationId::from_u128(v)
    }

    fn restocked(v: u32) -> Event {
        Event::Restocked { quantity: q(v) }
    }

    fn reserved(id: u128, v: u32) -> Event {
        Event::Reserved {
            reservation_id: rid(id),
            quantity: q(v),
            expires_at: LATER,
        }
    }

    fn released(id: u128, v: u32) -> Event {
        Event::Released {
            reservation_id: rid(id),
            quantity: q(v),
        }
    }

    fn committed(id: u128, v: u32) -> Event {
        Event::Committed {
            reservation_id: rid(id),
            quantity: q(v),
        }
    }

    fn expired(id: u128, v: u32) -> Event {
        Event::Expired {
            reservation_id: rid(id),
            quantity: q(v),
        }
    }

    fn returned(id: u128, v: u32) -> Event {
        Event::Returned {
            reservation_id: rid(id),
            quantity: q(v),
        }
    }

    fn reserve(id: u128, v: u32) -> Command {
        Command::Reserve {
            reservation_id: rid(id),
            quantity: q(v),
            expires_at: LATER,
        }
    }

    fn release(id: u128) -> Command {
        Command::Release {
            reservation_id: rid(id),
        }
    }

    fn commit(id: u128) -> Command {
        Command::Commit {
            reservation_id: rid(id),
        }
    }

    fn expire(id: u128) -> Command {
        Command::Expire {
            reservation_id: rid(id),
        }
    }

    fn return_(id: u128) -> Command {
        Command::Return {
            reservation_id: rid(id),
        }
    }

    /// Builds the state from history, the way an actor replays it.
    fn given(events: &[Event]) -> InventorySku {
        let mut inventory = InventorySku::new(sku());
        for event in events {
            inventory.apply(event);
        }
        inventory
    }

    /// Runs a command at `NOW` against the given history.
    fn when(events: &[Event], cmd: Command) -> Result<Vec<Event>, Error> {
        given(events).handle(&cmd, NOW)
    }

    fn then(result: Result<Vec<Event>, Error>, expected: Vec<Event>) {
        assert_eq!(result, Ok(expected));
    }

    fn then_error(result: Result<Vec<Event>, Error>, expected: Error) {
        assert_eq!(result, Err(expected));
    }

    #[test]
    fn new_sku_is_empty() {
        let inventory = given(&[]);
        assert_eq!(
            (inventory.on_hand(), inventory.reserved(), inventory.sold()),
            (0, 0, 0)
        );
        assert_eq!((inventory.available(), inventory.version()), (0, 0));
        assert_eq!(inventory.sku(), &sku());
    }

    #[test]
    fn restock_adds_units() {
        then(
            when(&[], Command::Restock { quantity: q(5) }),
            vec![restocked(5)],
        );
        let inventory = given(&[restocked(5), restocked(3)]);
        assert_eq!((inventory.on_hand(), inventory.available()), (8, 8));
        assert_eq!(inventory.version(), 2);
    }

    #[test]
    fn restock_beyond_the_unit_limit_is_rejected() {
        // On hand plus sold counts: returned units must fit back on hand.
        let mut snapshot = given(&[restocked(2), reserved(1, 1), committed(1, 1)]).snapshot();
        snapshot.on_hand = INVENTORY_UNITS_MAX - 3;
        let inventory = InventorySku::restore(snapshot).expect("within limits");
        then(
            inventory.handle(&Command::Restock { quantity: q(2) }, NOW),
            vec![restocked(2)],
        );
        then_error(
            inventory.handle(&Command::Restock { quantity: q(3) }, NOW),
            Error::StockOverflow,
        );
    }

    #[test]
    fn reserve_holds_available_units() {
        then(when(&[restocked(5)], reserve(1, 3)), vec![reserved(1, 3)]);
        let inventory = given(&[restocked(5), reserved(1, 3)]);
        assert_eq!((inventory.on_hand(), inventory.reserved()), (5, 3));
        assert_eq!(inventory.available(), 2);
        let reservation = inventory.reservation(&rid(1)).expect("held");
        assert_eq!(reservation.status(), ReservationStatus::Held);
        assert_eq!(
            (reservation.quantity(), reservation.expires_at()),
            (q(3), LATER)
        );
    }

    #[test]
    fn reserve_exactly_the_available_units() {
        then(
            when(&[restocked(5), reserved(1, 2)], reserve(2, 3)),
            vec![reserved(2, 3)],
        );
    }

    #[test]
    fn reserve_more_than_available_is_out_of_stock() {
        then_error(
            when(&[restocked(5), reserved(1, 3)], reserve(2, 3)),
            Error::OutOfStock {
                requested: 3,
                available: 2,
            },
        );
    }

    #[test]
    fn reserve_on_empty_stock_is_out_of_stock() {
        then_error(
            when(&[], reserve(1, 1)),
            Error::OutOfStock {
                requested: 1,
                available: 0,
            },
        );
    }

    #[test]
    fn reserve_retry_with_same_quantity_is_idempotent() {
        then(when(&[restocked(5), reserved(1, 3)], reserve(1, 3)), vec![]);
    }

    #[test]
    fn reserve_retry_after_release_does_not_reserve_again() {
        let history = [restocked(5), reserved(1, 3), released(1, 3)];
        then(when(&history, reserve(1, 3)), vec![]);
    }

    #[test]
    fn reserve_retry_with_other_quantity_conflicts() {
        then_error(
            when(&[restocked(5), reserved(1, 3)], reserve(1, 2)),
            Error::ReservationConflict,
        );
    }

    #[test]
    fn release_held_frees_units() {
        let history = [restocked(5), reserved(1, 3)];
        then(when(&history, release(1)), vec![released(1, 3)]);
        let inventory = given(&[restocked(5), reserved(1, 3), released(1, 3)]);
        assert_eq!((inventory.on_hand(), inventory.reserved()), (5, 0));
    }

    #[test]
    fn release_already_released_or_expired_is_idempotent() {
        then(
            when(&[restocked(5), reserved(1, 3), released(1, 3)], release(1)),
            vec![],
        );
        then(
            when(&[restocked(5), reserved(1, 3), expired(1, 3)], release(1)),
            vec![],
        );
    }

    #[test]
    fn release_committed_or_returned_is_rejected() {
        let committed_history = [restocked(5), reserved(1, 3), committed(1, 3)];
        then_error(
            when(&committed_history, release(1)),
            Error::ReservationNotHeld {
                status: ReservationStatus::Committed,
            },
        );
        let returned_history = [
            restocked(5),
            reserved(1, 3),
            committed(1, 3),
            returned(1, 3),
        ];
        then_error(
            when(&returned_history, release(1)),
            Error::ReservationNotHeld {
                status: ReservationStatus::Returned,
            },
        );
    }

    #[test]
    fn release_unknown_is_not_found() {
        then_error(
            when(&[restocked(5)], release(9)),
            Error::ReservationNotFound,
        );
    }

    #[test]
    fn commit_held_moves_units_to_sold() {
        then(
            when(&[restocked(5), reserved(1, 3)], commit(1)),
            vec![committed(1, 3)],
        );
        let inventory = given(&[restocked(5), reserved(1, 3), committed(1, 3)]);
        assert_eq!(
            (inventory.on_hand(), inventory.reserved(), inventory.sold()),
            (2, 0, 3)
        );
        assert_eq!(inventory.available(), 2);
    }

    #[test]
    fn commit_already_committed_is_idempotent() {
        then(
            when(&[restocked(5), reserved(1, 3), committed(1, 3)], commit(1)),
            vec![],
        );
    }

    #[test]
    fn commit_after_release_expiry_or_return_is_rejected() {
        let cases = [
            (released(1, 3), ReservationStatus::Released),
            (expired(1, 3), ReservationStatus::Expired),
        ];
        for (ending, status) in cases {
            then_error(
                when(&[restocked(5), reserved(1, 3), ending], commit(1)),
                Error::ReservationNotHeld { status },
            );
        }
        let history = [
            restocked(5),
            reserved(1, 3),
            committed(1, 3),
            returned(1, 3),
        ];
        then_error(
            when(&history, commit(1)),
            Error::ReservationNotHeld {
                status: ReservationStatus::Returned,
            },
        );
    }

    #[test]
    fn commit_unknown_is_not_found() {
        then_error(when(&[], commit(9)), Error::ReservationNotFound);
    }

    #[test]
    fn expire_overdue_hold_frees_units() {
        let inventory = given(&[restocked(5), reserved(1, 3)]);
        then(inventory.handle(&expire(1), LATER), vec![expired(1, 3)]);
        let after = given(&[restocked(5), reserved(1, 3), expired(1, 3)]);
        assert_eq!((after.on_hand(), after.reserved()), (5, 0));
        assert_eq!(
            after.reservation(&rid(1)).map(Reservation::status),
            Some(ReservationStatus::Expired)
        );
    }

    #[test]
    fn expire_before_deadline_is_rejected() {
        then_error(
            when(&[restocked(5), reserved(1, 3)], expire(1)),
            Error::NotYetExpired,
        );
    }

    #[test]
    fn expire_finished_reservation_does_nothing() {
        let endings = [released(1, 3), expired(1, 3), committed(1, 3)];
        for ending in endings {
            let inventory = given(&[restocked(5), reserved(1, 3), ending]);
            then(inventory.handle(&expire(1), LATER), vec![]);
        }
        let history = [
            restocked(5),
            reserved(1, 3),
            committed(1, 3),
            returned(1, 3),
        ];
        then(given(&history).handle(&expire(1), LATER), vec![]);
    }

    #[test]
    fn expire_unknown_is_not_found() {
        then_error(when(&[], expire(9)), Error::ReservationNotFound);
    }

    #[test]
    fn return_committed_puts_units_back() {
        let history = [restocked(5), reserved(1, 3), committed(1, 3)];
        then(when(&history, return_(1)), vec![returned(1, 3)]);
        let inventory = given(&[
            restocked(5),
            reserved(1, 3),
            committed(1, 3),
            returned(1, 3),
        ]);
        assert_eq!(
            (inventory.on_hand(), inventory.reserved(), inventory.sold()),
            (5, 0, 0)
        );
    }

    #[test]
    fn return_already_returned_is_idempotent() {
        let history = [
            restocked(5),
            reserved(1, 3),
            committed(1, 3),
            returned(1, 3),
        ];
        then(when(&history, return_(1)), vec![]);
    }

    #[test]
    fn return_of_unsold_reservation_is_rejected() {
        let cases = [
            (None, ReservationStatus::Held),
            (Some(released(1, 3)), ReservationStatus::Released),
            (Some(expired(1, 3)), ReservationStatus::Expired),
        ];
        for (ending, status) in cases {
            let mut history = vec![restocked(5), reserved(1, 3)];
            history.extend(ending);
            then_error(
                when(&history, return_(1)),
                Error::ReservationNotCommitted { status },
            );
        }
    }

    #[test]
    fn return_unknown_is_not_found() {
        then_error(when(&[], return_(9)), Error::ReservationNotFound);
    }

    #[test]
    fn held_expired_before_lists_only_overdue_holds() {
        let early = Event::Reserved {
            reservation_id: rid(1),
            quantity: q(1),
            expires_at: NOW,
        };
        let inventory = given(&[
            restocked(9),
            early,
            reserved(2, 1),
            reserved(3, 1),
            released(3, 1),
        ]);
        assert_eq!(inventory.held_expired_before(NOW), vec![rid(1)]);
        assert_eq!(inventory.held_expired_before(LATER), vec![rid(1), rid(2)]);
        assert_eq!(inventory.reservations().count(), 3);
    }

    #[test]
    fn snapshot_round_trips() {
        let inventory = given(&[
            restocked(10),
            reserved(1, 2),
            reserved(2, 3),
            committed(2, 3),
            reserved(3, 1),
            released(3, 1),
        ]);
        assert_eq!(InventorySku::restore(inventory.snapshot()), Ok(inventory));
    }

    fn corrupt(change: impl FnOnce(&mut InventorySnapshot)) -> Result<InventorySku, CorruptState> {
        let mut snapshot = given(&[
            restocked(10),
            reserved(1, 2),
            reserved(2, 3),
            committed(2, 3),
        ])
        .snapshot();
        change(&mut snapshot);
        InventorySku::restore(snapshot)
    }

    #[test]
    fn restore_rejects_broken_invariants() {
        assert!(corrupt(|s| s.reserved = s.on_hand + 1).is_err());
        assert!(corrupt(|s| s.reserved += 1).is_err());
        assert!(corrupt(|s| s.sold += 1).is_err());
        assert!(corrupt(|s| s.on_hand = u64::MAX).is_err());
        assert!(corrupt(|s| {
            let first = s.reservations[0];
            s.reservations.push(first);
        })
        .is_err());
        assert!(corrupt(|_| {}).is_ok());
    }

    #[test]
    fn status_strings_round_trip() {
        let all = [
            ReservationStatus::Held,
            ReservationStatus::Committed,
            ReservationStatus::Released,
            ReservationStatus::Expired,
            ReservationStatus::Returned,
        ];
        for status in all {
            assert_eq!(ReservationStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ReservationStatus::parse("HELD"), None);
    }
}
