//! Accounts and access over HTTP: sign-up, login, logout, tokens, ownership of carts and orders,
//! the guest cart attached at login, and the rate limits on login and sign-up.

use crate::helpers::{spawn_with, test_settings, Backend, Reply, TestApp};
use serde_json::{json, Value};

crate::both_stores! {
    a_shopper_signs_up_logs_in_and_owns_the_carts_and_orders_made_with_the_token => a_shopper_signs_up_logs_in_and_owns_the_carts_and_orders_made_with_the_token;
    another_shoppers_token_gets_404_for_carts_and_orders_and_changes_nothing => another_shoppers_token_gets_404_for_carts_and_orders_and_changes_nothing;
    a_guest_cart_named_at_login_becomes_the_accounts_cart => a_guest_cart_named_at_login_becomes_the_accounts_cart;
    logout_revokes_the_token_at_once => logout_revokes_the_token_at_once;
}

impl TestApp {
    pub(crate) async fn sign_up(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/v1/accounts",
            json!({"email": email, "password": password}),
        )
        .await
    }

    pub(crate) async fn log_in(&self, body: Value) -> Reply {
        self.post("/v1/sessions", body).await
    }

    /// Signs up and logs in; the token and the customer id.
    pub(crate) async fn shopper(&self, email: &str) -> (String, String) {
        let signed = self.sign_up(email, "correct horse battery").await;
        assert_eq!(signed.status, 201, "{signed:?}");
        let session = self
            .log_in(json!({"email": email, "password": "correct horse battery"}))
            .await;
        assert_eq!(session.status, 201, "{session:?}");
        let token = session.body["token"].as_str().expect("token").to_owned();
        let customer = session.body["customer_id"].as_str().expect("id").to_owned();
        (token, customer)
    }

    pub(crate) async fn get_as(&self, token: &str, path: &str) -> Reply {
        self.send(self.client.get(self.url(path)).bearer_auth(token))
            .await
    }

    pub(crate) async fn post_as(&self, token: &str, path: &str, body: Value) -> Reply {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }
}

async fn a_shopper_signs_up_logs_in_and_owns_the_carts_and_orders_made_with_the_token(
    app: TestApp,
) {
    app.product_with_stock("TEA", 450, 10).await;
    let signed = app
        .sign_up("  Ann@Example.COM ", "correct horse battery")
        .await;
    assert_eq!(signed.status, 201, "{signed:?}");
    assert_eq!(signed.body["email"], "ann@example.com");
    assert!(signed.body.get("password").is_none());
    assert!(signed.body.get("password_hash").is_none());

    let again = app
        .sign_up("ann@example.com", "another long password")
        .await;
    assert_eq!((again.status, again.code()), (409, "email_taken"));

    let wrong = app
        .log_in(json!({"email": "ann@example.com", "password": "wrong password!"}))
        .await;
    let unknown = app
        .log_in(json!({"email": "nobody@example.com", "password": "wrong password!"}))
        .await;
    assert_eq!((wrong.status, wrong.code()), (401, "invalid_credentials"));
    assert_eq!(
        (unknown.status, unknown.body["detail"].clone()),
        (401, wrong.body["detail"].clone()),
        "an unknown email and a wrong password look the same"
    );

    let session = app
        .log_in(json!({"email": "ANN@example.com", "password": "correct horse battery"}))
        .await;
    assert_eq!(session.status, 201, "{session:?}");
    assert_eq!(session.body["token_type"], "Bearer");
    assert_eq!(session.body["customer_id"], signed.body["customer_id"]);
    assert_eq!(session.body["cart_id"], Value::Null);
    let token = session.body["token"].as_str().expect("token");
    let customer = session.body["customer_id"].as_str().expect("customer");

    let me = app.get_as(token, "/v1/accounts/me").await;
    assert_eq!(
        (me.status, me.body["email"].clone()),
        (200, json!("ann@example.com"))
    );

    let cart = app.post_as(token, "/v1/carts", json!({})).await;
    assert_eq!(cart.status, 201, "{cart:?}");
    assert_eq!(cart.body["customer_id"], customer);
    let cart_id = cart.body["id"].as_str().expect("cart id");
    let added = app
        .post_as(
            token,
            &format!("/v1/carts/{cart_id}/items"),
            json!({"sku": "TEA", "quantity": 2}),
        )
        .await;
    assert_eq!(added.status, 200, "{added:?}");
    let checkout = app.send(
        app.client
            .post(app.url(&format!("/v1/carts/{cart_id}/checkout")))
            .bearer_auth(token)
            .header("Idempotency-Key", "ann-checkout-1")
            .json(&crate::helpers::checkout_body("tok_visa")),
    );
    let order = checkout.await;
    assert_eq!(order.status, 201, "{order:?}");
    assert_eq!(order.body["customer_id"], customer);
    let order_id = order.body["id"].as_str().expect("order id");
    let read = app.get_as(token, &format!("/v1/orders/{order_id}")).await;
    assert_eq!(read.status, 200);

    // Buy-now with the token is the customer's order too.
    let bought = app.send(
        app.buy_now_request("TEA", 1, "ann-buy-1", "tok_visa")
            .bearer_auth(token),
    );
    let bought = bought.await;
    assert_eq!(bought.status, 201, "{bought:?}");
    assert_eq!(bought.body["customer_id"], customer);

    // Both orders reach the customer's read models through the outbox, the relay and the
    // consumers (the embedded bus here), answering the customer's token.
    let mut expected = vec![
        order_id.to_owned(),
        bought.body["id"].as_str().expect("id").to_owned(),
    ];
    expected.sort();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mine = app
            .get_as(token, &format!("/v1/customers/{customer}/orders"))
            .await;
        let notes = app
            .get_as(token, &format!("/v1/customers/{customer}/notifications"))
            .await;
        assert_eq!(
            (mine.status, notes.status),
            (200, 200),
            "{mine:?} {notes:?}"
        );
        let mut listed: Vec<String> = mine.body["orders"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["order_id"].as_str().map(str::to_owned))
            .collect();
        listed.sort();
        let confirmed = notes.body["notifications"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| n["kind"] == "order_confirmed")
            .count();
        if listed == expected && confirmed == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the read models did not list both orders: {mine:?} {notes:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.stop().await;
}

async fn another_shoppers_token_gets_404_for_carts_and_orders_and_changes_nothing(app: TestApp) {
    app.product_with_stock("TEA", 450, 10).await;
    let (ann, ann_id) = app.shopper("ann@example.com").await;
    let (bob, _) = app.shopper("bob@example.com").await;
    let cart = app.post_as(&ann, "/v1/carts", json!({})).await;
    let cart_id = cart.body["id"].as_str().expect("cart id").to_owned();
    let path = format!("/v1/carts/{cart_id}");
    app.post_as(
        &ann,
        &format!("{path}/items"),
        json!({"sku": "TEA", "quantity": 1}),
    )
    .await;

    for reply in [
        app.get_as(&bob, &path).await,
        app.get(&path).await,
        app.post_as(
            &bob,
            &format!("{path}/items"),
            json!({"sku": "TEA", "quantity": 5}),
        )
        .await,
        app.send(
            app.client
                .delete(app.url(&format!("{path}/items/TEA")))
                .bearer_auth(&bob),
        )
        .await,
    ] {
        assert_eq!(
            (reply.status, reply.code()),
            (404, "cart_not_found"),
            "{reply:?}"
        );
    }
    let untouched = app.get_as(&ann, &path).await;
    assert_eq!(untouched.body["lines"][0]["quantity"], 1, "{untouched:?}");

    let order = app
        .send(
            app.buy_now_request("TEA", 1, "ann-1", "tok_visa")
                .bearer_auth(&ann),
        )
        .await;
    let order_path = format!("/v1/orders/{}", order.body["id"].as_str().expect("order"));
    let peek = app.get_as(&bob, &order_path).await;
    assert_eq!((peek.status, peek.code()), (404, "order_not_found"));
    let cancel = app
        .post_as(&bob, &format!("{order_path}/cancel"), json!({}))
        .await;
    assert_eq!((cancel.status, cancel.code()), (404, "order_not_found"));
    assert_eq!(
        app.get_as(&ann, &order_path).await.body["status"],
        order.body["status"]
    );

    // The read models: only the customer's own token, and ids are not confirmed to others.
    let orders = format!("/v1/customers/{ann_id}/orders");
    assert_eq!(app.get_as(&bob, &orders).await.status, 404);
    assert_eq!(app.get(&orders).await.status, 401);

    // The same idempotency key used by two customers places two orders.
    let bobs = app
        .send(
            app.buy_now_request("TEA", 1, "ann-1", "tok_visa")
                .bearer_auth(&bob),
        )
        .await;
    assert_eq!(bobs.status, 201, "{bobs:?}");
    assert_ne!(bobs.body["id"], order.body["id"]);
}

async fn a_guest_cart_named_at_login_becomes_the_accounts_cart(app: TestApp) {
    app.product_with_stock("TEA", 450, 10).await;
    app.sign_up("ann@example.com", "correct horse battery")
        .await;
    app.sign_up("bob@example.com", "correct horse battery")
        .await;
    let guest = app.cart_with("TEA", 3).await;

    let session = app
        .log_in(json!({
            "email": "ann@example.com",
            "password": "correct horse battery",
            "cart_id": guest,
        }))
        .await;
    assert_eq!(session.status, 201, "{session:?}");
    assert_eq!(session.body["cart_id"], guest.as_str());
    let token = session.body["token"].as_str().expect("token");

    let owned = app.get_as(token, &format!("/v1/carts/{guest}")).await;
    assert_eq!(owned.status, 200);
    assert_eq!(owned.body["customer_id"], session.body["customer_id"]);
    assert_eq!(owned.body["lines"][0]["quantity"], 3, "lines kept");
    // The guest id alone no longer reaches it.
    assert_eq!(app.get(&format!("/v1/carts/{guest}")).await.status, 404);

    // Someone else naming the same cart logs in but gets no cart.
    let bob = app
        .log_in(json!({
            "email": "bob@example.com",
            "password": "correct horse battery",
            "cart_id": guest,
        }))
        .await;
    assert_eq!(
        (bob.status, bob.body["cart_id"].clone()),
        (201, Value::Null)
    );
    // So does a cart id that is not a cart.
    let nonsense = app
        .log_in(json!({
            "email": "bob@example.com",
            "password": "correct horse battery",
            "cart_id": "not-a-cart",
        }))
        .await;
    assert_eq!(
        (nonsense.status, nonsense.body["cart_id"].clone()),
        (201, Value::Null)
    );
}

async fn logout_revokes_the_token_at_once(app: TestApp) {
    let (token, _) = app.shopper("ann@example.com").await;
    assert_eq!(app.get_as(&token, "/v1/accounts/me").await.status, 200);

    let out = app
        .send(
            app.client
                .delete(app.url("/v1/sessions/current"))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(out.status, 204);

    for reply in [
        app.get_as(&token, "/v1/accounts/me").await,
        app.post_as(&token, "/v1/carts", json!({})).await,
        app.send(
            app.client
                .delete(app.url("/v1/sessions/current"))
                .bearer_auth(&token),
        )
        .await,
    ] {
        assert_eq!(
            (reply.status, reply.code()),
            (401, "unauthorized"),
            "{reply:?}"
        );
    }
    let garbage = app.post_as("not-a-token", "/v1/carts", json!({})).await;
    assert_eq!(garbage.status, 401);
    // A guest needs no token at all.
    assert_eq!(app.post("/v1/carts", json!({})).await.status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_refused_clearly_and_create_nothing() {
    let app = spawn_with(test_settings(Backend::Sqlite).await.0).await;
    for (body, code) in [
        (
            json!({"email": "not-an-email", "password": "correct horse battery"}),
            "invalid_email",
        ),
        (
            json!({"email": "ann@example.com", "password": "short"}),
            "invalid_password",
        ),
        (
            json!({"email": "ann@example.com", "password": "x".repeat(129)}),
            "invalid_password",
        ),
        (
            json!({"email": "ann@example.com", "password": "correct horse battery", "admin": true}),
            "unknown_field",
        ),
    ] {
        let reply = app.post("/v1/accounts", body).await;
        assert_eq!((reply.status, reply.code()), (422, code), "{reply:?}");
    }
    let login = app
        .log_in(json!({"email": "ann@example.com", "password": "correct horse battery"}))
        .await;
    assert_eq!(
        login.code(),
        "invalid_credentials",
        "no account was created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_sign_up_are_rate_limited_with_retry_after() {
    let (mut settings, _) = test_settings(Backend::Sqlite).await;
    settings.http_limits.logins_per_minute_per_email = 3;
    settings.http_limits.signups_per_minute_per_client = 2;
    let app = spawn_with(settings).await;
    assert_eq!(
        app.sign_up("ann@example.com", "correct horse battery")
            .await
            .status,
        201
    );

    for _ in 0..3 {
        let wrong = app
            .log_in(json!({"email": "ann@example.com", "password": "guess guess guess"}))
            .await;
        assert_eq!(wrong.status, 401);
    }
    // The right password too: the bucket counts attempts, not failures.
    let limited = app
        .log_in(json!({"email": "ann@example.com", "password": "correct horse battery"}))
        .await;
    assert_eq!(
        (limited.status, limited.code()),
        (429, "rate_limited"),
        "{limited:?}"
    );
    let wait: u64 = limited
        .retry_after
        .as_deref()
        .and_then(|s| s.parse().ok())
        .expect("Retry-After seconds");
    assert!((1..=21).contains(&wait), "{wait}");
    // Another email is not held back by Ann's bucket.
    let other = app
        .log_in(json!({"email": "bob@example.com", "password": "guess guess guess"}))
        .await;
    assert_eq!(other.status, 401);

    assert_eq!(
        app.sign_up("bob@example.com", "correct horse battery")
            .await
            .status,
        201
    );
    let third = app.sign_up("cy@example.com", "correct horse battery").await;
    assert_eq!((third.status, third.code()), (429, "rate_limited"));
    assert!(third.retry_after.is_some());
}

/// Behind a trusted reverse proxy the client is the address the proxy forwarded, so each
/// shopper has a bucket of their own; without `TRUSTED_PROXIES` the header is ignored, and a
/// client cannot dodge its limit by inventing addresses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_behind_a_trusted_proxy_is_the_forwarded_address() {
    async fn sign_ups(trusted: &str) -> Vec<u16> {
        let (mut settings, _) = test_settings(Backend::Sqlite).await;
        settings.http_limits.signups_per_minute_per_client = 1;
        settings.http_limits.trusted_proxies =
            commerce_http::limits::TrustedProxies::parse(trusted).expect("trusted proxies");
        let app = spawn_with(settings).await;
        let mut statuses = Vec::new();
        for (i, forwarded) in ["198.51.100.1", "198.51.100.2", "198.51.100.2"]
            .iter()
            .enumerate()
        {
            let reply = app
                .send(
                    app.client
                        .post(app.url("/v1/accounts"))
                        .header("x-forwarded-for", format!("6.6.6.6, {forwarded}"))
                        .json(&json!({
                            "email": format!("shopper{i}@example.com"),
                            "password": "correct horse battery",
                        })),
                )
                .await;
            statuses.push(reply.status);
        }
        app.stop().await;
        statuses
    }
    // The test talks to the server from 127.0.0.1.
    assert_eq!(sign_ups("127.0.0.1").await, [201, 201, 429]);
    assert_eq!(sign_ups("").await, [201, 429, 429]);
}
