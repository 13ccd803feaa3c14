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

pub async fn get(
    State(state): State<AppState>,
    PathParams(sku): PathParams<String>,
) -> Result<Json<StockView>, ApiError> {
    let stock = state.commerce.stock(parse_sku(&sku)?).await?;
    Ok(Json(StockView::from(&stock)))
}
