//! The ceiling: a bare axum JSON echo on the same framework and version as the server. It
//! parses the body and answers 201 with a small order-shaped JSON, so a run against it measures
//! what HTTP + JSON + this tool cost on this machine, with no business logic or storage behind.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Hands out order ids; an atomic because handlers run on every worker thread.
#[derive(Clone, Default)]
struct Echo {
    next_id: Arc<AtomicU64>,
}

async fn place(State(echo): State<Echo>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let n = echo.next_id.fetch_add(1, Ordering::Relaxed);
    let id = uuid::Uuid::from_u128(u128::from(n) + 1).to_string();
    let lines = body.get("lines").cloned().unwrap_or(Value::Null);
    (
        StatusCode::CREATED,
        Json(json!({ "id": id, "status": "confirmed", "lines": lines })),
    )
}

async fn ok() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub fn app() -> Router {
    Router::new()
        .route("/v1/orders", post(place))
        .route("/healthz", get(ok))
        .route("/readyz", get(ok))
        .with_state(Echo::default())
}

/// Binds `addr` (port 0 picks a free one) and returns the bound address and the server task.
pub async fn spawn(
    addr: SocketAddr,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move { axum::serve(listener, app()).await });
    Ok((bound, task))
}

/// `loadtest echo-server`: serves until killed, after printing its address on stdout.
pub async fn serve(addr: SocketAddr) -> anyhow::Result<()> {
    let (bound, task) = spawn(addr).await?;
    println!("echo-server listening on http://{bound}");
    use std::io::Write as _;
    std::io::stdout().flush()?;
    task.await??;
    Ok(())
}
