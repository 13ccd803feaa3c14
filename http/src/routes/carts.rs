//! Carts: create, read, change lines, and check out (idempotent, see [`crate::idempotency`]).

use super::{created, parse_cart_id};
use crate::dto::{
    parse_sku, Checkout, CheckoutRequest, CreateCartRequest, Line, LineRequest, SetQuantityRequest,
};
use crate::extract::{IdempotencyKey, JsonBody, OptionalJsonBody, PathParams};
use crate::idempotency::{place_once, Claim};
use crate::problem::ApiError;
use crate::views::CartView;
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use axum::Json;
use serde::Serialize;

/// Creates an anonymous cart; the body may be absent or `{}`.
pub async fn create(
    State(state): State<AppState>,
    OptionalJsonBody(_body): OptionalJsonBody<CreateCartRequest>,
) -> Result<Response, ApiError> {
    let cart = state.commerce.create_cart(None).await?;
    Ok(created(
        format!("/v1/carts/{}", cart.id()),
        CartView::from(&cart),
    ))
}

pub async fn get(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<CartView>, ApiError> {
    let cart = state.commerce.cart(parse_cart_id(&id)?).await?;
    Ok(Json(CartView::from(&cart)))
}

/// Adds units of a SKU at its current price; adding a SKU already in the cart adds to its line.
pub async fn add_item(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<LineRequest>,
) -> Result<Json<CartView>, ApiError> {
    let id = parse_cart_id(&id)?;
    let line = Line::try_from(&body)?;
    let cart = state.commerce.add_item(id, line.sku, line.quantity).await?;
    Ok(Json(CartView::from(&cart)))
}

/// Sets a line's quantity; zero removes the line.
pub async fn set_quantity(
    State(state): State<AppState>,
    PathParams((id, sku)): PathParams<(String, String)>,
    JsonBody(body): JsonBody<SetQuantityRequest>,
) -> Result<Json<CartView>, ApiError> {
    let id = parse_cart_id(&id)?;
    let sku = parse_sku(&sku)?;
    let quantity = u32::try_from(body)?;
    let cart = state.commerce.set_quantity(id, sku, quantity).await?;
    Ok(Json(CartView::from(&cart)))
}

pub async fn remove_item(
    State(state): State<AppState>,
    PathParams((id, sku)): PathParams<(String, String)>,
) -> Result<Json<CartView>, ApiError> {
    let id = parse_cart_id(&id)?;
    let sku = parse_sku(&sku)?;
    let cart = state.commerce.remove_item(id, sku).await?;
    Ok(Json(CartView::from(&cart)))
}

/// What a checkout's idempotency hash covers: the cart and the body.
#[derive(Serialize)]
struct CanonicalCheckout<'a> {
    cart_id: String,
    request: &'a CheckoutRequest,
}

/// Checks the cart out into an order; see [`crate::idempotency`] for retries.
pub async fn checkout(
    State(state): State<AppState>,
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
    let claim = Claim::new(format!("checkout:{cart_id}"), key, &canonical);
    let commerce = state.commerce.clone();
    place_once(&state, &claim, move |order_id| {
        let Checkout {
            payment_token,
            shipping_address,
        } = checkout;
        async move {
            commerce
                .checkout(
                    cart_id,
                    order_id,
                    payment_token.into_string(),
                    shipping_address,
                )
                .await
        }
    })
    .await
}
