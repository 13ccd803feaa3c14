//! `spawn_app`: the real application on port 0, on a fresh store (a temp-dir SQLite file or a
//! fresh Postgres database per test), driven over HTTP like any client would.

use commerce::{Application, Secret, Settings};
use serde_json::{json, Value};
use sqlx::Connection;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::oneshot;

pub const ADMIN_TOKEN: &str = "test-admin-token";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where tests create their Postgres databases.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A fresh, empty Postgres database; returns its URL.
pub async fn fresh_postgres_database() -> String {
    let admin = postgres_admin_url();
    let name = format!("api_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("Postgres reachable (see README: the test command starts it)");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base)
        .to_string();
    format!("{base}/{name}")
}

pub fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Settings for a test server: port 0, fast payment timeouts, small background intervals.
pub async fn test_settings(backend: Backend) -> (Settings, PathBuf) {
    let data_dir = temp_dir("commerce-test");
    let database_url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(fresh_postgres_database().await),
    };
    let mut settings = Settings::from_lookup(&|_| None).expect("defaults are valid");
    settings.http_addr = "127.0.0.1:0".parse().expect("addr");
    settings.database_url = database_url.map(Secret::new);
    settings.data_dir = data_dir.clone();
    settings.admin_token = Some(Secret::new(ADMIN_TOKEN.to_string()));
    settings.commerce.payment_timeout = Duration::from_millis(300);
    settings.commerce.expiry_sweep_interval = Duration::from_millis(100);
    settings.runtime.arbiters = 2;
    (settings, data_dir)
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    let (settings, _) = test_settings(backend).await;
    spawn_with(settings).await
}

pub async fn spawn_with(settings: Settings) -> TestApp {
    let app = Application::build(settings)
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    TestApp {
        address,
        client,
        stop: Some(stop),
        server: Some(server),
    }
}

/// Serves an already built server of either engine (`commerce::Server`), like `spawn_with`.
pub async fn spawn_server(app: commerce::Server) -> TestApp {
    let address = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    TestApp {
        address,
        client,
        stop: Some(stop),
        server: Some(server),
    }
}

/// A response reduced to what tests look at.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.client.post(self.url(path)).json(&body))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(self.client.put(self.url(path)).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.client.delete(self.url(path))).await
    }

    pub async fn admin_put(&self, path: &str, body: Value) -> Reply {
        self.send(
            self.client
                .put(self.url(path))
                .bearer_auth(ADMIN_TOKEN)
                .json(&body),
        )
        .await
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> Reply {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(ADMIN_TOKEN)
                .json(&body),
        )
        .await
    }

    /// Defines a product priced `price` minor units of USD and stocks `stock` units of it.
    pub async fn product_with_stock(&self, sku: &str, price: i64, stock: u32) {
        let put = self
            .admin_put(&format!("/v1/products/{sku}"), json!({"name": format!("Product {sku}"), "price": {"amount": price, "currency": "USD"}}))
            .await;
        assert_eq!(put.status, 200, "{put:?}");
        if stock > 0 {
            let restock = self
                .admin_post(
                    &format!("/v1/inventory/{sku}/restock"),
                    json!({"quantity": stock}),
                )
                .await;
            assert_eq!(restock.status, 200, "{restock:?}");
        }
    }

    pub async fn inventory(&self, sku: &str) -> Value {
        let reply = self.get(&format!("/v1/inventory/{sku}")).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.body
    }

    pub async fn new_cart(&self) -> String {
        let reply = self.post("/v1/carts", json!({})).await;
        assert_eq!(reply.status, 201, "{reply:?}");
        reply.body["id"].as_str().expect("cart id").to_string()
    }

    pub async fn cart_with(&self, sku: &str, quantity: u32) -> String {
        let cart = self.new_cart().await;
        let added = self
            .post(
                &format!("/v1/carts/{cart}/items"),
                json!({"sku": sku, "quantity": quantity}),
            )
            .await;
        assert_eq!(added.status, 200, "{added:?}");
        cart
    }

    pub async fn checkout(&self, cart: &str, key: &str, token: &str) -> Reply {
        let request = self
            .client
            .post(self.url(&format!("/v1/carts/{cart}/checkout")))
            .header("Idempotency-Key", key)
            .json(&checkout_body(token));
        self.send(request).await
    }

    pub async fn buy_now(&self, sku: &str, quantity: u32, key: &str, token: &str) -> Reply {
        let mut body = checkout_body(token);
        body["lines"] = json!([{"sku": sku, "quantity": quantity}]);
        let request = self
            .client
            .post(self.url("/v1/orders"))
            .header("Idempotency-Key", key)
            .json(&body);
        self.send(request).await
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }
}

pub fn checkout_body(token: &str) -> Value {
    json!({
        "payment_token": token,
        "shipping_address": {
            "name": "Ada Lovelace",
            "line1": "12 Analytical Row",
            "city": "London",
            "postal_code": "N1 7AA",
            "country": "GB"
        }
    })
}

/// Runs each named test body once per backend.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident => $body:ident;)*) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$body($crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$body($crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await).await;
                }
            )*
        }
    };
}
