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
    group_commit_of_many_carts_writes_each_as_decided,
    group_commit_of_cart_updates_fails_only_the_stale_one,
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

/// Carts in a group: new and existing ones, lines added, edited, removed and reordered, a
/// checkout begun; every cart loads back exactly as decided, with its lines in order, and the
/// outbox holds every event.
async fn group_commit_of_many_carts_writes_each_as_decided(h: Harness) {
    let (tee, mug) = (sku("TEE"), sku("MUG"));
    let mut carts: Vec<Cart> = (0..12).map(|_| Cart::new(new_cart_id())).collect();
    let created: Vec<_> = carts
        .iter_mut()
        .enumerate()
        .map(|(n, cart)| {
            let customer = (n % 2 == 0).then(customer);
            let mut batch = vec![shop(cart, Command::Create { customer }, at(0))];
            if n % 3 != 0 {
                batch.push(shop(cart, add(&tee, 1, 1999), at(1)));
                batch.push(shop(cart, add(&mug, 2, 1250), at(2)));
            }
            batch
        })
        .collect();
    let results = h.store().commit_carts_many(created).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let edits: Vec<_> = carts
        .iter_mut()
        .enumerate()
        .map(|(n, cart)| match n % 3 {
            0 => vec![shop(cart, add(&mug, 4, 1250), at(3))],
            1 => vec![
                shop(cart, Command::RemoveItem { sku: tee.clone() }, at(3)),
                shop(cart, add(&tee, 5, 1999), at(4)),
            ],
            _ => vec![shop(
                cart,
                Command::BeginCheckout {
                    order_id: new_order_id(),
                },
                at(3),
            )],
        })
        .collect();
    let results = h.store().commit_carts_many(edits).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let mut events = 0;
    for cart in &carts {
        assert_eq!(h.store().load_cart(cart.id()).await.unwrap(), *cart);
        events += cart.version();
    }
    assert_eq!(h.outbox_count().await, events);
    let reordered = &carts[1];
    let skus: Vec<&domain::SkuCode> = reordered.lines().iter().map(|l| l.sku()).collect();
    assert_eq!(skus, vec![&mug, &tee], "a re-added line goes last");
}

async fn group_commit_of_cart_updates_fails_only_the_stale_one(h: Harness) {
    let mut carts: Vec<Cart> = (0..3).map(|_| Cart::new(new_cart_id())).collect();
    for cart in &mut carts {
        let created = shop(cart, Command::Create { customer: None }, at(0));
        h.store().commit_cart(vec![created]).await.unwrap();
    }
    let updates: Vec<_> = carts
        .iter_mut()
        .map(|cart| vec![shop(cart, add(&sku("TEE"), 1, 1999), at(1))])
        .collect();
    // The middle cart moved on in the store meanwhile: its update is stale.
    h.store().commit_cart(updates[1].clone()).await.unwrap();
    let results = h.store().commit_carts_many(updates).await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(
        matches!(results[1], Err(StoreError::Conflict)),
        "{results:?}"
    );
    for cart in &carts {
        assert_eq!(h.store().load_cart(cart.id()).await.unwrap(), *cart);
    }
}
