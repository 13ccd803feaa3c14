//! Logs and traces: the request id follows a command into its actor and its commit, and traces
//! leave over OTLP when an endpoint is configured. A test binary of its own because it installs
//! the process-wide tracing subscriber.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::{checkout_body, spawn_app, Backend, ADMIN_TOKEN};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Everything the JSON log layer writes, one line per event.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().expect("log buffer").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

fn spans_carry(line: &Value, field: &str, value: &str) -> bool {
    line["spans"]
        .as_array()
        .is_some_and(|spans| spans.iter().any(|span| span[field] == value))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_id_follows_a_checkout_into_its_actors_and_commits() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_writer(move || writer.clone())
        .init();

    let app = spawn_app(Backend::Sqlite).await;
    app.product_with_stock("TRACE", 700, 5).await;
    let cart = app.cart_with("TRACE", 1).await;
    let request_id = "trace-me-4f2a";
    let placed = app
        .send(
            app.client
                .post(app.url(&format!("/v1/carts/{cart}/checkout")))
                .header("Idempotency-Key", "key-trace")
                .header("x-request-id", request_id)
                .json(&checkout_body("tok_visa")),
        )
        .await;
    assert_eq!(placed.status, 201, "{placed:?}");

    // Secrets never reach a log, even at debug: passwords (right and wrong), session tokens,
    // the admin token (used above to define the product).
    let (password, wrong) = ("Tr4ce-secret-password", "Wr0ng-secret-password");
    let account = json!({"email": "trace@example.com", "password": password});
    assert_eq!(app.post("/v1/accounts", account.clone()).await.status, 201);
    let session = app.post("/v1/sessions", account).await;
    assert_eq!(session.status, 201, "{session:?}");
    let token = session.body["token"].as_str().expect("token").to_owned();
    let me = app
        .send(
            app.client
                .get(app.url("/v1/accounts/me"))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(me.status, 200);
    let refused = app
        .post(
            "/v1/sessions",
            json!({"email": "trace@example.com", "password": wrong}),
        )
        .await;
    assert_eq!(refused.status, 401);
    app.stop().await;
    let raw = String::from_utf8_lossy(&captured.0.lock().expect("log buffer")).into_owned();
    assert!(
        raw.contains("/v1/sessions"),
        "the logs cover the login requests"
    );
    for (what, secret) in [
        ("password", password),
        ("wrong password", wrong),
        ("session token", token.as_str()),
        ("admin token", ADMIN_TOKEN),
    ] {
        assert!(!raw.contains(secret), "the {what} appears in the logs");
    }

    let lines = captured.lines();
    let decided: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "command decided")
        .filter(|l| spans_carry(l, "request_id", request_id))
        .collect();
    assert!(
        !decided.is_empty(),
        "no `command decided` line carries request_id {request_id}"
    );
    // The checkout reached more than one kind of actor (cart, inventory, order...), each
    // deciding under the request's span.
    let kinds: std::collections::BTreeSet<&str> = decided
        .iter()
        .filter_map(|l| l["fields"]["kind"].as_str())
        .collect();
    assert!(kinds.len() >= 2, "decided under the request by {kinds:?}");
    // Commits run under a `commit` span naming the actor kind, entity and batch size.
    let committed = lines
        .iter()
        .find(|l| {
            l["fields"]["message"] == "batch committed"
                && l["span"]["name"] == "commit"
                && l["span"]["batch"].as_u64().is_some_and(|n| n >= 1)
        })
        .unwrap_or_else(|| panic!("no `batch committed` line inside a `commit` span"));
    assert!(committed["span"]["kind"].is_string(), "{committed}");
    assert!(committed["span"]["id"].is_string(), "{committed}");
}

/// One request as the fake collector saw it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    content_type: String,
    body_len: usize,
}

/// A tiny HTTP/1.1 listener that records every request and answers 200 with an empty body.
async fn fake_collector() -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind collector");
    let port = listener.local_addr().expect("addr").port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut request_line = String::new();
                    if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = request_line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let path = parts.next().unwrap_or("").to_string();
                    let (mut length, mut content_type) = (0usize, String::new());
                    loop {
                        let mut header = String::new();
                        if stream.read_line(&mut header).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let header = header.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':') {
                            match name.trim().to_ascii_lowercase().as_str() {
                                "content-length" => length = value.trim().parse().unwrap_or(0),
                                "content-type" => content_type = value.trim().to_string(),
                                _ => {}
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if stream.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    log.lock().expect("collector log").push(Received {
                        method,
                        path,
                        content_type,
                        body_len: body.len(),
                    });
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if stream.get_mut().write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_are_exported_over_otlp_when_an_endpoint_is_set() {
    let (collector, received) = fake_collector().await;
    let data_dir = helpers::temp_dir("commerce-otlp");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_commerce"))
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("DATA_DIR", &data_dir)
        .env("ADMIN_TOKEN", ADMIN_TOKEN)
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{collector}"),
        )
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env_remove("OTEL_SDK_DISABLED")
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
    let ok = |r: reqwest::Response| {
        assert!(r.status().is_success(), "{}", r.status());
        r
    };
    ok(client
        .put(format!("{base}/v1/products/OTLP"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "Otlp", "price": {"amount": 100, "currency": "USD"}}))
        .send()
        .await
        .expect("define"));
    ok(client
        .post(format!("{base}/v1/inventory/OTLP/restock"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"quantity": 3}))
        .send()
        .await
        .expect("restock"));
    let cart: Value = ok(client
        .post(format!("{base}/v1/carts"))
        .json(&json!({}))
        .send()
        .await
        .expect("cart"))
    .json()
    .await
    .expect("cart json");
    let cart = cart["id"].as_str().expect("cart id").to_string();
    ok(client
        .post(format!("{base}/v1/carts/{cart}/items"))
        .json(&json!({"sku": "OTLP", "quantity": 1}))
        .send()
        .await
        .expect("add"));
    let placed = client
        .post(format!("{base}/v1/carts/{cart}/checkout"))
        .header("Idempotency-Key", "key-otlp")
        .json(&checkout_body("tok_visa"))
        .send()
        .await
        .expect("checkout");
    assert_eq!(placed.status().as_u16(), 201);

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

    let received = received.lock().expect("collector log").clone();
    let exported = received.iter().find(|r| {
        r.method == "POST"
            && r.path == "/v1/traces"
            && r.content_type.starts_with("application/x-protobuf")
            && r.body_len > 0
    });
    assert!(
        exported.is_some(),
        "no protobuf POST to /v1/traces: {received:?}"
    );
}
