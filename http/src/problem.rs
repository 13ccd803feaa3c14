//! The one error type of the API, rendered as `application/problem+json` (RFC 9457).
//!
//! Every failure has a [`Code`]: a closed enum whose string is the stable machine-readable `code`
//! member, whose status is fixed, and whose `type` URI is `https://errors.commerce.example/<code>`.
//! Clients branch on `code`; `detail` is for humans and may change.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// Prefix of every problem `type` URI; the code is appended.
pub const PROBLEM_TYPE_BASE: &str = "https://errors.commerce.example/";

/// The media type of every error body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Seconds in `Retry-After` when no middleware rewrites it from [`crate::HttpLimits`]; unit
/// tests that render an error without the router see this value.
pub const RETRY_AFTER_SECS_DEFAULT: u64 = 1;

/// Defines [`Code`] from one table so that the string, status and title of a code cannot drift
/// apart, and so that tests can walk every code through [`Code::ALL`].
macro_rules! codes {
    ($($variant:ident => ($code:literal, $status:literal, $title:literal),)+) => {
        /// A stable machine-readable failure code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $($variant,)+
        }

        impl Code {
            /// Every code, for tests and documentation.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)+];

            /// The `code` member.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)+
                }
            }

            /// The HTTP status answered with this code.
            pub fn status(self) -> StatusCode {
                let status = match self {
                    $(Code::$variant => $status,)+
                };
                // The table holds only literal statuses in 400..=599, checked by a unit test.
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }

            /// The `title` member: the same for every occurrence of the code, as RFC 9457 asks.
            pub fn title(self) -> &'static str {
                match self {
                    $(Code::$variant => $title,)+
                }
            }
        }
    };
}

codes! {
    // The request itself.
    MalformedJson => ("malformed_json", 400, "Malformed JSON"),
    UnsupportedMediaType => ("unsupported_media_type", 415, "Unsupported media type"),
    UnknownField => ("unknown_field", 422, "Unknown field"),
    InvalidBody => ("invalid_body", 422, "Invalid request body"),
    BodyTooLarge => ("body_too_large", 413, "Request body too large"),
    NotFound => ("not_found", 404, "Not found"),
    MethodNotAllowed => ("method_not_allowed", 405, "Method not allowed"),
    Unauthorized => ("unauthorized", 401, "Unauthorized"),
    IdempotencyKeyRequired => ("idempotency_key_required", 400, "Idempotency-Key header required"),
    InvalidIdempotencyKey => ("invalid_idempotency_key", 400, "Invalid Idempotency-Key header"),
    IdempotencyKeyReused => ("idempotency_key_reused", 422, "Idempotency key reused with another request"),
    IdempotencyInProgress => ("idempotency_in_progress", 409, "Request with this idempotency key in progress"),
    InvalidQuery => ("invalid_query", 400, "Invalid query parameter"),
    RateLimited => ("rate_limited", 429, "Too many attempts"),

    // Values parsed at the edge.
    InvalidSku => ("invalid_sku", 422, "Invalid SKU"),
    InvalidQuantity => ("invalid_quantity", 422, "Invalid quantity"),
    QuantityLimitExceeded => ("quantity_limit_exceeded", 422, "Quantity limit exceeded"),
    InvalidCurrency => ("invalid_currency", 422, "Invalid currency"),
    InvalidPrice => ("invalid_price", 422, "Invalid price"),
    AmountOverflow => ("amount_overflow", 422, "Amount too large"),
    CurrencyMismatch => ("currency_mismatch", 422, "Currency mismatch"),
    InvalidProductName => ("invalid_product_name", 422, "Invalid product name"),
    InvalidShippingAddress => ("invalid_shipping_address", 422, "Invalid shipping address"),
    InvalidPaymentToken => ("invalid_payment_token", 422, "Invalid payment token"),
    OrderLinesEmpty => ("order_lines_empty", 422, "Order has no lines"),
    OrderLinesLimitExceeded => ("order_lines_limit_exceeded", 422, "Too many order lines"),
    DuplicateSku => ("duplicate_sku", 422, "Duplicate SKU"),

    // Accounts.
    InvalidEmail => ("invalid_email", 422, "Invalid email"),
    InvalidPassword => ("invalid_password", 422, "Invalid password"),
    EmailTaken => ("email_taken", 409, "Email already registered"),
    InvalidCredentials => ("invalid_credentials", 401, "Invalid credentials"),

    // Catalog and stock.
    ProductNotFound => ("product_not_found", 404, "Product not found"),
    ProductInactive => ("product_inactive", 409, "Product not for sale"),
    OutOfStock => ("out_of_stock", 409, "Out of stock"),
    StockLimitExceeded => ("stock_limit_exceeded", 422, "Stock limit exceeded"),
    ReservationNotFound => ("reservation_not_found", 409, "Reservation not found"),
    ReservationConflict => ("reservation_conflict", 409, "Reservation conflict"),
    ReservationNotHeld => ("reservation_not_held", 409, "Reservation not held"),
    ReservationNotCommitted => ("reservation_not_committed", 409, "Reservation not committed"),
    ReservationNotExpired => ("reservation_not_expired", 409, "Reservation not expired"),

    // Carts.
    CartNotFound => ("cart_not_found", 404, "Cart not found"),
    CartAlreadyExists => ("cart_already_exists", 409, "Cart already exists"),
    CartNotOpen => ("cart_not_open", 409, "Cart not open"),
    CartLinesLimitExceeded => ("cart_lines_limit_exceeded", 422, "Cart lines limit exceeded"),
    CartLineNotFound => ("cart_line_not_found", 404, "Cart line not found"),
    CartEmpty => ("cart_empty", 422, "Cart is empty"),
    CheckoutMismatch => ("checkout_mismatch", 409, "Cart is checking out another order"),

    // Orders and checkout outcomes.
    OrderNotFound => ("order_not_found", 404, "Order not found"),
    OrderAlreadyPlaced => ("order_already_placed", 409, "Order already placed"),
    InvalidTransition => ("invalid_transition", 409, "Invalid order transition"),
    InvalidOrder => ("invalid_order", 422, "Invalid order"),
    NoPaymentToVoid => ("no_payment_to_void", 409, "No payment to void"),
    PaymentDeclined => ("payment_declined", 402, "Payment declined"),
    PaymentTimeout => ("payment_timeout", 402, "Payment timed out"),
    CheckoutInterrupted => ("checkout_interrupted", 503, "Checkout interrupted"),

    // The runtime and the world around it.
    VersionConflict => ("version_conflict", 409, "Version conflict"),
    Overloaded => ("overloaded", 503, "Overloaded"),
    StoreUnavailable => ("store_unavailable", 503, "Store unavailable"),
    CommitFailed => ("commit_failed", 503, "Commit failed"),
    ShuttingDown => ("shutting_down", 503, "Shutting down"),
    NotReady => ("not_ready", 503, "Not ready"),
    Timeout => ("timeout", 504, "Timed out"),
    GatewayFailed => ("gateway_failed", 502, "Payment or shipping provider failed"),
    ActorFailed => ("actor_failed", 500, "Actor failed"),
    Internal => ("internal", 500, "Internal error"),
}

impl Code {
    /// Whether the same request may succeed soon, so the answer carries `Retry-After`.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Code::Overloaded
                | Code::StoreUnavailable
                | Code::CommitFailed
                | Code::ShuttingDown
                | Code::NotReady
                | Code::IdempotencyInProgress
        )
    }

    /// The `type` member.
    pub fn type_uri(self) -> String {
        format!("{PROBLEM_TYPE_BASE}{}", self.as_str())
    }
}

/// Marks a response whose `Retry-After` the retry-after middleware should set from the
/// configured limits; a response extension, so it never reaches the client.
#[derive(Clone, Copy, Debug)]
pub struct RetryAfterHint;

/// A problem answer: a code, a human detail and optional extension members.
#[derive(Clone, Debug)]
pub struct ApiError {
    code: Code,
    detail: String,
    /// Extra members (`sku`, `order_id`, `order`...) merged into the body's top level.
    extensions: Map<String, Value>,
    /// A `Retry-After` that only this answer knows (a rate limit's wait), overriding the
    /// configured one.
    retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: Code, detail: impl Into<String>) -> ApiError {
        ApiError {
            code,
            detail: detail.into(),
            extensions: Map::new(),
            retry_after_secs: None,
        }
    }

    /// Tells the client when to come back (`Retry-After`), for answers whose wait is known.
    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after_secs = Some(seconds);
        self
    }

    /// Adds an extension member; the standard members win over a clashing name.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> ApiError {
        self.extensions.insert(name.to_owned(), value.into());
        self
    }

    pub fn code(&self) -> Code {
        self.code
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub fn extension(&self, name: &str) -> Option<&Value> {
        self.extensions.get(name)
    }

    /// The body as a JSON value.
    pub fn body(&self) -> Value {
        let mut body = self.extensions.clone();
        body.insert("type".into(), self.code.type_uri().into());
        body.insert("title".into(), self.code.title().into());
        body.insert("status".into(), self.code.status().as_u16().into());
        body.insert("detail".into(), self.detail.clone().into());
        body.insert("code".into(), self.code.as_str().into());
        Value::Object(body)
    }

    /// The body as bytes, for storing with an idempotency key and replaying later.
    pub fn body_bytes(&self) -> Vec<u8> {
        // Serializing a `Value` cannot fail: its map keys are strings.
        serde_json::to_vec(&self.body()).unwrap_or_default()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = problem_response(
            self.code.status(),
            self.body_bytes(),
            self.code.is_retryable(),
        );
        if let Some(seconds) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response.extensions_mut().remove::<RetryAfterHint>();
        }
        // For middleware that counts answers by code (checkout outcomes in `metrics`).
        response.extensions_mut().insert(self.code);
        response
    }
}

/// A response with a problem body and the headers its status calls for. Also used to replay a
/// stored problem; stored problems are final answers, so replays pass `retryable: false`.
pub fn problem_response(status: StatusCode, body: Vec<u8>, retryable: bool) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    );
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if retryable {
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(RETRY_AFTER_SECS_DEFAULT),
        );
        response.extensions_mut().insert(RetryAfterHint);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_has_a_unique_snake_case_string() {
        let mut seen = HashSet::new();
        for code in Code::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
        }
    }

    #[test]
    fn every_code_is_an_error_status() {
        for code in Code::ALL {
            let status = code.status().as_u16();
            assert!((400..=599).contains(&status), "{code:?} has {status}");
            assert!(!code.title().is_empty());
        }
    }

    /// The published contract: every code with its status. Changing a line here is changing the
    /// API, which clients branch on; it must be deliberate.
    #[test]
    fn code_status_contract() {
        let table: Vec<(&str, u16)> = Code::ALL
            .iter()
            .map(|c| (c.as_str(), c.status().as_u16()))
            .collect();
        let expected = [
            ("malformed_json", 400),
            ("unsupported_media_type", 415),
            ("unknown_field", 422),
            ("invalid_body", 422),
            ("body_too_large", 413),
            ("not_found", 404),
            ("method_not_allowed", 405),
            ("unauthorized", 401),
            ("idempotency_key_required", 400),
            ("invalid_idempotency_key", 400),
            ("idempotency_key_reused", 422),
            ("idempotency_in_progress", 409),
            ("invalid_query", 400),
            ("rate_limited", 429),
            ("invalid_sku", 422),
            ("invalid_quantity", 422),
            ("quantity_limit_exceeded", 422),
            ("invalid_currency", 422),
            ("invalid_price", 422),
            ("amount_overflow", 422),
            ("currency_mismatch", 422),
            ("invalid_product_name", 422),
            ("invalid_shipping_address", 422),
            ("invalid_payment_token", 422),
            ("order_lines_empty", 422),
            ("order_lines_limit_exceeded", 422),
            ("duplicate_sku", 422),
            ("invalid_email", 422),
            ("invalid_password", 422),
            ("email_taken", 409),
            ("invalid_credentials", 401),
            ("product_not_found", 404),
            ("product_inactive", 409),
            ("out_of_stock", 409),
            ("stock_limit_exceeded", 422),
            ("reservation_not_found", 409),
            ("reservation_conflict", 409),
            ("reservation_not_held", 409),
            ("reservation_not_committed", 409),
            ("reservation_not_expired", 409),
            ("cart_not_found", 404),
            ("cart_already_exists", 409),
            ("cart_not_open", 409),
            ("cart_lines_limit_exceeded", 422),
            ("cart_line_not_found", 404),
            ("cart_empty", 422),
            ("checkout_mismatch", 409),
            ("order_not_found", 404),
            ("order_already_placed", 409),
            ("invalid_transition", 409),
            ("invalid_order", 422),
            ("no_payment_to_void", 409),
            ("payment_declined", 402),
            ("payment_timeout", 402),
            ("checkout_interrupted", 503),
            ("version_conflict", 409),
            ("overloaded", 503),
            ("store_unavailable", 503),
            ("commit_failed", 503),
            ("shutting_down", 503),
            ("not_ready", 503),
            ("timeout", 504),
            ("gateway_failed", 502),
            ("actor_failed", 500),
            ("internal", 500),
        ];
        assert_eq!(table, expected);
    }

    #[test]
    fn body_has_the_standard_members() {
        let body = ApiError::new(Code::CartNotFound, "no such cart")
            .with("cart_id", "x")
            .body();
        assert_eq!(
            body["type"],
            "https://errors.commerce.example/cart_not_found"
        );
        assert_eq!(body["title"], "Cart not found");
        assert_eq!(body["status"], 404);
        assert_eq!(body["detail"], "no such cart");
        assert_eq!(body["code"], "cart_not_found");
        assert_eq!(body["cart_id"], "x");
    }

    #[test]
    fn standard_members_win_over_extensions() {
        let body = ApiError::new(Code::Internal, "x")
            .with("code", "spoof")
            .body();
        assert_eq!(body["code"], "internal");
    }

    #[test]
    fn response_is_problem_json() {
        let response = ApiError::new(Code::OutOfStock, "gone").into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            PROBLEM_CONTENT_TYPE
        );
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn unauthorized_carries_a_bearer_challenge() {
        let response = ApiError::new(Code::Unauthorized, "no").into_response();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    #[test]
    fn unavailable_answers_carry_retry_after() {
        let retryable = [
            Code::Overloaded,
            Code::StoreUnavailable,
            Code::CommitFailed,
            Code::ShuttingDown,
            Code::NotReady,
            Code::IdempotencyInProgress,
        ];
        for code in retryable {
            let response = ApiError::new(code, "later").into_response();
            assert_eq!(response.headers()[header::RETRY_AFTER], "1", "{code:?}");
            assert!(response.extensions().get::<RetryAfterHint>().is_some());
        }
    }
}
