//! The mapping from application and domain errors to problems: one precise status and code per
//! variant. Every `match` here is exhaustive, so a new variant fails the build until it has one.

use crate::problem::{ApiError, Code};
use actors::AppError;
use domain::catalog::ProductNameError;
use domain::{cart, inventory, order, AddressError, IdError, MoneyError, QuantityError, SkuError};
use runtime::{DispatchError, StoreError};

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        match e {
            AppError::ProductNotFound(sku) => ApiError::new(
                Code::ProductNotFound,
                format!("product {sku} does not exist"),
            )
            .with("sku", sku.as_str()),
            AppError::ProductInactive(sku) => ApiError::new(
                Code::ProductInactive,
                format!("product {sku} is not for sale"),
            )
            .with("sku", sku.as_str()),
            AppError::CartNotFound => ApiError::new(Code::CartNotFound, "the cart does not exist"),
            AppError::OrderNotFound => {
                ApiError::new(Code::OrderNotFound, "the order does not exist")
            }
            AppError::Cart(e) => cart_error(e),
            AppError::Order(e) => order_error(e),
            AppError::Inventory(e) => inventory_error(e),
            AppError::Money(e) => money_error(e),
            AppError::Dispatch(e) => dispatch_error(e),
            AppError::Store(e) => store_error(e),
            AppError::Gateway(detail) => {
                tracing::warn!(%detail, "payment or shipping provider failed");
                ApiError::new(
                    Code::GatewayFailed,
                    "the payment or shipping provider failed; try again",
                )
            }
            AppError::EmailTaken => ApiError::new(
                Code::EmailTaken,
                "an account with this email already exists",
            ),
            AppError::InvalidCredentials => {
                ApiError::new(Code::InvalidCredentials, "email or password is wrong")
            }
            AppError::Unauthenticated => ApiError::new(
                Code::Unauthorized,
                "the bearer token is unknown, revoked or expired; log in again",
            ),
            AppError::Busy(what) => ApiError::new(
                Code::Overloaded,
                format!("the service is overloaded ({what}); retry shortly"),
            ),
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ApiError::new(Code::Internal, "an internal error occurred")
            }
        }
    }
}

pub fn cart_error(e: cart::Error) -> ApiError {
    let detail = e.to_string();
    match e {
        cart::Error::NotFound => ApiError::new(Code::CartNotFound, detail),
        cart::Error::AlreadyExists => ApiError::new(Code::CartAlreadyExists, detail),
        cart::Error::NotOpen { status } => {
            ApiError::new(Code::CartNotOpen, detail).with("cart_status", status)
        }
        cart::Error::TooManyLines { max } => {
            ApiError::new(Code::CartLinesLimitExceeded, detail).with("max", max)
        }
        cart::Error::LineQuantityExceeded { max } => {
            ApiError::new(Code::QuantityLimitExceeded, detail).with("max", max)
        }
        cart::Error::LineNotFound => ApiError::new(Code::CartLineNotFound, detail),
        cart::Error::Empty => ApiError::new(Code::CartEmpty, detail),
        cart::Error::CheckoutMismatch => ApiError::new(Code::CheckoutMismatch, detail),
        // Someone else's cart is answered as if it did not exist, so ids cannot be probed.
        cart::Error::OwnedByAnother => ApiError::new(Code::CartNotFound, "the cart does not exist"),
        cart::Error::Money(e) => money_error(e),
    }
}

pub fn order_error(e: order::Error) -> ApiError {
    let detail = e.to_string();
    match e {
        order::Error::NotFound => ApiError::new(Code::OrderNotFound, detail),
        order::Error::AlreadyPlaced => ApiError::new(Code::OrderAlreadyPlaced, detail),
        order::Error::NoLines => ApiError::new(Code::OrderLinesEmpty, detail),
        order::Error::TooManyLines { max } => {
            ApiError::new(Code::OrderLinesLimitExceeded, detail).with("max", max)
        }
        order::Error::InvalidTransition { from, to } => {
            ApiError::new(Code::InvalidTransition, detail)
                .with("order_status", from.as_str())
                .with("requested_status", to.as_str())
        }
        // The saga computes the payment amount from the order itself; a mismatch or a missing
        // payment is our inconsistency, not the client's.
        order::Error::PaymentAmountMismatch | order::Error::PaymentMissing => {
            tracing::error!(%detail, "order rejected a payment command");
            ApiError::new(Code::InvalidOrder, detail)
        }
        order::Error::NoPaymentToVoid => ApiError::new(Code::NoPaymentToVoid, detail),
        order::Error::Money(e) => money_error(e),
    }
}

pub fn inventory_error(e: inventory::Error) -> ApiError {
    let detail = e.to_string();
    match e {
        inventory::Error::OutOfStock {
            requested,
            available,
        } => ApiError::new(Code::OutOfStock, detail)
            .with("requested", requested)
            .with("available", available),
        inventory::Error::ReservationNotFound => ApiError::new(Code::ReservationNotFound, detail),
        inventory::Error::ReservationConflict => ApiError::new(Code::ReservationConflict, detail),
        inventory::Error::ReservationNotHeld { .. } => {
            ApiError::new(Code::ReservationNotHeld, detail)
        }
        inventory::Error::ReservationNotCommitted { .. } => {
            ApiError::new(Code::ReservationNotCommitted, detail)
        }
        inventory::Error::NotYetExpired => ApiError::new(Code::ReservationNotExpired, detail),
        inventory::Error::StockOverflow => ApiError::new(Code::StockLimitExceeded, detail)
            .with("max", domain::limits::INVENTORY_UNITS_MAX),
    }
}

pub fn money_error(e: MoneyError) -> ApiError {
    let detail = e.to_string();
    match e {
        MoneyError::InvalidCurrency => ApiError::new(Code::InvalidCurrency, detail),
        MoneyError::Negative => ApiError::new(Code::InvalidPrice, detail),
        MoneyError::Overflow => ApiError::new(Code::AmountOverflow, detail),
        MoneyError::CurrencyMismatch { expected, found } => {
            ApiError::new(Code::CurrencyMismatch, detail)
                .with("expected", expected.as_str())
                .with("found", found.as_str())
        }
    }
}

pub fn dispatch_error(e: DispatchError) -> ApiError {
    match e {
        DispatchError::Overloaded(what) => ApiError::new(
            Code::Overloaded,
            format!("the service is overloaded ({what}); retry shortly"),
        ),
        DispatchError::Unavailable(detail) => {
            tracing::warn!(%detail, "store unavailable");
            ApiError::new(
                Code::StoreUnavailable,
                "the store is unavailable; retry shortly",
            )
        }
        DispatchError::Conflict => ApiError::new(
            Code::VersionConflict,
            "the resource changed concurrently; retry the request",
        ),
        DispatchError::CommitFailed(detail) => {
            tracing::warn!(%detail, "commit failed");
            ApiError::new(
                Code::CommitFailed,
                "the change could not be stored; nothing was applied, retry shortly",
            )
        }
        DispatchError::Aborted => ApiError::new(
            Code::CommitFailed,
            "an earlier change failed to commit; nothing was applied, retry shortly",
        ),
        DispatchError::ActorFailed(detail) => {
            tracing::error!(%detail, "actor failed");
            ApiError::new(Code::ActorFailed, "the request failed unexpectedly")
        }
        DispatchError::Timeout => ApiError::new(
            Code::Timeout,
            "no answer in time; the change may or may not have been applied",
        ),
        DispatchError::ShuttingDown => {
            ApiError::new(Code::ShuttingDown, "the service is shutting down")
        }
    }
}

pub fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict => ApiError::new(
            Code::VersionConflict,
            "the resource changed concurrently; retry the request",
        ),
        StoreError::Unavailable(detail) => {
            tracing::warn!(%detail, "store unavailable");
            ApiError::new(
                Code::StoreUnavailable,
                "the store is unavailable; retry shortly",
            )
        }
        // Internal details (SQL, constraint names) are logged, never sent.
        StoreError::Other(detail) => {
            tracing::error!(%detail, "store error");
            ApiError::new(Code::Internal, "an internal error occurred")
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        store_error(e)
    }
}

pub fn sku_error(e: SkuError) -> ApiError {
    ApiError::new(Code::InvalidSku, e.to_string())
}

pub fn quantity_error(e: QuantityError) -> ApiError {
    let error = ApiError::new(Code::InvalidQuantity, e.to_string());
    match e {
        QuantityError::TooLarge { max } => error.with("max", max),
        QuantityError::Zero | QuantityError::Negative => error,
    }
}

pub fn product_name_error(e: ProductNameError) -> ApiError {
    ApiError::new(Code::InvalidProductName, e.to_string())
}

pub fn address_error(e: AddressError) -> ApiError {
    let error = ApiError::new(Code::InvalidShippingAddress, e.to_string());
    match e {
        AddressError::Missing { field }
        | AddressError::TooLong { field, .. }
        | AddressError::InvalidCharacter { field } => error.with("field", field),
        AddressError::InvalidCountry => error.with("field", "country"),
    }
}

/// An unparseable id in a path cannot name an existing resource, so it is that resource's 404.
pub fn id_error(_: IdError, not_found: Code) -> ApiError {
    ApiError::new(not_found, "no resource has this id")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use domain::order::OrderStatus;
    use domain::{Currency, ReservationStatus, SkuCode};

    fn sku() -> SkuCode {
        SkuCode::parse("SKU-1").expect("valid sku")
    }

    fn check(error: ApiError, code: &str, status: u16) {
        assert_eq!(
            (error.code().as_str(), error.status().as_u16()),
            (code, status),
            "{error}"
        );
    }

    #[test]
    fn app_errors() {
        check(
            AppError::ProductNotFound(sku()).into(),
            "product_not_found",
            404,
        );
        check(
            AppError::ProductInactive(sku()).into(),
            "product_inactive",
            409,
        );
        check(AppError::CartNotFound.into(), "cart_not_found", 404);
        check(AppError::OrderNotFound.into(), "order_not_found", 404);
        check(
            AppError::Gateway("boom".into()).into(),
            "gateway_failed",
            502,
        );
        check(AppError::Cart(cart::Error::Empty).into(), "cart_empty", 422);
        check(
            AppError::Order(order::Error::AlreadyPlaced).into(),
            "order_already_placed",
            409,
        );
        check(
            AppError::Inventory(inventory::Error::StockOverflow).into(),
            "stock_limit_exceeded",
            422,
        );
        check(
            AppError::Money(MoneyError::Overflow).into(),
            "amount_overflow",
            422,
        );
        check(
            AppError::Dispatch(DispatchError::Timeout).into(),
            "timeout",
            504,
        );
        check(
            AppError::Store(StoreError::Conflict).into(),
            "version_conflict",
            409,
        );
    }

    #[test]
    fn product_errors_name_the_sku() {
        let error: ApiError = AppError::ProductNotFound(sku()).into();
        assert_eq!(
            error.extension("sku").and_then(|v| v.as_str()),
            Some("SKU-1")
        );
    }

    #[test]
    fn cart_errors() {
        check(cart_error(cart::Error::NotFound), "cart_not_found", 404);
        check(
            cart_error(cart::Error::AlreadyExists),
            "cart_already_exists",
            409,
        );
        check(
            cart_error(cart::Error::NotOpen {
                status: "checked_out",
            }),
            "cart_not_open",
            409,
        );
        check(
            cart_error(cart::Error::TooManyLines { max: 50 }),
            "cart_lines_limit_exceeded",
            422,
        );
        check(
            cart_error(cart::Error::LineQuantityExceeded { max: 1000 }),
            "quantity_limit_exceeded",
            422,
        );
        check(
            cart_error(cart::Error::LineNotFound),
            "cart_line_not_found",
            404,
        );
        check(cart_error(cart::Error::Empty), "cart_empty", 422);
        check(
            cart_error(cart::Error::CheckoutMismatch),
            "checkout_mismatch",
            409,
        );
        check(
            cart_error(cart::Error::Money(MoneyError::Overflow)),
            "amount_overflow",
            422,
        );
    }

    #[test]
    fn order_errors() {
        let shipped = order::Error::InvalidTransition {
            from: OrderStatus::Shipped,
            to: OrderStatus::Cancelled,
        };
        check(order_error(order::Error::NotFound), "order_not_found", 404);
        check(
            order_error(order::Error::AlreadyPlaced),
            "order_already_placed",
            409,
        );
        check(order_error(order::Error::NoLines), "order_lines_empty", 422);
        check(
            order_error(order::Error::TooManyLines { max: 50 }),
            "order_lines_limit_exceeded",
            422,
        );
        check(order_error(shipped), "invalid_transition", 409);
        check(
            order_error(order::Error::PaymentAmountMismatch),
            "invalid_order",
            422,
        );
        check(
            order_error(order::Error::PaymentMissing),
            "invalid_order",
            422,
        );
        check(
            order_error(order::Error::NoPaymentToVoid),
            "no_payment_to_void",
            409,
        );
        check(
            order_error(order::Error::Money(MoneyError::Negative)),
            "invalid_price",
            422,
        );
    }

    #[test]
    fn invalid_transition_names_both_statuses() {
        let error = order_error(order::Error::InvalidTransition {
            from: OrderStatus::Shipped,
            to: OrderStatus::Cancelled,
        });
        assert_eq!(
            error.extension("order_status").and_then(|v| v.as_str()),
            Some("shipped")
        );
        assert_eq!(
            error.extension("requested_status").and_then(|v| v.as_str()),
            Some("cancelled")
        );
    }

    #[test]
    fn inventory_errors() {
        let held = ReservationStatus::Held;
        check(
            inventory_error(inventory::Error::OutOfStock {
                requested: 2,
                available: 1,
            }),
            "out_of_stock",
            409,
        );
        check(
            inventory_error(inventory::Error::ReservationNotFound),
            "reservation_not_found",
            409,
        );
        check(
            inventory_error(inventory::Error::ReservationConflict),
            "reservation_conflict",
            409,
        );
        check(
            inventory_error(inventory::Error::ReservationNotHeld { status: held }),
            "reservation_not_held",
            409,
        );
        check(
            inventory_error(inventory::Error::ReservationNotCommitted { status: held }),
            "reservation_not_committed",
            409,
        );
        check(
            inventory_error(inventory::Error::NotYetExpired),
            "reservation_not_expired",
            409,
        );
        check(
            inventory_error(inventory::Error::StockOverflow),
            "stock_limit_exceeded",
            422,
        );
    }

    #[test]
    fn money_errors() {
        let mismatch = MoneyError::CurrencyMismatch {
            expected: Currency::USD,
            found: Currency::EUR,
        };
        check(
            money_error(MoneyError::InvalidCurrency),
            "invalid_currency",
            422,
        );
        check(money_error(MoneyError::Negative), "invalid_price", 422);
        check(money_error(MoneyError::Overflow), "amount_overflow", 422);
        check(money_error(mismatch), "currency_mismatch", 422);
    }

    #[test]
    fn dispatch_errors() {
        check(
            dispatch_error(DispatchError::Overloaded("mailbox")),
            "overloaded",
            503,
        );
        check(
            dispatch_error(DispatchError::Unavailable("db".into())),
            "store_unavailable",
            503,
        );
        check(
            dispatch_error(DispatchError::Conflict),
            "version_conflict",
            409,
        );
        check(
            dispatch_error(DispatchError::CommitFailed("db".into())),
            "commit_failed",
            503,
        );
        check(dispatch_error(DispatchError::Aborted), "commit_failed", 503);
        check(
            dispatch_error(DispatchError::ActorFailed("panic".into())),
            "actor_failed",
            500,
        );
        check(dispatch_error(DispatchError::Timeout), "timeout", 504);
        check(
            dispatch_error(DispatchError::ShuttingDown),
            "shutting_down",
            503,
        );
    }

    #[test]
    fn retryable_dispatch_errors_say_so() {
        for e in [
            DispatchError::Overloaded("mailbox"),
            DispatchError::Unavailable("db".into()),
            DispatchError::CommitFailed("db".into()),
            DispatchError::Aborted,
            DispatchError::ShuttingDown,
        ] {
            assert!(dispatch_error(e.clone()).code().is_retryable(), "{e:?}");
        }
    }

    #[test]
    fn store_errors() {
        check(store_error(StoreError::Conflict), "version_conflict", 409);
        check(
            store_error(StoreError::Unavailable("db".into())),
            "store_unavailable",
            503,
        );
        check(
            store_error(StoreError::Other("constraint x".into())),
            "internal",
            500,
        );
    }

    #[test]
    fn internal_details_are_not_sent() {
        let error = store_error(StoreError::Other("constraint secret_table_pkey".into()));
        assert!(!error.body().to_string().contains("secret_table_pkey"));
    }

    #[test]
    fn parse_errors() {
        check(sku_error(SkuError::Empty), "invalid_sku", 422);
        check(sku_error(SkuError::InvalidCharacter), "invalid_sku", 422);
        check(quantity_error(QuantityError::Zero), "invalid_quantity", 422);
        check(
            quantity_error(QuantityError::Negative),
            "invalid_quantity",
            422,
        );
        check(
            quantity_error(QuantityError::TooLarge { max: 5 }),
            "invalid_quantity",
            422,
        );
        check(
            product_name_error(ProductNameError::Empty),
            "invalid_product_name",
            422,
        );
        check(
            address_error(AddressError::InvalidCountry),
            "invalid_shipping_address",
            422,
        );
        check(
            address_error(AddressError::Missing { field: "city" }),
            "invalid_shipping_address",
            422,
        );
        check(
            id_error(IdError::Malformed, Code::CartNotFound),
            "cart_not_found",
            404,
        );
        assert_eq!(Code::NotFound.status(), StatusCode::NOT_FOUND);
    }
}
