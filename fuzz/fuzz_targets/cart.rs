//! `Cart`: any sequence of basket and checkout commands, decided with `handle` and folded with
//! `apply`.
//!
//! After every step: a cart that was never created accepts nothing but `Create`; it holds at
//! most `CART_LINES_MAX` lines, one per SKU, each within `CART_LINE_QUANTITY_MAX`, all in one
//! currency, and its total is computable (no overflow); lines are frozen once checkout starts; a
//! checked-out cart stays checked out into the same order; an owner, once set, never changes;
//! the version counts the events; the state survives a snapshot round trip; and retrying an
//! accepted command that is documented as idempotent changes nothing.
#![no_main]

use arbitrary::Arbitrary;
use commerce_fuzz::{MoneyIn, QuantityIn, SkuIn};
use domain::cart::{Command, Error};
use domain::limits::{CART_LINES_MAX, CART_LINE_QUANTITY_MAX};
use domain::{Cart, CartId, CartStatus, CustomerId, OrderId};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;

/// A customer from a pool of three.
#[derive(Arbitrary, Clone, Copy, Debug)]
struct CustomerIn(u8);

impl CustomerIn {
    fn id(self) -> CustomerId {
        CustomerId::from_u128(u128::from(self.0 % 3))
    }
}

/// An order from a pool of three.
#[derive(Arbitrary, Clone, Copy, Debug)]
struct OrderIn(u8);

impl OrderIn {
    fn id(self) -> OrderId {
        OrderId::from_u128(u128::from(self.0 % 3))
    }
}

/// The new quantity of a line: zero (remove) is a valid request here.
#[derive(Arbitrary, Clone, Copy, Debug)]
enum SetQuantityIn {
    Zero,
    Quantity(QuantityIn),
}

impl SetQuantityIn {
    fn raw(self) -> u32 {
        match self {
            SetQuantityIn::Zero => 0,
            SetQuantityIn::Quantity(quantity) => quantity.raw(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Create {
        customer: Option<CustomerIn>,
    },
    AddItem {
        sku: SkuIn,
        quantity: QuantityIn,
        unit_price: MoneyIn,
    },
    SetQuantity {
        sku: SkuIn,
        quantity: SetQuantityIn,
    },
    RemoveItem {
        sku: SkuIn,
    },
    BeginCheckout {
        order: OrderIn,
    },
    CompleteCheckout {
        order: OrderIn,
    },
    AbortCheckout {
        order: OrderIn,
    },
    Claim {
        customer: CustomerIn,
    },
}

impl Op {
    fn command(self) -> Command {
        match self {
            Op::Create { customer } => Command::Create {
                customer: customer.map(CustomerIn::id),
            },
            Op::AddItem {
                sku,
                quantity,
                unit_price,
            } => Command::AddItem {
                sku: sku.sku(),
                quantity: quantity.quantity(),
                unit_price: unit_price.money(),
            },
            Op::SetQuantity { sku, quantity } => Command::SetQuantity {
                sku: sku.sku(),
                quantity: quantity.raw(),
            },
            Op::RemoveItem { sku } => Command::RemoveItem { sku: sku.sku() },
            Op::BeginCheckout { order } => Command::BeginCheckout {
                order_id: order.id(),
            },
            Op::CompleteCheckout { order } => Command::CompleteCheckout {
                order_id: order.id(),
            },
            Op::AbortCheckout { order } => Command::AbortCheckout {
                order_id: order.id(),
            },
            Op::Claim { customer } => Command::Claim {
                customer: customer.id(),
            },
        }
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut cart = Cart::new(CartId::from_u128(7));
    let mut events_applied = 0u64;
    for op in ops {
        let command = op.command();
        let before = cart.clone();
        match cart.handle(&command) {
            Ok(events) => {
                for event in &events {
                    cart.apply(event);
                    events_applied += 1;
                }
                check_step(&before, &cart);
                check_invariants(&cart, events_applied);
                if !events.is_empty() && is_idempotent(&command) {
                    let retry = cart.handle(&command);
                    assert_eq!(
                        retry,
                        Ok(vec![]),
                        "a retried {command:?} must change nothing"
                    );
                }
            }
            Err(error) => {
                if !before.exists() {
                    assert_eq!(
                        error,
                        Error::NotFound,
                        "{command:?} on a cart never created"
                    );
                }
                assert_eq!(before, cart, "a rejected command changed the state");
            }
        }
    }
});

/// Commands whose second sending is a retry, not a new request. Adding an item adds again, and
/// removing (or setting to zero) a line that is gone is `LineNotFound`, by design.
fn is_idempotent(command: &Command) -> bool {
    match command {
        Command::Create { .. }
        | Command::BeginCheckout { .. }
        | Command::CompleteCheckout { .. }
        | Command::AbortCheckout { .. }
        | Command::Claim { .. } => true,
        Command::SetQuantity { quantity, .. } => *quantity != 0,
        Command::AddItem { .. } | Command::RemoveItem { .. } => false,
    }
}

/// What may change in one accepted step.
fn check_step(before: &Cart, after: &Cart) {
    if before.status() != CartStatus::Open {
        assert_eq!(
            before.lines(),
            after.lines(),
            "lines changed during checkout"
        );
    }
    if let CartStatus::CheckedOut { .. } = before.status() {
        assert_eq!(
            before.status(),
            after.status(),
            "a checked-out cart reopened"
        );
    }
    if let Some(owner) = before.customer() {
        assert_eq!(after.customer(), Some(owner), "a cart changed owner");
    }
    if let (CartStatus::CheckingOut { .. }, CartStatus::CheckingOut { .. }) =
        (before.status(), after.status())
    {
        assert_eq!(before.status(), after.status(), "checkout switched orders");
    }
}

fn check_invariants(cart: &Cart, events_applied: u64) {
    assert_eq!(cart.version(), events_applied);
    if !cart.exists() {
        assert!(cart.lines().is_empty());
        return;
    }
    let lines = cart.lines();
    assert!(lines.len() <= CART_LINES_MAX, "{} lines", lines.len());
    let skus: BTreeSet<_> = lines.iter().map(|line| line.sku()).collect();
    assert_eq!(skus.len(), lines.len(), "a SKU on two lines");
    for line in lines {
        assert!(line.quantity().get() <= CART_LINE_QUANTITY_MAX);
        assert_eq!(
            line.unit_price().currency(),
            lines[0].unit_price().currency()
        );
    }
    let total = cart.total();
    assert!(total.is_ok(), "total must be computable: {total:?}");
    assert_eq!(total.ok().flatten().is_none(), lines.is_empty());
    if let CartStatus::CheckingOut { .. } | CartStatus::CheckedOut { .. } = cart.status() {
        assert!(!lines.is_empty(), "an empty cart went to checkout");
    }
    let restored = Cart::restore(cart.snapshot());
    assert_eq!(restored.as_ref(), Ok(cart), "snapshot round trip");
}
