//! Money as integer minor units with a currency, never a float.

use std::fmt;

/// Why a money value or currency was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoneyError {
    InvalidCurrency,
    Negative,
    Overflow,
    CurrencyMismatch { expected: Currency, found: Currency },
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoneyError::InvalidCurrency => f.write_str("currency must be an active ISO 4217 code"),
            MoneyError::Negative => f.write_str("amount must not be negative"),
            MoneyError::Overflow => f.write_str("amount is too large"),
            MoneyError::CurrencyMismatch { expected, found } => {
                write!(f, "currency mismatch: expected {expected}, found {found}")
            }
        }
    }
}

impl std::error::Error for MoneyError {}

/// Active ISO 4217 codes that we accept.
///
/// A closed table rather than "any three letters" so that a typo such as
/// `EUD` is rejected at the edge instead of creating a currency of its own.
const ISO_4217_ACTIVE: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWL",
];

/// An ISO 4217 currency code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");
    pub const EUR: Currency = Currency(*b"EUR");
    pub const GBP: Currency = Currency(*b"GBP");
    pub const JPY: Currency = Currency(*b"JPY");

    /// Parses an uppercase active code; lowercase is rejected so that stored
    /// and displayed codes have exactly one spelling.
    pub fn parse(s: &str) -> Result<Currency, MoneyError> {
        let code = ISO_4217_ACTIVE
            .iter()
            .find(|code| **code == s)
            .ok_or(MoneyError::InvalidCurrency)?;
        let bytes = code.as_bytes();
        Ok(Currency([bytes[0], bytes[1], bytes[2]]))
    }

    pub fn as_str(&self) -> &str {
        // Only `parse` and the constants build a `Currency`, both from ASCII.
        match std::str::from_utf8(&self.0) {
            Ok(code) => code,
            Err(_) => unreachable!("currency codes are built from ASCII"),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-negative amount in the currency's minor unit (cents for USD, yen
/// for JPY).
///
/// Prices and totals are never negative; refunds are modelled as their own
/// events rather than as negative money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    amount_minor: i64,
    currency: Currency,
}

impl Money {
    pub fn new(amount_minor: i64, currency: Currency) -> Result<Money, MoneyError> {
        if amount_minor < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Money {
            amount_minor,
            currency,
        })
    }

    pub fn zero(currency: Currency) -> Money {
        Money {
            amount_minor: 0,
            currency,
        }
    }

    pub fn amount_minor(&self) -> i64 {
        self.amount_minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch {
                expected: self.currency,
                found: other.currency,
            });
        }
        let amount_minor = self
            .amount_minor
            .checked_add(other.amount_minor)
            .ok_or(MoneyError::Overflow)?;
        Money::new(amount_minor, self.currency)
    }

    pub fn checked_mul(self, qty: u32) -> Result<Money, MoneyError> {
        let amount_minor = self
            .amount_minor
            .checked_mul(i64::from(qty))
            .ok_or(MoneyError::Overflow)?;
        Money::new(amount_minor, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(amount_minor: i64) -> Money {
        Money::new(amount_minor, Currency::USD).expect("valid amount")
    }

    #[test]
    fn currency_accepts_required_codes() {
        let required = [
            "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN",
            "CZK", "HUF", "CNY", "HKD", "SGD", "INR", "BRL", "MXN", "ZAR", "KRW", "TRY", "ILS",
            "AED", "SAR",
        ];
        for code in required {
            assert_eq!(
                Currency::parse(code).map(|c| c.to_string()),
                Ok(code.to_owned())
            );
        }
    }

    #[test]
    fn currency_rejects_unknown_lowercase_and_malformed() {
        for code in ["usd", "Usd", "XXX", "EUD", "", "US", "USDD", " USD"] {
            assert_eq!(
                Currency::parse(code),
                Err(MoneyError::InvalidCurrency),
                "{code:?}"
            );
        }
    }

    #[test]
    fn table_holds_only_uppercase_three_letter_codes() {
        for code in ISO_4217_ACTIVE {
            assert_eq!(code.len(), 3, "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_uppercase()), "{code}");
        }
    }

    #[test]
    fn constants_match_parse() {
        assert_eq!(Currency::parse("USD"), Ok(Currency::USD));
        assert_eq!(Currency::parse("EUR"), Ok(Currency::EUR));
        assert_eq!(Currency::parse("GBP"), Ok(Currency::GBP));
        assert_eq!(Currency::parse("JPY"), Ok(Currency::JPY));
    }

    #[test]
    fn money_rejects_negative() {
        assert_eq!(Money::new(-1, Currency::USD), Err(MoneyError::Negative));
        assert_eq!(usd(0), Money::zero(Currency::USD));
    }

    #[test]
    fn add_sums_same_currency() {
        assert_eq!(usd(150).checked_add(usd(250)), Ok(usd(400)));
    }

    #[test]
    fn add_rejects_currency_mismatch() {
        let eur = Money::zero(Currency::EUR);
        assert_eq!(
            usd(1).checked_add(eur),
            Err(MoneyError::CurrencyMismatch {
                expected: Currency::USD,
                found: Currency::EUR
            })
        );
    }

    #[test]
    fn add_rejects_overflow() {
        assert_eq!(usd(i64::MAX).checked_add(usd(1)), Err(MoneyError::Overflow));
    }

    #[test]
    fn mul_multiplies_and_rejects_overflow() {
        assert_eq!(usd(199).checked_mul(3), Ok(usd(597)));
        assert_eq!(usd(199).checked_mul(0), Ok(usd(0)));
        assert_eq!(
            usd(i64::MAX / 2 + 1).checked_mul(2),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            usd(i64::MAX).checked_mul(u32::MAX),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn accessors_return_parts() {
        let m = usd(42);
        assert_eq!((m.amount_minor(), m.currency()), (42, Currency::USD));
    }
}
