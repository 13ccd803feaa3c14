//! Identifiers and small value types parsed at the edge.
//!
//! Parse, don't validate: once a value of these types exists it is valid, so
//! the aggregates never re-check it.

use std::fmt;
use std::str::FromStr;

/// Why a string is not a hyphenated UUID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdError {
    Malformed,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::Malformed => f.write_str("id must be a hyphenated UUID (8-4-4-4-12 hex)"),
        }
    }
}

impl std::error::Error for IdError {}

/// Byte offsets of the hyphens in the 36-character hyphenated form.
const HYPHEN_POSITIONS: [usize; 4] = [8, 13, 18, 23];
const HYPHENATED_LEN: usize = 36;

/// Parses the 8-4-4-4-12 form, accepting either case like the uuid crate.
fn parse_hyphenated(s: &str) -> Result<u128, IdError> {
    if s.len() != HYPHENATED_LEN {
        return Err(IdError::Malformed);
    }
    let mut value: u128 = 0;
    for (index, byte) in s.bytes().enumerate() {
        if HYPHEN_POSITIONS.contains(&index) {
            if byte != b'-' {
                return Err(IdError::Malformed);
            }
            continue;
        }
        let digit = char::from(byte).to_digit(16).ok_or(IdError::Malformed)?;
        value = (value << 4) | u128::from(digit);
    }
    Ok(value)
}

/// Writes the lowercase 8-4-4-4-12 form without allocating.
fn write_hyphenated(f: &mut fmt::Formatter<'_>, v: u128) -> fmt::Result {
    write!(
        f,
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        (v >> 96) as u32,
        (v >> 80) as u16,
        (v >> 64) as u16,
        (v >> 48) as u16,
        v & 0xffff_ffff_ffff
    )
}

/// Defines a `u128` id that prints and parses like a UUID.
///
/// The domain takes no uuid dependency; the bytes are the same, so the edge
/// converts with `Uuid::from_u128(id.as_u128())`.
macro_rules! uuid_like_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u128);

        impl $name {
            pub const fn from_u128(v: u128) -> Self {
                Self(v)
            }

            pub const fn as_u128(self) -> u128 {
                self.0
            }

            pub fn parse(s: &str) -> Result<Self, IdError> {
                parse_hyphenated(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hyphenated(f, self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

uuid_like_id!(
    /// Identifies a shopping cart.
    CartId
);
uuid_like_id!(
    /// Identifies an order; chosen by the caller so that placing is idempotent.
    OrderId
);
uuid_like_id!(
    /// Identifies one stock reservation; retries reuse it so stock is held once.
    ReservationId
);
uuid_like_id!(
    /// Identifies a customer; authentication lives outside the domain.
    CustomerId
);
uuid_like_id!(
    /// Identifies a payment authorization at the payment provider.
    PaymentId
);

/// Why a string is not a SKU code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkuError {
    Empty,
    TooLong { max: usize },
    InvalidFirstCharacter,
    InvalidCharacter,
}

impl fmt::Display for SkuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkuError::Empty => f.write_str("sku must not be empty"),
            SkuError::TooLong { max } => write!(f, "sku must be at most {max} characters"),
            SkuError::InvalidFirstCharacter => f.write_str("sku must start with a letter or digit"),
            SkuError::InvalidCharacter => {
                f.write_str("sku may contain only ASCII letters, digits, '-', '_' and '.'")
            }
        }
    }
}

impl std::error::Error for SkuError {}

/// A stock-keeping unit code, e.g. `TSHIRT-RED-L`.
///
/// The alphabet is restricted so a SKU is safe in URLs, log lines and Kafka
/// keys without escaping.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SkuCode(String);

impl SkuCode {
    pub const CHARS_MAX: usize = 64;

    pub fn parse(s: &str) -> Result<SkuCode, SkuError> {
        let first = s.bytes().next().ok_or(SkuError::Empty)?;
        if s.len() > Self::CHARS_MAX {
            return Err(SkuError::TooLong {
                max: Self::CHARS_MAX,
            });
        }
        if !first.is_ascii_alphanumeric() {
            return Err(SkuError::InvalidFirstCharacter);
        }
        if !s.bytes().all(is_sku_byte) {
            return Err(SkuError::InvalidCharacter);
        }
        Ok(SkuCode(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_sku_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

impl fmt::Display for SkuCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a number is not a quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantityError {
    Zero,
    Negative,
    TooLarge { max: u32 },
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantityError::Zero => f.write_str("quantity must be at least 1"),
            QuantityError::Negative => f.write_str("quantity must not be negative"),
            QuantityError::TooLarge { max } => write!(f, "quantity must be at most {max}"),
        }
    }
}

impl std::error::Error for QuantityError {}

/// A positive number of units.
///
/// Zero is excluded because every command that carries a quantity means
/// "move some units"; removing a line is its own command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(u32);

impl Quantity {
    /// A billion units: far beyond any real movement, and small enough that
    /// sums of many quantities stay well inside `u64`.
    pub const MAX: u32 = 1_000_000_000;

    pub fn new(v: u32) -> Result<Quantity, QuantityError> {
        if v == 0 {
            return Err(QuantityError::Zero);
        }
        if v > Self::MAX {
            return Err(QuantityError::TooLarge { max: Self::MAX });
        }
        Ok(Quantity(v))
    }

    /// Parses the signed integers that JSON and SQL hand us.
    pub fn parse_i64(v: i64) -> Result<Quantity, QuantityError> {
        if v < 0 {
            return Err(QuantityError::Negative);
        }
        let v = u32::try_from(v).map_err(|_| QuantityError::TooLarge { max: Self::MAX })?;
        Quantity::new(v)
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// Adds two quantities, clamping at `MAX`.
    ///
    /// `apply` uses this to stay infallible; `handle` has already rejected
    /// any sum above the (much smaller) business limits.
    pub fn saturating_add(self, other: Quantity) -> Quantity {
        Quantity(self.0.saturating_add(other.0).min(Self::MAX))
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a string is not a shipment id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShipmentIdError {
    Blank,
    TooLong { max: usize },
    InvalidCharacter,
}

impl fmt::Display for ShipmentIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShipmentIdError::Blank => f.write_str("shipment id must not be blank"),
            ShipmentIdError::TooLong { max } => {
                write!(f, "shipment id must be at most {max} characters")
            }
            ShipmentIdError::InvalidCharacter => {
                f.write_str("shipment id may contain only printable ASCII")
            }
        }
    }
}

impl std::error::Error for ShipmentIdError {}

/// The carrier's or warehouse's reference for a shipment.
///
/// Its format belongs to a third party, so only printable ASCII and a length
/// bound are enforced.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShipmentId(String);

impl ShipmentId {
    pub const CHARS_MAX: usize = 100;

    pub fn parse(s: &str) -> Result<ShipmentId, ShipmentIdError> {
        if s.trim().is_empty() {
            return Err(ShipmentIdError::Blank);
        }
        if s.len() > Self::CHARS_MAX {
            return Err(ShipmentIdError::TooLong {
                max: Self::CHARS_MAX,
            });
        }
        if !s.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err(ShipmentIdError::InvalidCharacter);
        }
        Ok(ShipmentId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShipmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    const KNOWN_U128: u128 = 0x67e5504410b1426f9247bb680e5fe0c8;

    #[test]
    fn id_parses_known_uuid() {
        assert_eq!(OrderId::parse(KNOWN).map(OrderId::as_u128), Ok(KNOWN_U128));
    }

    #[test]
    fn id_displays_known_uuid() {
        assert_eq!(CartId::from_u128(KNOWN_U128).to_string(), KNOWN);
    }

    #[test]
    fn id_parse_is_case_insensitive_and_displays_lowercase() {
        let id = PaymentId::parse(&KNOWN.to_uppercase()).expect("uppercase is accepted");
        assert_eq!(id.to_string(), KNOWN);
    }

    #[test]
    fn id_displays_leading_zeros_and_extremes() {
        assert_eq!(
            CustomerId::from_u128(0).to_string(),
            "00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            CustomerId::from_u128(u128::MAX).to_string(),
            "ffffffff-ffff-ffff-ffff-ffffffffffff"
        );
        assert_eq!(
            ReservationId::from_u128(1).to_string(),
            "00000000-0000-0000-0000-000000000001"
        );
    }

    #[test]
    fn id_from_str_matches_parse() {
        let id: ReservationId = KNOWN.parse().expect("valid");
        assert_eq!(id.as_u128(), KNOWN_U128);
    }

    #[test]
    fn id_rejects_other_forms() {
        let bad = [
            "",
            "67e5504410b1426f9247bb680e5fe0c8",
            "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
            "67e55044-10b1-426f-9247-bb680e5fe0c",
            "67e55044-10b1-426f-9247-bb680e5fe0c80",
            "67e55044_10b1-426f-9247-bb680e5fe0c8",
            "67e5504-410b1-426f-9247-bb680e5fe0c8",
            "g7e55044-10b1-426f-9247-bb680e5fe0c8",
            "+7e55044-10b1-426f-9247-bb680e5fe0c8",
            "67e55044-10b1-426f-9247-bb680e5fe0é",
        ];
        for s in bad {
            assert_eq!(OrderId::parse(s), Err(IdError::Malformed), "{s:?}");
        }
    }

    #[test]
    fn sku_accepts_allowed_alphabet() {
        for s in ["A", "9", "TSHIRT-RED-L", "a.b_c-d", &"x".repeat(64)] {
            assert_eq!(
                SkuCode::parse(s).map(|c| c.as_str().to_owned()),
                Ok(s.to_owned())
            );
        }
    }

    #[test]
    fn sku_rejects_edge_cases() {
        assert_eq!(SkuCode::parse(""), Err(SkuError::Empty));
        assert_eq!(
            SkuCode::parse(&"x".repeat(65)),
            Err(SkuError::TooLong { max: 64 })
        );
        for s in ["-a", "_a", ".a", " a"] {
            assert_eq!(
                SkuCode::parse(s),
                Err(SkuError::InvalidFirstCharacter),
                "{s:?}"
            );
        }
        for s in ["a b", "a/b", "a\n", "aé", "a%20"] {
            assert_eq!(SkuCode::parse(s), Err(SkuError::InvalidCharacter), "{s:?}");
        }
    }

    #[test]
    fn quantity_bounds() {
        assert_eq!(Quantity::new(0), Err(QuantityError::Zero));
        assert_eq!(Quantity::new(1).map(Quantity::get), Ok(1));
        assert_eq!(
            Quantity::new(Quantity::MAX).map(Quantity::get),
            Ok(Quantity::MAX)
        );
        assert_eq!(
            Quantity::new(Quantity::MAX + 1),
            Err(QuantityError::TooLarge { max: Quantity::MAX })
        );
    }

    #[test]
    fn quantity_parse_i64_bounds() {
        assert_eq!(Quantity::parse_i64(-1), Err(QuantityError::Negative));
        assert_eq!(Quantity::parse_i64(i64::MIN), Err(QuantityError::Negative));
        assert_eq!(Quantity::parse_i64(0), Err(QuantityError::Zero));
        assert_eq!(Quantity::parse_i64(7).map(Quantity::get), Ok(7));
        let too_large = Err(QuantityError::TooLarge { max: Quantity::MAX });
        assert_eq!(Quantity::parse_i64(i64::from(Quantity::MAX) + 1), too_large);
        assert_eq!(Quantity::parse_i64(i64::MAX), too_large);
    }

    #[test]
    fn quantity_saturating_add_clamps_at_max() {
        let max = Quantity::new(Quantity::MAX).expect("valid");
        assert_eq!(max.saturating_add(max), max);
    }

    #[test]
    fn shipment_id_parsing() {
        assert_eq!(
            ShipmentId::parse("UPS 1Z-999").map(|s| s.as_str().to_owned()),
            Ok("UPS 1Z-999".to_owned())
        );
        assert_eq!(ShipmentId::parse(""), Err(ShipmentIdError::Blank));
        assert_eq!(ShipmentId::parse("   "), Err(ShipmentIdError::Blank));
        assert_eq!(
            ShipmentId::parse(&"s".repeat(101)),
            Err(ShipmentIdError::TooLong { max: 100 })
        );
        assert!(ShipmentId::parse(&"s".repeat(100)).is_ok());
        assert_eq!(
            ShipmentId::parse("a\tb"),
            Err(ShipmentIdError::InvalidCharacter)
        );
        assert_eq!(
            ShipmentId::parse("aé"),
            Err(ShipmentIdError::InvalidCharacter)
        );
    }
}
