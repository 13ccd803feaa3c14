//! The checkout saga over HTTP: success, every failure and its compensation, idempotency, cancel.

use crate::helpers::{checkout_body, TestApp};
use serde_json::json;

crate::both_stores! {
    a_checkout_reserves_pays_confirms_and_requests_shipment => a_checkout_reserves_pays_confirms_and_requests_shipment;
    a_short_sku_fails_the_whole_checkout_and_releases_the_others => a_short_sku_fails_the_whole_checkout_and_releases_the_others;
    a_declined_payment_releases_the_stock_and_fails_the_order => a_declined_payment_releases_the_stock_and_fails_the_order;
    a_payment_timeout_is_a_failure_that_releases_the_stock => a_payment_timeout_is_a_failure_that_releases_the_stock;
    a_retried_checkout_replays_the_first_answer_and_creates_nothing => a_retried_checkout_replays_the_first_answer_and_creates_nothing;
    a_reused_key_with_another_body_is_unprocessable => a_reused_key_with_another_body_is_unprocessable;
    cancelling_before_shipment_returns_stock_and_voids_payment => cancelling_before_shipment_returns_stock_and_voids_payment;
    buy_now_places_an_order_through_the_same_saga => buy_now_places_an_order_through_the_same_saga;
    a_checked_out_cart_cannot_change => a_checked_out_cart_cannot_change;
}

async fn a_checkout_reserves_pays_confirms_and_requests_shipment(app: TestApp) {
    app.product_with_stock("BOOK", 2500, 10).await;
    let cart = app.cart_with("BOOK", 2).await;
    let placed = app.checkout(&cart, "key-1", "tok_visa").await;
    assert_eq!(placed.status, 201, "{placed:?}");
    let order = &placed.body;
    assert_eq!(order["status"], "fulfillment_requested");
    assert_eq!(order["total"], json!({"amount": 5000, "currency": "USD"}));
    assert_eq!(order["lines"][0]["sku"], "BOOK");
    assert_eq!(order["payment"]["status"], "authorized");
    let id = order["id"].as_str().expect("order id");
    let fetched = app.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body["status"], "fulfillment_requested");
    let stock = app.inventory("BOOK").await;
    assert_eq!(
        (
            stock["on_hand"].as_u64(),
            stock["reserved"].as_u64(),
            stock["sold"].as_u64()
        ),
        (Some(8), Some(0), Some(2))
    );
    let cart_after = app.get(&format!("/v1/carts/{cart}")).await;
    assert_eq!(cart_after.body["status"], "checked_out");
    app.stop().await;
}

async fn a_short_sku_fails_the_whole_checkout_and_releases_the_others(app: TestApp) {
    app.product_with_stock("PLENTY", 100, 10).await;
    app.product_with_stock("SCARCE", 100, 1).await;
    let cart = app.cart_with("PLENTY", 3).await;
    app.post(
        &format!("/v1/carts/{cart}/items"),
        json!({"sku": "SCARCE", "quantity": 2}),
    )
    .await;
    let failed = app.checkout(&cart, "key-short", "tok_visa").await;
    assert_eq!(failed.status, 409, "{failed:?}");
    assert_eq!(failed.code(), "out_of_stock");
    assert!(failed.content_type.starts_with("application/problem+json"));
    let order_id = failed.body["order_id"]
        .as_str()
        .expect("the failed order is named")
        .to_string();
    let order = app.get(&format!("/v1/orders/{order_id}")).await;
    assert_eq!(order.body["status"], "failed");
    assert_eq!(order.body["failure_reason"], "out_of_stock");
    for sku in ["PLENTY", "SCARCE"] {
        let stock = app.inventory(sku).await;
        assert_eq!(stock["reserved"], 0, "{sku} released");
        assert_eq!(stock["sold"], 0, "{sku} not sold");
    }
    assert_eq!(app.inventory("PLENTY").await["available"], 10);
    let cart_after = app.get(&format!("/v1/carts/{cart}")).await;
    assert_eq!(
        cart_after.body["status"], "open",
        "the shopper can fix the cart and retry"
    );
    app.stop().await;
}

async fn a_declined_payment_releases_the_stock_and_fails_the_order(app: TestApp) {
    app.product_with_stock("LAMP", 3000, 5).await;
    let cart = app.cart_with("LAMP", 1).await;
    let declined = app.checkout(&cart, "key-decline", "tok_decline").await;
    assert_eq!(declined.status, 402, "{declined:?}");
    assert_eq!(declined.code(), "payment_declined");
    let order_id = declined.body["order_id"].as_str().expect("order id");
    let order = app.get(&format!("/v1/orders/{order_id}")).await;
    assert_eq!(order.body["status"], "failed");
    assert_eq!(order.body["failure_reason"], "payment_declined");
    let stock = app.inventory("LAMP").await;
    assert_eq!(
        (stock["available"].as_u64(), stock["reserved"].as_u64()),
        (Some(5), Some(0))
    );
    app.stop().await;
}

async fn a_payment_timeout_is_a_failure_that_releases_the_stock(app: TestApp) {
    app.product_with_stock("CLOCK", 900, 2).await;
    let cart = app.cart_with("CLOCK", 2).await;
    let timed_out = app.checkout(&cart, "key-timeout", "tok_timeout").await;
    assert_eq!(timed_out.status, 402, "{timed_out:?}");
    assert_eq!(timed_out.code(), "payment_timeout");
    let stock = app.inventory("CLOCK").await;
    assert_eq!(
        (stock["available"].as_u64(), stock["reserved"].as_u64()),
        (Some(2), Some(0))
    );
    app.stop().await;
}

async fn a_retried_checkout_replays_the_first_answer_and_creates_nothing(app: TestApp) {
    app.product_with_stock("SOCK", 300, 10).await;
    let cart = app.cart_with("SOCK", 1).await;
    let first = app.checkout(&cart, "key-retry", "tok_visa").await;
    assert_eq!(first.status, 201, "{first:?}");
    let second = app.checkout(&cart, "key-retry", "tok_visa").await;
    assert_eq!(second.status, 201);
    assert_eq!(second.body, first.body, "the first response, replayed");
    assert_eq!(
        app.inventory("SOCK").await["sold"],
        1,
        "nothing was sold twice"
    );
    app.stop().await;
}

async fn a_reused_key_with_another_body_is_unprocessable(app: TestApp) {
    app.product_with_stock("HAT", 300, 10).await;
    let cart = app.cart_with("HAT", 1).await;
    let first = app.checkout(&cart, "key-reuse", "tok_visa").await;
    assert_eq!(first.status, 201);
    let mut other = checkout_body("tok_visa");
    other["shipping_address"]["city"] = json!("Paris");
    let reused = app
        .send(
            app.client
                .post(app.url(&format!("/v1/carts/{cart}/checkout")))
                .header("Idempotency-Key", "key-reuse")
                .json(&other),
        )
        .await;
    assert_eq!(reused.status, 422, "{reused:?}");
    assert_eq!(reused.code(), "idempotency_key_reused");
    assert_eq!(app.inventory("HAT").await["sold"], 1);
    app.stop().await;
}

async fn cancelling_before_shipment_returns_stock_and_voids_payment(app: TestApp) {
    app.product_with_stock("CHAIR", 8000, 3).await;
    let cart = app.cart_with("CHAIR", 2).await;
    let placed = app.checkout(&cart, "key-cancel", "tok_visa").await;
    assert_eq!(placed.status, 201, "{placed:?}");
    let id = placed.body["id"].as_str().expect("order id");
    let cancelled = app
        .post(&format!("/v1/orders/{id}/cancel"), json!({}))
        .await;
    assert_eq!(cancelled.status, 200, "{cancelled:?}");
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["payment"]["status"], "voided");
    let stock = app.inventory("CHAIR").await;
    assert_eq!(
        (
            stock["on_hand"].as_u64(),
            stock["sold"].as_u64(),
            stock["available"].as_u64()
        ),
        (Some(3), Some(0), Some(3))
    );
    let again = app
        .post(&format!("/v1/orders/{id}/cancel"), json!({}))
        .await;
    assert_eq!(again.status, 200, "cancelling twice is harmless: {again:?}");
    assert_eq!(
        app.inventory("CHAIR").await["on_hand"],
        3,
        "and returns nothing twice"
    );
    app.stop().await;
}

async fn buy_now_places_an_order_through_the_same_saga(app: TestApp) {
    app.product_with_stock("HOT-1", 4999, 1).await;
    let bought = app.buy_now("HOT-1", 1, "buy-1", "tok_visa").await;
    assert_eq!(bought.status, 201, "{bought:?}");
    assert_eq!(bought.body["status"], "fulfillment_requested");
    let sold_out = app.buy_now("HOT-1", 1, "buy-2", "tok_visa").await;
    assert_eq!(sold_out.status, 409);
    assert_eq!(sold_out.code(), "out_of_stock");
    let declined = app.buy_now("HOT-1", 1, "buy-3", "tok_decline").await;
    assert!(
        declined.status == 409 || declined.status == 402,
        "{declined:?}"
    );
    let replay = app.buy_now("HOT-1", 1, "buy-1", "tok_visa").await;
    assert_eq!(replay.body, bought.body);
    assert_eq!(app.inventory("HOT-1").await["sold"], 1);
    app.stop().await;
}

async fn a_checked_out_cart_cannot_change(app: TestApp) {
    app.product_with_stock("CUP", 500, 5).await;
    let cart = app.cart_with("CUP", 1).await;
    assert_eq!(
        app.checkout(&cart, "key-frozen", "tok_visa").await.status,
        201
    );
    let add = app
        .post(
            &format!("/v1/carts/{cart}/items"),
            json!({"sku": "CUP", "quantity": 1}),
        )
        .await;
    assert_eq!(add.status, 409, "{add:?}");
    assert_eq!(add.code(), "cart_not_open");
    let second = app.checkout(&cart, "key-frozen-2", "tok_visa").await;
    assert_eq!(second.status, 409, "{second:?}");
    assert_eq!(app.inventory("CUP").await["sold"], 1);
    app.stop().await;
}
