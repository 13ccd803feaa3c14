//! Many shoppers, little stock: exactly the stock is sold, never more.

use crate::helpers::TestApp;
use futures::future::join_all;

crate::both_stores! {
    two_hundred_concurrent_checkouts_for_fifty_units_sell_exactly_fifty => two_hundred_concurrent_checkouts_for_fifty_units_sell_exactly_fifty;
    two_hundred_concurrent_buy_now_orders_for_fifty_units_sell_exactly_fifty => two_hundred_concurrent_buy_now_orders_for_fifty_units_sell_exactly_fifty;
}

async fn two_hundred_concurrent_checkouts_for_fifty_units_sell_exactly_fifty(app: TestApp) {
    app.product_with_stock("RARE", 1000, 50).await;
    let mut carts = Vec::new();
    for _ in 0..200 {
        carts.push(app.cart_with("RARE", 1).await);
    }
    let checkouts = carts.iter().enumerate().map(|(i, cart)| {
        let app = &app;
        async move { app.checkout(cart, &format!("k-{i}"), "tok_visa").await }
    });
    let replies = join_all(checkouts).await;
    assert_books_balance(&app, "RARE", replies).await;
    app.stop().await;
}

async fn two_hundred_concurrent_buy_now_orders_for_fifty_units_sell_exactly_fifty(app: TestApp) {
    app.product_with_stock("HOT", 1000, 50).await;
    let orders = (0..200).map(|i| {
        let app = &app;
        async move { app.buy_now("HOT", 1, &format!("b-{i}"), "tok_visa").await }
    });
    let replies = join_all(orders).await;
    assert_books_balance(&app, "HOT", replies).await;
    app.stop().await;
}

async fn assert_books_balance(app: &TestApp, sku: &str, replies: Vec<crate::helpers::Reply>) {
    let confirmed: Vec<_> = replies.iter().filter(|r| r.status == 201).collect();
    let out_of_stock = replies
        .iter()
        .filter(|r| r.status == 409 && r.code() == "out_of_stock")
        .count();
    let other: Vec<_> = replies
        .iter()
        .filter(|r| r.status != 201 && r.code() != "out_of_stock")
        .collect();
    assert!(other.is_empty(), "unexpected answers: {other:?}");
    assert_eq!(confirmed.len(), 50, "exactly the stock is sold");
    assert_eq!(out_of_stock, 150);
    for reply in &confirmed {
        let id = reply.body["id"].as_str().expect("order id");
        let order = app.get(&format!("/v1/orders/{id}")).await;
        assert_eq!(order.body["status"], "fulfillment_requested", "{order:?}");
    }
    let stock = app.inventory(sku).await;
    assert_eq!(stock["sold"], 50);
    assert_eq!(stock["on_hand"], 0);
    assert_eq!(stock["reserved"], 0);
    assert_eq!(stock["available"], 0);
}
