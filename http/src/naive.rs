//! The HTTP API served by the naive-sql baseline engine (`persistence::naive`): the same paths,
//! JSON shapes, problem codes, admin auth, limits and middleware as [`crate::router`], so a load
//! tool cannot tell the engines apart except by their speed.
//!
//! The handlers parse exactly as the actor engine's do (the same DTOs and extractors) and render
//! the same views; answers stored with idempotency keys are rendered by the same
//! [`Answer::for_order`] and [`failure_problem`], so a replay is byte-identical in shape.

use crate::auth::{bearer_token, Admin};
use crate::dto::{
    parse_sku, BuyNow, BuyNowRequest, Checkout, CheckoutRequest, CreateCartRequest, DefineProduct,
    DefineProductRequest, Line, LineRequest, RestockRequest, SetQuantityRequest,
};
use crate::extract::{IdempotencyKey, JsonBody, OptionalJsonBody, PathParams};
use crate::idempotency::{failure_problem, request_hash, Answer, REPLAYED_HEADER};
use crate::limits::READINESS_TIMEOUT;
use crate::middleware::{self, ConcurrencyLimit};
use crate::problem::{problem_response, ApiError, Code};
use crate::routes::{self, created, parse_cart_id, parse_order_id};
use crate::views::{CartView, OrderView, ProductView, StockView};
use crate::{AdminToken, HttpLimits};
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use domain::order::FailureReason;
use domain::{Order, Quantity};
use persistence::naive::{AnswerFormat, KeyClaim, NaiveSqlEngine, Placement, StoredAnswer};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;
use tracing::Instrument;

/// What every baseline handler needs. Cheap to clone.
#[derive(Clone)]
pub struct NaiveState {
    pub engine: Arc<NaiveSqlEngine>,
    pub admin_token: AdminToken,
    pub limits: HttpLimits,
}

/// The whole API on the baseline engine, layered exactly like [`crate::router`].
pub fn naive_router(state: NaiveState) -> Router {
    let limits = state.limits;
    Router::new()
        .merge(api().layer(axum::middleware::from_fn_with_state(
            ConcurrencyLimit::new(limits.concurrency_max),
            middleware::shed_load,
        )))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.body_bytes_max))
        .layer(axum::middleware::from_fn_with_state(
            limits.body_bytes_max,
            middleware::refuse_oversized,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits.retry_after_secs,
            middleware::retry_after,
        ))
        .layer(axum::middleware::from_fn(middleware::request_id))
        .with_state(state)
}

fn api() -> Router<NaiveState> {
    Router::new()
        .route("/v1/products/{sku}", put(define_product).get(get_product))
        .route("/v1/inventory/{sku}", get(get_stock))
        .route("/v1/inventory/{sku}/restock", post(restock))
        .route("/v1/carts", post(create_cart))
        .route("/v1/carts/{id}", get(get_cart))
        .route("/v1/carts/{id}/items", post(add_item))
        .route(
            "/v1/carts/{id}/items/{sku}",
            put(set_quantity).delete(remove_item),
        )
        .route("/v1/carts/{id}/checkout", post(checkout))
        .route("/v1/orders", post(buy_now))
        .route("/v1/orders/{id}", get(get_order))
        .route("/v1/orders/{id}/cancel", post(cancel_order))
}

impl FromRequestParts<NaiveState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &NaiveState) -> Result<Admin, ApiError> {
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .ok_or_else(|| {
                ApiError::new(Code::Unauthorized, "an admin bearer token is required")
            })?;
        if state.admin_token.matches(presented) {
            Ok(Admin)
        } else {
            Err(ApiError::new(
                Code::Unauthorized,
                "the admin bearer token is wrong",
            ))
        }
    }
}

/// The renderers of stored answers: the actor engine's, so both engines store the same bytes.
const ANSWERS: AnswerFormat = AnswerFormat {
    order: order_answer,
    out_of_stock: out_of_stock_answer,
};

fn order_answer(order: &Order) -> StoredAnswer {
    let answer = Answer::for_order(order);
    StoredAnswer {
        status: answer.status.as_u16(),
        body: answer.body,
    }
}

fn out_of_stock_problem() -> ApiError {
    failure_problem(FailureReason::OutOfStock)
}

fn out_of_stock_answer() -> StoredAnswer {
    let problem = out_of_stock_problem();
    StoredAnswer {
        status: problem.status().as_u16(),
        body: problem.body_bytes(),
    }
}

/// The HTTP answer to a placement, as the actor engine's edge gives it.
fn placement_response(placement: Placement) -> Result<Response, ApiError> {
    match placement {
        Placement::Placed(order) => Ok(Answer::for_order(&order).into_response()),
        Placement::OutOfStock => Err(out_of_stock_problem()),
        Placement::Replay(answer) => Ok(replayed(answer)),
        Placement::KeyReused => Err(ApiError::new(
            Code::IdempotencyKeyReused,
            "this Idempotency-Key was already used with a different request",
        )),
        Placement::InProgress => Err(ApiError::new(
            Code::IdempotencyInProgress,
            "a request with this Idempotency-Key is still being processed",
        )),
    }
}

/// A stored answer exactly as first sent, marked as a replay.
fn replayed(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = if status.is_client_error() || status.is_server_error() {
        // A stored problem is a final answer for its key: no Retry-After.
        problem_response(status, answer.body, false)
    } else {
        let mut response = (status, answer.body).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    };
    response
        .headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

async fn define_product(
    _: Admin,
    State(state): State<NaiveState>,
    PathParams(sku): PathParams<String>,
    JsonBody(body): JsonBody<DefineProductRequest>,
) -> Result<Json<ProductView>, ApiError> {
    let sku = parse_sku(&sku)?;
    let d = DefineProduct::try_from(body)?;
    let product = state
        .engine
        .define_product(sku, d.name, d.price, d.active)
        .await?;
    Ok(Json(ProductView::from(&product)))
}

async fn get_product(
    State(state): State<NaiveState>,
    PathParams(sku): PathParams<String>,
) -> Result<Json<ProductView>, ApiError> {
    let product = state.engine.product(parse_sku(&sku)?).await?;
    Ok(Json(ProductView::from(&product)))
}

async fn restock(
    _: Admin,
    State(state): State<NaiveState>,
    PathParams(sku): PathParams<String>,
    JsonBody(body): JsonBody<RestockRequest>,
) -> Result<Json<StockView>, ApiError> {
    let sku = parse_sku(&sku)?;
    let quantity = Quantity::try_from(body)?;
    let stock = state.engine.restock(sku, quantity).await?;
    Ok(Json(StockView::from(&stock)))
}

async fn get_stock(
    State(state): State<NaiveState>,
    PathParams(sku): PathParams<String>,
) -> Result<Json<StockView>, ApiError> {
    let stock = state.engine.stock(parse_sku(&sku)?).await?;
    Ok(Json(StockView::from(&stock)))
}

async fn create_cart(
    State(state): State<NaiveState>,
    OptionalJsonBody(_body): OptionalJsonBody<CreateCartRequest>,
) -> Result<Response, ApiError> {
    let cart = state.engine.create_cart().await?;
    Ok(created(
        format!("/v1/carts/{}", cart.id()),
        CartView::from(&cart),
    ))
}

async fn get_cart(
    State(state): State<NaiveState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<CartView>, ApiError> {
    let cart = state.engine.cart(parse_cart_id(&id)?).await?;
    Ok(Json(CartView::from(&cart)))
}

async fn add_item(
    State(state): State<NaiveState>,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<LineRequest>,
) -> Result<Json<CartView>, ApiError> {
    let id = parse_cart_id(&id)?;
    let line = Line::try_from(&body)?;
    let cart = state.engine.add_item(id, line.sku, line.quantity).await?;
    Ok(Json(CartView::from(&cart)))
}

async fn set_quantity(
    State(state): State<NaiveState>,
    PathParams((id, sku)): PathParams<(String, String)>,
    JsonBody(body): JsonBody<SetQuantityRequest>,
) -> Result<Json<CartView>, ApiError> {
    let id = parse_cart_id(&id)?;
    let sku = parse_sku(&sku)?;
    let quantity = u32::try_from(body)?;
    let cart = state.engine.set_quantity(id, sku, quantity).await?;
    Ok(Json(CartView::from(&cart)))
}

async fn remove_item(
    State(state): State<NaiveState>,
    PathParams((id, sku)): PathParams<(String, String)>,
) -> Result<Json<CartView>, ApiError> {
    let id = parse_cart_id(&id)?;
    let sku = parse_sku(&sku)?;
    let cart = state.engine.remove_item(id, sku).await?;
    Ok(Json(CartView::from(&cart)))
}

/// What a checkout's idempotency hash covers, exactly as the actor engine's edge hashes it.
#[derive(Serialize)]
struct CanonicalCheckout<'a> {
    cart_id: String,
    request: &'a CheckoutRequest,
}

async fn checkout(
    State(state): State<NaiveState>,
    PathParams(id): PathParams<String>,
    key: IdempotencyKey,
    JsonBody(body): JsonBody<CheckoutRequest>,
) -> Result<Response, ApiError> {
    let cart_id = parse_cart_id(&id)?;
    let checkout = Checkout::try_from(&body)?;
    let canonical = CanonicalCheckout {
        cart_id: cart_id.to_string(),
        request: &body,
    };
    let claim = KeyClaim {
        scope: format!("checkout:{cart_id}"),
        key: key.as_str().to_owned(),
        request_hash: request_hash(&canonical),
    };
    let token = checkout.payment_token.into_string();
    let address = checkout.shipping_address;
    // Its own task, as in the actor engine: a client that disconnects must not cut the
    // placement between the payment authorization and the transaction.
    let engine = state.engine.clone();
    let placed = tokio::spawn(
        async move {
            engine
                .checkout(&claim, cart_id, token, address, &ANSWERS)
                .await
        }
        .in_current_span(),
    );
    placement_response(joined(placed).await?)
}

async fn buy_now(
    State(state): State<NaiveState>,
    key: IdempotencyKey,
    JsonBody(body): JsonBody<BuyNowRequest>,
) -> Result<Response, ApiError> {
    let order = BuyNow::try_from(&body)?;
    let claim = KeyClaim {
        scope: "buy_now".to_owned(),
        key: key.as_str().to_owned(),
        request_hash: request_hash(&body),
    };
    let items = order
        .lines
        .into_iter()
        .map(|l| (l.sku, l.quantity))
        .collect();
    let token = order.payment_token.into_string();
    let address = order.shipping_address;
    let engine = state.engine.clone();
    let placed = tokio::spawn(
        async move {
            engine
                .buy_now(&claim, items, token, address, &ANSWERS)
                .await
        }
        .in_current_span(),
    );
    placement_response(joined(placed).await?)
}

/// The placement task's result; a panicked task is a 500 like any handler bug.
async fn joined(
    task: tokio::task::JoinHandle<Result<Placement, actors::AppError>>,
) -> Result<Placement, ApiError> {
    match task.await {
        Ok(placed) => Ok(placed?),
        Err(e) => {
            tracing::error!(error = %e, "placement task failed");
            Err(ApiError::new(Code::Internal, "an internal error occurred"))
        }
    }
}

async fn get_order(
    State(state): State<NaiveState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = state.engine.order(parse_order_id(&id)?).await?;
    Ok(Json(OrderView::from(&order)))
}

async fn cancel_order(
    State(state): State<NaiveState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = state.engine.cancel_order(parse_order_id(&id)?).await?;
    Ok(Json(OrderView::from(&order)))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<NaiveState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(READINESS_TIMEOUT, state.engine.ping()).await {
        Ok(Ok(())) => Ok(Json(json!({"status": "ready"}))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::new(Code::NotReady, "the store does not answer"))
        }
        Err(_) => Err(ApiError::new(
            Code::NotReady,
            "the store did not answer in time",
        )),
    }
}
