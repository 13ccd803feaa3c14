//! `POST /v1/inventory/{sku}/restock` (admin) and `GET /v1/inventory/{sku}`.

use crate::auth::Admin;
use crate::dto::{parse_sku, RestockRequest};
use crate::extract::{JsonBody, PathParams};
use crate::problem::ApiError;
use crate::views::StockView;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use domain::Quantity;

/// Adds units to a SKU's stock.
#[utoipa::path(post, path = "/v1/inventory/{sku}/restock", tag = "catalog", operation_id = "restock",
    params(crate::openapi::SkuPath),
    request_body = RestockRequest,
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The stock after the restock.", body = StockView),
        (status = 404, description = "`product_not_found`: no product has this SKU."),
        (status = 422, description = "`invalid_sku`, `invalid_quantity` or \
            `stock_limit_exceeded`."),
    ))]
pub async fn restock(
    _: Admin,
    State(state): State<AppState>,
    PathParams(sku): PathParams<String>,
    JsonBody(body): JsonBody<RestockRequest>,
) -> Result<Json<StockView>, ApiError> {
    let sku = parse_sku(&sku)?;
    let quantity = Quantity::try_from(body)?;
    let stock = state.commerce.restock(sku, quantity).await?;
    Ok(Json(StockView::from(&stock)))
}

/// Reads a SKU's stock; a SKU never restocked has none.
#[utoipa::path(get, path = "/v1/inventory/{sku}", tag = "catalog", operation_id = "get_stock",
    params(crate::openapi::SkuPath),
    responses(
        (status = 200, description = "The stock.", body = StockView),
        (status = 404, description = "`product_not_found`: no product has this SKU."),
        (status = 422, description = "`invalid_sku`: the SKU is not a valid code."),
    ))]
pub async fn get(
    State(state): State<AppState>,
    PathParams(sku): PathParams<String>,
) -> Result<Json<StockView>, ApiError> {
    let stock = state.commerce.stock(parse_sku(&sku)?).await?;
    Ok(Json(StockView::from(&stock)))
}
