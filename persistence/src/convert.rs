//! Conversions between domain values and column values that both adapters share.
//!
//! Reading is parsing: a stored value the domain would not accept is corrupt state, reported as
//! `StoreError::Other` naming the column, never a panic.

use actors::ports::StoreError;
use domain::{Currency, Money, Quantity, SkuCode, Timestamp};

/// A stored value that does not parse: the database holds something no version of this code
/// wrote, so the aggregate must not be loaded.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("corrupt stored {what}: {detail}"))
}

/// A counter or version as a signed column. Values above `i64::MAX` cannot come from the domain
/// (stock is bounded far lower), so one here is a bug, reported rather than wrapped.
pub(crate) fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Other(format!("{what} {value} exceeds a BIGINT")))
}

/// A signed column back to a counter; negative values are corrupt (the CHECKs forbid them).
pub(crate) fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(what, value))
}

pub(crate) fn sku(value: &str) -> Result<SkuCode, StoreError> {
    SkuCode::parse(value).map_err(|e| corrupt("sku", e))
}

pub(crate) fn quantity(value: i64) -> Result<Quantity, StoreError> {
    Quantity::parse_i64(value).map_err(|e| corrupt("quantity", e))
}

pub(crate) fn money(amount_minor: i64, currency: &str) -> Result<Money, StoreError> {
    let currency = Currency::parse(currency).map_err(|e| corrupt("currency", e))?;
    Money::new(amount_minor, currency).map_err(|e| corrupt("amount", e))
}

pub(crate) fn timestamp(unix_ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(unix_ms)
}

/// The wall clock, for bookkeeping columns the port passes no time for (`completed_at`). No
/// decision depends on it.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
