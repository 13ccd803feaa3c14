//! Products, stock, health and admin access.

use crate::helpers::TestApp;
use serde_json::json;

crate::both_stores! {
    health_and_readiness_answer => health_and_readiness_answer;
    products_are_defined_by_admins_and_read_by_anyone => products_are_defined_by_admins_and_read_by_anyone;
    admin_routes_refuse_missing_or_wrong_tokens => admin_routes_refuse_missing_or_wrong_tokens;
    restock_adds_to_on_hand_and_available => restock_adds_to_on_hand_and_available;
}

async fn health_and_readiness_answer(app: TestApp) {
    assert_eq!(app.get("/healthz").await.status, 200);
    assert_eq!(app.get("/readyz").await.status, 200);
    app.stop().await;
}

async fn products_are_defined_by_admins_and_read_by_anyone(app: TestApp) {
    let put = app
        .admin_put(
            "/v1/products/PHONE-1",
            json!({"name": "Phone", "price": {"amount": 19999, "currency": "USD"}}),
        )
        .await;
    assert_eq!(put.status, 200, "{put:?}");
    let got = app.get("/v1/products/PHONE-1").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["name"], "Phone");
    assert_eq!(
        got.body["price"],
        json!({"amount": 19999, "currency": "USD"})
    );
    assert_eq!(got.body["active"], true);
    let missing = app.get("/v1/products/NOPE").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.code(), "product_not_found");
    assert!(
        missing.content_type.starts_with("application/problem+json"),
        "{missing:?}"
    );
    app.stop().await;
}

async fn admin_routes_refuse_missing_or_wrong_tokens(app: TestApp) {
    let body = json!({"name": "Phone", "price": {"amount": 1, "currency": "USD"}});
    let anonymous = app.put("/v1/products/P", body.clone()).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.code(), "unauthorized");
    let wrong = app
        .send(
            app.client
                .put(app.url("/v1/products/P"))
                .bearer_auth("guess")
                .json(&body),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let restock = app
        .post("/v1/inventory/P/restock", json!({"quantity": 5}))
        .await;
    assert_eq!(restock.status, 401);
    assert_eq!(
        app.get("/v1/products/P").await.status,
        404,
        "nothing was created"
    );
    app.stop().await;
}

async fn restock_adds_to_on_hand_and_available(app: TestApp) {
    app.product_with_stock("SKU-1", 500, 10).await;
    let again = app
        .admin_post("/v1/inventory/SKU-1/restock", json!({"quantity": 5}))
        .await;
    assert_eq!(again.status, 200);
    let stock = app.inventory("SKU-1").await;
    assert_eq!(stock["on_hand"], 15);
    assert_eq!(stock["reserved"], 0);
    assert_eq!(stock["available"], 15);
    let unknown = app
        .admin_post("/v1/inventory/GHOST/restock", json!({"quantity": 5}))
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.code(), "product_not_found");
    app.stop().await;
}
