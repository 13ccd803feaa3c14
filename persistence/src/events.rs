//! The outbox's event types and JSON payloads: the public contract with every consumer of the
//! event stream, so it is spelled out here by hand rather than derived from domain types (the
//! domain has no serde, and a domain refactor must not silently change a published schema).
//!
//! Conventions of schema version 1 ([`crate::plan::PAYLOAD_SCHEMA_VERSION`]):
//! - `event_type` is `<aggregate>.<event>` in snake_case, e.g. `inventory.reserved`.
//! - The payload is a JSON object that names its aggregate (`sku`, `cart_id` or `order_id`).
//! - Ids are strings (hyphenated lowercase UUIDs, SKU codes as written).
//! - Money is `{"amount": <integer minor units>, "currency": "USD"}`.
//! - Instants are integer unix milliseconds in fields ending `_ms` (the domain's `Timestamp`),
//!   which needs no clock or calendar code on either side and sorts as numbers.
//! - Quantities are positive integers.

use actors::ports::StoreError;
use domain::order::OrderLine;
use domain::{
    cart, catalog, inventory, order, CartId, CountryCode, Currency, CustomerId, Money,
    ShippingAddress, Timestamp,
};
use serde::Serialize;

/// An event that can be written to the outbox.
pub(crate) trait Describe {
    /// The event's `event_type` and its payload as JSON text.
    fn describe(&self, aggregate_id: &str) -> Result<(&'static str, String), StoreError>;
}

#[derive(Serialize)]
struct MoneyDto {
    amount: i64,
    currency: CurrencyDto,
}

impl From<Money> for MoneyDto {
    fn from(m: Money) -> Self {
        MoneyDto {
            amount: m.amount_minor(),
            currency: CurrencyDto(m.currency()),
        }
    }
}

/// A currency as its ISO code string.
struct CurrencyDto(Currency);

impl Serialize for CurrencyDto {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

fn to_json(
    event_type: &'static str,
    payload: &impl Serialize,
) -> Result<(&'static str, String), StoreError> {
    serde_json::to_string(payload)
        .map(|json| (event_type, json))
        .map_err(|e| StoreError::Other(format!("cannot encode {event_type} payload: {e}")))
}

#[derive(Serialize)]
struct ProductDefined<'a> {
    sku: &'a str,
    name: &'a str,
    price: MoneyDto,
    active: bool,
}

impl Describe for catalog::Event {
    fn describe(&self, sku: &str) -> Result<(&'static str, String), StoreError> {
        match self {
            catalog::Event::Defined {
                name,
                price,
                active,
            } => to_json(
                "product.defined",
                &ProductDefined {
                    sku,
                    name: name.as_str(),
                    price: (*price).into(),
                    active: *active,
                },
            ),
        }
    }
}

#[derive(Serialize)]
struct Restocked<'a> {
    sku: &'a str,
    quantity: u32,
}

#[derive(Serialize)]
struct Reserved<'a> {
    sku: &'a str,
    reservation_id: String,
    quantity: u32,
    expires_at_ms: i64,
}

/// Released, committed, expired and returned all move one reservation's units.
#[derive(Serialize)]
struct ReservationMoved<'a> {
    sku: &'a str,
    reservation_id: String,
    quantity: u32,
}

impl Describe for inventory::Event {
    fn describe(&self, sku: &str) -> Result<(&'static str, String), StoreError> {
        use inventory::Event as E;
        let moved = |event_type, id: &domain::ReservationId, quantity: &domain::Quantity| {
            let payload = ReservationMoved {
                sku,
                reservation_id: id.to_string(),
                quantity: quantity.get(),
            };
            to_json(event_type, &payload)
        };
        match self {
            E::Restocked { quantity } => to_json(
                "inventory.restocked",
                &Restocked {
                    sku,
                    quantity: quantity.get(),
                },
            ),
            E::Reserved {
                reservation_id,
                quantity,
                expires_at,
            } => to_json(
                "inventory.reserved",
                &Reserved {
                    sku,
                    reservation_id: reservation_id.to_string(),
                    quantity: quantity.get(),
                    expires_at_ms: expires_at.unix_ms(),
                },
            ),
            E::Released {
                reservation_id,
                quantity,
            } => moved("inventory.released", reservation_id, quantity),
            E::Committed {
                reservation_id,
                quantity,
            } => moved("inventory.committed", reservation_id, quantity),
            E::Expired {
                reservation_id,
                quantity,
            } => moved("inventory.expired", reservation_id, quantity),
            E::Returned {
                reservation_id,
                quantity,
            } => moved("inventory.returned", reservation_id, quantity),
        }
    }
}

#[derive(Serialize)]
struct CartCreated<'a> {
    cart_id: &'a str,
    /// `null` for a guest cart.
    customer_id: Option<String>,
}

#[derive(Serialize)]
struct CartItemAdded<'a> {
    cart_id: &'a str,
    sku: &'a str,
    quantity: u32,
    unit_price: MoneyDto,
}

#[derive(Serialize)]
struct CartQuantityChanged<'a> {
    cart_id: &'a str,
    sku: &'a str,
    quantity: u32,
}

#[derive(Serialize)]
struct CartItemRemoved<'a> {
    cart_id: &'a str,
    sku: &'a str,
}

#[derive(Serialize)]
struct CartClaimed<'a> {
    cart_id: &'a str,
    customer_id: String,
}

/// Checkout started, completed and aborted all name the order the cart is checked out into.
#[derive(Serialize)]
struct CartCheckout<'a> {
    cart_id: &'a str,
    order_id: String,
}

impl Describe for cart::Event {
    fn describe(&self, cart_id: &str) -> Result<(&'static str, String), StoreError> {
        use cart::Event as E;
        let checkout = |event_type, order_id: &domain::OrderId| {
            to_json(
                event_type,
                &CartCheckout {
                    cart_id,
                    order_id: order_id.to_string(),
                },
            )
        };
        match self {
            E::Created { customer } => to_json(
                "cart.created",
                &CartCreated {
                    cart_id,
                    customer_id: customer.map(|c| c.to_string()),
                },
            ),
            E::ItemAdded {
                sku,
                quantity,
                unit_price,
            } => to_json(
                "cart.item_added",
                &CartItemAdded {
                    cart_id,
                    sku: sku.as_str(),
                    quantity: quantity.get(),
                    unit_price: (*unit_price).into(),
                },
            ),
            E::QuantityChanged { sku, quantity } => to_json(
                "cart.quantity_changed",
                &CartQuantityChanged {
                    cart_id,
                    sku: sku.as_str(),
                    quantity: quantity.get(),
                },
            ),
            E::ItemRemoved { sku } => to_json(
                "cart.item_removed",
                &CartItemRemoved {
                    cart_id,
                    sku: sku.as_str(),
                },
            ),
            E::CheckoutStarted { order_id } => checkout("cart.checkout_started", order_id),
            E::CheckedOut { order_id } => checkout("cart.checked_out", order_id),
            E::CheckoutAborted { order_id } => checkout("cart.checkout_aborted", order_id),
            E::Claimed { customer } => to_json(
                "cart.claimed",
                &CartClaimed {
                    cart_id,
                    customer_id: customer.to_string(),
                },
            ),
        }
    }
}

#[derive(Serialize)]
struct OrderLineDto<'a> {
    sku: &'a str,
    quantity: u32,
    unit_price: MoneyDto,
    line_total: MoneyDto,
}

#[derive(Serialize)]
struct AddressDto<'a> {
    name: &'a str,
    line1: &'a str,
    line2: Option<&'a str>,
    city: &'a str,
    postal_code: &'a str,
    country: CountryDto,
}

/// A country as its ISO 3166-1 alpha-2 code string.
struct CountryDto(CountryCode);

impl Serialize for CountryDto {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

#[derive(Serialize)]
struct OrderPlaced<'a> {
    order_id: &'a str,
    customer_id: Option<String>,
    cart_id: Option<String>,
    lines: Vec<OrderLineDto<'a>>,
    total: MoneyDto,
    shipping_address: AddressDto<'a>,
    placed_at_ms: i64,
}

/// Events that carry nothing but the order they happened to.
#[derive(Serialize)]
struct OrderOnly<'a> {
    order_id: &'a str,
}

#[derive(Serialize)]
struct OrderPayment<'a> {
    order_id: &'a str,
    payment_id: String,
    amount: MoneyDto,
}

#[derive(Serialize)]
struct OrderPaymentDeclined<'a> {
    order_id: &'a str,
    payment_id: String,
    reason: &'static str,
}

#[derive(Serialize)]
struct OrderFulfillmentRequested<'a> {
    order_id: &'a str,
    shipment_id: &'a str,
}

#[derive(Serialize)]
struct OrderFailed<'a> {
    order_id: &'a str,
    reason: &'static str,
}

impl Describe for order::Event {
    fn describe(&self, order_id: &str) -> Result<(&'static str, String), StoreError> {
        use order::Event as E;
        let only = |event_type| to_json(event_type, &OrderOnly { order_id });
        match self {
            E::Placed {
                customer,
                cart_id,
                lines,
                total,
                shipping_address,
                placed_at,
            } => {
                let payload = order_placed(
                    order_id,
                    *customer,
                    *cart_id,
                    lines,
                    *total,
                    shipping_address,
                    *placed_at,
                );
                to_json("order.placed", &payload)
            }
            E::Reserved => only("order.reserved"),
            E::PaymentAuthorized { payment_id, amount } => to_json(
                "order.payment_authorized",
                &OrderPayment {
                    order_id,
                    payment_id: payment_id.to_string(),
                    amount: (*amount).into(),
                },
            ),
            E::PaymentDeclined { payment_id, reason } => to_json(
                "order.payment_declined",
                &OrderPaymentDeclined {
                    order_id,
                    payment_id: payment_id.to_string(),
                    reason: reason.as_str(),
                },
            ),
            E::Confirmed => only("order.confirmed"),
            E::FulfillmentRequested { shipment_id } => to_json(
                "order.fulfillment_requested",
                &OrderFulfillmentRequested {
                    order_id,
                    shipment_id: shipment_id.as_str(),
                },
            ),
            E::Shipped => only("order.shipped"),
            E::Delivered => only("order.delivered"),
            E::Failed { reason } => to_json(
                "order.failed",
                &OrderFailed {
                    order_id,
                    reason: reason.as_str(),
                },
            ),
            E::Cancelled => only("order.cancelled"),
            E::PaymentVoided => only("order.payment_voided"),
        }
    }
}

/// The payload of `order.placed`, the one event that carries the whole order.
fn order_placed<'a>(
    order_id: &'a str,
    customer: Option<CustomerId>,
    cart_id: Option<CartId>,
    lines: &'a [OrderLine],
    total: Money,
    a: &'a ShippingAddress,
    placed_at: Timestamp,
) -> OrderPlaced<'a> {
    let lines = lines
        .iter()
        .map(|line| OrderLineDto {
            sku: line.sku().as_str(),
            quantity: line.quantity().get(),
            unit_price: line.unit_price().into(),
            line_total: line.line_total().into(),
        })
        .collect();
    OrderPlaced {
        order_id,
        customer_id: customer.map(|c| c.to_string()),
        cart_id: cart_id.map(|c| c.to_string()),
        lines,
        total: total.into(),
        shipping_address: AddressDto {
            name: a.name(),
            line1: a.line1(),
            line2: a.line2(),
            city: a.city(),
            postal_code: a.postal_code(),
            country: CountryDto(a.country()),
        },
        placed_at_ms: placed_at.unix_ms(),
    }
}
