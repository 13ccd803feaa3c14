//! The ops API (`/ops/...`, admin token) and the live dashboard (`GET /ops`).
//!
//! Every JSON route takes the [`Admin`] proof. The page itself is public: it holds no data and
//! asks the operator for the token once (kept in the tab's `sessionStorage`), then polls these
//! routes and `/metrics` every second. Its assets are compiled into the binary: it works
//! offline and needs no CDN.
//!
//! The edge knows nothing of the relay: the bootstrap hands in an [`OutboxFigures`] source
//! through the [`OpsHandle`] request extension, as it does for the read models.

use crate::auth::Admin;
use crate::problem::{ApiError, Code};
use crate::views::{CartView, OrderView, ProductView, StockView};
use crate::AppState;
use actors::ops::{ActorRef, ActorState, Hotness, KindOverview, TypedActorView};
use actors::ports::SagaRecord;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use runtime::{ActorView, JournalEntry};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

/// The dashboard page, embedded at compile time.
const DASHBOARD_HTML: &str = include_str!("../assets/dashboard.html");

/// Default and largest `top` of the hottest-actors lists.
pub const TOP_DEFAULT: usize = 10;
/// Default and largest `limit` of the supervision log.
pub const SUPERVISION_DEFAULT: usize = 50;
pub const SUPERVISION_MAX: usize = 256;
/// Default and largest `limit` of the sagas listing.
pub const SAGAS_DEFAULT: u32 = 100;
pub const SAGAS_MAX: u32 = 1000;

/// The relay's figures as the edge shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutboxStatus {
    pub pending: u64,
    pub lag_ms: u64,
    pub published_total: u64,
    pub failed_total: u64,
}

/// Where the outbox figures come from (the relay running in this process).
pub trait OutboxFigures: Send + Sync + 'static {
    fn outbox(&self) -> OutboxStatus;
}

/// What the ops routes need beyond `AppState`, handed in as a request extension.
#[derive(Clone, Default)]
pub struct OpsHandle {
    /// `None` when this process runs no relay (`RELAY_ENABLED=false`).
    pub outbox: Option<Arc<dyn OutboxFigures>>,
}

impl OpsHandle {
    pub fn outbox(&self) -> Option<OutboxStatus> {
        self.outbox.as_ref().map(|o| o.outbox())
    }
}

/// `/metrics`, `/ops` and `/ops/...`. They bypass the load shedder like the probes: an operator
/// must see an overloaded system.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(crate::metrics::render))
        .route("/ops", get(dashboard))
        .route("/ops/overview", get(overview))
        .route("/ops/shards", get(shards))
        .route("/ops/actors/{actor_type}/{id}", get(actor))
        .route("/ops/actors/{actor_type}/{id}/passivate", post(passivate))
        .route("/ops/actors/{actor_type}/{id}/restart", post(restart))
        .route("/ops/supervision", get(supervision))
        .route("/ops/sagas", get(sagas))
        .route("/ops/outbox", get(outbox))
}

async fn dashboard() -> Response {
    let mut response = DASHBOARD_HTML.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Everything the page loads is its own inline code and this origin's JSON.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self' data:",
        ),
    );
    response
}

/// A query string, or 400 `invalid_query` as problem+json.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::new(Code::InvalidQuery, e.body_text()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopQuery {
    top: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitQuery {
    limit: Option<u32>,
}

fn kind_json(k: &KindOverview) -> Value {
    let s = &k.stats;
    json!({
        "actor_type": k.kind,
        "alive": s.alive,
        "live_per_shard": k.live_per_shard,
        "mailbox_depth": k.mailbox_depth,
        "activations": s.activations,
        "activation_failures": s.activation_failures,
        "passivations": {
            "idle": s.passivations_idle,
            "evicted": s.passivations_evicted,
            "requested": s.passivations_requested,
            "shutdown": s.passivations_shutdown,
        },
        "restarts": s.restarts,
        "failures": s.failures,
        "commands": s.commands,
        "overloaded": s.overloaded,
        "batches": s.batches,
        "batch_changes": s.batch_changes,
        "batch_changes_max_seen": s.batch_changes_max_seen,
        "commit_failures": s.commit_failures,
        "conflicts": s.conflicts,
    })
}

fn view_json(kind: &str, v: &ActorView) -> Value {
    json!({
        "actor_type": kind,
        "id": v.id,
        "shard": v.shard,
        "mailbox_depth": v.mailbox_depth,
        "commands": v.commands,
        "commands_per_minute": v.commands_per_minute(),
        "restarts": v.restarts,
        "idle_ms": v.idle_ms,
    })
}

fn typed_json(views: &[TypedActorView]) -> Vec<Value> {
    views.iter().map(|t| view_json(t.kind, &t.view)).collect()
}

fn journal_json(entries: &[JournalEntry]) -> Vec<Value> {
    entries
        .iter()
        .map(|e| {
            json!({
                "at_unix_ms": e.at_unix_ms,
                "actor_type": e.kind,
                "id": e.id,
                "event": e.event.as_str(),
                "detail": e.detail,
            })
        })
        .collect()
}

fn shards_json(state: &AppState, top: usize) -> Value {
    let top = top.min(actors::ops::HOTTEST_MAX);
    let commerce = &state.commerce;
    let kinds: Vec<Value> = commerce.kinds_overview().iter().map(kind_json).collect();
    json!({
        "kinds": kinds,
        "hottest_by_mailbox_depth": typed_json(&commerce.hottest_actors(top, Hotness::MailboxDepth)),
        "hottest_by_commands": typed_json(&commerce.hottest_actors(top, Hotness::Commands)),
    })
}

/// `GET /ops/shards?top=N`: live actors per type and shard, mailbox depths, hottest actors.
async fn shards(
    _: Admin,
    State(state): State<AppState>,
    q: Result<Query<TopQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    Ok(Json(shards_json(&state, q.top.unwrap_or(TOP_DEFAULT))))
}

/// `GET /ops/overview`: what the dashboard shows, in one request per poll.
async fn overview(
    _: Admin,
    State(state): State<AppState>,
    ops: Option<Extension<OpsHandle>>,
    q: Result<Query<TopQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let mut body = shards_json(&state, q.top.unwrap_or(TOP_DEFAULT));
    body["supervision"] = journal_json(&state.commerce.supervision_log(SUPERVISION_DEFAULT)).into();
    body["outbox"] = outbox_json(ops.as_ref().map(|Extension(o)| o));
    body["now_unix_ms"] = state.commerce.now().unix_ms().into();
    Ok(Json(body))
}

fn parse_actor(actor_type: &str, id: &str) -> Result<ActorRef, ApiError> {
    ActorRef::parse(actor_type, id).map_err(|e| ApiError::new(Code::NotFound, e.to_string()))
}

fn state_json(state: &ActorState) -> (Value, u64) {
    match state {
        ActorState::Product(p) => (json!(ProductView::from(p)), p.version()),
        ActorState::Inventory(v) => (json!(StockView::from(v)), v.version),
        ActorState::Cart(c) => (json!(CartView::from(c)), c.version()),
        ActorState::Order(o) => (json!(OrderView::from(o.as_ref())), o.version()),
    }
}

/// `GET /ops/actors/{type}/{id}`: the live figures and the current state (read through the
/// actor, which activates it if it was not live: `was_live` says whether it was).
async fn actor(
    _: Admin,
    State(state): State<AppState>,
    Path((actor_type, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let actor = parse_actor(&actor_type, &id)?;
    let was_live = state.commerce.actor_view(&actor).is_some();
    let current = state.commerce.actor_state(&actor).await?;
    let (body, version) = state_json(&current);
    let live = state.commerce.actor_view(&actor);
    Ok(Json(json!({
        "actor_type": actor.kind(),
        "id": id,
        "was_live": was_live,
        "live": live.as_ref().map(|v| view_json(actor.kind(), v)),
        "version": version,
        "state": body,
    })))
}

fn control(done: bool, what: &str, actor: &ActorRef) -> Result<Response, ApiError> {
    if !done {
        return Err(ApiError::new(
            Code::NotFound,
            format!("no live {} actor with this id", actor.kind()),
        ));
    }
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": what }))).into_response())
}

/// `POST /ops/actors/{type}/{id}/passivate`: 202 once asked (it commits what it decided first).
async fn passivate(
    _: Admin,
    State(state): State<AppState>,
    Path((actor_type, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let actor = parse_actor(&actor_type, &id)?;
    control(state.commerce.passivate_actor(&actor), "passivate", &actor)
}

/// `POST /ops/actors/{type}/{id}/restart`: 202 once asked; it reloads its state from the store.
async fn restart(
    _: Admin,
    State(state): State<AppState>,
    Path((actor_type, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let actor = parse_actor(&actor_type, &id)?;
    control(state.commerce.restart_actor(&actor), "restart", &actor)
}

/// `GET /ops/supervision?limit=N`: recent failures and restarts, newest first.
async fn supervision(
    _: Admin,
    State(state): State<AppState>,
    q: Result<Query<LimitQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let limit = query(q)?
        .limit
        .map_or(SUPERVISION_DEFAULT, |l| l as usize)
        .min(SUPERVISION_MAX);
    Ok(Json(
        json!({ "entries": journal_json(&state.commerce.supervision_log(limit)) }),
    ))
}

fn saga_json(r: &SagaRecord, now_ms: i64) -> Value {
    json!({
        "order_id": r.order_id.to_string(),
        "step": r.step.as_str(),
        "failure_reason": r.failure_reason,
        "age_ms": now_ms - r.started_at.unix_ms(),
        "idle_ms": now_ms - r.updated_at.unix_ms(),
    })
}

/// `GET /ops/sagas?limit=N`: sagas in flight, oldest first, and those stuck (untouched longer
/// than `SAGA_STUCK_AFTER_MS`, which recovery will resume).
async fn sagas(
    _: Admin,
    State(state): State<AppState>,
    q: Result<Query<LimitQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let limit = query(q)?.limit.unwrap_or(SAGAS_DEFAULT).min(SAGAS_MAX);
    let records = state.commerce.sagas_in_flight(limit).await?;
    let now_ms = state.commerce.now().unix_ms();
    let stuck_after_ms = state.commerce.saga_stuck_after().as_millis() as i64;
    let in_flight: Vec<Value> = records.iter().map(|r| saga_json(r, now_ms)).collect();
    let stuck: Vec<Value> = records
        .iter()
        .filter(|r| now_ms - r.updated_at.unix_ms() > stuck_after_ms)
        .map(|r| saga_json(r, now_ms))
        .collect();
    Ok(Json(json!({
        "stuck_after_ms": stuck_after_ms,
        "in_flight": in_flight,
        "stuck": stuck,
    })))
}

fn outbox_json(ops: Option<&OpsHandle>) -> Value {
    match ops.and_then(OpsHandle::outbox) {
        Some(o) => json!({
            "relay_running": true,
            "pending": o.pending,
            "lag_seconds": o.lag_ms as f64 / 1000.0,
            "published_total": o.published_total,
            "failed_total": o.failed_total,
        }),
        None => json!({ "relay_running": false }),
    }
}

/// `GET /ops/outbox`: the relay's figures in this process.
async fn outbox(_: Admin, ops: Option<Extension<OpsHandle>>) -> Json<Value> {
    Json(outbox_json(ops.as_ref().map(|Extension(o)| o)))
}
