//! `/metrics` and the ops API on the real server: histograms with buckets, no ids in labels,
//! counters that move with a checkout, the admin token, passivate and restart.
//!
//! The Prometheus recorder is process-wide and the tests of this binary run concurrently, so
//! assertions on event metrics compare before and after and expect "at least".

use crate::helpers::{spawn_app, Backend, TestApp, ADMIN_TOKEN};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One scrape as `series (name + labels) -> value`.
async fn scrape(app: &TestApp) -> (String, HashMap<String, f64>) {
    let response = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.expect("body");
    let series = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse::<f64>().ok()?))
        })
        .collect();
    (text, series)
}

fn value(series: &HashMap<String, f64>, name: &str) -> f64 {
    series.get(name).copied().unwrap_or(0.0)
}

async fn ops(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("ops request");
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_have_buckets_no_ids_and_move_with_a_checkout() {
    let app = spawn_app(Backend::Sqlite).await;
    app.product_with_stock("MET-1", 500, 10).await;
    let (_, before) = scrape(&app).await;
    let cart = app.cart_with("MET-1", 1).await;
    let placed = app.checkout(&cart, "metrics-checkout-1", "tok_visa").await;
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    let order_id = placed.body["id"].as_str().unwrap_or_default().to_owned();
    let (text, after) = scrape(&app).await;

    // Histograms, not summaries: buckets with `le`, and no quantile series.
    for family in [
        "http_server_request_duration_seconds",
        "actor_command_duration_seconds",
        "actor_mailbox_wait_seconds",
        "persistence_commit_duration_seconds",
        "persistence_batch_size",
        "checkout_step_duration_seconds",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} histogram")),
            "{family} is not a histogram"
        );
        assert!(
            text.contains(&format!("{family}_bucket{{")),
            "{family} has no buckets"
        );
    }
    assert!(!text.contains("quantile="), "a summary slipped in");
    // Every step of the checkout that just confirmed was timed.
    for step in [
        "claim_idempotency_key",
        "place",
        "reserve",
        "authorize",
        "request_shipment",
        "commit_stock",
        "confirm",
        "fulfill",
    ] {
        let count = format!("checkout_step_duration_seconds_count{{step=\"{step}\"}}");
        assert!(value(&after, &count) >= 1.0, "{count} was not counted");
    }
    // The route template, never the cart's id.
    assert!(text.contains("route=\"/v1/carts/{id}/checkout\""));
    assert!(!text.contains(&cart), "a cart id leaked into a label");
    assert!(
        !order_id.is_empty() && !text.contains(&order_id),
        "an order id leaked"
    );

    let confirmed = "checkout_outcomes_total{outcome=\"confirmed\"}";
    assert!(value(&after, confirmed) >= value(&before, confirmed) + 1.0);
    for (name, at_least) in [
        ("actor_activations_total{actor_type=\"order\"}", 1.0),
        ("actor_commands_total{actor_type=\"inventory\"}", 1.0),
        ("persistence_batches_total{actor_type=\"order\"}", 3.0),
    ] {
        assert!(
            value(&after, name) >= value(&before, name) + at_least,
            "{name}: {} -> {}",
            value(&before, name),
            value(&after, name)
        );
    }
    assert!(value(&after, "actors_alive{actor_type=\"cart\"}") >= 1.0);
    for gauge in ["outbox_pending", "outbox_lag_seconds", "saga_in_flight"] {
        assert!(after.contains_key(gauge), "{gauge} missing");
    }
    let sold_out = app
        .buy_now("MET-1", 100, "metrics-buy-too-many", "tok_visa")
        .await;
    assert_eq!(sold_out.status, 409);
    let (_, last) = scrape(&app).await;
    let out_of_stock = "checkout_outcomes_total{outcome=\"out_of_stock\"}";
    assert!(value(&last, out_of_stock) >= value(&after, out_of_stock) + 1.0);
    // A declined payment compensates: the reservation is released.
    let declined = app
        .buy_now("MET-1", 1, "metrics-buy-declined", "tok_decline")
        .await;
    assert_eq!(declined.status, 402);
    let (text, _) = scrape(&app).await;
    assert!(text.contains("saga_compensations_total{reason=\"payment_declined\"}"));
    grafana_queries_name_served_metrics(&text);
    app.stop().await;
}

/// Every metric the Grafana dashboard in docker/ queries is one `/metrics` serves: a renamed
/// metric fails here, not silently on an operator's screen.
fn grafana_queries_name_served_metrics(scrape: &str) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docker/grafana/dashboards/commerce.json"
    );
    let dashboard: Value = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .expect("the Grafana dashboard is JSON");
    let panels = dashboard["panels"].as_array().cloned().unwrap_or_default();
    assert!(!panels.is_empty());
    let families = [
        "_bucket", "_sum", "_count", "_total", "_seconds", "_size", "_alive", "_depth", "_pending",
        "_flight",
    ];
    for panel in panels {
        for target in panel["targets"].as_array().cloned().unwrap_or_default() {
            let expr = target["expr"].as_str().unwrap_or_default();
            let names = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.contains('_') && families.iter().any(|f| w.ends_with(f)));
            for name in names {
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(name);
                assert!(
                    scrape.contains(&format!("# TYPE {family} ")),
                    "the dashboard queries {name}, which /metrics does not serve"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_routes_need_the_admin_token() {
    let app = spawn_app(Backend::Sqlite).await;
    for path in [
        "/ops/overview",
        "/ops/shards",
        "/ops/supervision",
        "/ops/sagas",
        "/ops/outbox",
        "/ops/actors/inventory/SKU-1",
    ] {
        let (status, body) = ops(&app, reqwest::Method::GET, path, None).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(body["code"], "unauthorized", "{path}");
        let (status, _) = ops(&app, reqwest::Method::GET, path, Some("wrong")).await;
        assert_eq!(status, 401, "{path}");
    }
    let (status, _) = ops(
        &app,
        reqwest::Method::POST,
        "/ops/actors/inventory/SKU-1/restart",
        None,
    )
    .await;
    assert_eq!(status, 401);
    // The page itself is public (it asks for the token) and embedded.
    let page = app.client.get(app.url("/ops")).send().await.expect("page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap_or_default().contains("<canvas"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_inspect_passivate_and_restart_one_actor() {
    let app = spawn_app(Backend::Sqlite).await;
    app.product_with_stock("OPS-1", 700, 5).await;
    let token = Some(ADMIN_TOKEN);
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;

    let (status, actor) = ops(&app, get.clone(), "/ops/actors/inventory/OPS-1", token).await;
    assert_eq!(status, 200, "{actor}");
    assert_eq!(actor["state"]["on_hand"], 5);
    assert_eq!(actor["version"], actor["state"]["version"]);
    assert_eq!(actor["live"]["id"], "OPS-1");

    let (status, shards) = ops(&app, get.clone(), "/ops/shards?top=5", token).await;
    assert_eq!(status, 200);
    let kinds = shards["kinds"].as_array().cloned().unwrap_or_default();
    assert_eq!(kinds.len(), 4);
    assert!(shards["hottest_by_commands"]
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v["id"] == "OPS-1")));

    let (status, _) = ops(
        &app,
        post.clone(),
        "/ops/actors/inventory/OPS-1/restart",
        token,
    )
    .await;
    assert_eq!(status, 202);
    let restarted = wait_for(|| async {
        let (_, a) = ops(&app, get.clone(), "/ops/actors/inventory/OPS-1", token).await;
        a["live"]["restarts"].as_u64() == Some(1)
    })
    .await;
    assert!(restarted, "the restart never showed");
    let (_, log) = ops(&app, get.clone(), "/ops/supervision", token).await;
    assert!(log["entries"].as_array().is_some_and(|e| e
        .iter()
        .any(|e| e["id"] == "OPS-1" && e["event"] == "restarted")));

    let (status, _) = ops(
        &app,
        post.clone(),
        "/ops/actors/inventory/OPS-1/passivate",
        token,
    )
    .await;
    assert_eq!(status, 202);
    let gone = wait_for(|| async {
        let (_, s) = ops(&app, get.clone(), "/ops/shards?top=100", token).await;
        !s["hottest_by_commands"].as_array().is_some_and(|a| {
            a.iter()
                .any(|v| v["id"] == "OPS-1" && v["actor_type"] == "inventory")
        })
    })
    .await;
    assert!(gone, "the actor never passivated");
    let (status, body) = ops(
        &app,
        post.clone(),
        "/ops/actors/inventory/OPS-1/passivate",
        token,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    // Reading it again activates it from the store, with the same state.
    let (_, again) = ops(&app, get.clone(), "/ops/actors/inventory/OPS-1", token).await;
    assert_eq!(again["was_live"], false);
    assert_eq!(again["state"]["on_hand"], 5);

    for bad in ["/ops/actors/widget/x", "/ops/actors/cart/not-a-uuid"] {
        let (status, _) = ops(&app, get.clone(), bad, token).await;
        assert_eq!(status, 404, "{bad}");
    }
    let (status, sagas) = ops(&app, get.clone(), "/ops/sagas", token).await;
    assert_eq!(status, 200);
    assert!(sagas["in_flight"].is_array() && sagas["stuck"].is_array());
    let (status, _) = ops(&app, get, "/ops/sagas?limit=x", token).await;
    assert_eq!(status, 400);
    app.stop().await;
}

async fn wait_for<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The cart kind's entry of `/ops/overview`.
async fn cart_kind(app: &TestApp) -> Value {
    let (status, overview) = ops(
        app,
        reqwest::Method::GET,
        "/ops/overview",
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, 200, "{overview}");
    overview["kinds"]
        .as_array()
        .and_then(|kinds| kinds.iter().find(|k| k["actor_type"] == "cart").cloned())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_carts_hibernate_and_wake_from_memory_with_their_items() {
    let (mut settings, _) = crate::helpers::test_settings(Backend::Postgres).await;
    settings.runtime.hibernate_idle = Duration::from_millis(200);
    settings.runtime.passivation_check_interval = Duration::from_millis(50);
    let app = crate::helpers::spawn_with(settings).await;
    app.product_with_stock("HIB-1", 300, 50).await;
    let carts: Vec<String> =
        futures::future::join_all((0..20).map(|_| app.cart_with("HIB-1", 2))).await;
    let all_asleep =
        wait_for(|| async { cart_kind(&app).await["hibernated"].as_i64() == Some(20) }).await;
    assert!(
        all_asleep,
        "the carts never hibernated: {}",
        cart_kind(&app).await
    );
    let kind = cart_kind(&app).await;
    assert_eq!(kind["alive"], 0, "{kind}");
    let (_, series) = scrape(&app).await;
    assert_eq!(
        value(&series, "actors_hibernated{actor_type=\"cart\"}"),
        20.0
    );

    // A command wakes the cart with what it held; nothing was loaded for it.
    let activations = kind["activations"].as_u64().unwrap_or_default();
    let cart = &carts[0];
    let added = app
        .post(
            &format!("/v1/carts/{cart}/items"),
            serde_json::json!({"sku": "HIB-1", "quantity": 1}),
        )
        .await;
    assert_eq!(added.status, 200, "{:?}", added.body);
    assert_eq!(added.body["lines"][0]["quantity"], 3, "{:?}", added.body);
    let kind = cart_kind(&app).await;
    assert_eq!(kind["wakes"], 1, "{kind}");
    assert_eq!(kind["activations"].as_u64(), Some(activations), "{kind}");
    // The woken cart checks out like any other.
    let placed = app
        .checkout(cart, "hibernated-cart-checkout", "tok_visa")
        .await;
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    assert_eq!(placed.body["lines"][0]["quantity"], 3);
    app.stop().await;
}
