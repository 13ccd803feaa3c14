//! `InventorySku`: any sequence of stock commands, decided with `handle` and folded with `apply`.
//!
//! After every step: reserved never exceeds on hand (so available is never negative), reserved
//! and sold equal the held and committed reservations, units are conserved (on hand plus sold is
//! exactly what was restocked, so nothing is sold that was not received), nothing passes
//! `INVENTORY_UNITS_MAX`, a reservation id is reserved at most once, the version counts the
//! events, the state survives a snapshot round trip, and retrying an accepted command (other
//! than a restock, which adds again by design) changes nothing.
#![no_main]

use arbitrary::Arbitrary;
use commerce_fuzz::{Clock, QuantityIn};
use domain::inventory::{Command, Error, Event};
use domain::limits::INVENTORY_UNITS_MAX;
use domain::{InventorySku, ReservationId, ReservationStatus, SkuCode};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;

/// Reservation ids come from a pool of eight, so commands meet the reservations they name.
#[derive(Arbitrary, Clone, Copy, Debug)]
struct ReservationIn(u8);

impl ReservationIn {
    fn id(self) -> ReservationId {
        ReservationId::from_u128(u128::from(self.0 % 8))
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Restock {
        quantity: QuantityIn,
    },
    Reserve {
        reservation: ReservationIn,
        quantity: QuantityIn,
        ttl_ms: u16,
    },
    Release {
        reservation: ReservationIn,
    },
    Commit {
        reservation: ReservationIn,
    },
    Expire {
        reservation: ReservationIn,
    },
    Return {
        reservation: ReservationIn,
    },
    /// Lets time pass, so reservations fall due.
    Wait {
        ms: u16,
    },
    /// Expires everything the sweeper would find, as the background sweep does.
    Sweep,
}

/// What the test knows independently of the aggregate.
#[derive(Default)]
struct Model {
    restocked_units: u64,
    events: u64,
    reserved_ids: BTreeSet<ReservationId>,
}

fuzz_target!(|ops: Vec<Op>| {
    let sku = SkuCode::parse("FUZZ-1").expect("a valid SKU code");
    let mut stock = InventorySku::new(sku);
    let mut model = Model::default();
    let mut clock = Clock::default();
    for op in ops {
        let command = match op {
            Op::Restock { quantity } => Command::Restock {
                quantity: quantity.quantity(),
            },
            Op::Reserve {
                reservation,
                quantity,
                ttl_ms,
            } => Command::Reserve {
                reservation_id: reservation.id(),
                quantity: quantity.quantity(),
                expires_at: clock.now().plus_ms(i64::from(ttl_ms)),
            },
            Op::Release { reservation } => Command::Release {
                reservation_id: reservation.id(),
            },
            Op::Commit { reservation } => Command::Commit {
                reservation_id: reservation.id(),
            },
            Op::Expire { reservation } => Command::Expire {
                reservation_id: reservation.id(),
            },
            Op::Return { reservation } => Command::Return {
                reservation_id: reservation.id(),
            },
            Op::Wait { ms } => {
                clock.advance(ms);
                continue;
            }
            Op::Sweep => {
                sweep(&mut stock, &mut model, clock);
                continue;
            }
        };
        step(&mut stock, &mut model, clock, &command);
    }
});

/// Decides one command, checks the decision against the state it was made on, applies it and
/// checks the state it leaves.
fn step(stock: &mut InventorySku, model: &mut Model, clock: Clock, command: &Command) {
    let before = stock.clone();
    match stock.handle(command, clock.now()) {
        Ok(events) => {
            check_decision(&before, command, &events);
            for event in &events {
                if let Event::Reserved { reservation_id, .. } = event {
                    assert!(
                        model.reserved_ids.insert(*reservation_id),
                        "reservation {reservation_id} reserved twice"
                    );
                }
                if let Event::Restocked { quantity } = event {
                    model.restocked_units += u64::from(quantity.get());
                }
                stock.apply(event);
                model.events += 1;
            }
            check_invariants(stock, model);
            let is_restock = matches!(command, Command::Restock { .. });
            if !events.is_empty() && !is_restock {
                let retry = stock.handle(command, clock.now());
                assert_eq!(
                    retry,
                    Ok(vec![]),
                    "a retried {command:?} must change nothing"
                );
            }
        }
        Err(error) => {
            check_rejection(&before, command, error);
            assert_eq!(&before, stock, "a rejected command changed the state");
        }
    }
}

/// An accepted reservation fits in what was available; a restock stays within the limit.
fn check_decision(before: &InventorySku, command: &Command, events: &[Event]) {
    assert!(events.len() <= 1, "one stock command, at most one event");
    match (command, events.first()) {
        (Command::Reserve { quantity, .. }, Some(_)) => {
            assert!(u64::from(quantity.get()) <= before.available());
        }
        (Command::Restock { quantity }, Some(_)) => {
            let total = before.on_hand() + before.sold() + u64::from(quantity.get());
            assert!(total <= INVENTORY_UNITS_MAX);
        }
        _ => {}
    }
}

/// A rejection says why truthfully: "out of stock" only when the units are really missing.
fn check_rejection(before: &InventorySku, command: &Command, error: Error) {
    if let (
        Command::Reserve { quantity, .. },
        Error::OutOfStock {
            requested,
            available,
        },
    ) = (command, error)
    {
        assert_eq!(requested, quantity.get());
        assert_eq!(available, before.available());
        assert!(u64::from(requested) > available);
    }
}

fn sweep(stock: &mut InventorySku, model: &mut Model, clock: Clock) {
    for reservation_id in stock.held_expired_before(clock.now()) {
        let command = Command::Expire { reservation_id };
        let events = stock.handle(&command, clock.now());
        assert!(
            matches!(events.as_deref(), Ok([Event::Expired { .. }])),
            "a held reservation past its deadline must expire, got {events:?}"
        );
        step(stock, model, clock, &command);
    }
}

fn check_invariants(stock: &InventorySku, model: &Model) {
    assert!(
        stock.reserved() <= stock.on_hand(),
        "reserved exceeds on hand"
    );
    assert_eq!(stock.available(), stock.on_hand() - stock.reserved());
    assert_eq!(stock.reserved(), units_in(stock, ReservationStatus::Held));
    assert_eq!(stock.sold(), units_in(stock, ReservationStatus::Committed));
    assert_eq!(
        stock.on_hand() + stock.sold(),
        model.restocked_units,
        "units are neither created nor lost"
    );
    assert!(
        stock.sold() <= model.restocked_units,
        "sold more than was received"
    );
    assert!(model.restocked_units <= INVENTORY_UNITS_MAX);
    assert_eq!(stock.version(), model.events);
    let restored = InventorySku::restore(stock.snapshot());
    assert_eq!(restored.as_ref(), Ok(stock), "snapshot round trip");
}

fn units_in(stock: &InventorySku, status: ReservationStatus) -> u64 {
    stock
        .reservations()
        .filter(|r| r.status() == status)
        .map(|r| u64::from(r.quantity().get()))
        .sum()
}
