use actors::ports::StoreError;
use domain::Product;
use serde_json::json;

use crate::contract_tests;
use crate::fixtures::{at, define, sku};
use crate::harness::Harness;

contract_tests!(
    unknown_product_loads_empty,
    committed_product_round_trips,
    product_change_writes_its_outbox_row,
    second_creator_of_a_product_conflicts_and_writes_nothing,
    stale_product_update_conflicts_and_writes_nothing,
);

async fn unknown_product_loads_empty(h: Harness) {
    let sku = sku("NONE");

    let loaded = h.store().load_product(&sku).await.unwrap();

    assert_eq!(loaded, Product::new(sku));
    assert!(!loaded.exists());
}

async fn committed_product_round_trips(h: Harness) {
    let mut product = Product::new(sku("MUG"));
    let first = define(&mut product, "Mug", 1250, at(0));
    h.store().commit_product(vec![first]).await.unwrap();
    let second = define(&mut product, "Big mug", 1500, at(10));

    h.store().commit_product(vec![second]).await.unwrap();

    let loaded = h.store().load_product(product.sku()).await.unwrap();
    assert_eq!(loaded, product);
    assert_eq!(loaded.version(), 2);
}

async fn product_change_writes_its_outbox_row(h: Harness) {
    let mut product = Product::new(sku("MUG"));
    let change = define(&mut product, "Mug", 1250, at(0));
    let event_id = change.events[0].event_id;

    h.store().commit_product(vec![change]).await.unwrap();

    let rows = h.outbox_rows_for("product", product.sku().as_str()).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].event_id, event_id);
    assert_eq!(rows[0].sequence, 1);
    assert_eq!(rows[0].event_type, "product.defined");
    let expected = json!({
        "sku": product.sku().as_str(),
        "name": "Mug",
        "price": {"amount": 1250, "currency": "USD"},
        "active": true,
    });
    assert_eq!(rows[0].payload, expected);
}

async fn second_creator_of_a_product_conflicts_and_writes_nothing(h: Harness) {
    let sku = sku("MUG");
    let mut winner = Product::new(sku.clone());
    let mut loser = Product::new(sku.clone());
    h.store()
        .commit_product(vec![define(&mut winner, "Mug", 1250, at(0))])
        .await
        .unwrap();
    let outbox_before = h.outbox_count().await;

    let result = h
        .store()
        .commit_product(vec![define(&mut loser, "Cup", 999, at(5))])
        .await;

    assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
    assert_eq!(h.outbox_count().await, outbox_before);
    assert_eq!(h.store().load_product(&sku).await.unwrap(), winner);
}

async fn stale_product_update_conflicts_and_writes_nothing(h: Harness) {
    let mut product = Product::new(sku("MUG"));
    h.store()
        .commit_product(vec![define(&mut product, "Mug", 1250, at(0))])
        .await
        .unwrap();
    let mut stale = product.clone();
    h.store()
        .commit_product(vec![define(&mut product, "Mug v2", 1300, at(1))])
        .await
        .unwrap();
    let outbox_before = h.outbox_count().await;

    let result = h
        .store()
        .commit_product(vec![define(&mut stale, "Mug v2b", 1400, at(2))])
        .await;

    assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
    assert_eq!(h.outbox_count().await, outbox_before);
    assert_eq!(
        h.store().load_product(product.sku()).await.unwrap(),
        product
    );
}
