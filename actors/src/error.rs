//! The application's error: everything a use case can answer besides success. The HTTP edge maps
//! each variant to a problem+json status and stable code.

use domain::{cart, inventory, order, MoneyError, SkuCode};
use runtime::{DispatchError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("product {0} not found")]
    ProductNotFound(SkuCode),
    #[error("product {0} is not for sale")]
    ProductInactive(SkuCode),
    #[error("cart not found")]
    CartNotFound,
    #[error("order not found")]
    OrderNotFound,
    #[error("cart rejected the command: {0:?}")]
    Cart(cart::Error),
    #[error("order rejected the command: {0:?}")]
    Order(order::Error),
    #[error("inventory rejected the command: {0:?}")]
    Inventory(inventory::Error),
    #[error("money: {0:?}")]
    Money(MoneyError),
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("payment provider failed: {0}")]
    Gateway(String),
    #[error("an account with this email already exists")]
    EmailTaken,
    /// An unknown email and a wrong password are the same error, so neither can be probed.
    #[error("email or password is wrong")]
    InvalidCredentials,
    /// A bearer token that is unknown, revoked or expired.
    #[error("the token is unknown, revoked or expired")]
    Unauthenticated,
    /// A bounded resource (named) stayed full for longer than the caller may wait.
    #[error("{0} is at capacity")]
    Busy(&'static str),
    /// A bug or an impossible state in the application itself, not in the request.
    #[error("internal error: {0}")]
    Internal(String),
}
