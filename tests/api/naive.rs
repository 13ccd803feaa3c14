//! The naive-sql baseline engine end to end: the same API and answers as the actor engine, the
//! same books, on a fresh Postgres database per test.

use crate::helpers::{spawn_server, test_settings, Backend, Reply, TestApp};
use commerce::{Engine, Server};
use futures::future::join_all;
use serde_json::{json, Value};
use sqlx::Connection;

/// The baseline engine on port 0, and its database's URL for looking at the rows.
async fn spawn_naive() -> (TestApp, String) {
    let (settings, _) = test_settings(Backend::Postgres).await;
    let url = settings
        .database_url
        .as_ref()
        .expect("a Postgres test database")
        .expose()
        .to_owned();
    let server = Server::build(settings, Engine::NaiveSql)
        .await
        .expect("the naive engine builds");
    (spawn_server(server).await, url)
}

async fn db(url: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(url).await.expect("database")
}

async fn count(conn: &mut sqlx::PgConnection, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(conn)
        .await
        .expect("count query");
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_to_start_without_postgres() {
    let (mut settings, _) = test_settings(Backend::Sqlite).await;
    settings.database_url = None;
    let err = Server::build(settings, Engine::NaiveSql)
        .await
        .err()
        .expect("no Postgres, no baseline");
    assert!(err.to_string().contains("DATABASE_URL"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buy_now_places_a_confirmed_order_and_replays_it() {
    let (app, url) = spawn_naive().await;
    app.product_with_stock("N-1", 1999, 10).await;
    let first = app.buy_now("N-1", 2, "key-1", "tok_visa").await;
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(first.content_type, "application/json");
    let order = &first.body;
    assert_eq!(order["status"], "fulfillment_requested");
    assert_eq!(order["version"], 5);
    assert_eq!(order["lines"][0]["sku"], "N-1");
    assert_eq!(order["lines"][0]["quantity"], 2);
    assert_eq!(order["total"], json!({"amount": 3998, "currency": "USD"}));
    assert_eq!(order["payment"]["status"], "authorized");
    assert!(order["shipment_id"].is_string(), "{order}");
    assert_eq!(order["cart_id"], Value::Null);
    let replay = app.buy_now("N-1", 2, "key-1", "tok_visa").await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.body, first.body, "a replay answers the first answer");

    let id = order["id"].as_str().expect("order id");
    let read = app.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, first.body, "GET shows the order as placed");
    let stock = app.inventory("N-1").await;
    assert_eq!(
        (
            &stock["on_hand"],
            &stock["reserved"],
            &stock["available"],
            &stock["sold"]
        ),
        (&json!(8), &json!(0), &json!(8), &json!(2)),
        "{stock}"
    );
    assert_eq!(stock["sku"], "N-1");
    assert_eq!(stock["version"], 3, "restock, then reserved and committed");

    let mut conn = db(&url).await;
    assert_eq!(count(&mut conn, "SELECT count(*) FROM orders").await, 1);
    let reservation: (i64, String) =
        sqlx::query_as("SELECT quantity, status FROM reservations WHERE sku = 'N-1'")
            .fetch_one(&mut conn)
            .await
            .expect("one reservation");
    assert_eq!(reservation, (2, "committed".to_owned()));
    let saga: (String,) = sqlx::query_as("SELECT step FROM checkout_sagas")
        .fetch_one(&mut conn)
        .await
        .expect("one saga");
    assert_eq!(saga.0, "completed");
    let events: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT aggregate_type, event_type, sequence FROM outbox
         WHERE aggregate_type IN ('order', 'inventory') ORDER BY aggregate_type, sequence",
    )
    .fetch_all(&mut conn)
    .await
    .expect("outbox");
    let events: Vec<(&str, &str, i64)> = events
        .iter()
        .map(|(a, e, s)| (a.as_str(), e.as_str(), *s))
        .collect();
    assert_eq!(
        events,
        [
            ("inventory", "inventory.restocked", 1),
            ("inventory", "inventory.reserved", 2),
            ("inventory", "inventory.committed", 3),
            ("order", "order.placed", 1),
            ("order", "order.reserved", 2),
            ("order", "order.payment_authorized", 3),
            ("order", "order.confirmed", 4),
            ("order", "order.fulfillment_requested", 5),
        ]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reused_with_another_body_is_422() {
    let (app, _) = spawn_naive().await;
    app.product_with_stock("N-2", 500, 10).await;
    let first = app.buy_now("N-2", 1, "key-2", "tok_visa").await;
    assert_eq!(first.status, 201, "{first:?}");
    let reused = app.buy_now("N-2", 3, "key-2", "tok_visa").await;
    assert_eq!(reused.status, 422, "{reused:?}");
    assert_eq!(reused.code(), "idempotency_key_reused");
    assert_eq!(app.inventory("N-2").await["sold"], 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_enough_stock_is_409_and_sells_nothing() {
    let (app, url) = spawn_naive().await;
    app.product_with_stock("N-3", 500, 1).await;
    let refused = app.buy_now("N-3", 2, "key-3", "tok_visa").await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert_eq!(refused.code(), "out_of_stock");
    assert_eq!(refused.content_type, "application/problem+json");
    let replay = app.buy_now("N-3", 2, "key-3", "tok_visa").await;
    assert_eq!((replay.status, replay.code()), (409, "out_of_stock"));
    let never_stocked = app.buy_now("NOPE", 1, "key-4", "tok_visa").await;
    assert_eq!(
        never_stocked.code(),
        "product_not_found",
        "{never_stocked:?}"
    );
    let stock = app.inventory("N-3").await;
    assert_eq!((&stock["on_hand"], &stock["sold"]), (&json!(1), &json!(0)));
    let mut conn = db(&url).await;
    assert_eq!(count(&mut conn, "SELECT count(*) FROM orders").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_payment_is_402_with_a_failed_order() {
    let (app, _) = spawn_naive().await;
    app.product_with_stock("N-4", 500, 5).await;
    let declined = app.buy_now("N-4", 1, "key-5", "tok_decline").await;
    assert_eq!(declined.status, 402, "{declined:?}");
    assert_eq!(declined.code(), "payment_declined");
    let order = &declined.body["order"];
    assert_eq!(order["status"], "failed");
    assert_eq!(order["failure_reason"], "payment_declined");
    assert_eq!(order["payment"]["status"], "declined");
    let id = declined.body["order_id"].as_str().expect("order id");
    let read = app.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(read.body["status"], "failed");
    let timed_out = app.buy_now("N-4", 1, "key-6", "tok_timeout").await;
    assert_eq!(timed_out.status, 402, "{timed_out:?}");
    assert_eq!(timed_out.code(), "payment_timeout");
    let stock = app.inventory("N-4").await;
    assert_eq!((&stock["on_hand"], &stock["sold"]), (&json!(5), &json!(0)));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_admin_and_read_shapes() {
    let (app, _) = spawn_naive().await;
    let anonymous = app
        .put(
            "/v1/products/N-5",
            json!({"name": "P", "price": {"amount": 1, "currency": "USD"}}),
        )
        .await;
    assert_eq!((anonymous.status, anonymous.code()), (401, "unauthorized"));
    app.product_with_stock("N-5", 250, 0).await;
    let product = app.get("/v1/products/N-5").await;
    assert_eq!(product.status, 200);
    assert_eq!(
        product.body,
        json!({"sku": "N-5", "name": "Product N-5",
               "price": {"amount": 250, "currency": "USD"}, "active": true, "version": 1})
    );
    let empty = app.inventory("N-5").await;
    assert_eq!(
        empty,
        json!({"sku": "N-5", "on_hand": 0, "reserved": 0, "available": 0, "sold": 0, "version": 0})
    );
    let missing = app.get("/v1/inventory/NOPE").await;
    assert_eq!((missing.status, missing.code()), (404, "product_not_found"));
    let order = app
        .get("/v1/orders/00000000-0000-0000-0000-000000000001")
        .await;
    assert_eq!((order.status, order.code()), (404, "order_not_found"));
    let bad_key = app
        .send(app.client.post(app.url("/v1/orders")).json(&json!({})))
        .await;
    assert_eq!(bad_key.code(), "idempotency_key_required");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{ready:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_checks_out_in_one_transaction() {
    let (app, _) = spawn_naive().await;
    app.product_with_stock("N-6", 300, 3).await;
    let cart = app.cart_with("N-6", 2).await;
    let viewed = app.get(&format!("/v1/carts/{cart}")).await;
    assert_eq!(viewed.body["lines"][0]["quantity"], 2, "{viewed:?}");
    let placed = app.checkout(&cart, "key-7", "tok_visa").await;
    assert_eq!(placed.status, 201, "{placed:?}");
    assert_eq!(placed.body["cart_id"], cart.as_str());
    assert_eq!(placed.body["status"], "fulfillment_requested");
    let replay = app.checkout(&cart, "key-7", "tok_visa").await;
    assert_eq!(replay.body, placed.body);
    let closed = app.get(&format!("/v1/carts/{cart}")).await;
    assert_eq!(closed.body["status"], "checked_out", "{closed:?}");
    assert_eq!(closed.body["order_id"], placed.body["id"]);
    let again = app.checkout(&cart, "key-8", "tok_visa").await;
    assert_eq!((again.status, again.code()), (409, "cart_not_open"));
    assert_eq!(app.inventory("N-6").await["sold"], 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_returns_the_stock_and_voids_the_payment() {
    let (app, _) = spawn_naive().await;
    app.product_with_stock("N-7", 300, 4).await;
    let placed = app.buy_now("N-7", 3, "key-9", "tok_visa").await;
    assert_eq!(placed.status, 201, "{placed:?}");
    let id = placed.body["id"].as_str().expect("order id");
    let cancelled = app
        .post(&format!("/v1/orders/{id}/cancel"), json!({}))
        .await;
    assert_eq!(cancelled.status, 200, "{cancelled:?}");
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["payment"]["status"], "voided");
    let stock = app.inventory("N-7").await;
    assert_eq!((&stock["on_hand"], &stock["sold"]), (&json!(4), &json!(0)));
    let twice = app
        .post(&format!("/v1/orders/{id}/cancel"), json!({}))
        .await;
    assert_eq!(
        twice.status, 200,
        "cancelling again changes nothing: {twice:?}"
    );
    assert_eq!(app.inventory("N-7").await["on_hand"], 4);
    app.stop().await;
}

/// The same race and the same books as `concurrency.rs`, on the baseline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_buy_now_orders_for_fifty_units_sell_exactly_fifty() {
    let (app, url) = spawn_naive().await;
    app.product_with_stock("HOT", 1000, 50).await;
    let orders = (0..200).map(|i| {
        let app = &app;
        async move { app.buy_now("HOT", 1, &format!("b-{i}"), "tok_visa").await }
    });
    let replies: Vec<Reply> = join_all(orders).await;
    let confirmed: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    let out_of_stock = replies
        .iter()
        .filter(|r| r.status == 409 && r.code() == "out_of_stock")
        .count();
    let other: Vec<&Reply> = replies
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
    let stock = app.inventory("HOT").await;
    assert_eq!(stock["sold"], 50);
    assert_eq!(stock["on_hand"], 0);
    assert_eq!(stock["reserved"], 0);
    assert_eq!(stock["available"], 0);
    let mut conn = db(&url).await;
    let committed = count(
        &mut conn,
        "SELECT count(*) FROM reservations WHERE status = 'committed'",
    )
    .await;
    assert_eq!(committed, 50, "every confirmed order has its reservation");
    let keys = count(
        &mut conn,
        "SELECT count(*) FROM idempotency_keys WHERE completed_at IS NOT NULL",
    )
    .await;
    assert_eq!(keys, 200, "every key keeps its answer");
    app.stop().await;
}

/// The key's claim is race-safe: many concurrent requests under one key place one order, and
/// every one of them answers with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_under_one_key_place_one_order() {
    let (app, url) = spawn_naive().await;
    app.product_with_stock("N-8", 100, 100).await;
    let requests = (0..20).map(|_| {
        let app = &app;
        async move { app.buy_now("N-8", 1, "same-key", "tok_visa").await }
    });
    let replies: Vec<Reply> = join_all(requests).await;
    let ids: std::collections::HashSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{r:?}");
            r.body["id"].as_str().expect("order id").to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one order for one key: {ids:?}");
    assert_eq!(app.inventory("N-8").await["sold"], 1);
    let mut conn = db(&url).await;
    assert_eq!(count(&mut conn, "SELECT count(*) FROM orders").await, 1);
    app.stop().await;
}

/// The cart path of the same race: 200 carts of one unit each check out at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_cart_checkouts_for_fifty_units_sell_exactly_fifty() {
    let (app, _) = spawn_naive().await;
    app.product_with_stock("RARE", 1000, 50).await;
    let mut carts = Vec::new();
    for _ in 0..200 {
        carts.push(app.cart_with("RARE", 1).await);
    }
    let checkouts = carts.iter().enumerate().map(|(i, cart)| {
        let app = &app;
        async move { app.checkout(cart, &format!("k-{i}"), "tok_visa").await }
    });
    let replies: Vec<Reply> = join_all(checkouts).await;
    let confirmed = replies.iter().filter(|r| r.status == 201).count();
    let out_of_stock = replies
        .iter()
        .filter(|r| r.status == 409 && r.code() == "out_of_stock")
        .count();
    assert_eq!((confirmed, out_of_stock), (50, 150), "{replies:?}");
    let stock = app.inventory("RARE").await;
    assert_eq!((&stock["on_hand"], &stock["sold"]), (&json!(0), &json!(50)));
    app.stop().await;
}
