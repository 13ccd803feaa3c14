use actors::ports::StoreError;
use domain::order::{Command, FailureReason, PaymentStatus};
use domain::{Order, OrderStatus, PaymentId, ShipmentId};
use serde_json::json;

use crate::contract_tests;
use crate::fixtures::{at, customer, decide, new_cart_id, new_order_id, place, usd, uuid};
use crate::harness::Harness;

contract_tests!(
    unknown_order_loads_empty,
    placed_order_with_lines_round_trips,
    order_through_payment_and_fulfillment_round_trips,
    retried_payment_replaces_the_declined_one,
    payment_row_follows_later_batches_in_a_group,
    order_events_write_typed_outbox_rows,
    second_placement_of_an_order_conflicts_and_writes_nothing,
);

async fn unknown_order_loads_empty(h: Harness) {
    let id = new_order_id();

    let loaded = h.store().load_order(id).await.unwrap();

    assert_eq!(loaded, Order::new(id));
}

async fn placed_order_with_lines_round_trips(h: Harness) {
    let mut order = Order::new(new_order_id());
    let change = decide(
        &mut order,
        place(Some(new_cart_id()), Some(customer())),
        at(0),
    );

    h.store().commit_order(vec![change]).await.unwrap();

    let loaded = h.store().load_order(order.id()).await.unwrap();
    assert_eq!(loaded, order);
    assert_eq!(loaded.lines().len(), 2);
}

async fn order_through_payment_and_fulfillment_round_trips(h: Harness) {
    let mut order = Order::new(new_order_id());
    h.store()
        .commit_order(vec![decide(&mut order, place(None, None), at(0))])
        .await
        .unwrap();
    let payment_id = PaymentId::from_u128(uuid());
    let shipment_id = ShipmentId::parse("SHIP-0001").unwrap();
    let changes = vec![
        decide(&mut order, Command::MarkReserved, at(1)),
        decide(
            &mut order,
            Command::RecordPaymentAuthorized {
                payment_id,
                amount: usd(2899),
            },
            at(2),
        ),
        decide(&mut order, Command::Confirm, at(3)),
        decide(
            &mut order,
            Command::RequestFulfillment { shipment_id },
            at(4),
        ),
    ];

    h.store().commit_order(changes).await.unwrap();

    let loaded = h.store().load_order(order.id()).await.unwrap();
    assert_eq!(loaded, order);
    assert_eq!(loaded.status(), OrderStatus::FulfillmentRequested);
    let payment = loaded.payment().expect("payment stored");
    assert_eq!(
        (payment.id(), payment.status()),
        (payment_id, PaymentStatus::Authorized)
    );
}

async fn retried_payment_replaces_the_declined_one(h: Harness) {
    let mut order = Order::new(new_order_id());
    let declined_id = PaymentId::from_u128(uuid());
    let authorized_id = PaymentId::from_u128(uuid());
    let reason = FailureReason::PaymentDeclined;
    let changes = vec![
        decide(&mut order, place(None, None), at(0)),
        decide(&mut order, Command::MarkReserved, at(1)),
        decide(
            &mut order,
            Command::RecordPaymentDeclined {
                payment_id: declined_id,
                reason,
            },
            at(2),
        ),
    ];
    h.store().commit_order(changes).await.unwrap();
    assert_eq!(h.store().load_order(order.id()).await.unwrap(), order);
    let retry = Command::RecordPaymentAuthorized {
        payment_id: authorized_id,
        amount: usd(2899),
    };

    h.store()
        .commit_order(vec![decide(&mut order, retry, at(3))])
        .await
        .unwrap();

    let loaded = h.store().load_order(order.id()).await.unwrap();
    assert_eq!(loaded, order);
    assert_eq!(loaded.payment().map(|p| p.id()), Some(authorized_id));
}

async fn order_events_write_typed_outbox_rows(h: Harness) {
    let mut order = Order::new(new_order_id());
    let cart_id = new_cart_id();
    let payment_id = PaymentId::from_u128(uuid());
    let changes = vec![
        decide(&mut order, place(Some(cart_id), None), at(0)),
        decide(&mut order, Command::MarkReserved, at(1)),
        decide(
            &mut order,
            Command::RecordPaymentAuthorized {
                payment_id,
                amount: usd(2899),
            },
            at(2),
        ),
    ];

    h.store().commit_order(changes).await.unwrap();

    let order_id = order.id().to_string();
    let rows = h.outbox_rows_for("order", &order_id).await;
    let types: Vec<&str> = rows.iter().map(|r| r.event_type.as_str()).collect();
    assert_eq!(
        types,
        vec!["order.placed", "order.reserved", "order.payment_authorized"]
    );
    let lines = order.lines();
    let placed = json!({
        "order_id": order_id,
        "customer_id": null,
        "cart_id": cart_id.to_string(),
        "lines": [
            {"sku": lines[0].sku().as_str(), "quantity": 2,
             "unit_price": {"amount": 1250, "currency": "USD"},
             "line_total": {"amount": 2500, "currency": "USD"}},
            {"sku": lines[1].sku().as_str(), "quantity": 1,
             "unit_price": {"amount": 399, "currency": "USD"},
             "line_total": {"amount": 399, "currency": "USD"}},
        ],
        "total": {"amount": 2899, "currency": "USD"},
        "shipping_address": {
            "name": "Ada Lovelace", "line1": "12 St James's Square", "line2": "Flat 2",
            "city": "London", "postal_code": "SW1Y 4JH", "country": "GB",
        },
        "placed_at_ms": at(0).unix_ms(),
    });
    assert_eq!(rows[0].payload, placed);
    assert_eq!(rows[1].payload, json!({"order_id": order_id}));
    let authorized = json!({
        "order_id": order_id,
        "payment_id": payment_id.to_string(),
        "amount": {"amount": 2899, "currency": "USD"},
    });
    assert_eq!(rows[2].payload, authorized);
}

async fn second_placement_of_an_order_conflicts_and_writes_nothing(h: Harness) {
    let id = new_order_id();
    let mut winner = Order::new(id);
    let mut loser = Order::new(id);
    h.store()
        .commit_order(vec![decide(&mut winner, place(None, None), at(0))])
        .await
        .unwrap();
    let outbox_before = h.outbox_count().await;

    let result = h
        .store()
        .commit_order(vec![decide(
            &mut loser,
            place(None, Some(customer())),
            at(1),
        )])
        .await;

    assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
    assert_eq!(h.outbox_count().await, outbox_before);
    assert_eq!(h.store().load_order(id).await.unwrap(), winner);
}

/// A payment written by one batch stays as it is through later batches that do not move it
/// (fulfillment), and moves with the batch that does (a void), in a group commit too.
async fn payment_row_follows_later_batches_in_a_group(h: Harness) {
    let mut orders: Vec<Order> = (0..2).map(|_| Order::new(new_order_id())).collect();
    for order in &mut orders {
        let changes = vec![
            decide(order, place(None, None), at(0)),
            decide(order, Command::MarkReserved, at(1)),
            decide(
                order,
                Command::RecordPaymentAuthorized {
                    payment_id: PaymentId::from_u128(uuid()),
                    amount: usd(2899),
                },
                at(2),
            ),
            decide(order, Command::Confirm, at(3)),
        ];
        h.store().commit_order(changes).await.unwrap();
    }
    let shipment_id = ShipmentId::parse("SHIP-0002").unwrap();
    let (first, second) = orders.split_at_mut(1);
    let group = vec![
        vec![decide(
            &mut first[0],
            Command::RequestFulfillment { shipment_id },
            at(4),
        )],
        vec![
            decide(&mut second[0], Command::Cancel, at(4)),
            decide(&mut second[0], Command::RecordPaymentVoided, at(5)),
        ],
    ];
    let results = h.store().commit_orders_many(group).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for order in &orders {
        assert_eq!(h.store().load_order(order.id()).await.unwrap(), *order);
    }
    let statuses: Vec<_> = orders
        .iter()
        .map(|o| o.payment().map(|p| p.status()))
        .collect();
    assert_eq!(
        statuses,
        [Some(PaymentStatus::Authorized), Some(PaymentStatus::Voided)]
    );
}
