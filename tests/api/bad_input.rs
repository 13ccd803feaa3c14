//! Bad input gets a clear 4xx problem with a stable code, and changes nothing.

use crate::helpers::TestApp;
use serde_json::{json, Value};

crate::both_stores! {
    bad_cart_input_is_rejected_and_changes_nothing => bad_cart_input_is_rejected_and_changes_nothing;
    bad_product_input_is_rejected_and_changes_nothing => bad_product_input_is_rejected_and_changes_nothing;
    checkout_needs_an_idempotency_key_and_a_valid_address => checkout_needs_an_idempotency_key_and_a_valid_address;
    one_key_raced_with_two_bodies_gives_one_order_and_one_422 => one_key_raced_with_two_bodies_gives_one_order_and_one_422;
}

async fn raw_post(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> crate::helpers::Reply {
    app.send(
        app.client
            .post(app.url(path))
            .header("content-type", content_type)
            .body(body),
    )
    .await
}

async fn bad_cart_input_is_rejected_and_changes_nothing(app: TestApp) {
    app.product_with_stock("GOOD", 100, 10).await;
    let cart = app.cart_with("GOOD", 1).await;
    let items = format!("/v1/carts/{cart}/items");
    let before = app.get(&format!("/v1/carts/{cart}")).await.body;

    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"sku": "GOOD", "quantity": 0}),
            422,
            "invalid_quantity",
        ),
        (
            json!({"sku": "GOOD", "quantity": -3}),
            422,
            "invalid_quantity",
        ),
        (
            json!({"sku": "GOOD", "quantity": 5_000_000_000u64}),
            422,
            "invalid_quantity",
        ),
        (
            json!({"sku": "GOOD", "quantity": 1001}),
            422,
            "quantity_limit_exceeded",
        ),
        (
            json!({"sku": "NOT-A-PRODUCT", "quantity": 1}),
            404,
            "product_not_found",
        ),
        (
            json!({"sku": "bad sku!", "quantity": 1}),
            422,
            "invalid_sku",
        ),
        (
            json!({"sku": "GOOD", "quantity": 1, "price": 1}),
            422,
            "unknown_field",
        ),
        (json!({"sku": "GOOD"}), 422, "invalid_body"),
        (
            json!({"sku": "GOOD", "quantity": "two"}),
            422,
            "invalid_body",
        ),
    ];
    for (body, status, code) in cases {
        let reply = app.post(&items, body.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{body} -> {reply:?}"
        );
        assert!(
            reply.content_type.starts_with("application/problem+json"),
            "{reply:?}"
        );
    }
    let malformed = raw_post(&app, &items, "application/json", "{\"sku\": ").await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (400, "malformed_json")
    );
    let not_json = raw_post(&app, &items, "text/plain", "sku=GOOD").await;
    assert_eq!(not_json.status, 415, "{not_json:?}");
    let huge = format!(
        "{{\"sku\": \"GOOD\", \"quantity\": 1, \"pad\": \"{}\"}}",
        "x".repeat(1 << 20)
    );
    let oversized = raw_post(&app, &items, "application/json", huge).await;
    assert_eq!(oversized.status, 413, "{oversized:?}");

    let after = app.get(&format!("/v1/carts/{cart}")).await.body;
    assert_eq!(after, before, "no rejected request changed the cart");
    app.stop().await;
}

async fn bad_product_input_is_rejected_and_changes_nothing(app: TestApp) {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"name": "X", "price": {"amount": 100, "currency": "usd"}}),
            "invalid_currency",
        ),
        (
            json!({"name": "X", "price": {"amount": 100, "currency": "XYZ"}}),
            "invalid_currency",
        ),
        (
            json!({"name": "X", "price": {"amount": -1, "currency": "USD"}}),
            "invalid_price",
        ),
        (
            json!({"name": "", "price": {"amount": 100, "currency": "USD"}}),
            "invalid_product_name",
        ),
    ];
    for (body, code) in cases {
        let reply = app.admin_put("/v1/products/NEW", body.clone()).await;
        assert_eq!(reply.status, 422, "{body} -> {reply:?}");
        assert_eq!(reply.code(), code, "{body} -> {reply:?}");
    }
    assert_eq!(app.get("/v1/products/NEW").await.status, 404);
    let restock_zero = app
        .admin_post("/v1/inventory/NEW/restock", json!({"quantity": 0}))
        .await;
    assert_eq!(restock_zero.status, 422);
    app.stop().await;
}

async fn checkout_needs_an_idempotency_key_and_a_valid_address(app: TestApp) {
    app.product_with_stock("KEYED", 100, 10).await;
    let cart = app.cart_with("KEYED", 1).await;
    let path = format!("/v1/carts/{cart}/checkout");
    let no_key = app
        .post(&path, crate::helpers::checkout_body("tok_visa"))
        .await;
    assert_eq!(
        (no_key.status, no_key.code()),
        (400, "idempotency_key_required"),
        "{no_key:?}"
    );
    let mut no_city = crate::helpers::checkout_body("tok_visa");
    no_city["shipping_address"]["city"] = json!("  ");
    let bad_address = app
        .send(
            app.client
                .post(app.url(&path))
                .header("Idempotency-Key", "k-addr")
                .json(&no_city),
        )
        .await;
    assert_eq!(bad_address.status, 422, "{bad_address:?}");
    let stock = app.inventory("KEYED").await;
    assert_eq!(
        (stock["reserved"].as_u64(), stock["sold"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        app.get(&format!("/v1/carts/{cart}")).await.body["status"],
        "open"
    );
    let ok = app.checkout(&cart, "k-addr", "tok_visa").await;
    assert_eq!(
        ok.status, 201,
        "a rejected request did not burn its key: {ok:?}"
    );
    app.stop().await;
}

/// Found while documenting the API for schemathesis (content-type conformance): the ops routes
/// read their path with axum's own `Path`, whose rejection of a segment that is not UTF-8 is a
/// `text/plain` 400, while every other route answers a problem. They now share `PathParams`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_paths_that_are_not_utf8_are_problem_404s() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    let requests = [
        (reqwest::Method::GET, "/ops/actors/cart/%FF"),
        (reqwest::Method::GET, "/ops/actors/%FF/x"),
        (reqwest::Method::POST, "/ops/actors/cart/%FF/passivate"),
        (reqwest::Method::POST, "/ops/actors/order/%C3/restart"),
    ];
    for (method, path) in requests {
        let reply = app
            .send(
                app.client
                    .request(method.clone(), app.url(path))
                    .bearer_auth(crate::helpers::ADMIN_TOKEN),
            )
            .await;
        assert_eq!(
            (reply.status, reply.content_type.as_str(), reply.code()),
            (404, "application/problem+json", "not_found"),
            "{method} {path}: {reply:?}"
        );
    }
    app.stop().await;
}

/// Found by schemathesis (`POST /v1/carts` with the body `[]` answered 201): serde's derived
/// structs also accept an array of their fields in order, so `[5]` restocked five units and
/// `"price": [100, "USD"]` defined a price. Bodies and nested structs are objects only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_arrays_are_rejected_and_change_nothing() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    app.product_with_stock("ARR", 100, 10).await;

    let cart = raw_post(&app, "/v1/carts", "application/json", "[]").await;
    assert_eq!(
        (cart.status, cart.code()),
        (422, "invalid_body"),
        "{cart:?}"
    );

    let restock = app
        .send(
            app.client
                .post(app.url("/v1/inventory/ARR/restock"))
                .bearer_auth(crate::helpers::ADMIN_TOKEN)
                .header("content-type", "application/json")
                .body("[5]"),
        )
        .await;
    assert_eq!((restock.status, restock.code()), (422, "invalid_body"));
    assert_eq!(app.inventory("ARR").await["on_hand"], 10);

    let product = app
        .admin_put(
            "/v1/products/ARRAY-PRICE",
            json!({"name": "P", "price": [100, "USD"]}),
        )
        .await;
    assert_eq!((product.status, product.code()), (422, "invalid_body"));
    assert_eq!(app.get("/v1/products/ARRAY-PRICE").await.status, 404);

    let mut order = crate::helpers::checkout_body("tok_visa");
    order["lines"] = json!([["ARR", 1]]);
    let bought = app
        .send(
            app.client
                .post(app.url("/v1/orders"))
                .header("Idempotency-Key", "array-lines")
                .json(&order),
        )
        .await;
    assert_eq!((bought.status, bought.code()), (422, "invalid_body"));
    assert_eq!(app.inventory("ARR").await["reserved"], 0);
    app.stop().await;
}

/// Two requests race under one `Idempotency-Key` with different bodies: exactly one places an
/// order (201) and the other is refused with 422 `idempotency_key_reused`, whichever wins the
/// claim; the stock shows exactly one order's units sold. Repeated, so the race is run both ways.
async fn one_key_raced_with_two_bodies_gives_one_order_and_one_422(app: TestApp) {
    const ROUNDS: u32 = 10;
    app.product_with_stock("RACE", 100, 1_000).await;
    let mut sold_expected: u32 = 0;
    for round in 0..ROUNDS {
        let key = format!("race-{round}");
        let (one, two) = tokio::join!(
            app.send(app.buy_now_request("RACE", 1, &key, "tok_visa")),
            app.send(app.buy_now_request("RACE", 2, &key, "tok_visa")),
        );
        let mut answers = [
            (one.status, one.code().to_owned(), 1),
            (two.status, two.code().to_owned(), 2),
        ];
        answers.sort();
        assert_eq!(answers[0].0, 201, "round {round}: {one:?} / {two:?}");
        assert_eq!(
            (answers[1].0, answers[1].1.as_str()),
            (422, "idempotency_key_reused"),
            "round {round}: {one:?} / {two:?}"
        );
        sold_expected += answers[0].2;
    }
    let stock = app.inventory("RACE").await;
    assert_eq!(
        stock["sold"].as_u64(),
        Some(u64::from(sold_expected)),
        "{stock}"
    );
    app.stop().await;
}
