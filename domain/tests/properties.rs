//! Property tests: random command sequences never break an aggregate's
//! invariants, and restoring a snapshot reproduces the state.

use domain::cart::{self, Cart};
use domain::inventory::{self, InventorySku, ReservationStatus};
use domain::limits::{CART_LINES_MAX, CART_LINE_QUANTITY_MAX};
use domain::order::{self, can_transition, FailureReason, Order, OrderLine, ShippingAddress};
use domain::{
    CartId, Currency, CustomerId, Money, OrderId, PaymentId, Quantity, ReservationId, ShipmentId,
    SkuCode, Timestamp,
};
use proptest::prelude::*;

fn quantity(v: u32) -> Quantity {
    Quantity::new(v).expect("strategy yields valid quantities")
}

fn sku(i: usize) -> SkuCode {
    SkuCode::parse(&format!("SKU-{i}")).expect("valid sku")
}

// ---------------------------------------------------------------- inventory

fn inventory_command() -> impl Strategy<Value = (inventory::Command, i64)> {
    let id = (0u128..6).prop_map(ReservationId::from_u128);
    let now = 0i64..100;
    let command = prop_oneof![
        (1u32..=20).prop_map(|q| inventory::Command::Restock {
            quantity: quantity(q)
        }),
        (id.clone(), 1u32..=10, 0i64..100).prop_map(|(reservation_id, q, at)| {
            inventory::Command::Reserve {
                reservation_id,
                quantity: quantity(q),
                expires_at: Timestamp::from_unix_ms(at),
            }
        }),
        id.clone()
            .prop_map(|reservation_id| inventory::Command::Release { reservation_id }),
        id.clone()
            .prop_map(|reservation_id| inventory::Command::Commit { reservation_id }),
        id.clone()
            .prop_map(|reservation_id| inventory::Command::Expire { reservation_id }),
        id.prop_map(|reservation_id| inventory::Command::Return { reservation_id }),
    ];
    (command, now)
}

fn sum_of(inventory: &InventorySku, status: ReservationStatus) -> u64 {
    inventory
        .reservations()
        .filter(|r| r.status() == status)
        .map(|r| u64::from(r.quantity().get()))
        .sum()
}

fn assert_inventory_invariants(inventory: &InventorySku, restocked_total: u64) {
    assert!(inventory.reserved() <= inventory.on_hand());
    assert_eq!(
        inventory.reserved(),
        sum_of(inventory, ReservationStatus::Held)
    );
    assert_eq!(
        inventory.sold(),
        sum_of(inventory, ReservationStatus::Committed)
    );
    assert_eq!(restocked_total, inventory.on_hand() + inventory.sold());
    assert!(inventory.reserved() + inventory.sold() <= restocked_total);
    assert_eq!(
        inventory.available(),
        inventory.on_hand() - inventory.reserved()
    );
}

proptest! {
    #[test]
    fn inventory_conserves_units(commands in prop::collection::vec(inventory_command(), 0..80)) {
        let mut inventory = InventorySku::new(sku(0));
        let mut restocked_total = 0u64;
        for (command, now) in &commands {
            let Ok(events) = inventory.handle(command, Timestamp::from_unix_ms(*now)) else {
                continue;
            };
            for event in &events {
                if let inventory::Event::Restocked { quantity } = event {
                    restocked_total += u64::from(quantity.get());
                }
                let version = inventory.version();
                inventory.apply(event);
                prop_assert_eq!(inventory.version(), version + 1);
            }
            assert_inventory_invariants(&inventory, restocked_total);
        }
        let restored = InventorySku::restore(inventory.snapshot());
        prop_assert_eq!(restored, Ok(inventory));
    }

    #[test]
    fn inventory_retried_commands_change_nothing(
        commands in prop::collection::vec(inventory_command(), 0..60)
    ) {
        // Every accepted command, handled again right after, must be a no-op
        // or a rejection: saga retries never move stock twice.
        let mut inventory = InventorySku::new(sku(0));
        for (command, now) in &commands {
            let now = Timestamp::from_unix_ms(*now);
            let Ok(events) = inventory.handle(command, now) else { continue };
            for event in &events {
                inventory.apply(event);
            }
            let restock = matches!(command, inventory::Command::Restock { .. });
            if !restock {
                let again = inventory.handle(command, now);
                prop_assert!(matches!(again, Ok(ref e) if e.is_empty()) || again.is_err());
            }
        }
    }
}

// --------------------------------------------------------------------- cart

fn money() -> impl Strategy<Value = Money> {
    let currency = prop_oneof![9 => Just(Currency::USD), 1 => Just(Currency::EUR)];
    let amount = prop_oneof![
        9 => 0i64..10_000,
        1 => (i64::MAX / 4)..=i64::MAX,
    ];
    (amount, currency).prop_map(|(a, c)| Money::new(a, c).expect("non-negative"))
}

fn cart_command() -> impl Strategy<Value = cart::Command> {
    let sku = (0usize..CART_LINES_MAX + 10).prop_map(sku);
    let order_id = (0u128..3).prop_map(OrderId::from_u128);
    prop_oneof![
        1 => prop::option::of((0u128..2).prop_map(CustomerId::from_u128))
            .prop_map(|customer| cart::Command::Create { customer }),
        12 => (sku.clone(), 1u32..=CART_LINE_QUANTITY_MAX, money()).prop_map(
            |(sku, q, unit_price)| cart::Command::AddItem {
                sku,
                quantity: quantity(q),
                unit_price,
            }
        ),
        3 => (sku.clone(), 0u32..=CART_LINE_QUANTITY_MAX + 10)
            .prop_map(|(sku, quantity)| cart::Command::SetQuantity { sku, quantity }),
        2 => sku.prop_map(|sku| cart::Command::RemoveItem { sku }),
        1 => order_id.clone().prop_map(|order_id| cart::Command::BeginCheckout { order_id }),
        1 => order_id.clone().prop_map(|order_id| cart::Command::CompleteCheckout { order_id }),
        1 => order_id.prop_map(|order_id| cart::Command::AbortCheckout { order_id }),
    ]
}

fn assert_cart_limits(cart: &Cart) {
    let lines = cart.lines();
    assert!(lines.len() <= CART_LINES_MAX);
    for line in lines {
        assert!(line.quantity().get() <= CART_LINE_QUANTITY_MAX);
        assert_eq!(lines.iter().filter(|l| l.sku() == line.sku()).count(), 1);
    }
    if let Some(first) = lines.first() {
        let currency = first.unit_price().currency();
        assert!(lines.iter().all(|l| l.unit_price().currency() == currency));
    }
    assert!(cart.total().is_ok());
}

proptest! {
    #[test]
    fn cart_stays_within_limits(
        commands in prop::collection::vec(cart_command(), 0..200)
    ) {
        let mut cart = Cart::new(CartId::from_u128(1));
        cart.apply(&cart::Event::Created { customer: None });
        for command in &commands {
            let frozen = cart.status() != cart::CartStatus::Open;
            let lines_before = cart.lines().to_vec();
            let Ok(events) = cart.handle(command) else { continue };
            for event in &events {
                cart.apply(event);
            }
            assert_cart_limits(&cart);
            if frozen && !matches!(command, cart::Command::AbortCheckout { .. }) {
                // Checkout freezes the lines until it is aborted.
                prop_assert_eq!(cart.lines(), lines_before.as_slice());
            }
        }
        let restored = Cart::restore(cart.snapshot());
        prop_assert_eq!(restored, Ok(cart));
    }
}

// -------------------------------------------------------------------- order

fn order_lines() -> Vec<OrderLine> {
    let price = Money::new(250, Currency::USD).expect("valid");
    vec![
        OrderLine::new(sku(1), quantity(2), price).expect("valid"),
        OrderLine::new(sku(2), quantity(1), price).expect("valid"),
    ]
}

const ORDER_TOTAL_MINOR: i64 = 750;

fn failure_reason() -> impl Strategy<Value = FailureReason> {
    prop::sample::select(FailureReason::ALL.to_vec())
}

fn order_command() -> impl Strategy<Value = order::Command> {
    let payment_id = (0u128..3).prop_map(PaymentId::from_u128);
    let amount = prop_oneof![4 => Just(ORDER_TOTAL_MINOR), 1 => 0i64..1_000]
        .prop_map(|a| Money::new(a, Currency::USD).expect("valid"));
    let shipment =
        (0u8..2).prop_map(|i| ShipmentId::parse(&format!("SHP-{i}")).expect("valid shipment id"));
    prop_oneof![
        Just(order::Command::MarkReserved),
        (payment_id.clone(), amount).prop_map(|(payment_id, amount)| {
            order::Command::RecordPaymentAuthorized { payment_id, amount }
        }),
        (payment_id, failure_reason()).prop_map(|(payment_id, reason)| {
            order::Command::RecordPaymentDeclined { payment_id, reason }
        }),
        Just(order::Command::Confirm),
        shipment.prop_map(|shipment_id| order::Command::RequestFulfillment { shipment_id }),
        Just(order::Command::MarkShipped),
        Just(order::Command::MarkDelivered),
        failure_reason().prop_map(|reason| order::Command::Fail { reason }),
        Just(order::Command::Cancel),
        Just(order::Command::RecordPaymentVoided),
    ]
}

fn placed_order() -> Order {
    let address = ShippingAddress::parse("Ada", "1 Main St", None, "Springfield", "12345", "US")
        .expect("valid address");
    let place = order::Command::Place {
        customer: None,
        cart_id: None,
        lines: order_lines(),
        shipping_address: address,
        placed_at: Timestamp::from_unix_ms(0),
    };
    let mut order = Order::new(OrderId::from_u128(1));
    for event in order.handle(&place).expect("a new order accepts Place") {
        order.apply(&event);
    }
    order
}

proptest! {
    #[test]
    fn order_moves_only_along_the_transition_table(
        commands in prop::collection::vec(order_command(), 0..60)
    ) {
        let mut order = placed_order();
        for command in &commands {
            let before = order.status();
            let Ok(events) = order.handle(command) else {
                continue;
            };
            prop_assert!(events.len() <= 1);
            for event in &events {
                order.apply(event);
            }
            let after = order.status();
            prop_assert!(
                before == after || can_transition(before, after),
                "{before} -> {after} via {command:?}"
            );
            let retried = order.handle(command);
            prop_assert!(matches!(retried, Ok(ref e) if e.is_empty()) || retried.is_err());
        }
        let restored = Order::restore(order.snapshot());
        prop_assert_eq!(restored, Ok(order));
    }

    #[test]
    fn confirmed_orders_hold_an_authorized_payment_of_the_total(
        commands in prop::collection::vec(order_command(), 0..60)
    ) {
        let mut order = placed_order();
        for command in &commands {
            let Ok(events) = order.handle(command) else { continue };
            for event in &events {
                order.apply(event);
            }
            if order.status() == order::OrderStatus::Confirmed {
                let payment = order.payment().copied();
                prop_assert_eq!(payment.map(|p| p.status()), Some(order::PaymentStatus::Authorized));
                prop_assert_eq!(payment.map(|p| p.amount()), order.total());
            }
        }
    }
}
