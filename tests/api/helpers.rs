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
    TestApp {
        stop: Some(stop),
        server: Some(server),
        ..TestApp::attach(address)
    }
}

/// Serves an already built server of either engine (`commerce::Server`), like `spawn_with`.
pub async fn spawn_server(app: commerce::Server) -> TestApp {
    let address = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp {
        stop: Some(stop),
        server: Some(server),
        ..TestApp::attach(address)
    }
}

/// A response reduced to what tests look at.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
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
        self.try_send(request).await.expect("request sent")
    }

    /// Like `send`, but `None` when the server cannot be reached or drops the connection (a
    /// killed process, a shed connection), which fault tests expect.
    pub async fn try_send(&self, request: reqwest::RequestBuilder) -> Option<Reply> {
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header("content-type").unwrap_or_default();
        let retry_after = header("retry-after");
        let bytes = response.bytes().await.ok()?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Some(Reply {
            status,
            content_type,
            body,
            retry_after,
        })
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
        self.send(self.buy_now_request(sku, quantity, key, token))
            .await
    }

    /// `POST /v1/orders` of `quantity` units of `sku`, not yet sent.
    pub fn buy_now_request(
        &self,
        sku: &str,
        quantity: u32,
        key: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        let mut body = checkout_body(token);
        body["lines"] = json!([{"sku": sku, "quantity": quantity}]);
        self.client
            .post(self.url("/v1/orders"))
            .header("Idempotency-Key", key)
            .json(&body)
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

/// A free TCP port on localhost (bound, then released for the server to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// How to start the real `commerce` binary: the same port, data directory, database and extra
/// environment on every (re)start, so a restart finds what the killed process left.
#[derive(Clone, Debug)]
pub struct BinaryConfig {
    pub port: u16,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    env: Vec<(String, String)>,
}

/// A running `commerce` binary. Dropping it kills it with SIGKILL and reaps it.
pub struct ServerProcess {
    child: std::process::Child,
    /// Speaks HTTP to it; `stop` on this handle does nothing (the process is not in this task).
    pub app: TestApp,
}

impl BinaryConfig {
    pub fn new(database_url: Option<String>) -> BinaryConfig {
        BinaryConfig {
            port: free_port(),
            data_dir: temp_dir("commerce-binary"),
            database_url,
            env: Vec::new(),
        }
    }

    /// Sets one more environment variable of the server.
    pub fn env(mut self, name: &str, value: impl ToString) -> BinaryConfig {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// The binary with this configuration's environment, running `subcommand`; output
    /// discarded.
    pub fn command(&self, subcommand: &str) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_commerce"));
        command
            .arg(subcommand)
            .env("HTTP_ADDR", format!("127.0.0.1:{}", self.port))
            .env("DATA_DIR", &self.data_dir)
            .env("ADMIN_TOKEN", ADMIN_TOKEN)
            .env("PAYMENT_TIMEOUT_MS", "300")
            .env("RUST_LOG", "warn")
            .env_remove("DATABASE_URL")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(url) = &self.database_url {
            command.env("DATABASE_URL", url);
        }
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    /// Starts the binary and waits (bounded) until `/healthz` answers.
    pub async fn start(&self) -> ServerProcess {
        let mut command = self.command("serve");
        // Owned by `ServerProcess` at once, so every path (including a failed health wait)
        // kills and reaps the child.
        let server = ServerProcess {
            child: command.spawn().expect("commerce binary starts"),
            app: TestApp::attach(format!("http://127.0.0.1:{}", self.port)),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Some(r) = server
                .app
                .try_send(server.app.client.get(server.app.url("/healthz")))
                .await
            {
                if r.status == 200 {
                    return server;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not become healthy");
    }
}

impl ServerProcess {
    /// SIGKILL: no shutdown hook runs, exactly like a crash (`Drop` sends it).
    pub fn kill9(self) {}

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A process's resident set size in KiB (`VmRSS` in `/proc/<pid>/status`); `None` once it is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestApp {
    /// A client of a server that runs elsewhere (a child process); `stop` leaves it running.
    pub fn attach(address: String) -> TestApp {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        TestApp {
            address,
            client,
            stop: None,
            server: None,
        }
    }
}

/// A TCP proxy in front of Postgres, to cut the database off from a server without stopping
/// the machine's shared Postgres. Down, it drops every open connection and closes new ones as
/// soon as they are accepted; up, it forwards again.
pub struct TcpProxy {
    port: u16,
    forwarding: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Bumped on every cut; each forwarded connection watches it and closes both sides.
    cuts: tokio::sync::watch::Sender<u64>,
    accept: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    pub async fn start(upstream: std::net::SocketAddr) -> TcpProxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy binds");
        let port = listener.local_addr().expect("proxy address").port();
        let forwarding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cuts, _) = tokio::sync::watch::channel(0u64);
        let (accept_forwarding, accept_cuts) = (forwarding.clone(), cuts.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                // Subscribed before looking at the switch, so a cut in between is still seen.
                let mut cut = accept_cuts.subscribe();
                if !accept_forwarding.load(Ordering::SeqCst) {
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        TcpProxy {
            port,
            forwarding,
            cuts,
            accept,
        }
    }

    /// A proxy in front of the tests' Postgres.
    pub async fn postgres() -> TcpProxy {
        let options: sqlx::postgres::PgConnectOptions =
            postgres_admin_url().parse().expect("Postgres URL");
        let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .expect("Postgres address resolves");
        TcpProxy::start(upstream).await
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `url` with its port replaced by the proxy's.
    pub fn route(&self, url: &str) -> String {
        let mut url = reqwest::Url::parse(url).expect("database URL");
        url.set_port(Some(self.port)).expect("URL takes a port");
        url.to_string()
    }

    /// The outage: every open connection dropped, new ones closed at once.
    pub fn down(&self) {
        self.forwarding
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    pub fn up(&self) {
        self.forwarding
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cuts.send_modify(|n| *n += 1);
    }
}
