//! A minimal product aggregate: what a SKU is called, costs and whether it
//! can be sold.

use std::fmt;

use crate::ids::SkuCode;
use crate::limits::PRODUCT_NAME_CHARS_MAX;
use crate::money::Money;

/// Why a string is not a product name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProductNameError {
    Empty,
    TooLong { max: usize },
    ControlCharacter,
}

impl fmt::Display for ProductNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProductNameError::Empty => f.write_str("product name must not be blank"),
            ProductNameError::TooLong { max } => {
                write!(f, "product name must be at most {max} characters")
            }
            ProductNameError::ControlCharacter => {
                f.write_str("product name must not contain control characters")
            }
        }
    }
}

impl std::error::Error for ProductNameError {}

/// A display name, trimmed and bounded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProductName(String);

impl ProductName {
    pub fn parse(s: &str) -> Result<ProductName, ProductNameError> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(ProductNameError::Empty);
        }
        if trimmed.chars().count() > PRODUCT_NAME_CHARS_MAX {
            return Err(ProductNameError::TooLong {
                max: PRODUCT_NAME_CHARS_MAX,
            });
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ProductNameError::ControlCharacter);
        }
        Ok(ProductName(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProductName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a caller asks of a product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Creates or replaces the definition, like an HTTP PUT.
    Define {
        name: ProductName,
        price: Money,
        active: bool,
    },
}

/// What happened to a product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Defined {
        name: ProductName,
        price: Money,
        active: bool,
    },
}

/// Why a product command was rejected.
///
/// `handle` never fails today; `NotFound` exists for callers that look a
/// product up and must report that it was never defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    NotFound,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound => f.write_str("product not found"),
        }
    }
}

impl std::error::Error for Error {}

/// A product as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductSnapshot {
    pub sku: SkuCode,
    pub name: ProductName,
    pub price: Money,
    pub active: bool,
    pub version: u64,
}

/// The product aggregate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    /// The identity; a product exists per SKU, defined or not.
    sku: SkuCode,
    /// `None` until the first `Defined` event; name and price are set together.
    name: Option<ProductName>,
    price: Option<Money>,
    /// Inactive products stay visible to orders already placed but cannot be
    /// added to carts.
    active: bool,
    /// Number of events applied, for optimistic concurrency.
    version: u64,
}

impl Product {
    /// The not-yet-defined product for `sku`.
    pub fn new(sku: SkuCode) -> Product {
        Product {
            sku,
            name: None,
            price: None,
            active: false,
            version: 0,
        }
    }

    /// Rebuilds a defined product from storage; every snapshot is valid
    /// because its fields are already parsed types.
    pub fn restore(s: ProductSnapshot) -> Product {
        Product {
            sku: s.sku,
            name: Some(s.name),
            price: Some(s.price),
            active: s.active,
            version: s.version,
        }
    }

    /// The stored form of a defined product.
    ///
    /// # Panics
    ///
    /// If the product is not defined. Every accepted command leaves it
    /// defined, so callers that snapshot after `handle` succeeded never
    /// panic; anything else is a programmer error.
    pub fn snapshot(&self) -> ProductSnapshot {
        match self.try_snapshot() {
            Some(snapshot) => snapshot,
            None => panic!("snapshot of product {} that was never defined", self.sku),
        }
    }

    /// The stored form, or `None` while the product is not defined.
    pub fn try_snapshot(&self) -> Option<ProductSnapshot> {
        Some(ProductSnapshot {
            sku: self.sku.clone(),
            name: self.name.clone()?,
            price: self.price?,
            active: self.active,
            version: self.version,
        })
    }

    pub fn sku(&self) -> &SkuCode {
        &self.sku
    }

    pub fn exists(&self) -> bool {
        self.name.is_some()
    }

    pub fn name(&self) -> Option<&ProductName> {
        self.name.as_ref()
    }

    pub fn price(&self) -> Option<Money> {
        self.price
    }

    pub fn active(&self) -> bool {
        self.active
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn handle(&self, cmd: &Command) -> Result<Vec<Event>, Error> {
        match cmd {
            Command::Define {
                name,
                price,
                active,
            } => {
                // Re-sending the current definition is a retried PUT: it must
                // not bump the version or publish a duplicate event.
                let unchanged = self.name.as_ref() == Some(name)
                    && self.price == Some(*price)
                    && self.active == *active;
                if unchanged {
                    return Ok(vec![]);
                }
                Ok(vec![Event::Defined {
                    name: name.clone(),
                    price: *price,
                    active: *active,
                }])
            }
        }
    }

    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::Defined {
                name,
                price,
                active,
            } => {
                self.name = Some(name.clone());
                self.price = Some(*price);
                self.active = *active;
            }
        }
        self.version += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn sku() -> SkuCode {
        SkuCode::parse("MUG-1").expect("valid sku")
    }

    fn name(s: &str) -> ProductName {
        ProductName::parse(s).expect("valid name")
    }

    fn usd(amount_minor: i64) -> Money {
        Money::new(amount_minor, Currency::USD).expect("valid money")
    }

    fn defined(n: &str, price: i64, active: bool) -> Event {
        Event::Defined {
            name: name(n),
            price: usd(price),
            active,
        }
    }

    fn define(n: &str, price: i64, active: bool) -> Command {
        Command::Define {
            name: name(n),
            price: usd(price),
            active,
        }
    }

    fn given(events: &[Event]) -> Product {
        let mut product = Product::new(sku());
        for event in events {
            product.apply(event);
        }
        product
    }

    #[test]
    fn new_product_does_not_exist() {
        let product = given(&[]);
        assert!(!product.exists());
        assert_eq!(
            (product.name(), product.price(), product.version()),
            (None, None, 0)
        );
        assert_eq!(product.try_snapshot(), None);
    }

    #[test]
    fn define_on_new_product_emits_defined() {
        let then = given(&[]).handle(&define("Mug", 900, true));
        assert_eq!(then, Ok(vec![defined("Mug", 900, true)]));
    }

    #[test]
    fn define_with_same_definition_is_idempotent() {
        let then = given(&[defined("Mug", 900, true)]).handle(&define("Mug", 900, true));
        assert_eq!(then, Ok(vec![]));
    }

    #[test]
    fn define_with_changed_price_or_flag_emits_defined() {
        let product = given(&[defined("Mug", 900, true)]);
        assert_eq!(
            product.handle(&define("Mug", 950, true)),
            Ok(vec![defined("Mug", 950, true)])
        );
        assert_eq!(
            product.handle(&define("Mug", 900, false)),
            Ok(vec![defined("Mug", 900, false)])
        );
        assert_eq!(
            product.handle(&define("Cup", 900, true)),
            Ok(vec![defined("Cup", 900, true)])
        );
    }

    #[test]
    fn apply_sets_fields_and_bumps_version() {
        let product = given(&[defined("Mug", 900, true), defined("Mug", 800, false)]);
        assert!(product.exists());
        assert_eq!(product.name(), Some(&name("Mug")));
        assert_eq!(product.price(), Some(usd(800)));
        assert!(!product.active());
        assert_eq!(product.version(), 2);
        assert_eq!(product.sku(), &sku());
    }

    #[test]
    fn snapshot_round_trips() {
        let product = given(&[defined("Mug", 900, true)]);
        assert_eq!(Product::restore(product.snapshot()), product);
    }

    #[test]
    fn product_name_is_trimmed_and_bounded() {
        assert_eq!(name("  Mug  ").as_str(), "Mug");
        assert_eq!(ProductName::parse("   "), Err(ProductNameError::Empty));
        assert!(ProductName::parse(&"é".repeat(PRODUCT_NAME_CHARS_MAX)).is_ok());
        assert_eq!(
            ProductName::parse(&"é".repeat(PRODUCT_NAME_CHARS_MAX + 1)),
            Err(ProductNameError::TooLong {
                max: PRODUCT_NAME_CHARS_MAX
            })
        );
        assert_eq!(
            ProductName::parse("Mu\u{0}g"),
            Err(ProductNameError::ControlCharacter)
        );
        assert_eq!(
            ProductName::parse("Mu\ng"),
            Err(ProductNameError::ControlCharacter)
        );
    }
}
