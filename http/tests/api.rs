//! The router's edge behaviour through `tower::ServiceExt::oneshot`, on a real `Commerce` over an
//! embedded SQLite store: status codes, problem bodies, headers, authentication and idempotency.
//! Whole-system scenarios (a real socket, Postgres, concurrency under load) live in the
//! workspace's `tests/`.

use actors::sandbox::{SandboxPayments, SandboxShipping};
use actors::{Commerce, CommerceConfig, Ports};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use commerce_http::{router, AdminToken, AppState, HttpLimits};
use persistence::{PoolConfig, SqliteStore};
use runtime::{ActorSystem, RuntimeConfig};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const ADMIN: &str = "test-admin-token";

struct TestApp {
    router: Router,
    dir: PathBuf,
    /// Kept alive for the test: dropping it would not stop the threads, but holding it makes the
    /// ownership explicit.
    _system: ActorSystem,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn spawn_app(limits: HttpLimits) -> TestApp {
    let dir = std::env::temp_dir().join(format!("commerce-http-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(&dir, &PoolConfig::default())
        .await
        .expect("sqlite store");
    let runtime = RuntimeConfig {
        arbiters: 2,
        shards: 4,
        ..RuntimeConfig::default()
    };
    let system = ActorSystem::start(runtime.arbiters).expect("actor system");
    let ports = Ports {
        store: Arc::new(store),
        payments: Arc::new(SandboxPayments::new(Duration::from_secs(5))),
        shipping: Arc::new(SandboxShipping::new()),
        clock: Arc::new(actors::ports::SystemClock),
    };
    let config = CommerceConfig {
        payment_timeout: Duration::from_millis(200),
        ..CommerceConfig::default()
    };
    let commerce = Commerce::new(&system, &runtime, config, ports);
    let state = AppState {
        commerce,
        admin_token: AdminToken::new(ADMIN),
        limits,
    };
    TestApp {
        router: router(state),
        dir,
        _system: system,
    }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
    raw: Vec<u8>,
}

async fn reply(response: Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let raw = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        raw,
    }
}

impl TestApp {
    async fn send(&self, request: Request<Body>) -> Reply {
        reply(
            self.router
                .clone()
                .oneshot(request)
                .await
                .expect("infallible"),
        )
        .await
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = match body {
            Some(json) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).expect("request")).await
    }

    async fn admin(&self, method: Method, uri: &str, body: Value) -> Reply {
        let bearer = format!("Bearer {ADMIN}");
        self.call(method, uri, Some(body), &[("authorization", &bearer)])
            .await
    }

    async fn product(&self, sku: &str, amount: i64, on_hand: u64) {
        let product = json!({"name": sku, "price": {"amount": amount, "currency": "USD"}});
        let defined = self
            .admin(Method::PUT, &format!("/v1/products/{sku}"), product)
            .await;
        assert_eq!(defined.status, StatusCode::OK, "{}", defined.body);
        let restocked = self
            .admin(
                Method::POST,
                &format!("/v1/inventory/{sku}/restock"),
                json!({"quantity": on_hand}),
            )
            .await;
        assert_eq!(restocked.status, StatusCode::OK, "{}", restocked.body);
    }

    async fn cart_with(&self, sku: &str, quantity: u32) -> String {
        let cart = self.call(Method::POST, "/v1/carts", None, &[]).await;
        let id = cart.body["id"].as_str().expect("cart id").to_owned();
        let added = self
            .call(
                Method::POST,
                &format!("/v1/carts/{id}/items"),
                Some(json!({"sku": sku, "quantity": quantity})),
                &[],
            )
            .await;
        assert_eq!(added.status, StatusCode::OK, "{}", added.body);
        id
    }
}

fn address() -> Value {
    json!({"name": "Ada Lovelace", "line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"})
}

fn assert_problem(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(reply.body["code"], code, "{}", reply.body);
    assert_eq!(reply.body["status"], status.as_u16());
    assert_eq!(
        reply.body["type"],
        format!("https://errors.commerce.example/{code}")
    );
    assert!(
        reply.body["title"].is_string() && reply.body["detail"].is_string(),
        "{}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_answer_and_echo_request_ids() {
    let app = spawn_app(HttpLimits::default()).await;
    let health = app
        .call(
            Method::GET,
            "/healthz",
            None,
            &[("x-request-id", "abc-123")],
        )
        .await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body, json!({"status": "ok"}));
    assert_eq!(health.headers["x-request-id"], "abc-123");
    let ready = app
        .call(
            Method::GET,
            "/readyz",
            None,
            &[("x-request-id", "bad id with spaces")],
        )
        .await;
    assert_eq!(ready.status, StatusCode::OK);
    let generated = ready.headers["x-request-id"].to_str().expect("ascii");
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn_app(HttpLimits::default()).await;
    assert_problem(
        &app.call(Method::GET, "/v2/nothing", None, &[]).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let wrong_method = app.call(Method::DELETE, "/v1/carts", None, &[]).await;
    assert_problem(
        &wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    assert_eq!(wrong_method.headers[header::ALLOW], "POST");
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_routes_need_the_token() {
    let app = spawn_app(HttpLimits::default()).await;
    let body = json!({"name": "Phone", "price": {"amount": 19999, "currency": "USD"}});
    let missing = app
        .call(Method::PUT, "/v1/products/PHONE-1", Some(body.clone()), &[])
        .await;
    assert_problem(&missing, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(missing.headers[header::WWW_AUTHENTICATE], "Bearer");
    let wrong = app
        .call(
            Method::PUT,
            "/v1/products/PHONE-1",
            Some(body.clone()),
            &[("authorization", "Bearer nope")],
        )
        .await;
    assert_problem(&wrong, StatusCode::UNAUTHORIZED, "unauthorized");
    let restock = app
        .call(
            Method::POST,
            "/v1/inventory/PHONE-1/restock",
            Some(json!({"quantity": 1})),
            &[],
        )
        .await;
    assert_problem(&restock, StatusCode::UNAUTHORIZED, "unauthorized");

    let defined = app.admin(Method::PUT, "/v1/products/PHONE-1", body).await;
    assert_eq!(defined.status, StatusCode::OK, "{}", defined.body);
    assert_eq!(
        defined.body,
        json!({"sku": "PHONE-1", "name": "Phone", "price": {"amount": 19999, "currency": "USD"}, "active": true, "version": 1})
    );
    let read = app
        .call(Method::GET, "/v1/products/PHONE-1", None, &[])
        .await;
    assert_eq!(read.body, defined.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_classified() {
    let app = spawn_app(HttpLimits {
        body_bytes_max: 1024,
        ..HttpLimits::default()
    })
    .await;
    let bearer = format!("Bearer {ADMIN}");
    let put = |body: &'static str, content_type: &'static str| {
        Request::builder()
            .method(Method::PUT)
            .uri("/v1/products/SKU-1")
            .header("authorization", bearer.clone())
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .expect("request")
    };
    let json = "application/json";
    assert_problem(
        &app.send(put("{}", "text/plain")).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_problem(
        &app.send(put("{\"name\":", json)).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );
    let unknown = r#"{"name":"P","price":{"amount":1,"currency":"USD"},"colour":"red"}"#;
    assert_problem(
        &app.send(put(unknown, json)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_field",
    );
    let missing = app.send(put(r#"{"name":"P"}"#, json)).await;
    assert_problem(&missing, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    assert!(
        missing.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("price"),
        "{}",
        missing.body
    );
    let negative = r#"{"name":"P","price":{"amount":-1,"currency":"USD"}}"#;
    assert_problem(
        &app.send(put(negative, json)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_price",
    );
    let currency = r#"{"name":"P","price":{"amount":1,"currency":"XXX"}}"#;
    assert_problem(
        &app.send(put(currency, json)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_currency",
    );
    let huge: &'static str =
        Box::leak(format!(r#"{{"name":"{}"}}"#, "x".repeat(2048)).into_boxed_str());
    assert_problem(
        &app.send(put(huge, json)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );

    let bad_sku = app
        .admin(
            Method::PUT,
            "/v1/products/bad%20sku",
            json!({"name": "P", "price": {"amount": 1, "currency": "USD"}}),
        )
        .await;
    assert_problem(&bad_sku, StatusCode::UNPROCESSABLE_ENTITY, "invalid_sku");
    let zero = app
        .admin(
            Method::POST,
            "/v1/inventory/SKU-1/restock",
            json!({"quantity": 0}),
        )
        .await;
    assert_problem(&zero, StatusCode::UNPROCESSABLE_ENTITY, "invalid_quantity");
    let ghost = app
        .admin(
            Method::POST,
            "/v1/inventory/SKU-1/restock",
            json!({"quantity": 5}),
        )
        .await;
    assert_problem(&ghost, StatusCode::NOT_FOUND, "product_not_found");
    assert_problem(
        &app.call(Method::GET, "/v1/carts/not-a-uuid", None, &[])
            .await,
        StatusCode::NOT_FOUND,
        "cart_not_found",
    );
    assert_problem(
        &app.call(Method::GET, "/v1/orders/42", None, &[]).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    let unknown_cart = format!("/v1/carts/{}", uuid::Uuid::new_v4());
    assert_problem(
        &app.call(Method::GET, &unknown_cart, None, &[]).await,
        StatusCode::NOT_FOUND,
        "cart_not_found",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cart_lifecycle() {
    let app = spawn_app(HttpLimits::default()).await;
    app.product("MUG", 1250, 10).await;
    let created = app
        .call(Method::POST, "/v1/carts", Some(json!({})), &[])
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(created.headers[header::LOCATION], format!("/v1/carts/{id}"));
    assert_eq!(created.body["status"], "open");
    assert_eq!(created.body["total"], Value::Null);

    let items = format!("/v1/carts/{id}/items");
    let added = app
        .call(
            Method::POST,
            &items,
            Some(json!({"sku": "MUG", "quantity": 2})),
            &[],
        )
        .await;
    assert_eq!(
        added.body["lines"][0]["line_total"],
        json!({"amount": 2500, "currency": "USD"}),
        "{}",
        added.body
    );
    assert_eq!(
        added.body["total"],
        json!({"amount": 2500, "currency": "USD"})
    );
    let set = app
        .call(
            Method::PUT,
            &format!("{items}/MUG"),
            Some(json!({"quantity": 3})),
            &[],
        )
        .await;
    assert_eq!(set.body["lines"][0]["quantity"], 3, "{}", set.body);
    let too_many = app
        .call(
            Method::PUT,
            &format!("{items}/MUG"),
            Some(json!({"quantity": 1001})),
            &[],
        )
        .await;
    assert_problem(
        &too_many,
        StatusCode::UNPROCESSABLE_ENTITY,
        "quantity_limit_exceeded",
    );
    let removed = app
        .call(Method::DELETE, &format!("{items}/MUG"), None, &[])
        .await;
    assert_eq!(removed.status, StatusCode::OK);
    assert_eq!(removed.body["lines"], json!([]));
    let unknown = app
        .call(
            Method::POST,
            &items,
            Some(json!({"sku": "NOPE", "quantity": 1})),
            &[],
        )
        .await;
    assert_problem(&unknown, StatusCode::NOT_FOUND, "product_not_found");
    let bad = app
        .call(
            Method::POST,
            &items,
            Some(json!({"sku": "MUG", "quantity": -2})),
            &[],
        )
        .await;
    assert_problem(&bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_quantity");
}

#[tokio::test(flavor = "multi_thread")]
async fn checkout_is_idempotent() {
    let app = spawn_app(HttpLimits::default()).await;
    app.product("LAMP", 4000, 5).await;
    let cart = app.cart_with("LAMP", 2).await;
    let uri = format!("/v1/carts/{cart}/checkout");
    let body = json!({"payment_token": "tok_visa", "shipping_address": address()});

    let no_key = app.call(Method::POST, &uri, Some(body.clone()), &[]).await;
    assert_problem(&no_key, StatusCode::BAD_REQUEST, "idempotency_key_required");

    let first = app
        .call(
            Method::POST,
            &uri,
            Some(body.clone()),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["status"], "fulfillment_requested");
    assert_eq!(
        first.body["total"],
        json!({"amount": 8000, "currency": "USD"})
    );
    assert_eq!(first.body["payment"]["status"], "authorized");
    assert!(
        first.body["placed_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{}",
        first.body
    );
    let order_id = first.body["id"].as_str().expect("order id").to_owned();
    assert_eq!(
        first.headers[header::LOCATION],
        format!("/v1/orders/{order_id}")
    );

    // The same request again, formatted differently, replays the first answer byte for byte.
    let reordered = json!({"shipping_address": address(), "payment_token": "tok_visa"});
    let again = app
        .call(
            Method::POST,
            &uri,
            Some(reordered),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.raw, first.raw);
    assert_eq!(again.headers["idempotent-replayed"], "true");

    let other = json!({"payment_token": "tok_other", "shipping_address": address()});
    let reused = app
        .call(
            Method::POST,
            &uri,
            Some(other),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_problem(
        &reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );

    let order = app
        .call(Method::GET, &format!("/v1/orders/{order_id}"), None, &[])
        .await;
    assert_eq!(order.body["id"], order_id.as_str());
    let stock = app.call(Method::GET, "/v1/inventory/LAMP", None, &[]).await;
    assert_eq!(
        (stock.body["on_hand"].as_u64(), stock.body["sold"].as_u64()),
        (Some(3), Some(2)),
        "{}",
        stock.body
    );

    let cancelled = app
        .call(
            Method::POST,
            &format!("/v1/orders/{order_id}/cancel"),
            None,
            &[],
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_checkouts_are_problems_with_the_order() {
    let app = spawn_app(HttpLimits::default()).await;
    app.product("HOT-1", 999, 1).await;
    let buy = |token: &str, quantity: u32| json!({"lines": [{"sku": "HOT-1", "quantity": quantity}], "payment_token": token, "shipping_address": address()});
    let declined = app
        .call(
            Method::POST,
            "/v1/orders",
            Some(buy("tok_decline", 1)),
            &[("idempotency-key", "d")],
        )
        .await;
    assert_problem(&declined, StatusCode::PAYMENT_REQUIRED, "payment_declined");
    assert_eq!(declined.body["order"]["status"], "failed");
    assert_eq!(declined.body["order"]["failure_reason"], "payment_declined");
    assert_eq!(declined.body["order_id"], declined.body["order"]["id"]);

    let too_many = app
        .call(
            Method::POST,
            "/v1/orders",
            Some(buy("tok_visa", 2)),
            &[("idempotency-key", "o")],
        )
        .await;
    assert_problem(&too_many, StatusCode::CONFLICT, "out_of_stock");
    let replayed = app
        .call(
            Method::POST,
            "/v1/orders",
            Some(buy("tok_visa", 2)),
            &[("idempotency-key", "o")],
        )
        .await;
    assert_eq!(
        (replayed.status, &replayed.raw),
        (StatusCode::CONFLICT, &too_many.raw)
    );
    assert_eq!(
        replayed.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );

    let bought = app
        .call(
            Method::POST,
            "/v1/orders",
            Some(buy("tok_visa", 1)),
            &[("idempotency-key", "b")],
        )
        .await;
    assert_eq!(bought.status, StatusCode::CREATED, "{}", bought.body);

    let duplicate = json!({
        "lines": [{"sku": "HOT-1", "quantity": 1}, {"sku": "HOT-1", "quantity": 1}],
        "payment_token": "tok_visa",
        "shipping_address": address(),
    });
    let dup = app
        .call(
            Method::POST,
            "/v1/orders",
            Some(duplicate),
            &[("idempotency-key", "x")],
        )
        .await;
    assert_problem(&dup, StatusCode::UNPROCESSABLE_ENTITY, "duplicate_sku");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_checkout_releases_its_key() {
    let app = spawn_app(HttpLimits::default()).await;
    app.product("PEN", 100, 5).await;
    let cart = app.call(Method::POST, "/v1/carts", None, &[]).await;
    let id = cart.body["id"].as_str().expect("id").to_owned();
    let uri = format!("/v1/carts/{id}/checkout");
    let body = json!({"payment_token": "tok_visa", "shipping_address": address()});
    let empty = app
        .call(
            Method::POST,
            &uri,
            Some(body.clone()),
            &[("idempotency-key", "e")],
        )
        .await;
    assert_problem(&empty, StatusCode::UNPROCESSABLE_ENTITY, "cart_empty");

    // Nothing happened, so the same key may run again once the cart has something in it.
    let added = app
        .call(
            Method::POST,
            &format!("/v1/carts/{id}/items"),
            Some(json!({"sku": "PEN", "quantity": 1})),
            &[],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK);
    let retried = app
        .call(Method::POST, &uri, Some(body), &[("idempotency-key", "e")])
        .await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.body);
    assert!(retried.headers.get("idempotent-replayed").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_with_one_key_and_two_bodies() {
    let app = spawn_app(HttpLimits::default()).await;
    app.product("DUO", 500, 10).await;
    let buy = |quantity: u32| json!({"lines": [{"sku": "DUO", "quantity": quantity}], "payment_token": "tok_visa", "shipping_address": address()});
    let (a, b) = tokio::join!(
        app.call(
            Method::POST,
            "/v1/orders",
            Some(buy(1)),
            &[("idempotency-key", "same")]
        ),
        app.call(
            Method::POST,
            "/v1/orders",
            Some(buy(2)),
            &[("idempotency-key", "same")]
        ),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 422], "{} / {}", a.body, b.body);
    let stock = app.call(Method::GET, "/v1/inventory/DUO", None, &[]).await;
    assert!(
        matches!(stock.body["sold"].as_u64(), Some(1 | 2)),
        "{}",
        stock.body
    );
}

fn slow_buy() -> Value {
    // The sandbox hangs on `tok_timeout`; the saga gives up after the 200 ms payment timeout.
    json!({"lines": [{"sku": "SLOW", "quantity": 1}], "payment_token": "tok_timeout", "shipping_address": address()})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_during_the_first_attempt_waits_for_its_answer() {
    let app = Arc::new(spawn_app(HttpLimits::default()).await);
    app.product("SLOW", 100, 5).await;
    let first = tokio::spawn({
        let app = app.clone();
        async move {
            app.call(
                Method::POST,
                "/v1/orders",
                Some(slow_buy()),
                &[("idempotency-key", "w")],
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let retry = app
        .call(
            Method::POST,
            "/v1/orders",
            Some(slow_buy()),
            &[("idempotency-key", "w")],
        )
        .await;
    let first = first.await.expect("joined");
    assert_problem(&first, StatusCode::PAYMENT_REQUIRED, "payment_timeout");
    assert_eq!((retry.status, &retry.raw), (first.status, &first.raw));
    assert_eq!(retry.headers["idempotent-replayed"], "true");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_that_cannot_wait_is_told_to_come_back() {
    let limits = HttpLimits {
        idempotency_wait: Duration::ZERO,
        retry_after_secs: 3,
        ..HttpLimits::default()
    };
    let app = Arc::new(spawn_app(limits).await);
    app.product("SLOW", 100, 5).await;
    let first = tokio::spawn({
        let app = app.clone();
        async move {
            app.call(
                Method::POST,
                "/v1/orders",
                Some(slow_buy()),
                &[("idempotency-key", "c")],
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let retry = app
        .call(
            Method::POST,
            "/v1/orders",
            Some(slow_buy()),
            &[("idempotency-key", "c")],
        )
        .await;
    assert_problem(&retry, StatusCode::CONFLICT, "idempotency_in_progress");
    assert_eq!(retry.headers[header::RETRY_AFTER], "3");
    let first = first.await.expect("joined");
    assert_eq!(
        retry.body["order_id"], first.body["order_id"],
        "{} / {}",
        retry.body, first.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cart_creation_body_is_optional_but_strict() {
    let app = spawn_app(HttpLimits::default()).await;
    let none = app.call(Method::POST, "/v1/carts", None, &[]).await;
    assert_eq!(none.status, StatusCode::CREATED);
    let extra = app
        .call(
            Method::POST,
            "/v1/carts",
            Some(json!({"customer_id": "x"})),
            &[],
        )
        .await;
    assert_problem(&extra, StatusCode::UNPROCESSABLE_ENTITY, "unknown_field");
    let untyped = Request::builder()
        .method(Method::POST)
        .uri("/v1/carts")
        .body(Body::from("{}"))
        .expect("request");
    assert_problem(
        &app.send(untyped).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}
