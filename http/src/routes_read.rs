//! Read-model routes: a customer's orders (cursor-paginated) and notifications, and the orders of
//! a SKU for sellers (admin), served from the projections the event consumers maintain (`relay`
//! crate), not from the aggregates. They are eventually consistent: an order appears once its
//! `order.placed` fact was projected.
//!
//! The queries come in through the `actors::ports::ReadModels` port as a request extension
//! ([`ReadModelsHandle`]), which the bootstrap layers onto the router; without it these routes
//! answer 503 `not_ready`.

use std::sync::Arc;

use actors::ports::{
    NotificationSummary, OrderPage, OrderSummary, ReadModelError, ReadModels, StoreError,
};
use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::routing::get;
use axum::{Extension, Json, Router};
use domain::CustomerId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Admin, CustomerAuth};
use crate::dto::parse_sku;
use crate::extract::PathParams;
use crate::problem::{ApiError, Code};
use crate::timefmt::rfc3339_ms;
use crate::views::MoneyView;
use crate::AppState;

/// The read models, as the router's request extension.
#[derive(Clone)]
pub struct ReadModelsHandle(pub Arc<dyn ReadModels>);

/// Orders or notifications one page holds when the client does not say.
pub const PAGE_LIMIT_DEFAULT: u32 = 20;
/// The most one page holds, whatever the client asks.
pub const PAGE_LIMIT_MAX: u32 = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/customers/{id}/orders", get(customer_orders))
        .route(
            "/v1/customers/{id}/notifications",
            get(customer_notifications),
        )
        .route("/v1/skus/{sku}/orders", get(sku_orders))
}

/// `?cursor=&limit=`; any other query parameter is 400 `invalid_query`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next_cursor` of the previous page; absent for the first page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct OrderSummaryView {
    pub order_id: String,
    /// The order's status, as in `OrderView`.
    pub status: String,
    pub total: MoneyView,
    pub line_count: u32,
    pub item_count: u64,
    pub placed_at: String,
    pub updated_at: String,
}

impl From<&OrderSummary> for OrderSummaryView {
    fn from(o: &OrderSummary) -> Self {
        OrderSummaryView {
            order_id: o.order_id.to_string(),
            status: o.status.clone(),
            total: o.total.into(),
            line_count: o.line_count,
            item_count: o.item_count,
            placed_at: rfc3339_ms(o.placed_at),
            updated_at: rfc3339_ms(o.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrderListView {
    pub orders: Vec<OrderSummaryView>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl From<OrderPage> for OrderListView {
    fn from(page: OrderPage) -> Self {
        OrderListView {
            orders: page.orders.iter().map(OrderSummaryView::from).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct NotificationView {
    pub id: String,
    pub order_id: String,
    pub kind: String,
    pub message: String,
    pub created_at: String,
}

impl From<&NotificationSummary> for NotificationView {
    fn from(n: &NotificationSummary) -> Self {
        NotificationView {
            id: uuid::Uuid::from_u128(n.notification_id).to_string(),
            order_id: n.order_id.to_string(),
            kind: n.kind.clone(),
            message: n.message.clone(),
            created_at: rfc3339_ms(n.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct NotificationListView {
    pub notifications: Vec<NotificationView>,
}

fn read_models(
    handle: Option<Extension<ReadModelsHandle>>,
) -> Result<Arc<dyn ReadModels>, ApiError> {
    handle
        .map(|Extension(h)| h.0)
        .ok_or_else(|| ApiError::new(Code::NotReady, "read models are not served by this process"))
}

/// The path's customer, who must be the one the bearer token logged in. Anyone else's id, or an
/// unparseable one, is 404, exactly like an id no account has, so ids cannot be confirmed.
fn own_customer(auth: &CustomerAuth, id: &str) -> Result<CustomerId, ApiError> {
    match CustomerId::parse(id) {
        Ok(customer) if customer == auth.customer => Ok(customer),
        _ => Err(ApiError::new(Code::NotFound, "no such customer")),
    }
}

fn page(
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<(Option<String>, u32), ApiError> {
    let Query(q) = query.map_err(|e| ApiError::new(Code::InvalidQuery, e.body_text()))?;
    let limit = q.limit.unwrap_or(PAGE_LIMIT_DEFAULT);
    if limit == 0 || limit > PAGE_LIMIT_MAX {
        return Err(ApiError::new(
            Code::InvalidQuery,
            format!("limit must be 1..={PAGE_LIMIT_MAX}"),
        ));
    }
    Ok((q.cursor, limit))
}

fn read_error(e: ReadModelError) -> ApiError {
    match e {
        ReadModelError::InvalidCursor => ApiError::new(Code::InvalidQuery, "invalid cursor"),
        ReadModelError::Store(StoreError::Unavailable(_)) => {
            ApiError::new(Code::StoreUnavailable, "the read models cannot be reached")
        }
        ReadModelError::Store(e) => {
            tracing::error!(error = %e, "read model query failed");
            ApiError::new(Code::Internal, "read model query failed")
        }
    }
}

/// A customer's orders, newest first, as the read model holds them.
#[utoipa::path(get, path = "/v1/customers/{id}/orders", tag = "read models",
    params(("id" = String, Path, format = "uuid", description = "The customer's id (a UUID)."), PageQuery),
    security(("shopper_token" = [])),
    responses(
        (status = 200, description = "One page of orders.", body = OrderListView),
        (status = 400, description = "`invalid_query`: an unknown parameter, a `limit` out of \
            1..=100, or an invalid cursor."),
        (status = 503, description = "`not_ready`: this process serves no read models."),
        (status = 404, description = "`not_found`: the id is not the token's customer."),
    ))]
pub async fn customer_orders(
    auth: CustomerAuth,
    handle: Option<Extension<ReadModelsHandle>>,
    PathParams(id): PathParams<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<OrderListView>, ApiError> {
    let read = read_models(handle)?;
    let customer = own_customer(&auth, &id)?;
    let (cursor, limit) = page(query)?;
    let page = read
        .customer_orders(customer, cursor.as_deref(), limit)
        .await
        .map_err(read_error)?;
    Ok(Json(OrderListView::from(page)))
}

/// The orders that include a SKU, for sellers (admin).
#[utoipa::path(get, path = "/v1/skus/{sku}/orders", tag = "read models",
    params(crate::openapi::SkuPath, PageQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "One page of orders.", body = OrderListView),
        (status = 400, description = "`invalid_query`: an unknown parameter, a `limit` out of \
            1..=100, or an invalid cursor."),
        (status = 503, description = "`not_ready`: this process serves no read models."),
        (status = 422, description = "`invalid_sku`: the SKU is not a valid code."),
    ))]
pub async fn sku_orders(
    _: Admin,
    handle: Option<Extension<ReadModelsHandle>>,
    PathParams(sku): PathParams<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<OrderListView>, ApiError> {
    let read = read_models(handle)?;
    let sku = parse_sku(&sku)?;
    let (cursor, limit) = page(query)?;
    let page = read
        .sku_orders(&sku, cursor.as_deref(), limit)
        .await
        .map_err(read_error)?;
    Ok(Json(OrderListView::from(page)))
}

/// A customer's latest notifications (`cursor` is accepted and ignored: one page only).
#[utoipa::path(get, path = "/v1/customers/{id}/notifications", tag = "read models",
    params(("id" = String, Path, format = "uuid", description = "The customer's id (a UUID)."), PageQuery),
    security(("shopper_token" = [])),
    responses(
        (status = 200, description = "The latest notifications.", body = NotificationListView),
        (status = 400, description = "`invalid_query`: an unknown parameter, a `limit` out of \
            1..=100, or an invalid cursor."),
        (status = 503, description = "`not_ready`: this process serves no read models."),
        (status = 404, description = "`not_found`: the id is not the token's customer."),
    ))]
pub async fn customer_notifications(
    auth: CustomerAuth,
    handle: Option<Extension<ReadModelsHandle>>,
    PathParams(id): PathParams<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<NotificationListView>, ApiError> {
    let read = read_models(handle)?;
    let customer = own_customer(&auth, &id)?;
    let (_, limit) = page(query)?;
    let list = read
        .customer_notifications(customer, limit)
        .await
        .map_err(read_error)?;
    Ok(Json(NotificationListView {
        notifications: list.iter().map(NotificationView::from).collect(),
    }))
}
