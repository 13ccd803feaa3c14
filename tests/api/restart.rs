//! Kill the real `commerce` binary with SIGKILL in the middle of a flash sale, start it again on
//! the same store, and check that every acknowledged order is there and the books balance.

use crate::helpers::{fresh_postgres_database, BinaryConfig, TestApp};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const STOCK: u64 = 300;

async fn buy(app: &TestApp, key: &str) -> Option<(u16, serde_json::Value)> {
    let reply = app
        .try_send(app.buy_now_request("FLASH", 1, key, "tok_visa"))
        .await?;
    Some((reply.status, reply.body))
}

async fn kill_mid_sale_and_check(database_url: Option<String>) {
    let binary = BinaryConfig::new(database_url);
    let server = binary.start().await;
    server
        .app
        .product_with_stock("FLASH", 999, STOCK as u32)
        .await;

    // Buyers hammer the SKU; each remembers its key and whether it got a 201.
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let attempted = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut buyers = Vec::new();
    for b in 0..16 {
        let app = TestApp::attach(server.app.address.clone());
        let (acknowledged, attempted, stop) =
            (acknowledged.clone(), attempted.clone(), stop.clone());
        buyers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < 200 {
                let key = format!("buyer-{b}-{i}");
                attempted.lock().expect("lock").push(key.clone());
                if let Some((201, order)) = buy(&app, &key).await {
                    let id = order["id"].as_str().unwrap_or_default().to_string();
                    acknowledged.lock().expect("lock").push((key, id));
                }
                i += 1;
            }
        }));
    }
    // Kill once the sale is demonstrably underway (some orders acknowledged, others in flight),
    // not after a fixed time that a busy machine may not fill.
    let underway = Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().expect("lock").len() < 5 && Instant::now() < underway {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    for buyer in buyers {
        buyer.await.expect("buyer");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        !acknowledged.is_empty(),
        "the sale was underway when the server died"
    );

    let server = binary.start().await;
    let app = &server.app;
    for (key, id) in &acknowledged {
        let order = app.get(&format!("/v1/orders/{id}")).await;
        assert_eq!(
            order.status, 200,
            "acknowledged order {id} ({key}) survived the crash"
        );
        assert_eq!(
            order.body["status"], "fulfillment_requested",
            "{:?}",
            order.body
        );
    }
    // Every attempted key now has a definite answer, and the units sold are exactly the orders
    // that answer 201: nothing oversold, nothing held by a dead checkout.
    let attempted = attempted.lock().expect("lock").clone();
    let mut confirmed = 0u64;
    for key in &attempted {
        let answer = buy(app, key).await.expect("answer after restart");
        match answer.0 {
            201 => confirmed += 1,
            409 | 402 | 503 => {}
            other => panic!("unexpected {other} for {key}: {}", answer.1),
        }
    }
    let stock = app.inventory("FLASH").await;
    assert_eq!(
        stock["reserved"], 0,
        "no stock held by a checkout that died: {stock}"
    );
    assert_eq!(stock["sold"].as_u64(), Some(confirmed), "{stock}");
    assert_eq!(
        stock["on_hand"].as_u64().map(|h| h + confirmed),
        Some(STOCK),
        "{stock}"
    );
    assert!(confirmed >= acknowledged.len() as u64);
    server.kill9();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_kill_9_mid_sale_loses_no_acknowledged_order() {
    kill_mid_sale_and_check(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_kill_9_mid_sale_loses_no_acknowledged_order() {
    kill_mid_sale_and_check(Some(fresh_postgres_database().await)).await;
}
