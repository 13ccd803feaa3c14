//! Kill the real `commerce` binary with SIGKILL in the middle of a flash sale, start it again on
//! the same store, and check that every acknowledged order is there and the books balance.

use crate::helpers::{checkout_body, fresh_postgres_database, temp_dir, ADMIN_TOKEN};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const STOCK: u64 = 300;

struct Server {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn start_server(port: u16, data_dir: &std::path::Path, database_url: Option<&str>) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_commerce"));
    command
        .arg("serve")
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("DATA_DIR", data_dir)
        .env("ADMIN_TOKEN", ADMIN_TOKEN)
        .env("PAYMENT_TIMEOUT_MS", "300")
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    // Owned by `Server` at once, so every path (including a failed health wait) kills and
    // reaps the child.
    let server = Server {
        child: command.spawn().expect("commerce binary starts"),
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{}/healthz", server.base)).send().await {
            if r.status().is_success() {
                return server;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not become healthy");
}

impl Server {
    /// SIGKILL: no shutdown hook runs, exactly like a crash (`Drop` sends it).
    fn kill9(self) {}
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn buy(client: &reqwest::Client, base: &str, key: &str) -> Option<(u16, serde_json::Value)> {
    let mut body = checkout_body("tok_visa");
    body["lines"] = json!([{"sku": "FLASH", "quantity": 1}]);
    let response = client
        .post(format!("{base}/v1/orders"))
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let json = response.json().await.unwrap_or(serde_json::Value::Null);
    Some((status, json))
}

async fn kill_mid_sale_and_check(database_url: Option<String>) {
    let data_dir = temp_dir("commerce-restart");
    let port = free_port();
    let server = start_server(port, &data_dir, database_url.as_deref()).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let product = client
        .put(format!("{}/v1/products/FLASH", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "Flash", "price": {"amount": 999, "currency": "USD"}}))
        .send()
        .await
        .expect("product");
    assert!(product.status().is_success());
    let restock = client
        .post(format!("{}/v1/inventory/FLASH/restock", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"quantity": STOCK}))
        .send()
        .await
        .expect("restock");
    assert!(restock.status().is_success());

    // Buyers hammer the SKU; each remembers its key and whether it got a 201.
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let attempted = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut buyers = Vec::new();
    for b in 0..16 {
        let (client, base) = (client.clone(), server.base.clone());
        let (acknowledged, attempted, stop) =
            (acknowledged.clone(), attempted.clone(), stop.clone());
        buyers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < 200 {
                let key = format!("buyer-{b}-{i}");
                attempted.lock().expect("lock").push(key.clone());
                if let Some((201, order)) = buy(&client, &base, &key).await {
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

    let server = start_server(port, &data_dir, database_url.as_deref()).await;
    for (key, id) in &acknowledged {
        let order = client
            .get(format!("{}/v1/orders/{id}", server.base))
            .send()
            .await
            .expect("get order");
        assert_eq!(
            order.status().as_u16(),
            200,
            "acknowledged order {id} ({key}) survived the crash"
        );
        let order: serde_json::Value = order.json().await.expect("json");
        assert_eq!(order["status"], "fulfillment_requested", "{order}");
    }
    // Every attempted key now has a definite answer, and the units sold are exactly the orders
    // that answer 201: nothing oversold, nothing held by a dead checkout.
    let attempted = attempted.lock().expect("lock").clone();
    let mut confirmed = 0u64;
    for key in &attempted {
        let answer = buy(&client, &server.base, key)
            .await
            .expect("answer after restart");
        match answer.0 {
            201 => confirmed += 1,
            409 | 402 | 503 => {}
            other => panic!("unexpected {other} for {key}: {}", answer.1),
        }
    }
    let stock: serde_json::Value = client
        .get(format!("{}/v1/inventory/FLASH", server.base))
        .send()
        .await
        .expect("stock")
        .json()
        .await
        .expect("json");
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
