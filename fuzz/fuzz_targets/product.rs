//! `Product`: any sequence of definitions, decided with `handle` and folded with `apply`.
//!
//! After every step: the product holds exactly the last accepted definition; defining it again
//! unchanged emits nothing (a retried PUT bumps no version); the version counts the events; a
//! defined product always has a name and a price and survives a snapshot round trip. Names come
//! from the fuzz input through `ProductName::parse`, which must keep them trimmed, non-empty,
//! within `PRODUCT_NAME_CHARS_MAX` and free of control characters.
#![no_main]

use arbitrary::Arbitrary;
use commerce_fuzz::{MoneyIn, SkuIn};
use domain::catalog::{Command, Event};
use domain::limits::PRODUCT_NAME_CHARS_MAX;
use domain::{Product, ProductName};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum NameIn {
    /// One of a few names, so a definition is often repeated unchanged.
    Pool(u8),
    /// Anything: `ProductName::parse` decides.
    Text(String),
}

impl NameIn {
    fn name(self) -> Option<ProductName> {
        let text = match self {
            NameIn::Pool(n) => format!("Product {}", n % 3),
            NameIn::Text(text) => text,
        };
        let parsed = ProductName::parse(&text).ok()?;
        let name = parsed.as_str();
        assert_eq!(name, name.trim(), "names are trimmed");
        assert!(!name.is_empty());
        assert!(name.chars().count() <= PRODUCT_NAME_CHARS_MAX);
        assert!(!name.chars().any(char::is_control));
        Some(parsed)
    }
}

#[derive(Arbitrary, Debug)]
struct Define {
    name: NameIn,
    price: MoneyIn,
    active: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    sku: SkuIn,
    definitions: Vec<Define>,
}

fuzz_target!(|input: Input| {
    let mut product = Product::new(input.sku.sku());
    assert!(!product.exists());
    assert!(product.try_snapshot().is_none());
    let mut events_applied = 0u64;
    for define in input.definitions {
        let Some(name) = define.name.name() else {
            continue;
        };
        let command = Command::Define {
            name,
            price: define.price.money(),
            active: define.active,
        };
        let events = match product.handle(&command) {
            Ok(events) => events,
            Err(error) => panic!("defining a product never fails, got {error:?}"),
        };
        let Command::Define {
            name,
            price,
            active,
        } = &command;
        let unchanged = product.name() == Some(name)
            && product.price() == Some(*price)
            && product.active() == *active;
        assert_eq!(
            events.is_empty(),
            unchanged,
            "an event exactly when something changes"
        );
        for event in &events {
            let Event::Defined { .. } = event;
            product.apply(event);
            events_applied += 1;
        }
        assert!(product.exists());
        assert_eq!(product.name(), Some(name));
        assert_eq!(product.price(), Some(*price));
        assert_eq!(product.active(), *active);
        assert_eq!(product.version(), events_applied);
        assert_eq!(
            product.handle(&command),
            Ok(vec![]),
            "a retried PUT changes nothing"
        );
        let restored = Product::restore(product.snapshot());
        assert_eq!(restored, product, "snapshot round trip");
    }
});
