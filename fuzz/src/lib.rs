//! Shared input vocabulary of the fuzz targets.
//!
//! The `domain` crate has no dependencies, so it cannot derive `Arbitrary`. Instead each target
//! derives it on small mirror enums and turns them into domain values here. Ids, SKUs and
//! currencies come from small pools on purpose: commands only meet interesting states (a retried
//! reservation, a second line of the same SKU, a currency clash) when they name the same things
//! again, which uniformly random 128-bit ids would almost never do.

use arbitrary::Arbitrary;
use domain::limits::CART_LINE_QUANTITY_MAX;
use domain::{Currency, Money, Quantity, SkuCode, Timestamp};

/// How many distinct SKUs the targets name: more than `CART_LINES_MAX`, so a cart can be driven
/// past its line limit.
pub const SKU_POOL: u8 = 64;

/// A SKU drawn from `SKU-0` .. `SKU-63`.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct SkuIn(pub u8);

impl SkuIn {
    pub fn sku(self) -> SkuCode {
        let code = format!("SKU-{}", self.0 % SKU_POOL);
        SkuCode::parse(&code).expect("SKU-<n> is a valid SKU code")
    }
}

/// A quantity biased towards the values where limits live.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum QuantityIn {
    /// 1 to 16: ordinary baskets, so stock runs out and lines fill up.
    Small(u8),
    /// Around `CART_LINE_QUANTITY_MAX`.
    NearLineLimit(u8),
    /// `Quantity::MAX` and just below it.
    NearMax(u8),
    /// Anything valid.
    Any(u32),
}

impl QuantityIn {
    pub fn raw(self) -> u32 {
        match self {
            QuantityIn::Small(n) => 1 + u32::from(n % 16),
            QuantityIn::NearLineLimit(n) => CART_LINE_QUANTITY_MAX - 1 + u32::from(n % 3),
            QuantityIn::NearMax(n) => Quantity::MAX - u32::from(n % 2),
            QuantityIn::Any(n) => n,
        }
    }

    /// A valid quantity: the raw value clamped into `1..=Quantity::MAX`.
    pub fn quantity(self) -> Quantity {
        let clamped = self.raw().clamp(1, Quantity::MAX);
        Quantity::new(clamped).expect("clamped into the valid range")
    }
}

/// A currency from a pool of three, so carts and orders meet mismatches.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum CurrencyIn {
    Usd,
    Eur,
    Jpy,
}

impl CurrencyIn {
    pub fn currency(self) -> Currency {
        match self {
            CurrencyIn::Usd => Currency::USD,
            CurrencyIn::Eur => Currency::EUR,
            CurrencyIn::Jpy => Currency::JPY,
        }
    }
}

/// A non-negative amount, sometimes huge so that totals overflow `i64`.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum AmountIn {
    Small(u16),
    Huge(u8),
    Any(i64),
}

impl AmountIn {
    pub fn minor(self) -> i64 {
        match self {
            AmountIn::Small(n) => i64::from(n),
            AmountIn::Huge(n) => i64::MAX - i64::from(n),
            AmountIn::Any(n) => n.checked_abs().unwrap_or(i64::MAX),
        }
    }
}

/// A price: an amount and a currency.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct MoneyIn {
    pub amount: AmountIn,
    pub currency: CurrencyIn,
}

impl MoneyIn {
    pub fn money(self) -> Money {
        Money::new(self.amount.minor(), self.currency.currency())
            .expect("amounts are made non-negative")
    }
}

/// A clock that only moves forward, like the wall clock the actors read.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock {
    now_ms: i64,
}

impl Clock {
    pub fn now(self) -> Timestamp {
        Timestamp::from_unix_ms(self.now_ms)
    }

    pub fn advance(&mut self, ms: u16) {
        self.now_ms = self.now_ms.saturating_add(i64::from(ms));
    }
}
