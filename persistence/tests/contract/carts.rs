use actors::ports::StoreError;
use domain::cart::Command;
use domain::{Cart, CartStatus};
use serde_json::json;

use crate::contract_tests;
use crate::fixtures::{at, customer, new_cart_id, new_order_id, qty, shop, sku, usd};
use crate::harness::Harness;

contract_tests!(
    unknown_cart_loads_empty,
    cart_with_lines_round_trips_in_line_order,
    cart_checkout_status_round_trips,
    cart_events_write_typed_outbox_rows,
    second_creator_of_a_cart_conflicts_and_writes_nothing,
);

async fn unknown_cart_loads_empty(h: Harness) {
    let id = new_cart_id();

    let loaded = h.store().load_cart(id).await.unwrap();

    assert_eq!(loaded, Cart::new(id));
}

fn add(sku: &domain::SkuCode, n: u32, price_minor: i64) -> Command {
    Command::AddItem {
        sku: sku.clone(),
        quantity: qty(n),
        unit_price: usd(price_minor),
    }
}

async fn cart_with_lines_round_trips_in_line_order(h: Harness) {
    let mut cart = Cart::new(new_cart_id());
    let (tee, mug, cap) = (sku("TEE"), sku("MUG"), sku("CAP"));
    let changes = vec![
        shop(
            &mut cart,
            Command::Create {
                customer: Some(customer()),
            },
            at(0),
        ),
        shop(&mut cart, add(&tee, 1, 1999), at(1)),
        shop(&mut cart, add(&mug, 2, 1250), at(2)),
        shop(&mut cart, add(&cap, 1, 800), at(3)),
    ];
    h.store().commit_cart(changes).await.unwrap();
    let edits = vec![
        shop(
            &mut cart,
            Command::SetQuantity {
                sku: tee.clone(),
                quantity: 3,
            },
            at(4),
        ),
        shop(&mut cart, Command::RemoveItem { sku: mug.clone() }, at(5)),
        shop(&mut cart, add(&mug, 1, 1250), at(6)),
    ];

    h.store().commit_cart(edits).await.unwrap();

    let loaded = h.store().load_cart(cart.id()).await.unwrap();
    assert_eq!(loaded, cart);
    let skus: Vec<&domain::SkuCode> = loaded.lines().iter().map(|l| l.sku()).collect();
    assert_eq!(skus, vec![&tee, &cap, &mug]);
}

async fn cart_checkout_status_round_trips(h: Harness) {
    let mut cart = Cart::new(new_cart_id());
    let order_id = new_order_id();
    let changes = vec![
        shop(&mut cart, Command::Create { customer: None }, at(0)),
        shop(&mut cart, add(&sku("TEE"), 1, 1999), at(1)),
        shop(&mut cart, Command::BeginCheckout { order_id }, at(2)),
    ];
    h.store().commit_cart(changes).await.unwrap();
    assert_eq!(h.store().load_cart(cart.id()).await.unwrap(), cart);

    h.store()
        .commit_cart(vec![shop(
            &mut cart,
            Command::CompleteCheckout { order_id },
            at(3),
        )])
        .await
        .unwrap();

    let loaded = h.store().load_cart(cart.id()).await.unwrap();
    assert_eq!(loaded.status(), CartStatus::CheckedOut { order_id });
    assert_eq!(loaded, cart);
}

async fn cart_events_write_typed_outbox_rows(h: Harness) {
    let mut cart = Cart::new(new_cart_id());
    let tee = sku("TEE");
    let order_id = new_order_id();
    let changes = vec![
        shop(&mut cart, Command::Create { customer: None }, at(0)),
        shop(&mut cart, add(&tee, 2, 1999), at(1)),
        shop(&mut cart, Command::BeginCheckout { order_id }, at(2)),
    ];

    h.store().commit_cart(changes).await.unwrap();

    let cart_id = cart.id().to_string();
    let rows = h.outbox_rows_for("cart", &cart_id).await;
    let types: Vec<&str> = rows.iter().map(|r| r.event_type.as_str()).collect();
    assert_eq!(
        types,
        vec!["cart.created", "cart.item_added", "cart.checkout_started"]
    );
    assert_eq!(
        rows[0].payload,
        json!({"cart_id": cart_id, "customer_id": null})
    );
    let added = json!({
        "cart_id": cart_id,
        "sku": tee.as_str(),
        "quantity": 2,
        "unit_price": {"amount": 1999, "currency": "USD"},
    });
    assert_eq!(rows[1].payload, added);
    assert_eq!(
        rows[2].payload,
        json!({"cart_id": cart_id, "order_id": order_id.to_string()})
    );
}

async fn second_creator_of_a_cart_conflicts_and_writes_nothing(h: Harness) {
    let id = new_cart_id();
    let mut winner = Cart::new(id);
    let mut loser = Cart::new(id);
    let first = vec![
        shop(&mut winner, Command::Create { customer: None }, at(0)),
        shop(&mut winner, add(&sku("TEE"), 1, 1999), at(1)),
    ];
    h.store().commit_cart(first).await.unwrap();
    let outbox_before = h.outbox_count().await;

    let result = h
        .store()
        .commit_cart(vec![shop(
            &mut loser,
            Command::Create { customer: None },
            at(2),
        )])
        .await;

    assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
    assert_eq!(h.outbox_count().await, outbox_before);
    assert_eq!(h.store().load_cart(id).await.unwrap(), winner);
}
