//! `PUT /v1/products/{sku}` (admin) and `GET /v1/products/{sku}`.

use crate::auth::Admin;
use crate::dto::{parse_sku, DefineProduct, DefineProductRequest};
use crate::extract::{JsonBody, PathParams};
use crate::problem::ApiError;
use crate::views::ProductView;
use crate::AppState;
use axum::extract::State;
use axum::Json;

/// Creates or replaces a product definition; re-sending the same definition changes nothing.
#[utoipa::path(put, path = "/v1/products/{sku}", tag = "catalog", operation_id = "define_product",
    params(crate::openapi::SkuPath),
    request_body = DefineProductRequest,
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The product as defined.", body = ProductView),
        (status = 422, description = "`invalid_sku`, `invalid_product_name`, `invalid_price`, \
            `invalid_currency` or `amount_overflow`."),
    ))]
pub async fn define(
    _: Admin,
    State(state): State<AppState>,
    PathParams(sku): PathParams<String>,
    JsonBody(body): JsonBody<DefineProductRequest>,
) -> Result<Json<ProductView>, ApiError> {
    let sku = parse_sku(&sku)?;
    let definition = DefineProduct::try_from(body)?;
    let product = state
        .commerce
        .define_product(sku, definition.name, definition.price, definition.active)
        .await?;
    Ok(Json(ProductView::from(&product)))
}

/// Reads a product.
#[utoipa::path(get, path = "/v1/products/{sku}", tag = "catalog", operation_id = "get_product",
    params(crate::openapi::SkuPath),
    responses(
        (status = 200, description = "The product.", body = ProductView),
        (status = 404, description = "`product_not_found`: no product has this SKU."),
        (status = 422, description = "`invalid_sku`: the SKU is not a valid code."),
    ))]
pub async fn get(
    State(state): State<AppState>,
    PathParams(sku): PathParams<String>,
) -> Result<Json<ProductView>, ApiError> {
    let product = state.commerce.product(parse_sku(&sku)?).await?;
    Ok(Json(ProductView::from(&product)))
}
