//! `Order`: any sequence of checkout-saga commands, decided with `handle` and folded with
//! `apply`.
//!
//! After every step: an order never placed accepts nothing but `Place`; every status change is
//! a move of `can_transition`'s table; a placed order holds 1 to `ORDER_LINES_MAX` lines whose
//! totals add up to its total, and its lines, total, address and customer never change; an
//! authorized payment is for exactly the total; a confirmed (or later) order that was not
//! cancelled has an authorized payment; a voided payment belongs to a cancelled or failed
//! order; a failed order has a reason and a fulfilled one a shipment; the version counts the
//! events; the state survives a snapshot round trip; and retrying any accepted command other
//! than `Place` changes nothing, as the saga's crash recovery relies on.
#![no_main]

use arbitrary::Arbitrary;
use commerce_fuzz::{MoneyIn, QuantityIn, SkuIn};
use domain::limits::ORDER_LINES_MAX;
use domain::order::{can_transition, Command, Error};
use domain::{
    CartId, CustomerId, FailureReason, Money, Order, OrderId, OrderLine, OrderStatus, PaymentId,
    PaymentStatus, ShipmentId, ShippingAddress, Timestamp,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct LineIn {
    sku: SkuIn,
    quantity: QuantityIn,
    unit_price: MoneyIn,
}

/// The amount a payment is recorded at: usually the order's total, as the saga sends.
#[derive(Arbitrary, Clone, Copy, Debug)]
enum PaymentAmountIn {
    Total,
    Other(MoneyIn),
}

#[derive(Arbitrary, Clone, Copy, Debug)]
enum ReasonIn {
    OutOfStock,
    PaymentDeclined,
    PaymentTimeout,
    Interrupted,
}

impl ReasonIn {
    fn reason(self) -> FailureReason {
        match self {
            ReasonIn::OutOfStock => FailureReason::OutOfStock,
            ReasonIn::PaymentDeclined => FailureReason::PaymentDeclined,
            ReasonIn::PaymentTimeout => FailureReason::PaymentTimeout,
            ReasonIn::Interrupted => FailureReason::Interrupted,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Place {
        customer: Option<u8>,
        cart: Option<u8>,
        lines: Vec<LineIn>,
        placed_at: i64,
    },
    MarkReserved,
    RecordPaymentAuthorized {
        payment: u8,
        amount: PaymentAmountIn,
    },
    RecordPaymentDeclined {
        payment: u8,
        reason: ReasonIn,
    },
    Confirm,
    RequestFulfillment {
        shipment: u8,
    },
    MarkShipped,
    MarkDelivered,
    Fail {
        reason: ReasonIn,
    },
    Cancel,
    RecordPaymentVoided,
}

impl Op {
    /// The domain command, or `None` when the input names lines that cannot exist (a line
    /// total that overflows is refused by `OrderLine::new` before any order sees it).
    fn command(self, order: &Order, address: &ShippingAddress) -> Option<Command> {
        let command = match self {
            Op::Place {
                customer,
                cart,
                lines,
                placed_at,
            } => Command::Place {
                customer: customer.map(|n| CustomerId::from_u128(u128::from(n % 3))),
                cart_id: cart.map(|n| CartId::from_u128(u128::from(n % 3))),
                lines: order_lines(lines)?,
                shipping_address: address.clone(),
                placed_at: Timestamp::from_unix_ms(placed_at),
            },
            Op::MarkReserved => Command::MarkReserved,
            Op::RecordPaymentAuthorized { payment, amount } => {
                let amount = match (amount, order.total()) {
                    (PaymentAmountIn::Total, Some(total)) => total,
                    (PaymentAmountIn::Total, None) => Money::zero(domain::Currency::USD),
                    (PaymentAmountIn::Other(money), _) => money.money(),
                };
                Command::RecordPaymentAuthorized {
                    payment_id: payment_id(payment),
                    amount,
                }
            }
            Op::RecordPaymentDeclined { payment, reason } => Command::RecordPaymentDeclined {
                payment_id: payment_id(payment),
                reason: reason.reason(),
            },
            Op::Confirm => Command::Confirm,
            Op::RequestFulfillment { shipment } => Command::RequestFulfillment {
                shipment_id: ShipmentId::parse(&format!("SHIP-{}", shipment % 3))
                    .expect("SHIP-<n> is a valid shipment id"),
            },
            Op::MarkShipped => Command::MarkShipped,
            Op::MarkDelivered => Command::MarkDelivered,
            Op::Fail { reason } => Command::Fail {
                reason: reason.reason(),
            },
            Op::Cancel => Command::Cancel,
            Op::RecordPaymentVoided => Command::RecordPaymentVoided,
        };
        Some(command)
    }
}

fn payment_id(n: u8) -> PaymentId {
    PaymentId::from_u128(u128::from(n % 3))
}

fn order_lines(lines: Vec<LineIn>) -> Option<Vec<OrderLine>> {
    lines
        .into_iter()
        .map(|line| {
            OrderLine::new(
                line.sku.sku(),
                line.quantity.quantity(),
                line.unit_price.money(),
            )
            .ok()
        })
        .collect()
}

fuzz_target!(|ops: Vec<Op>| {
    let address = ShippingAddress::parse("Ada", "1 Main St", None, "Berlin", "10115", "DE")
        .expect("a valid address");
    let mut order = Order::new(OrderId::from_u128(1));
    let mut events_applied = 0u64;
    for op in ops {
        let Some(command) = op.command(&order, &address) else {
            continue;
        };
        let before = order.clone();
        match order.handle(&command) {
            Ok(events) => {
                for event in &events {
                    order.apply(event);
                    events_applied += 1;
                }
                check_step(&before, &order);
                check_invariants(&order, events_applied);
                let is_place = matches!(command, Command::Place { .. });
                if !events.is_empty() && !is_place {
                    let retry = order.handle(&command);
                    assert_eq!(
                        retry,
                        Ok(vec![]),
                        "a retried {command:?} must change nothing"
                    );
                }
            }
            Err(error) => {
                if !before.exists() && !matches!(command, Command::Place { .. }) {
                    assert_eq!(
                        error,
                        Error::NotFound,
                        "{command:?} on an order never placed"
                    );
                }
                assert_eq!(before, order, "a rejected command changed the state");
            }
        }
    }
});

/// What may change in one accepted step.
fn check_step(before: &Order, after: &Order) {
    if !before.exists() {
        return;
    }
    if before.status() != after.status() {
        assert!(
            can_transition(before.status(), after.status()),
            "{} -> {} is not in the transition table",
            before.status(),
            after.status()
        );
    }
    assert_eq!(
        before.lines(),
        after.lines(),
        "lines changed after placement"
    );
    assert_eq!(
        before.total(),
        after.total(),
        "total changed after placement"
    );
    assert_eq!(before.customer(), after.customer());
    assert_eq!(before.cart_id(), after.cart_id());
    assert_eq!(before.shipping_address(), after.shipping_address());
    assert_eq!(before.placed_at(), after.placed_at());
    if before.failure_reason().is_some() {
        assert_eq!(
            before.failure_reason(),
            after.failure_reason(),
            "the first reason wins"
        );
    }
}

fn check_invariants(order: &Order, events_applied: u64) {
    assert_eq!(order.version(), events_applied);
    if !order.exists() {
        return;
    }
    let lines = order.lines();
    assert!(!lines.is_empty(), "a placed order without lines");
    assert!(lines.len() <= ORDER_LINES_MAX, "{} lines", lines.len());
    let mut sum: Option<Money> = None;
    for line in lines {
        assert_eq!(
            line.unit_price().checked_mul(line.quantity().get()),
            Ok(line.line_total())
        );
        sum = Some(match sum {
            Some(sum) => sum
                .checked_add(line.line_total())
                .expect("the total was computable"),
            None => line.line_total(),
        });
    }
    assert_eq!(sum, order.total(), "total differs from the lines");
    check_payment_and_status(order);
    let restored = Order::restore(order.snapshot());
    assert_eq!(restored.as_ref(), Ok(order), "snapshot round trip");
}

fn check_payment_and_status(order: &Order) {
    let payment = order.payment();
    if let Some(payment) = payment {
        assert_eq!(
            Some(payment.amount()),
            order.total(),
            "payment differs from total"
        );
        if payment.status() == PaymentStatus::Voided {
            assert!(matches!(
                order.status(),
                OrderStatus::Cancelled | OrderStatus::Failed
            ));
        }
    }
    let status = order.status();
    let paid = matches!(
        status,
        OrderStatus::Confirmed
            | OrderStatus::FulfillmentRequested
            | OrderStatus::Shipped
            | OrderStatus::Delivered
    );
    if paid {
        let authorized = payment.map(|p| p.status());
        assert_eq!(
            authorized,
            Some(PaymentStatus::Authorized),
            "{status} without payment"
        );
    }
    let fulfilled = matches!(
        status,
        OrderStatus::FulfillmentRequested | OrderStatus::Shipped | OrderStatus::Delivered
    );
    assert!(
        !fulfilled || order.shipment_id().is_some(),
        "{status} without a shipment"
    );
    if status == OrderStatus::Failed {
        assert!(order.failure_reason().is_some(), "failed without a reason");
    }
}
