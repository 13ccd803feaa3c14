//! The HTTP edge: JSON in and out, problem+json errors, admin auth, idempotent checkout.
//!
//! Architecture invariant: this crate parses and renders; it holds no business rule. Requests
//! become domain types at the edge (DTO `TryFrom`), handlers call one `actors::Commerce` use
//! case, and every failure leaves as one [`ApiError`] with a stable `code`.
//!
//! Layout:
//! - [`limits`]: `HttpLimits` and the edge's named bounds.
//! - [`problem`]: `ApiError` and the closed table of codes (status, title, `type` URI).
//! - [`errors`]: `AppError` and every domain error variant mapped to a code.
//! - [`extract`]: JSON body, path and `Idempotency-Key` extractors with problem rejections.
//! - [`dto`]: request bodies and their conversion into domain types.
//! - [`views`]: response bodies (times are RFC 3339 UTC strings, see [`timefmt`]).
//! - [`auth`]: `AdminToken` and the `Admin` extractor; shoppers' `ShopperAuth` / `CustomerAuth`.
//! - [`rate_limit`]: bounded token buckets for sign-up and login.
//! - [`idempotency`]: claim, replay, wait and release of idempotency keys.
//! - [`middleware`]: request ids, load shedding, `Retry-After`.
//! - [`routes`]: the handlers.
//! - [`naive`]: the same API on the naive-sql baseline engine (`naive_router`).
//! - [`metrics`]: `GET /metrics` (Prometheus) and the request-timing middleware.
//! - [`ops`]: the ops API (`/ops/...`, admin token) and the embedded dashboard (`GET /ops`).
//! - [`openapi`]: the OpenAPI 3 document (`GET /openapi.json`), generated from the handlers'
//!   `#[utoipa::path]` annotations and the DTOs' and views' `ToSchema`; how to document a route.
//!
//! Wire conventions:
//! - Errors are `application/problem+json` with `type` = `https://errors.commerce.example/<code>`,
//!   `title`, `status`, `detail` and the stable `code`; retryable ones (503s and
//!   `idempotency_in_progress`) carry `Retry-After: HttpLimits::retry_after_secs`.
//! - Money is `{"amount": <integer minor units>, "currency": "<ISO 4217>"}`; ids are lowercase
//!   hyphenated UUIDs; `placed_at` is an RFC 3339 UTC string with milliseconds.
//! - Checkout and buy-now need `Idempotency-Key`; replayed answers carry
//!   `Idempotent-Replayed: true`.
//! - Every response carries `x-request-id` (the client's if it is a sane token, else a UUID).

pub mod auth;
pub mod dto;
pub mod errors;
pub mod extract;
pub mod idempotency;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod naive;
pub mod openapi;
pub mod ops;
pub mod problem;
pub mod rate_limit;
pub mod routes;
pub mod routes_read;
pub mod timefmt;
pub mod views;

pub use auth::AdminToken;
pub use limits::HttpLimits;
pub use naive::{naive_router, NaiveState};
pub use problem::{ApiError, Code};

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use axum::Router;
use middleware::ConcurrencyLimit;
use routes::{accounts, carts, health, inventory, orders, products};

/// What every handler needs. Cheap to clone: `Commerce` is an `Arc` inside.
#[derive(Clone)]
pub struct AppState {
    pub commerce: actors::Commerce,
    pub admin_token: AdminToken,
    pub limits: HttpLimits,
}

/// The whole API. Layers, outermost first: request id (so every answer, shed ones included,
/// carries one), `Retry-After` from the limits, then per route group the concurrency limit, and
/// the body size limit.
pub fn router(state: AppState) -> Router {
    let limits = state.limits;
    Router::new()
        .merge(
            api()
                .layer(axum::middleware::from_fn_with_state(
                    ConcurrencyLimit::new(limits.concurrency_max),
                    middleware::shed_load,
                ))
                .layer(axum::Extension(rate_limit::AuthRateLimits::new(&limits))),
        )
        // Probes bypass the concurrency limit: an overloaded process is alive, and killing it
        // for being busy would move its load onto the others.
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(openapi::openapi_json))
        .merge(ops::routes())
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
        .layer(axum::middleware::from_fn(metrics::track_http))
        .layer(axum::middleware::from_fn(middleware::request_id))
        .with_state(state)
}

/// The `/v1` resources.
fn api() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/products/{sku}",
            put(products::define).get(products::get),
        )
        .route("/v1/inventory/{sku}", get(inventory::get))
        .route("/v1/inventory/{sku}/restock", post(inventory::restock))
        .route("/v1/accounts", post(accounts::sign_up))
        .route("/v1/accounts/me", get(accounts::me))
        .route("/v1/sessions", post(accounts::log_in))
        .route("/v1/sessions/current", delete(accounts::log_out))
        .route("/v1/carts", post(carts::create))
        .route("/v1/carts/{id}", get(carts::get))
        .route("/v1/carts/{id}/items", post(carts::add_item))
        .route(
            "/v1/carts/{id}/items/{sku}",
            put(carts::set_quantity).delete(carts::remove_item),
        )
        .route("/v1/carts/{id}/checkout", post(carts::checkout))
        .route("/v1/orders", post(orders::buy_now))
        .route("/v1/orders/{id}", get(orders::get))
        .route("/v1/orders/{id}/cancel", post(orders::cancel))
        .merge(routes_read::routes())
}
