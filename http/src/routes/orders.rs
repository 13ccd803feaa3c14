//! Orders: buy now (idempotent), read, cancel.

use super::parse_order_id;
use crate::dto::{BuyNow, BuyNowRequest};
use crate::extract::{IdempotencyKey, JsonBody, PathParams};
use crate::idempotency::{place_once, Claim};
use crate::problem::ApiError;
use crate::views::OrderView;
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use axum::Json;

/// Places an order straight from SKUs, through the same saga as a checkout.
pub async fn buy_now(
    State(state): State<AppState>,
    key: IdempotencyKey,
    JsonBody(body): JsonBody<BuyNowRequest>,
) -> Result<Response, ApiError> {
    let order = BuyNow::try_from(&body)?;
    let claim = Claim::new("buy_now".to_owned(), key, &body);
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
                .buy_now(order_id, None, items, token, order.shipping_address)
                .await
        }
    })
    .await
}

pub async fn get(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = state.commerce.order(parse_order_id(&id)?).await?;
    Ok(Json(OrderView::from(&order)))
}

/// Cancels an order that has not shipped; its stock returns and its payment is voided.
pub async fn cancel(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = state.commerce.cancel_order(parse_order_id(&id)?).await?;
    Ok(Json(OrderView::from(&order)))
}
