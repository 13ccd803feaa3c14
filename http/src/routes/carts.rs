//! Carts: create, read, change lines, and check out (idempotent, see [`crate::idempotency`]).

use super::{created, parse_cart_id};
use crate::auth::ShopperAuth;
use crate::dto::{
    parse_sku, Checkout, CheckoutRequest, CreateCartRequest, Line, LineRequest, SetQuantityRequest,
};
use crate::extract::{IdempotencyKey, JsonBody, OptionalJsonBody, PathParams};
use crate::idempotency::{place_once, Claim};
use crate::openapi::IdempotencyKeyHeader;
use crate::problem::ApiError;
use crate::views::{CartView, OrderView};
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use axum::Json;
use serde::Serialize;

/// Creates a cart: the bearer token's account owns it, or without a token it is a guest cart,
/// reachable by its id alone. The body may be absent or `{}`.
#[utoipa::path(post, path = "/v1/carts", tag = "carts", operation_id = "create_cart",
    security((), ("shopper_token" = [])),
    request_body(content = Option<CreateCartRequest>,
        description = "Optional: absent, empty, or `{}`."),
    responses(
        (status = 201, description = "The new, empty cart; `Location` names it.", body = CartView,
            headers(("Location" = String, description = "`/v1/carts/{id}`."))),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ShopperAuth(shopper): ShopperAuth,
    OptionalJsonBody(_body): OptionalJsonBody<CreateCartRequest>,
) -> Result<Response, ApiError> {
    let cart = state.commerce.create_cart(shopper.customer()).await?;
    Ok(created(
        format!("/v1/carts/{}", cart.id()),
        CartView::from(&cart),
    ))
}

/// Reads a cart.
#[utoipa::path(get, path = "/v1/carts/{id}", tag = "carts", operation_id = "get_cart",
    security((), ("shopper_token" = [])),
    params(("id" = String, Path, format = "uuid", description = "The cart's id (a UUID).")),
    responses(
        (status = 200, description = "The cart.", body = CartView),
        (status = 404, description = "`cart_not_found`: no cart has this id."),
    ))]
pub async fn get(
    State(state): State<AppState>,
    ShopperAuth(shopper): ShopperAuth,
    PathParams(id): PathParams<String>,
) -> Result<Json<CartView>, ApiError> {
    let cart = state
        .commerce
        .cart_for(shopper, parse_cart_id(&id)?)
        .await?;
    Ok(Json(CartView::from(&cart)))
}

/// Adds units of a SKU at its current price; adding a SKU already in the cart adds to its line.
#[utoipa::path(post, path = "/v1/carts/{id}/items", tag = "carts",
    security((), ("shopper_token" = [])),
    params(("id" = String, Path, format = "uuid", description = "The cart's id (a UUID).")),
    request_body = LineRequest,
    responses(
        (status = 200, description = "The cart with the line added.", body = CartView),
        (status = 404, description = "`cart_not_found` or `product_not_found`."),
        (status = 409, description = "`cart_not_open` or `product_inactive`."),
        (status = 422, description = "`invalid_sku`, `invalid_quantity`, \
            `quantity_limit_exceeded`, `cart_lines_limit_exceeded`, `currency_mismatch` or \
            `amount_overflow`."),
    ))]
pub async fn add_item(
    State(state): State<AppState>,
    ShopperAuth(shopper): ShopperAuth,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<LineRequest>,
) -> Result<Json<CartView>, ApiError> {
    let id = parse_cart_id(&id)?;
    let line = Line::try_from(&body)?;
    let cart = state
        .commerce
        .add_item(shopper, id, line.sku, line.quantity)
        .await?;
    Ok(Json(CartView::from(&cart)))
}

/// Sets a line's quantity; zero removes the line.
#[utoipa::path(put, path = "/v1/carts/{id}/items/{sku}", tag = "carts",
    security((), ("shopper_token" = [])),
    params(("id" = String, Path, format = "uuid", description = "The cart's id (a UUID)."), crate::openapi::SkuPath),
    request_body = SetQuantityRequest,
    responses(
        (status = 200, description = "The cart with the line changed.", body = CartView),
        (status = 404, description = "`cart_not_found` or `cart_line_not_found`."),
        (status = 409, description = "`cart_not_open`."),
        (status = 422, description = "`invalid_sku`, `invalid_quantity`, \
            `quantity_limit_exceeded` or `amount_overflow`."),
    ))]
pub async fn set_quantity(
    State(state): State<AppState>,
    ShopperAuth(shopper): ShopperAuth,
    PathParams((id, sku)): PathParams<(String, String)>,
    JsonBody(body): JsonBody<SetQuantityRequest>,
) -> Result<Json<CartView>, ApiError> {
    let id = parse_cart_id(&id)?;
    let sku = parse_sku(&sku)?;
    let quantity = u32::try_from(body)?;
    let cart = state
        .commerce
        .set_quantity(shopper, id, sku, quantity)
        .await?;
    Ok(Json(CartView::from(&cart)))
}

/// Removes a line.
#[utoipa::path(delete, path = "/v1/carts/{id}/items/{sku}", tag = "carts",
    security((), ("shopper_token" = [])),
    params(("id" = String, Path, format = "uuid", description = "The cart's id (a UUID)."), crate::openapi::SkuPath),
    responses(
        (status = 200, description = "The cart without the line.", body = CartView),
        (status = 404, description = "`cart_not_found` or `cart_line_not_found`."),
        (status = 409, description = "`cart_not_open`."),
        (status = 422, description = "`invalid_sku`."),
    ))]
pub async fn remove_item(
    State(state): State<AppState>,
    ShopperAuth(shopper): ShopperAuth,
    PathParams((id, sku)): PathParams<(String, String)>,
) -> Result<Json<CartView>, ApiError> {
    let id = parse_cart_id(&id)?;
    let sku = parse_sku(&sku)?;
    let cart = state.commerce.remove_item(shopper, id, sku).await?;
    Ok(Json(CartView::from(&cart)))
}

/// What a checkout's idempotency hash covers: the cart and the body.
#[derive(Serialize)]
struct CanonicalCheckout<'a> {
    cart_id: String,
    request: &'a CheckoutRequest,
}

/// Checks the cart out into an order; see [`crate::idempotency`] for retries.
#[utoipa::path(post, path = "/v1/carts/{id}/checkout", tag = "carts",
    security((), ("shopper_token" = [])),
    params(("id" = String, Path, format = "uuid", description = "The cart's id (a UUID)."), IdempotencyKeyHeader),
    request_body = CheckoutRequest,
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
        (status = 404, description = "`cart_not_found` or `product_not_found`."),
        (status = 422, description = "`cart_empty`, `invalid_payment_token`, \
            `invalid_shipping_address`, `idempotency_key_reused`, `currency_mismatch` or \
            `amount_overflow`."),
    ))]
pub async fn checkout(
    State(state): State<AppState>,
    ShopperAuth(shopper): ShopperAuth,
    PathParams(id): PathParams<String>,
    key: IdempotencyKey,
    JsonBody(body): JsonBody<CheckoutRequest>,
) -> Result<Response, ApiError> {
    let cart_id = parse_cart_id(&id)?;
    let checkout = Checkout::try_from(&body)?;
    state.commerce.cart_for(shopper, cart_id).await?;
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
