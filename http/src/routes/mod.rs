//! The handlers, one module per resource. Each handler parses its inputs into domain types
//! (through the DTOs' `TryFrom`), calls one `Commerce` use case and renders a view.

pub mod accounts;
pub mod carts;
pub mod health;
pub mod inventory;
pub mod orders;
pub mod products;

use crate::errors::id_error;
use crate::problem::{ApiError, Code};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::{CartId, OrderId};
use serde::Serialize;

/// An unparseable cart id cannot exist: 404 like any unknown cart.
pub fn parse_cart_id(s: &str) -> Result<CartId, ApiError> {
    CartId::parse(s).map_err(|e| id_error(e, Code::CartNotFound))
}

pub fn parse_order_id(s: &str) -> Result<OrderId, ApiError> {
    OrderId::parse(s).map_err(|e| id_error(e, Code::OrderNotFound))
}

/// 201 Created with the new resource and its `Location`.
pub fn created(location: String, body: impl Serialize) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::new(Code::NotFound, "no resource at this path")
}

/// Known paths with a method they do not support.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        Code::MethodNotAllowed,
        "this path does not support this method",
    )
}
