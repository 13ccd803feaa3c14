//! Without Kafka: the embedded bus runs the same consumers with the same inbox; the read model
//! behind the HTTP routes, notifications, and rebuilding the read model.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use commerce_http::routes_read::ReadModelsHandle;
use commerce_http::{AdminToken, AppState, HttpLimits};
use relay::{ConsumerConfig, LogNotifier, Pipeline, RelayConfig, SqlReadModels};
use serde_json::Value;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::harness::*;

async fn get(router: &axum::Router, uri: &str) -> (StatusCode, Value) {
    get_as(router, None, uri).await
}

/// A GET with the shopper's bearer token, if any.
async fn get_as(router: &axum::Router, token: Option<&str>, uri: &str) -> (StatusCode, Value) {
    let mut request = Request::get(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn embedded_bus_serves_read_models_and_notifications(backend: Backend) {
    let world = World::new(backend).await;
    let running = start(&world);

    let sku = world.stock("EMB-1", 20).await;
    // A shopper with an account: a customer's read models answer only to the customer's token.
    let accounts = world.commerce.accounts();
    let account = accounts
        .sign_up(
            domain::Email::parse("reader@example.com").expect("email"),
            domain::Password::parse("correct horse battery").expect("password"),
        )
        .await
        .expect("sign up");
    let session = accounts
        .open_session(account.customer)
        .await
        .expect("session");
    let (c, token) = (account.customer, Some(session.token.as_str()));
    let confirmed = [
        world.buy(c, &sku, "tok_visa").await,
        world.buy(c, &sku, "tok_visa").await,
    ];
    let failed = world.buy(c, &sku, "tok_decline").await;
    world
        .commerce
        .cancel_order(confirmed[1])
        .await
        .expect("cancel");
    let other = world.buy(customer(), &sku, "tok_visa").await;
    stop_when_drained(&world, running).await;

    // Every event delivered again, as after a relay crash between publishing and marking: the
    // built-in consumers deduplicate by their own keys, so nothing changes and they keep no
    // inbox rows.
    let figures = || async {
        [
            world.count("SELECT COUNT(*) FROM notifications").await,
            world
                .count(
                    "SELECT COUNT(*) FROM order_views \
                     WHERE status IN ('confirmed', 'fulfillment_requested')",
                )
                .await,
            world.count("SELECT COUNT(*) FROM order_view_skus").await,
        ]
    };
    let before_redelivery = figures().await;
    world
        .execute("UPDATE outbox SET published_at = NULL, claimed_by = NULL, lease_until = NULL")
        .await;
    stop_when_drained(&world, start(&world)).await;
    assert_eq!(figures().await, before_redelivery);
    assert_eq!(
        world
            .count("SELECT COUNT(*) FROM inbox WHERE consumer IN ('order-read-model', 'notifications')")
            .await,
        0,
        "the built-in consumers keep no inbox rows"
    );

    let state = AppState {
        commerce: world.commerce.clone(),
        admin_token: AdminToken::new("t"),
        limits: HttpLimits::default(),
    };
    let read = ReadModelsHandle(Arc::new(SqlReadModels::new(world.db.clone())));
    let router = commerce_http::router(state).layer(axum::Extension(read));

    // Newest first, two per page, then the rest with the cursor.
    let (status, first) =
        get_as(&router, token, &format!("/v1/customers/{c}/orders?limit=2")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let page1 = first["orders"].as_array().expect("orders").clone();
    assert_eq!(page1.len(), 2);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (status, second) = get_as(
        &router,
        token,
        &format!("/v1/customers/{c}/orders?limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let page2 = second["orders"].as_array().expect("orders").clone();
    assert_eq!(page2.len(), 1);
    assert!(second["next_cursor"].is_null());
    let mut listed: Vec<(String, String)> = page1
        .iter()
        .chain(&page2)
        .map(|o| {
            (
                o["order_id"].as_str().unwrap_or_default().to_owned(),
                o["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    listed.sort();
    let mut expected = vec![
        (confirmed[0].to_string(), "fulfillment_requested".to_owned()),
        (confirmed[1].to_string(), "cancelled".to_owned()),
        (failed.to_string(), "failed".to_owned()),
    ];
    expected.sort();
    assert_eq!(listed, expected);
    assert!(!listed.iter().any(|(id, _)| *id == other.to_string()));
    assert_eq!(page1[0]["total"]["amount"], 1_250);

    let (status, bad) = get_as(
        &router,
        token,
        &format!("/v1/customers/{c}/orders?cursor=garbage"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["code"], "invalid_query");
    let (status, _) = get_as(&router, token, "/v1/customers/not-a-uuid/orders").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Sellers (admin) see every order of a SKU, whoever placed it.
    let sku_orders = Request::get("/v1/skus/EMB-1/orders?limit=10")
        .header("authorization", "Bearer t")
        .body(Body::empty())
        .expect("request");
    let response = router
        .clone()
        .oneshot(sku_orders)
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(body["orders"].as_array().map(Vec::len), Some(4), "{body}");
    let (status, _) = get(&router, "/v1/skus/EMB-1/orders").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Notifications: two confirmations, one failure, one cancellation; each once.
    let (status, body) = get_as(&router, token, &format!("/v1/customers/{c}/notifications")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut kinds: Vec<String> = body["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .map(|n| n["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "order_cancelled",
            "order_confirmed",
            "order_confirmed",
            "order_failed"
        ]
    );

    // Rebuilding from the outbox gives the same read model back.
    let before = get_as(&router, token, &format!("/v1/customers/{c}/orders"))
        .await
        .1;
    match &world.db {
        relay::Db::Postgres(p) => sqlx::query("UPDATE order_views SET status = 'wrong'")
            .execute(p)
            .await
            .map(|_| ()),
        relay::Db::Sqlite(p) => sqlx::query("UPDATE order_views SET status = 'wrong'")
            .execute(p)
            .await
            .map(|_| ()),
    }
    .expect("corrupt the read model");
    let rebuilt = relay::rebuild_read_models(&world.db)
        .await
        .expect("rebuild");
    assert!(rebuilt.events > 0 && rebuilt.rejected == 0, "{rebuilt:?}");
    let after = get_as(&router, token, &format!("/v1/customers/{c}/orders"))
        .await
        .1;
    assert_eq!(before, after);
    world.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_embedded_bus_serves_read_models_and_notifications() {
    embedded_bus_serves_read_models_and_notifications(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_embedded_bus_serves_read_models_and_notifications() {
    embedded_bus_serves_read_models_and_notifications(Backend::Postgres).await;
}

/// The embedded pipeline with the default consumers' settings, and the switch that stops it.
fn start(world: &World) -> (watch::Sender<bool>, Pipeline) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let settings = pipeline_settings(None, ConsumerConfig::default(), Arc::new(LogNotifier));
    let pipeline = Pipeline::start(world.db.clone(), settings, stop_rx).expect("pipeline");
    (stop_tx, pipeline)
}

/// Waits until the outbox is drained, then stops the pipeline.
async fn stop_when_drained(world: &World, (stop, pipeline): (watch::Sender<bool>, Pipeline)) {
    assert!(
        eventually(Duration::from_secs(30), || async {
            world.pending().await == 0
        })
        .await
    );
    let _ = stop.send(true);
    pipeline.join().await;
}

fn embedded(world: &World, stop: watch::Receiver<bool>) -> Pipeline {
    let consumer = ConsumerConfig {
        attempts_max: 2,
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..ConsumerConfig::default()
    };
    let settings = pipeline_settings(None, consumer, Arc::new(LogNotifier));
    Pipeline::start(world.db.clone(), settings, stop).expect("pipeline")
}

/// An outbox row no consumer can apply: dead-lettered (table) after the attempts, and the
/// events after it still reach the read model.
async fn embedded_bus_dead_letters_poison_and_moves_on(backend: Backend) {
    let world = World::new(backend).await;
    let poison = uuid::Uuid::new_v4();
    let insert = match backend {
        Backend::Sqlite => format!(
            "INSERT INTO outbox (event_id, aggregate_type, aggregate_id, sequence, event_type, \
             schema_version, payload, created_at) VALUES ('{poison}', 'order', 'poison', 1, \
             'order.placed', 1, '{{\"order_id\": \"x\"}}', 0)"
        ),
        Backend::Postgres => format!(
            "INSERT INTO outbox (event_id, aggregate_type, aggregate_id, sequence, event_type, \
             schema_version, payload, created_at) VALUES ('{poison}', 'order', 'poison', 1, \
             'order.placed', 1, '{{\"order_id\": \"x\"}}', now())"
        ),
    };
    match &world.db {
        relay::Db::Postgres(p) => sqlx::query(&insert).execute(p).await.map(|_| ()),
        relay::Db::Sqlite(p) => sqlx::query(&insert).execute(p).await.map(|_| ()),
    }
    .expect("plant a poison row");
    let (stop_tx, stop_rx) = watch::channel(false);
    let pipeline = embedded(&world, stop_rx);
    let sku = world.stock("EMB-P", 5).await;
    let order = world.buy(customer(), &sku, "tok_visa").await;
    assert!(
        eventually(Duration::from_secs(30), || async {
            world.pending().await == 0
        })
        .await
    );
    let _ = stop_tx.send(true);
    pipeline.join().await;

    let sql = format!("SELECT count(*) FROM order_views WHERE order_id = '{order}'");
    assert_eq!(world.count(&sql).await, 1, "later events flowed");
    let dead = format!(
        "SELECT count(*) FROM dead_letters WHERE event_id = '{poison}' AND attempts = 2 \
         AND error LIKE '%order.placed%'"
    );
    assert_eq!(
        world.count(&dead).await,
        2,
        "both consumers dead-lettered it"
    );
    world.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_embedded_bus_dead_letters_poison_and_moves_on() {
    embedded_bus_dead_letters_poison_and_moves_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_embedded_bus_dead_letters_poison_and_moves_on() {
    embedded_bus_dead_letters_poison_and_moves_on(Backend::Postgres).await;
}

/// A relay with no consumers whose retention is 1 ms, pruning `prune_batch_max` rows per
/// statement.
fn pruning_relay(world: &World, prune_batch_max: u32) -> relay::Relay {
    let bus = relay::bus::Bus::new(world.db.clone(), Vec::new(), ConsumerConfig::default());
    relay::Relay::new(
        world.db.clone(),
        Arc::new(bus),
        RelayConfig {
            retention: Some(Duration::from_millis(1)),
            prune_batch_max,
            ..RelayConfig::default()
        },
    )
}

/// Publishes every outbox row, then waits until they are past a 1 ms retention.
async fn publish_everything_past_the_retention(relay: &relay::Relay) {
    while relay.pass().await.expect("pass").claimed > 0 {}
    tokio::time::sleep(Duration::from_millis(20)).await;
}

/// Published rows older than the retention are pruned; unpublished ones never are.
async fn published_rows_are_pruned_after_the_retention(backend: Backend) {
    let world = World::new(backend).await;
    world.stock("PRUNE-1", 5).await;
    let total = world.outbox().await.len() as i64;
    let relay = pruning_relay(&world, 1);
    assert_eq!(relay.prune().await, 0, "nothing published yet");
    publish_everything_past_the_retention(&relay).await;
    assert_eq!(relay.prune().await, 1, "bounded by prune_batch_max");
    while relay.prune().await > 0 {}
    assert_eq!(world.count("SELECT count(*) FROM outbox").await, 0);
    assert!(total > 0);
    world.close().await;
}

/// Rows whose event ids are random (version 4, as written before ids became time-ordered) are
/// pruned as well, and an unpublished one is not.
async fn published_rows_with_random_ids_are_pruned_too(backend: Backend) {
    let world = World::new(backend).await;
    for sequence in 1..=3 {
        world
            .insert_outbox_row("order", "LEGACY", sequence, sequence)
            .await;
    }
    world.stock("PRUNE-V7", 5).await;
    let relay = pruning_relay(&world, RelayConfig::default().prune_batch_max);
    while relay.pass().await.expect("pass").claimed > 0 {}
    world.insert_outbox_row("order", "UNPUBLISHED", 1, 4).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    while relay.prune().await > 0 {}
    let rows: Vec<String> = world
        .outbox()
        .await
        .into_iter()
        .map(|e| e.aggregate_id)
        .collect();
    assert_eq!(rows, ["UNPUBLISHED"]);
    world.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_published_rows_with_random_ids_are_pruned_too() {
    published_rows_with_random_ids_are_pruned_too(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_published_rows_with_random_ids_are_pruned_too() {
    published_rows_with_random_ids_are_pruned_too(Backend::Postgres).await;
}

/// A running relay prunes at once when it starts, and again after every pass while its
/// statements come back full, instead of one statement a minute: with one row per statement,
/// every published row past the retention is gone within seconds.
async fn a_relay_behind_on_pruning_prunes_until_it_caught_up(backend: Backend) {
    let world = World::new(backend).await;
    for n in 0..3 {
        world.stock(&format!("PRUNE-RUN-{n}"), 5).await;
    }
    let total = world.outbox().await.len();
    assert!(total >= 3, "{total} outbox rows");
    let relay = pruning_relay(&world, 1);
    publish_everything_past_the_retention(&relay).await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let running = tokio::spawn(relay.run(stop_rx));
    let outbox = "SELECT count(*) FROM outbox";
    assert!(
        eventually(Duration::from_secs(10), || async {
            world.count(outbox).await == 0
        })
        .await,
        "{} of {total} published rows still there",
        world.count(outbox).await
    );
    let _ = stop_tx.send(true);
    running.await.expect("relay task");
    world.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_relay_behind_on_pruning_prunes_until_it_caught_up() {
    a_relay_behind_on_pruning_prunes_until_it_caught_up(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_relay_behind_on_pruning_prunes_until_it_caught_up() {
    a_relay_behind_on_pruning_prunes_until_it_caught_up(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_published_rows_are_pruned_after_the_retention() {
    published_rows_are_pruned_after_the_retention(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_published_rows_are_pruned_after_the_retention() {
    published_rows_are_pruned_after_the_retention(Backend::Postgres).await;
}
