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
use crate::extract::PathParams;
use crate::problem::{ApiError, Code};
use crate::views::{CartView, OrderView, ProductView, StockView};
use crate::AppState;
use actors::ops::{ActorRef, ActorState, Hotness, KindOverview, TypedActorView};
use actors::ports::SagaRecord;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use runtime::{ActorView, JournalEntry};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::openapi::schema::AnyOfBuilder;
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{IntoParams, ToSchema};

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

/// The dashboard page: public, it holds no data and asks for the token.
#[utoipa::path(get, path = "/ops", tag = "ops",
    responses((status = 200, description = "The dashboard (inline JS, no CDN).",
        content_type = "text/html; charset=utf-8", body = String)))]
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

/// `?top=N`: how many of the hottest actors each list holds (default 10, at most 100).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TopQuery {
    top: Option<usize>,
}

/// `?limit=N`: how many entries the answer holds at most.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct LimitQuery {
    limit: Option<u32>,
}

/// Passivations of one actor type, by reason.
#[derive(Serialize, ToSchema)]
pub struct PassivationsView {
    pub idle: u64,
    pub evicted: u64,
    pub requested: u64,
    pub shutdown: u64,
}

/// One actor type's live figures and counters since start.
#[derive(Serialize, ToSchema)]
pub struct KindView {
    #[schema(value_type = String)]
    pub actor_type: &'static str,
    /// Running actors.
    pub alive: i64,
    /// Entities kept in memory without a running actor (idle past HIBERNATE_IDLE_MS).
    pub hibernated: i64,
    pub hibernations: u64,
    /// Hibernated entities woken into an actor by a command, without a load.
    pub wakes: u64,
    /// Entities in memory (running or hibernated) per shard, in shard order.
    pub live_per_shard: Vec<usize>,
    /// Commands waiting in all of this type's mailboxes.
    pub mailbox_depth: usize,
    pub activations: u64,
    pub activation_failures: u64,
    pub passivations: PassivationsView,
    pub restarts: u64,
    pub failures: u64,
    pub commands: u64,
    pub overloaded: u64,
    pub batches: u64,
    pub batch_changes: u64,
    pub batch_changes_max_seen: u64,
    pub commit_failures: u64,
    pub conflicts: u64,
}

impl From<&KindOverview> for KindView {
    fn from(k: &KindOverview) -> KindView {
        let s = &k.stats;
        KindView {
            actor_type: k.kind,
            alive: s.alive,
            hibernated: s.hibernated,
            hibernations: s.hibernations,
            wakes: s.wakes,
            live_per_shard: k.live_per_shard.clone(),
            mailbox_depth: k.mailbox_depth,
            activations: s.activations,
            activation_failures: s.activation_failures,
            passivations: PassivationsView {
                idle: s.passivations_idle,
                evicted: s.passivations_evicted,
                requested: s.passivations_requested,
                shutdown: s.passivations_shutdown,
            },
            restarts: s.restarts,
            failures: s.failures,
            commands: s.commands,
            overloaded: s.overloaded,
            batches: s.batches,
            batch_changes: s.batch_changes,
            batch_changes_max_seen: s.batch_changes_max_seen,
            commit_failures: s.commit_failures,
            conflicts: s.conflicts,
        }
    }
}

/// One live actor's figures.
#[derive(Serialize, ToSchema)]
pub struct LiveActorView {
    #[schema(value_type = String)]
    pub actor_type: &'static str,
    pub id: String,
    pub shard: usize,
    /// In memory without a running actor; its counters restart when a command wakes it.
    pub hibernated: bool,
    pub mailbox_depth: usize,
    pub commands: u64,
    pub commands_per_minute: u64,
    pub restarts: u64,
    pub idle_ms: u64,
}

impl LiveActorView {
    fn new(kind: &'static str, v: &ActorView) -> LiveActorView {
        LiveActorView {
            actor_type: kind,
            id: v.id.clone(),
            shard: v.shard,
            hibernated: v.hibernated,
            mailbox_depth: v.mailbox_depth,
            commands: v.commands,
            commands_per_minute: v.commands_per_minute(),
            restarts: v.restarts,
            idle_ms: v.idle_ms,
        }
    }
}

fn typed_views(views: &[TypedActorView]) -> Vec<LiveActorView> {
    views
        .iter()
        .map(|t| LiveActorView::new(t.kind, &t.view))
        .collect()
}

/// One supervision event: a failure, restart or quarantine.
#[derive(Serialize, ToSchema)]
pub struct JournalEntryView {
    pub at_unix_ms: u64,
    #[schema(value_type = String)]
    pub actor_type: &'static str,
    pub id: String,
    #[schema(value_type = String)]
    pub event: &'static str,
    pub detail: String,
}

fn journal_views(entries: &[JournalEntry]) -> Vec<JournalEntryView> {
    entries
        .iter()
        .map(|e| JournalEntryView {
            at_unix_ms: e.at_unix_ms,
            actor_type: e.kind,
            id: e.id.clone(),
            event: e.event.as_str(),
            detail: e.detail.clone(),
        })
        .collect()
}

/// `GET /ops/shards`.
#[derive(Serialize, ToSchema)]
pub struct ShardsView {
    pub kinds: Vec<KindView>,
    pub hottest_by_mailbox_depth: Vec<LiveActorView>,
    pub hottest_by_commands: Vec<LiveActorView>,
}

fn shards_view(state: &AppState, top: usize) -> ShardsView {
    let top = top.min(actors::ops::HOTTEST_MAX);
    let commerce = &state.commerce;
    ShardsView {
        kinds: commerce
            .kinds_overview()
            .iter()
            .map(KindView::from)
            .collect(),
        hottest_by_mailbox_depth: typed_views(&commerce.hottest_actors(top, Hotness::MailboxDepth)),
        hottest_by_commands: typed_views(&commerce.hottest_actors(top, Hotness::Commands)),
    }
}

/// `GET /ops/overview`: the shards, the latest supervision events and the outbox.
#[derive(Serialize, ToSchema)]
pub struct OverviewView {
    #[serde(flatten)]
    pub shards: ShardsView,
    pub supervision: Vec<JournalEntryView>,
    pub outbox: OutboxView,
    pub now_unix_ms: i64,
}

/// The current state of an actor, as its resource's view.
#[derive(Serialize)]
#[serde(untagged)]
pub enum ActorStateView {
    Product(ProductView),
    Inventory(StockView),
    Cart(CartView),
    /// Boxed: an order's view is several times larger than the others.
    Order(Box<OrderView>),
}

/// One of the four views; `anyOf`, because an order's view also satisfies the cart's schema.
fn actor_state_schema() -> Schema {
    AnyOfBuilder::new()
        .item(RefOr::Ref(Ref::from_schema_name(ProductView::name())))
        .item(RefOr::Ref(Ref::from_schema_name(StockView::name())))
        .item(RefOr::Ref(Ref::from_schema_name(CartView::name())))
        .item(RefOr::Ref(Ref::from_schema_name(OrderView::name())))
        .into()
}

/// `GET /ops/actors/{type}/{id}`.
#[derive(Serialize, ToSchema)]
pub struct ActorDetailView {
    #[schema(value_type = String)]
    pub actor_type: &'static str,
    pub id: String,
    /// Whether the actor was live before this request activated it.
    pub was_live: bool,
    pub live: Option<LiveActorView>,
    pub version: u64,
    #[schema(schema_with = actor_state_schema)]
    pub state: ActorStateView,
}

/// The answer of a passivate or restart request.
#[derive(Serialize, ToSchema)]
pub struct ControlView {
    /// `passivate` or `restart`.
    #[schema(value_type = String)]
    pub accepted: &'static str,
}

/// `GET /ops/supervision`.
#[derive(Serialize, ToSchema)]
pub struct SupervisionView {
    pub entries: Vec<JournalEntryView>,
}

/// One saga in flight.
#[derive(Serialize, ToSchema)]
pub struct SagaView {
    pub order_id: String,
    #[schema(value_type = String)]
    pub step: &'static str,
    pub failure_reason: Option<String>,
    pub age_ms: i64,
    pub idle_ms: i64,
}

/// `GET /ops/sagas`.
#[derive(Serialize, ToSchema)]
pub struct SagasView {
    pub stuck_after_ms: i64,
    pub in_flight: Vec<SagaView>,
    pub stuck: Vec<SagaView>,
}

/// The relay's figures; only `relay_running` when this process runs no relay.
#[derive(Serialize, ToSchema)]
pub struct OutboxView {
    pub relay_running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_total: Option<u64>,
}

/// `GET /ops/shards?top=N`: live actors per type and shard, mailbox depths, hottest actors.
#[utoipa::path(get, path = "/ops/shards", tag = "ops",
    params(TopQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Actors per type and shard.", body = ShardsView),
        (status = 400, description = "`invalid_query`: an unknown or malformed parameter."),
    ))]
async fn shards(
    _: Admin,
    State(state): State<AppState>,
    q: Result<Query<TopQuery>, QueryRejection>,
) -> Result<Json<ShardsView>, ApiError> {
    let q = query(q)?;
    Ok(Json(shards_view(&state, q.top.unwrap_or(TOP_DEFAULT))))
}

/// `GET /ops/overview`: what the dashboard shows, in one request per poll.
#[utoipa::path(get, path = "/ops/overview", tag = "ops",
    params(TopQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Shards, supervision log and outbox.", body = OverviewView),
        (status = 400, description = "`invalid_query`: an unknown or malformed parameter."),
    ))]
async fn overview(
    _: Admin,
    State(state): State<AppState>,
    ops: Option<Extension<OpsHandle>>,
    q: Result<Query<TopQuery>, QueryRejection>,
) -> Result<Json<OverviewView>, ApiError> {
    let q = query(q)?;
    Ok(Json(OverviewView {
        shards: shards_view(&state, q.top.unwrap_or(TOP_DEFAULT)),
        supervision: journal_views(&state.commerce.supervision_log(SUPERVISION_DEFAULT)),
        outbox: outbox_view(ops.as_ref().map(|Extension(o)| o)),
        now_unix_ms: state.commerce.now().unix_ms(),
    }))
}

fn parse_actor(actor_type: &str, id: &str) -> Result<ActorRef, ApiError> {
    ActorRef::parse(actor_type, id).map_err(|e| ApiError::new(Code::NotFound, e.to_string()))
}

fn state_view(state: &ActorState) -> (ActorStateView, u64) {
    match state {
        ActorState::Product(p) => (ActorStateView::Product(p.into()), p.version()),
        ActorState::Inventory(v) => (ActorStateView::Inventory(v.into()), v.version),
        ActorState::Cart(c) => (ActorStateView::Cart(c.into()), c.version()),
        ActorState::Order(o) => (
            ActorStateView::Order(Box::new(o.as_ref().into())),
            o.version(),
        ),
    }
}

/// `GET /ops/actors/{type}/{id}`: the live figures and the current state (read through the
/// actor, which activates it if it was not live: `was_live` says whether it was).
#[utoipa::path(get, path = "/ops/actors/{actor_type}/{id}", tag = "ops",
    params(("actor_type" = String, Path, description = "`product`, `inventory`, `cart` or `order`."), ("id" = String, Path, description = "The actor's id: a SKU for products and inventory, a UUID for carts and orders.")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The actor's live figures and state.", body = ActorDetailView),
        (status = 404, description = "`not_found` (no such actor type or id), or the entity's \
            own not-found code."),
        (status = 409, description = "`version_conflict`."),
        (status = 500, description = "`actor_failed` or `internal`."),
        (status = 503, description = "`overloaded`, `store_unavailable` or `shutting_down`."),
        (status = 504, description = "`timeout`."),
    ))]
async fn actor(
    _: Admin,
    State(state): State<AppState>,
    PathParams((actor_type, id)): PathParams<(String, String)>,
) -> Result<Json<ActorDetailView>, ApiError> {
    let actor = parse_actor(&actor_type, &id)?;
    let was_live = state.commerce.actor_view(&actor).is_some();
    let current = state.commerce.actor_state(&actor).await?;
    let (body, version) = state_view(&current);
    let live = state.commerce.actor_view(&actor);
    Ok(Json(ActorDetailView {
        actor_type: actor.kind(),
        id,
        was_live,
        live: live.as_ref().map(|v| LiveActorView::new(actor.kind(), v)),
        version,
        state: body,
    }))
}

fn control(done: bool, what: &'static str, actor: &ActorRef) -> Result<Response, ApiError> {
    if !done {
        return Err(ApiError::new(
            Code::NotFound,
            format!("no live {} actor with this id", actor.kind()),
        ));
    }
    Ok((StatusCode::ACCEPTED, Json(ControlView { accepted: what })).into_response())
}

/// `POST /ops/actors/{type}/{id}/passivate`: 202 once asked (it commits what it decided first).
#[utoipa::path(post, path = "/ops/actors/{actor_type}/{id}/passivate", tag = "ops",
    params(("actor_type" = String, Path, description = "`product`, `inventory`, `cart` or `order`."), ("id" = String, Path, description = "The actor's id: a SKU for products and inventory, a UUID for carts and orders.")),
    security(("admin_token" = [])),
    responses(
        (status = 202, description = "Asked.", body = ControlView),
        (status = 404, description = "`not_found`: no such actor type, or no live actor with \
            this id."),
    ))]
async fn passivate(
    _: Admin,
    State(state): State<AppState>,
    PathParams((actor_type, id)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let actor = parse_actor(&actor_type, &id)?;
    control(state.commerce.passivate_actor(&actor), "passivate", &actor)
}

/// `POST /ops/actors/{type}/{id}/restart`: 202 once asked; it reloads its state from the store.
#[utoipa::path(post, path = "/ops/actors/{actor_type}/{id}/restart", tag = "ops",
    params(("actor_type" = String, Path, description = "`product`, `inventory`, `cart` or `order`."), ("id" = String, Path, description = "The actor's id: a SKU for products and inventory, a UUID for carts and orders.")),
    security(("admin_token" = [])),
    responses(
        (status = 202, description = "Asked.", body = ControlView),
        (status = 404, description = "`not_found`: no such actor type, or no live actor with \
            this id."),
    ))]
async fn restart(
    _: Admin,
    State(state): State<AppState>,
    PathParams((actor_type, id)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let actor = parse_actor(&actor_type, &id)?;
    control(state.commerce.restart_actor(&actor), "restart", &actor)
}

/// `GET /ops/supervision?limit=N`: recent failures and restarts, newest first.
#[utoipa::path(get, path = "/ops/supervision", tag = "ops",
    params(LimitQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The supervision log.", body = SupervisionView),
        (status = 400, description = "`invalid_query`: an unknown or malformed parameter."),
    ))]
async fn supervision(
    _: Admin,
    State(state): State<AppState>,
    q: Result<Query<LimitQuery>, QueryRejection>,
) -> Result<Json<SupervisionView>, ApiError> {
    let limit = query(q)?
        .limit
        .map_or(SUPERVISION_DEFAULT, |l| l as usize)
        .min(SUPERVISION_MAX);
    Ok(Json(SupervisionView {
        entries: journal_views(&state.commerce.supervision_log(limit)),
    }))
}

fn saga_view(r: &SagaRecord, now_ms: i64) -> SagaView {
    SagaView {
        order_id: r.order_id.to_string(),
        step: r.step.as_str(),
        failure_reason: r.failure_reason.clone(),
        age_ms: now_ms - r.started_at.unix_ms(),
        idle_ms: now_ms - r.updated_at.unix_ms(),
    }
}

/// `GET /ops/sagas?limit=N`: sagas in flight, oldest first, and those stuck (untouched longer
/// than `SAGA_STUCK_AFTER_MS`, which recovery will resume).
#[utoipa::path(get, path = "/ops/sagas", tag = "ops",
    params(LimitQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Sagas in flight and stuck.", body = SagasView),
        (status = 400, description = "`invalid_query`: an unknown or malformed parameter."),
        (status = 500, description = "`internal`: the store failed."),
        (status = 503, description = "`store_unavailable`."),
    ))]
async fn sagas(
    _: Admin,
    State(state): State<AppState>,
    q: Result<Query<LimitQuery>, QueryRejection>,
) -> Result<Json<SagasView>, ApiError> {
    let limit = query(q)?.limit.unwrap_or(SAGAS_DEFAULT).min(SAGAS_MAX);
    let records = state.commerce.sagas_in_flight(limit).await?;
    let now_ms = state.commerce.now().unix_ms();
    let stuck_after_ms = state.commerce.saga_stuck_after().as_millis() as i64;
    let in_flight = records.iter().map(|r| saga_view(r, now_ms)).collect();
    let stuck = records
        .iter()
        .filter(|r| now_ms - r.updated_at.unix_ms() > stuck_after_ms)
        .map(|r| saga_view(r, now_ms))
        .collect();
    Ok(Json(SagasView {
        stuck_after_ms,
        in_flight,
        stuck,
    }))
}

fn outbox_view(ops: Option<&OpsHandle>) -> OutboxView {
    match ops.and_then(OpsHandle::outbox) {
        Some(o) => OutboxView {
            relay_running: true,
            pending: Some(o.pending),
            lag_seconds: Some(o.lag_ms as f64 / 1000.0),
            published_total: Some(o.published_total),
            failed_total: Some(o.failed_total),
        },
        None => OutboxView {
            relay_running: false,
            pending: None,
            lag_seconds: None,
            published_total: None,
            failed_total: None,
        },
    }
}

/// `GET /ops/outbox`: the relay's figures in this process.
#[utoipa::path(get, path = "/ops/outbox", tag = "ops",
    security(("admin_token" = [])),
    responses((status = 200, description = "The relay's figures.", body = OutboxView)))]
async fn outbox(_: Admin, ops: Option<Extension<OpsHandle>>) -> Json<OutboxView> {
    Json(outbox_view(ops.as_ref().map(|Extension(o)| o)))
}
