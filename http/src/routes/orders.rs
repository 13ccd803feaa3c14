//! Orders: buy now (idempotent), read, cancel.

use super::parse_order_id;
use crate::auth::ShopperAuth;
use crate::dto::{BuyNow, BuyNowRequest};
use crate::extract::{IdempotencyKey, JsonBody, PathParams};
use crate::idempotency::{place_once, Claim};
use crate::openapi::IdempotencyKeyHeader;
use crate::problem::ApiError;
use crate::views::OrderView;
use crate::AppState;
use actors::Shopper;
use axum::extract::State;
use axum::response::Response;
use axum::Json;

/// Places an order straight from SKUs, through the same saga as a checkout.
#[utoipa::path(post, path = "/v1/orders", tag = "orders",
    security((), ("shopper_token" = [])),
    params(IdempotencyKeyHeader),
    request_body = BuyNowRequest,
    responses(
        (status = 201, description = "The confirmed order; `Location` names it. A replay carries \
            `Idempotent-Replayed: true`.", body = OrderView,
            headers(("Location" = String, description = "`/v1/orders/{id}`."),
                ("Idempotent-Replayed" = String, description = "`true` on a replayed answer."))),
        (status = 400, description = "`idempotency_key_required` or `invalid_idempotency_key`."),
        (status = 402, description = "`payment_declined` or `payment_timeout`: checkout failed and \
            rolled back; the failed order is the `order` member."),
        (status = 409, description = "`out_of_stock` (the failed order is the `order` member), \
            `product_inactive`, or `idempotency_in_progress` (retry after `Retry-After`)."),
        (status = 502, description = "`gateway_failed`: the payment or shipping provider failed."),
        (status = 503, description = "`checkout_interrupted`: checkout was rolled back."),
        (status = 404, description = "`product_not_found`."),
        (status = 422, description = "`order_lines_empty`, `order_lines_limit_exceeded`, \
            `duplicate_sku`, `invalid_sku`, `invalid_quantity`, `quantity_limit_exceeded`, \
            `invalid_payment_token`, `invalid_shipping_address`, `idempotency_key_reused`, \
            `currency_mismatch` or `amount_overflow`."),
    ))]
pub async fn buy_now(
    State(state): State<AppState>,
    ShopperAuth(shopper): ShopperAuth,
    key: IdempotencyKey,
    JsonBody(body): JsonBody<BuyNowRequest>,
) -> Result<Response, ApiError> {
    let order = BuyNow::try_from(&body)?;
    // A customer's keys are their own: two shoppers picking the same key never collide. Guests
    // share one scope, as they share no identity.
    let scope = match shopper {
        Shopper::Guest => "buy_now".to_owned(),
        Shopper::Customer(customer) => format!("buy_now:{customer}"),
    };
    let claim = Claim::new(scope, key, &body);
    let customer = shopper.customer();
    let commerce = state.commerce.clone();
    place_once(&state, &claim, move |order_id| {
        let items = order
            .lines
            .into_iter()
            .map(|l| (l.sku, l.quantity))
            .collect();
        async move {
            let token = order.payment_token.into_string();
            commerce
                .buy_now(order_id, customer, items, token, order.shipping_address)
                .await
        }
    })
    .await
}

/// Reads an order.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders", operation_id = "get_order",
    security((), ("shopper_token" = [])),
    params(("id" = String, Path, format = "uuid", description = "The order's id (a UUID).")),
    responses(
        (status = 200, description = "The order.", body = OrderView),
        (status = 404, description = "`order_not_found`: no order has this id."),
    ))]
pub async fn get(
    State(state): State<AppState>,
    ShopperAuth(shopper): ShopperAuth,
    PathParams(id): PathParams<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = state
        .commerce
        .order_for(shopper, parse_order_id(&id)?)
        .await?;
    Ok(Json(OrderView::from(&order)))
}

/// Cancels an order that has not shipped; its stock returns and its payment is voided.
#[utoipa::path(post, path = "/v1/orders/{id}/cancel", tag = "orders", operation_id = "cancel_order",
    security((), ("shopper_token" = [])),
    params(("id" = String, Path, format = "uuid", description = "The order's id (a UUID).")),
    responses(
        (status = 200, description = "The cancelled order.", body = OrderView),
        (status = 404, description = "`order_not_found`: no order has this id."),
        (status = 409, description = "`invalid_transition` (the order cannot be cancelled in \
            its status) or `no_payment_to_void`."),
        (status = 422, description = "`invalid_order`."),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    ShopperAuth(shopper): ShopperAuth,
    PathParams(id): PathParams<String>,
) -> Result<Json<OrderView>, ApiError> {
    let id = parse_order_id(&id)?;
    state.commerce.order_for(shopper, id).await?;
    let order = state.commerce.cancel_order(id).await?;
    Ok(Json(OrderView::from(&order)))
}
