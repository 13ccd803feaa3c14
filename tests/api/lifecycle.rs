//! Process lifecycle: graceful shutdown on SIGTERM, and stock held by an abandoned checkout
//! coming back when its reservation expires.

use crate::helpers::{spawn_with, test_settings, Backend, ADMIN_TOKEN};
use actors::hosted::Aggregate;
use actors::ports::{Recorded, SystemClock};
use actors::InventoryCommand;
use domain::inventory::Command as StockCommand;
use domain::{Quantity, ReservationId, SkuCode};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_work_finish_and_exits_zero() {
    let data_dir = crate::helpers::temp_dir("commerce-sigterm");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_commerce"))
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("DATA_DIR", &data_dir)
        .env("ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("commerce starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server never became healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let defined = client
        .put(format!("{base}/v1/products/TERM"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "Term", "price": {"amount": 100, "currency": "USD"}}))
        .send()
        .await
        .expect("define");
    assert!(defined.status().is_success());

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "no exit within 20 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(exit.code(), Some(0), "graceful shutdown exits 0");

    // What was acknowledged before the signal is there after it.
    let mut settings = test_settings(Backend::Sqlite).await.0;
    settings.data_dir = data_dir;
    let app = spawn_with(settings).await;
    assert_eq!(app.get("/v1/products/TERM").await.status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_reservation_expires_and_its_stock_returns() {
    let (settings, data_dir) = test_settings(Backend::Sqlite).await;
    let app = spawn_with(settings.clone()).await;
    app.product_with_stock("LEFT", 100, 5).await;
    app.stop().await;

    // A checkout that reserved 2 units and was never heard of again: written straight to the
    // store, exactly as the inventory actor would have committed it, with a deadline 300 ms out.
    let store = persistence::open_store(None, &data_dir, &settings.pool)
        .await
        .expect("store");
    let sku = SkuCode::parse("LEFT").expect("sku");
    let mut stock = store.load_inventory(&sku).await.expect("load");
    let now = actors::ports::Clock::now(&SystemClock);
    let reserve = InventoryCommand::Domain(StockCommand::Reserve {
        reservation_id: ReservationId::from_u128(uuid::Uuid::new_v4().as_u128()),
        quantity: Quantity::new(2).expect("quantity"),
        expires_at: now.plus_ms(300),
    });
    let expected_version = Aggregate::version(&stock);
    let events = Aggregate::handle(&stock, &reserve, now).expect("reserve accepted");
    let recorded = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            Aggregate::apply(&mut stock, &event);
            Recorded {
                event_id: uuid::Uuid::new_v4().as_u128(),
                sequence: expected_version + i as u64 + 1,
                occurred_at: now,
                event,
            }
        })
        .collect();
    store
        .commit_inventory(vec![stock.change(&reserve, expected_version, recorded)])
        .await
        .expect("commit");
    drop(store);

    let app = spawn_with(settings).await;
    let held = app.inventory("LEFT").await;
    assert_eq!(
        (held["reserved"].as_u64(), held["available"].as_u64()),
        (Some(2), Some(3)),
        "{held}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stock = app.inventory("LEFT").await;
        if stock["reserved"] == 0 {
            assert_eq!(
                (stock["available"].as_u64(), stock["on_hand"].as_u64()),
                (Some(5), Some(5)),
                "{stock}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "reservation never expired: {stock}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}
