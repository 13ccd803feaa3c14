//! Domain values for the tests, built through the domain's own constructors and `handle` /
//! `apply`, so the store is only ever given states the domain can produce.

use actors::ports::{
    CartChange, InventoryChange, InventoryCounters, OrderChange, ProductChange, Recorded,
};
use domain::inventory::{self, InventorySku};
use domain::order::{self, OrderLine, ShippingAddress};
use domain::{
    cart, catalog, Cart, CartId, Currency, CustomerId, Money, Order, OrderId, Product, ProductName,
    Quantity, ReservationId, SkuCode, Timestamp,
};

/// A fixed instant so tests do not depend on the clock: 2023-11-14T22:13:20Z.
pub const T0_MS: i64 = 1_700_000_000_000;

pub fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(T0_MS + offset_ms)
}

pub fn uuid() -> u128 {
    uuid::Uuid::new_v4().as_u128()
}

/// A SKU unique to the test, so parallel tests never share rows.
pub fn sku(prefix: &str) -> SkuCode {
    SkuCode::parse(&format!("{prefix}-{}", uuid::Uuid::new_v4().simple())).expect("valid sku")
}

pub fn usd(amount_minor: i64) -> Money {
    Money::new(amount_minor, Currency::USD).expect("valid money")
}

pub fn qty(n: u32) -> Quantity {
    Quantity::new(n).expect("valid quantity")
}

/// Numbers `events` as the versions after `expected_version`, each with a fresh event id.
pub fn recorded<E>(
    expected_version: u64,
    events: Vec<E>,
    occurred_at: Timestamp,
) -> Vec<Recorded<E>> {
    events
        .into_iter()
        .zip(expected_version + 1..)
        .map(|(event, sequence)| Recorded {
            event_id: uuid(),
            sequence,
            occurred_at,
            event,
        })
        .collect()
}

pub fn define(p: &mut Product, name: &str, price_minor: i64, now: Timestamp) -> ProductChange {
    let cmd = catalog::Command::Define {
        name: ProductName::parse(name).expect("valid name"),
        price: usd(price_minor),
        active: true,
    };
    let expected_version = p.version();
    let events = p.handle(&cmd).expect("define accepted");
    events.iter().for_each(|e| p.apply(e));
    ProductChange {
        expected_version,
        product: p.snapshot(),
        events: recorded(expected_version, events, now),
    }
}

/// Decides and applies `cmd`, returning the change the inventory actor would commit.
pub fn stock(inv: &mut InventorySku, cmd: inventory::Command, now: Timestamp) -> InventoryChange {
    let expected_version = inv.version();
    let events = inv.handle(&cmd, now).expect("inventory command accepted");
    events.iter().for_each(|e| inv.apply(e));
    let reservations = events
        .iter()
        .filter_map(reservation_of)
        .filter_map(|id| inv.reservation(&id).copied())
        .collect();
    let snapshot = inv.snapshot();
    InventoryChange {
        sku: inv.sku().clone(),
        expected_version,
        counters: InventoryCounters {
            on_hand: snapshot.on_hand,
            reserved: snapshot.reserved,
            sold: snapshot.sold,
            version: snapshot.version,
        },
        reservations,
        events: recorded(expected_version, events, now),
    }
}

fn reservation_of(event: &inventory::Event) -> Option<ReservationId> {
    use inventory::Event as E;
    match event {
        E::Restocked { .. } => None,
        E::Reserved { reservation_id, .. }
        | E::Released { reservation_id, .. }
        | E::Committed { reservation_id, .. }
        | E::Expired { reservation_id, .. }
        | E::Returned { reservation_id, .. } => Some(*reservation_id),
    }
}

pub fn restock(n: u32) -> inventory::Command {
    inventory::Command::Restock { quantity: qty(n) }
}

pub fn reserve(id: ReservationId, n: u32, expires_at: Timestamp) -> inventory::Command {
    inventory::Command::Reserve {
        reservation_id: id,
        quantity: qty(n),
        expires_at,
    }
}

pub fn shop(c: &mut Cart, cmd: cart::Command, now: Timestamp) -> CartChange {
    let expected_version = c.version();
    let events = c.handle(&cmd).expect("cart command accepted");
    events.iter().for_each(|e| c.apply(e));
    CartChange {
        expected_version,
        cart: c.snapshot(),
        events: recorded(expected_version, events, now),
    }
}

pub fn new_cart_id() -> CartId {
    CartId::from_u128(uuid())
}

pub fn new_order_id() -> OrderId {
    OrderId::from_u128(uuid())
}

pub fn customer() -> CustomerId {
    CustomerId::from_u128(uuid())
}

pub fn decide(o: &mut Order, cmd: order::Command, now: Timestamp) -> OrderChange {
    let expected_version = o.version();
    let events = o.handle(&cmd).expect("order command accepted");
    events.iter().for_each(|e| o.apply(e));
    OrderChange {
        expected_version,
        order: o.snapshot(),
        events: recorded(expected_version, events, now),
        saga: None,
    }
}

pub fn address() -> ShippingAddress {
    ShippingAddress::parse(
        "Ada Lovelace",
        "12 St James's Square",
        Some("Flat 2"),
        "London",
        "SW1Y 4JH",
        "GB",
    )
    .expect("valid address")
}

/// Placing an order of two lines (2 x 1250 and 1 x 399, total 2899 USD).
pub fn place(cart_id: Option<CartId>, customer: Option<CustomerId>) -> order::Command {
    let lines = vec![
        OrderLine::new(sku("MUG"), qty(2), usd(1250)).expect("line"),
        OrderLine::new(sku("TEE"), qty(1), usd(399)).expect("line"),
    ];
    order::Command::Place {
        customer,
        cart_id,
        lines,
        shipping_address: address(),
        placed_at: at(0),
    }
}
