//! Accounts and sessions: sign up, log in (optionally taking over a guest cart), log out, and
//! "who am I". Sign-up and login are rate limited per client address, and login also per email
//! ([`crate::rate_limit`]).
//!
//! The guest-cart rule at login: `POST /v1/sessions` may name the guest cart the shopper filled
//! before logging in (`cart_id`). If that cart is open and belongs to no one, it becomes the
//! account's cart, lines and all, and from then on only the account's token reaches it; the
//! answer's `cart_id` names it. The account's other carts are left as they are: nothing is
//! summed or dropped behind the shopper's back. A cart that is unknown, already checked out or
//! someone else's is not attached (`cart_id` is null), and the login still succeeds.

use super::created;
use crate::auth::CustomerAuth;
use crate::dto::{Credentials, Login, LoginRequest, SignUpRequest};
use crate::extract::JsonBody;
use crate::problem::ApiError;
use crate::rate_limit::{client_ip, AuthRateLimits};
use crate::timefmt::rfc3339_ms;
use crate::views::{AccountView, SessionView};
use crate::AppState;
use actors::AppError;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use domain::{CartId, CustomerId};
use std::net::IpAddr;

/// The client's address, for the rate limits.
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<ClientIp, Self::Rejection> {
        let trusted = parts
            .extensions
            .get::<AuthRateLimits>()
            .map(|limits| *limits.trusted_proxies())
            .unwrap_or_default();
        Ok(ClientIp(client_ip(parts, &trusted)))
    }
}

/// Creates an account.
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts",
    request_body = SignUpRequest,
    responses(
        (status = 201, description = "The new account; `Location` is `/v1/accounts/me`.",
            body = AccountView,
            headers(("Location" = String, description = "`/v1/accounts/me`."))),
        (status = 409, description = "`email_taken`: an account already has this email."),
        (status = 422, description = "`invalid_email` or `invalid_password` (8 to 128 \
            characters, no control characters)."),
        (status = 429, description = "`rate_limited`: too many sign-ups from this client; \
            retry after `Retry-After` seconds."),
    ))]
pub async fn sign_up(
    State(state): State<AppState>,
    Extension(limits): Extension<AuthRateLimits>,
    ClientIp(client): ClientIp,
    JsonBody(body): JsonBody<SignUpRequest>,
) -> Result<Response, ApiError> {
    let Credentials { email, password } = Credentials::try_from(&body)?;
    limits.sign_up(client)?;
    let account = state.commerce.accounts().sign_up(email, password).await?;
    Ok(created(
        "/v1/accounts/me".to_owned(),
        AccountView::from(&account),
    ))
}

/// Logs in: a bearer token for the account, and optionally its guest cart attached.
#[utoipa::path(post, path = "/v1/sessions", tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 201, description = "The session: send `Authorization: Bearer <token>`.",
            body = SessionView),
        (status = 401, description = "`invalid_credentials`: the email or the password is wrong \
            (the answer does not say which)."),
        (status = 422, description = "`invalid_email` or `invalid_password`."),
        (status = 429, description = "`rate_limited`: too many attempts from this client or on \
            this email; retry after `Retry-After` seconds."),
    ))]
pub async fn log_in(
    State(state): State<AppState>,
    Extension(limits): Extension<AuthRateLimits>,
    ClientIp(client): ClientIp,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let Login {
        credentials,
        cart_id,
    } = Login::try_from(&body)?;
    limits.log_in(client, credentials.email.as_str())?;
    let accounts = state.commerce.accounts();
    let account = accounts
        .verify(&credentials.email, credentials.password)
        .await?;
    let attached = match cart_id {
        Some(cart_id) => attach_guest_cart(&state, cart_id, account.customer).await?,
        None => None,
    };
    let session = accounts.open_session(account.customer).await?;
    let view = SessionView {
        token: session.token,
        token_type: "Bearer",
        expires_at: rfc3339_ms(session.expires_at),
        customer_id: session.customer.to_string(),
        cart_id: attached.map(|id| id.to_string()),
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Attaches the guest cart, or reports that it could not be: a cart that is unknown, not open or
/// someone else's is a normal outcome of login, not a failure. Only a failure to reach the cart
/// at all (overload, store down) fails the login, before any session exists.
async fn attach_guest_cart(
    state: &AppState,
    cart_id: CartId,
    customer: CustomerId,
) -> Result<Option<CartId>, ApiError> {
    match state.commerce.claim_cart(cart_id, customer).await {
        Ok(cart) => Ok(Some(cart.id())),
        Err(AppError::CartNotFound | AppError::Cart(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Logs out: the token stops working at once.
#[utoipa::path(delete, path = "/v1/sessions/current", tag = "accounts",
    security(("shopper_token" = [])),
    responses(
        (status = 204, description = "Logged out; the token no longer works."),
        (status = 401, description = "`unauthorized`: no token, or one that is unknown, revoked \
            or expired."),
    ))]
pub async fn log_out(
    State(state): State<AppState>,
    auth: CustomerAuth,
) -> Result<StatusCode, ApiError> {
    state.commerce.accounts().log_out(&auth.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The account of the bearer token.
#[utoipa::path(get, path = "/v1/accounts/me", tag = "accounts",
    security(("shopper_token" = [])),
    responses(
        (status = 200, description = "The account.", body = AccountView),
        (status = 401, description = "`unauthorized`: no token, or one that is unknown, revoked \
            or expired."),
    ))]
pub async fn me(
    State(state): State<AppState>,
    auth: CustomerAuth,
) -> Result<Json<AccountView>, ApiError> {
    let account = state.commerce.accounts().account(auth.customer).await?;
    Ok(Json(AccountView::from(&account)))
}
