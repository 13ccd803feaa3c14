//! Cart lifecycle over HTTP.

use crate::helpers::TestApp;
use serde_json::json;

crate::both_stores! {
    a_cart_is_created_filled_changed_and_emptied => a_cart_is_created_filled_changed_and_emptied;
    adding_a_sku_twice_sums_the_quantity_at_the_first_price => adding_a_sku_twice_sums_the_quantity_at_the_first_price;
    unknown_carts_are_not_found => unknown_carts_are_not_found;
}

async fn a_cart_is_created_filled_changed_and_emptied(app: TestApp) {
    app.product_with_stock("TEA", 450, 0).await;
    app.product_with_stock("MUG", 1200, 0).await;
    let cart = app.new_cart().await;
    let fresh = app.get(&format!("/v1/carts/{cart}")).await;
    assert_eq!(fresh.status, 200);
    assert_eq!(fresh.body["status"], "open");
    assert_eq!(fresh.body["lines"], json!([]));

    let added = app
        .post(
            &format!("/v1/carts/{cart}/items"),
            json!({"sku": "TEA", "quantity": 2}),
        )
        .await;
    assert_eq!(added.status, 200, "{added:?}");
    let added = app
        .post(
            &format!("/v1/carts/{cart}/items"),
            json!({"sku": "MUG", "quantity": 1}),
        )
        .await;
    assert_eq!(
        added.body["total"],
        json!({"amount": 2100, "currency": "USD"})
    );

    let changed = app
        .put(
            &format!("/v1/carts/{cart}/items/TEA"),
            json!({"quantity": 3}),
        )
        .await;
    assert_eq!(changed.status, 200);
    assert_eq!(
        changed.body["total"],
        json!({"amount": 2550, "currency": "USD"})
    );

    let removed = app.delete(&format!("/v1/carts/{cart}/items/MUG")).await;
    assert_eq!(removed.status, 200);
    assert_eq!(removed.body["lines"].as_array().map(Vec::len), Some(1));

    let zero = app
        .put(
            &format!("/v1/carts/{cart}/items/TEA"),
            json!({"quantity": 0}),
        )
        .await;
    assert_eq!(zero.status, 200);
    assert_eq!(zero.body["lines"], json!([]));
    app.stop().await;
}

async fn adding_a_sku_twice_sums_the_quantity_at_the_first_price(app: TestApp) {
    app.product_with_stock("PEN", 100, 0).await;
    let cart = app.cart_with("PEN", 1).await;
    app.admin_put(
        "/v1/products/PEN",
        json!({"name": "Pen", "price": {"amount": 150, "currency": "USD"}}),
    )
    .await;
    let again = app
        .post(
            &format!("/v1/carts/{cart}/items"),
            json!({"sku": "PEN", "quantity": 2}),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["lines"][0]["quantity"], 3);
    assert_eq!(again.body["lines"][0]["unit_price"]["amount"], 100);
    app.stop().await;
}

async fn unknown_carts_are_not_found(app: TestApp) {
    let id = uuid::Uuid::new_v4();
    let missing = app.get(&format!("/v1/carts/{id}")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.code(), "cart_not_found");
    let add = app
        .post(
            &format!("/v1/carts/{id}/items"),
            json!({"sku": "X", "quantity": 1}),
        )
        .await;
    assert_eq!(add.status, 404);
    let garbage = app.get("/v1/carts/not-a-uuid").await;
    assert_eq!(garbage.status, 404);
    app.stop().await;
}
