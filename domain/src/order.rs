//! The order aggregate: a guarded state machine driven by the checkout saga.
//!
//! Every status change goes through [`can_transition`], the single table of
//! legal moves. Repeating a command whose effect already holds is accepted
//! with no events, so saga steps can be retried after a crash.

use std::fmt;

use crate::corrupt::{ensure, CorruptState};
use crate::ids::{CartId, CustomerId, OrderId, PaymentId, Quantity, ShipmentId, SkuCode};
use crate::limits::{ADDRESS_FIELD_CHARS_MAX, ORDER_LINES_MAX};
use crate::money::{Money, MoneyError};
use crate::time::Timestamp;

/// Why a shipping address was rejected; `field` names the offending input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressError {
    Missing {
        field: &'static str,
    },
    TooLong {
        field: &'static str,
        max: usize,
    },
    InvalidCountry,
    /// The field holds a control character (a newline, a NUL...), which
    /// would corrupt shipping labels and log lines.
    InvalidCharacter {
        field: &'static str,
    },
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::Missing { field } => write!(f, "address {field} is required"),
            AddressError::TooLong { field, max } => {
                write!(f, "address {field} must be at most {max} characters")
            }
            AddressError::InvalidCountry => {
                f.write_str("country must be two uppercase letters (ISO 3166-1 alpha-2)")
            }
            AddressError::InvalidCharacter { field } => {
                write!(f, "address {field} must not contain control characters")
            }
        }
    }
}

impl std::error::Error for AddressError {}

/// An ISO 3166-1 alpha-2 country code such as `DE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn parse(s: &str) -> Result<CountryCode, AddressError> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(CountryCode([*a, *b])),
            _ => Err(AddressError::InvalidCountry),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only `parse` builds a `CountryCode`, from two ASCII letters.
        match std::str::from_utf8(&self.0) {
            Ok(code) => code,
            Err(_) => unreachable!("country codes are built from ASCII"),
        }
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an order ships; every text field is trimmed and bounded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShippingAddress {
    name: String,
    line1: String,
    /// Optional; a blank second line is treated as absent.
    line2: Option<String>,
    city: String,
    postal_code: String,
    country: CountryCode,
}

impl ShippingAddress {
    pub fn parse(
        name: &str,
        line1: &str,
        line2: Option<&str>,
        city: &str,
        postal_code: &str,
        country: &str,
    ) -> Result<ShippingAddress, AddressError> {
        let line2 = match line2.map(str::trim) {
            Some(line2) if !line2.is_empty() => Some(address_field("line2", line2)?),
            _ => None,
        };
        Ok(ShippingAddress {
            name: address_field("name", name)?,
            line1: address_field("line1", line1)?,
            line2,
            city: address_field("city", city)?,
            postal_code: address_field("postal_code", postal_code)?,
            country: CountryCode::parse(country.trim())?,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn line1(&self) -> &str {
        &self.line1
    }

    pub fn line2(&self) -> Option<&str> {
        self.line2.as_deref()
    }

    pub fn city(&self) -> &str {
        &self.city
    }

    pub fn postal_code(&self) -> &str {
        &self.postal_code
    }

    pub fn country(&self) -> CountryCode {
        self.country
    }
}

fn address_field(field: &'static str, value: &str) -> Result<String, AddressError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AddressError::Missing { field });
    }
    if value.chars().count() > ADDRESS_FIELD_CHARS_MAX {
        return Err(AddressError::TooLong {
            field,
            max: ADDRESS_FIELD_CHARS_MAX,
        });
    }
    if value.chars().any(char::is_control) {
        return Err(AddressError::InvalidCharacter { field });
    }
    Ok(value.to_owned())
}

/// One SKU of an order, priced when the order was placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLine {
    sku: SkuCode,
    quantity: Quantity,
    unit_price: Money,
    /// `unit_price * quantity`, computed once so it can never disagree.
    line_total: Money,
}

impl OrderLine {
    pub fn new(
        sku: SkuCode,
        quantity: Quantity,
        unit_price: Money,
    ) -> Result<OrderLine, MoneyError> {
        let line_total = unit_price.checked_mul(quantity.get())?;
        Ok(OrderLine {
            sku,
            quantity,
            unit_price,
            line_total,
        })
    }

    pub fn sku(&self) -> &SkuCode {
        &self.sku
    }

    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    pub fn unit_price(&self) -> Money {
        self.unit_price
    }

    pub fn line_total(&self) -> Money {
        self.line_total
    }
}

/// Defines a fieldless enum with a snake_case string form for storage and
/// JSON, so the spelling lives in one place per type.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every variant, for exhaustive tests and generators.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Where an order is in its life; see [`can_transition`] for the moves.
    OrderStatus {
        /// Placed; stock not yet reserved.
        Pending => "pending",
        /// Every line's stock is held.
        Reserved => "reserved",
        /// Paid for and stock committed.
        Confirmed => "confirmed",
        FulfillmentRequested => "fulfillment_requested",
        Shipped => "shipped",
        Delivered => "delivered",
        /// Checkout did not complete; see the failure reason.
        Failed => "failed",
        Cancelled => "cancelled",
    }
);

string_enum!(
    /// Why checkout failed.
    FailureReason {
        OutOfStock => "out_of_stock",
        PaymentDeclined => "payment_declined",
        PaymentTimeout => "payment_timeout",
        /// The saga was cut short (a crash, a cancellation) and compensated.
        Interrupted => "interrupted",
    }
);

string_enum!(
    /// Where a payment authorization stands.
    PaymentStatus {
        Authorized => "authorized",
        Declined => "declined",
        /// The authorization was released after the order failed or was cancelled.
        Voided => "voided",
    }
);

/// The order's payment authorization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payment {
    id: PaymentId,
    amount: Money,
    status: PaymentStatus,
}

impl Payment {
    pub fn restore(id: PaymentId, amount: Money, status: PaymentStatus) -> Payment {
        Payment { id, amount, status }
    }

    pub fn id(&self) -> PaymentId {
        self.id
    }

    pub fn amount(&self) -> Money {
        self.amount
    }

    pub fn status(&self) -> PaymentStatus {
        self.status
    }
}

/// The single table of legal status changes.
///
/// Cancelling is allowed until the order ships; failing only before it is
/// confirmed, because after confirmation the customer has paid and the order
/// goes forward or is cancelled explicitly.
pub fn can_transition(from: OrderStatus, to: OrderStatus) -> bool {
    use OrderStatus::*;
    matches!(
        (from, to),
        (Pending, Reserved)
            | (Pending, Failed)
            | (Pending, Cancelled)
            | (Reserved, Confirmed)
            | (Reserved, Failed)
            | (Reserved, Cancelled)
            | (Confirmed, FulfillmentRequested)
            | (Confirmed, Cancelled)
            | (FulfillmentRequested, Shipped)
            | (FulfillmentRequested, Cancelled)
            | (Shipped, Delivered)
    )
}

/// What a caller (mostly the checkout saga) asks of an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Place {
        customer: Option<CustomerId>,
        cart_id: Option<CartId>,
        lines: Vec<OrderLine>,
        shipping_address: ShippingAddress,
        placed_at: Timestamp,
    },
    MarkReserved,
    RecordPaymentAuthorized {
        payment_id: PaymentId,
        amount: Money,
    },
    RecordPaymentDeclined {
        payment_id: PaymentId,
        reason: FailureReason,
    },
    Confirm,
    RequestFulfillment {
        shipment_id: ShipmentId,
    },
    MarkShipped,
    MarkDelivered,
    Fail {
        reason: FailureReason,
    },
    Cancel,
    RecordPaymentVoided,
}

/// What happened to an order.
// `Placed` is much larger than the other variants, but events are built one
// command at a time and their fields are a contract with the other crates, so
// boxing it would cost clarity for no measurable gain.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Placed {
        customer: Option<CustomerId>,
        cart_id: Option<CartId>,
        lines: Vec<OrderLine>,
        total: Money,
        shipping_address: ShippingAddress,
        placed_at: Timestamp,
    },
    Reserved,
    PaymentAuthorized {
        payment_id: PaymentId,
        amount: Money,
    },
    PaymentDeclined {
        payment_id: PaymentId,
        reason: FailureReason,
    },
    Confirmed,
    FulfillmentRequested {
        shipment_id: ShipmentId,
    },
    Shipped,
    Delivered,
    Failed {
        reason: FailureReason,
    },
    Cancelled,
    PaymentVoided,
}

/// Why an order command was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    NotFound,
    AlreadyPlaced,
    NoLines,
    TooManyLines {
        max: usize,
    },
    /// The command needs the order in another status. For payment commands,
    /// which do not move the status, `to` is the status they require.
    InvalidTransition {
        from: OrderStatus,
        to: OrderStatus,
    },
    PaymentAmountMismatch,
    PaymentMissing,
    NoPaymentToVoid,
    Money(MoneyError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound => f.write_str("order not found"),
            Error::AlreadyPlaced => f.write_str("order already placed"),
            Error::NoLines => f.write_str("order has no lines"),
            Error::TooManyLines { max } => write!(f, "order may hold at most {max} lines"),
            Error::InvalidTransition { from, to } => {
                write!(f, "order cannot go from {from} to {to}")
            }
            Error::PaymentAmountMismatch => f.write_str("payment amount differs from order total"),
            Error::PaymentMissing => f.write_str("order has no authorized payment"),
            Error::NoPaymentToVoid => f.write_str("order has no authorized payment to void"),
            Error::Money(e) => write!(f, "order total: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<MoneyError> for Error {
    fn from(e: MoneyError) -> Self {
        Error::Money(e)
    }
}

/// An order as stored; only placed orders are stored, so nothing placement
/// sets is optional.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderSnapshot {
    pub id: OrderId,
    pub customer: Option<CustomerId>,
    pub cart_id: Option<CartId>,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub shipping_address: ShippingAddress,
    pub status: OrderStatus,
    pub payment: Option<Payment>,
    pub shipment_id: Option<ShipmentId>,
    pub failure_reason: Option<FailureReason>,
    pub placed_at: Timestamp,
    pub version: u64,
}

/// The order aggregate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    id: OrderId,
    /// False until `Placed`; the id is chosen by the client, so an actor holds
    /// an `Order` before it exists and placing twice is detected here.
    exists: bool,
    /// `None` for guest checkouts.
    customer: Option<CustomerId>,
    /// `None` for orders placed without a cart ("buy now").
    cart_id: Option<CartId>,
    /// 1..=`ORDER_LINES_MAX` once placed.
    lines: Vec<OrderLine>,
    /// The sum of line totals, fixed at placement; payments must match it.
    total: Option<Money>,
    shipping_address: Option<ShippingAddress>,
    status: OrderStatus,
    /// The latest authorization attempt; a declined one may be replaced.
    payment: Option<Payment>,
    /// Set when fulfillment is requested.
    shipment_id: Option<ShipmentId>,
    /// Set when the order fails; the first reason wins.
    failure_reason: Option<FailureReason>,
    placed_at: Option<Timestamp>,
    /// Number of events applied, for optimistic concurrency.
    version: u64,
}

impl Order {
    pub fn new(id: OrderId) -> Order {
        Order {
            id,
            exists: false,
            customer: None,
            cart_id: None,
            lines: Vec::new(),
            total: None,
            shipping_address: None,
            status: OrderStatus::Pending,
            payment: None,
            shipment_id: None,
            failure_reason: None,
            placed_at: None,
            version: 0,
        }
    }

    /// Rebuilds a placed order from storage, refusing inconsistent lines.
    pub fn restore(s: OrderSnapshot) -> Result<Order, CorruptState> {
        ensure(!s.lines.is_empty(), "order: no lines")?;
        ensure(s.lines.len() <= ORDER_LINES_MAX, "order: too many lines")?;
        let total = lines_total(&s.lines).ok().flatten();
        ensure(
            total == Some(s.total),
            "order: total differs from line totals",
        )?;
        Ok(Order {
            id: s.id,
            exists: true,
            customer: s.customer,
            cart_id: s.cart_id,
            lines: s.lines,
            total: Some(s.total),
            shipping_address: Some(s.shipping_address),
            status: s.status,
            payment: s.payment,
            shipment_id: s.shipment_id,
            failure_reason: s.failure_reason,
            placed_at: Some(s.placed_at),
            version: s.version,
        })
    }

    /// The stored form, or `None` while the order is not placed.
    pub fn try_snapshot(&self) -> Option<OrderSnapshot> {
        Some(OrderSnapshot {
            id: self.id,
            customer: self.customer,
            cart_id: self.cart_id,
            lines: self.lines.clone(),
            total: self.total?,
            shipping_address: self.shipping_address.clone()?,
            status: self.status,
            payment: self.payment,
            shipment_id: self.shipment_id.clone(),
            failure_reason: self.failure_reason,
            placed_at: self.placed_at?,
            version: self.version,
        })
    }

    /// The stored form of a placed order.
    ///
    /// # Panics
    ///
    /// If the order is not placed. Every accepted command leaves the order
    /// placed, so callers that snapshot after `handle` succeeded never panic;
    /// anything else is a programmer error.
    pub fn snapshot(&self) -> OrderSnapshot {
        match self.try_snapshot() {
            Some(snapshot) => snapshot,
            None => panic!("snapshot of order {} that was never placed", self.id),
        }
    }

    pub fn id(&self) -> OrderId {
        self.id
    }

    pub fn exists(&self) -> bool {
        self.exists
    }

    pub fn customer(&self) -> Option<CustomerId> {
        self.customer
    }

    pub fn cart_id(&self) -> Option<CartId> {
        self.cart_id
    }

    pub fn lines(&self) -> &[OrderLine] {
        &self.lines
    }

    pub fn total(&self) -> Option<Money> {
        self.total
    }

    pub fn shipping_address(&self) -> Option<&ShippingAddress> {
        self.shipping_address.as_ref()
    }

    pub fn status(&self) -> OrderStatus {
        self.status
    }

    pub fn payment(&self) -> Option<&Payment> {
        self.payment.as_ref()
    }

    pub fn shipment_id(&self) -> Option<&ShipmentId> {
        self.shipment_id.as_ref()
    }

    pub fn failure_reason(&self) -> Option<FailureReason> {
        self.failure_reason
    }

    pub fn placed_at(&self) -> Option<Timestamp> {
        self.placed_at
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn handle(&self, cmd: &Command) -> Result<Vec<Event>, Error> {
        match cmd {
            Command::Place {
                customer,
                cart_id,
                lines,
                shipping_address,
                placed_at,
            } => self.place(*customer, *cart_id, lines, shipping_address, *placed_at),
            _ if !self.exists => Err(Error::NotFound),
            Command::MarkReserved => self.move_to(OrderStatus::Reserved, Event::Reserved),
            Command::RecordPaymentAuthorized { payment_id, amount } => {
                self.record_authorized(*payment_id, *amount)
            }
            Command::RecordPaymentDeclined { payment_id, reason } => {
                self.record_declined(*payment_id, *reason)
            }
            Command::Confirm => self.confirm(),
            Command::RequestFulfillment { shipment_id } => self.request_fulfillment(shipment_id),
            Command::MarkShipped => self.move_to(OrderStatus::Shipped, Event::Shipped),
            Command::MarkDelivered => self.move_to(OrderStatus::Delivered, Event::Delivered),
            Command::Fail { reason } => {
                self.move_to(OrderStatus::Failed, Event::Failed { reason: *reason })
            }
            Command::Cancel => self.move_to(OrderStatus::Cancelled, Event::Cancelled),
            Command::RecordPaymentVoided => self.record_voided(),
        }
    }

    fn place(
        &self,
        customer: Option<CustomerId>,
        cart_id: Option<CartId>,
        lines: &[OrderLine],
        shipping_address: &ShippingAddress,
        placed_at: Timestamp,
    ) -> Result<Vec<Event>, Error> {
        if self.exists {
            return Err(Error::AlreadyPlaced);
        }
        if lines.len() > ORDER_LINES_MAX {
            return Err(Error::TooManyLines {
                max: ORDER_LINES_MAX,
            });
        }
        let total = lines_total(lines)?.ok_or(Error::NoLines)?;
        Ok(vec![Event::Placed {
            customer,
            cart_id,
            lines: lines.to_vec(),
            total,
            shipping_address: shipping_address.clone(),
            placed_at,
        }])
    }

    /// Emits `event` if the order may move to `to`; nothing if it is there.
    fn move_to(&self, to: OrderStatus, event: Event) -> Result<Vec<Event>, Error> {
        if self.status == to {
            return Ok(vec![]);
        }
        self.ensure_transition(to)?;
        Ok(vec![event])
    }

    fn ensure_transition(&self, to: OrderStatus) -> Result<(), Error> {
        if can_transition(self.status, to) {
            Ok(())
        } else {
            Err(Error::InvalidTransition {
                from: self.status,
                to,
            })
        }
    }

    /// Payment commands record facts without moving the status, and are
    /// accepted only while the order is reserved.
    fn ensure_reserved(&self) -> Result<(), Error> {
        if self.status == OrderStatus::Reserved {
            Ok(())
        } else {
            Err(Error::InvalidTransition {
                from: self.status,
                to: OrderStatus::Reserved,
            })
        }
    }

    fn record_authorized(&self, payment_id: PaymentId, amount: Money) -> Result<Vec<Event>, Error> {
        if let Some(payment) = self.payment.filter(|p| p.id == payment_id) {
            // The same authorization recorded again is a retry, whatever
            // happened to the order since.
            if payment.status != PaymentStatus::Declined && payment.amount == amount {
                return Ok(vec![]);
            }
        }
        self.ensure_reserved()?;
        if self.total != Some(amount) {
            return Err(Error::PaymentAmountMismatch);
        }
        Ok(vec![Event::PaymentAuthorized { payment_id, amount }])
    }

    fn record_declined(
        &self,
        payment_id: PaymentId,
        reason: FailureReason,
    ) -> Result<Vec<Event>, Error> {
        let same = self.payment.filter(|p| p.id == payment_id);
        if same.is_some_and(|p| p.status == PaymentStatus::Declined) {
            return Ok(vec![]);
        }
        self.ensure_reserved()?;
        Ok(vec![Event::PaymentDeclined { payment_id, reason }])
    }

    fn confirm(&self) -> Result<Vec<Event>, Error> {
        if self.status == OrderStatus::Confirmed {
            return Ok(vec![]);
        }
        self.ensure_transition(OrderStatus::Confirmed)?;
        match self.payment {
            Some(p) if p.status == PaymentStatus::Authorized => Ok(vec![Event::Confirmed]),
            _ => Err(Error::PaymentMissing),
        }
    }

    fn request_fulfillment(&self, shipment_id: &ShipmentId) -> Result<Vec<Event>, Error> {
        let requested = self.status == OrderStatus::FulfillmentRequested;
        if requested && self.shipment_id.as_ref() == Some(shipment_id) {
            return Ok(vec![]);
        }
        // A second, different shipment is not a retry; `ensure_transition`
        // rejects it because FulfillmentRequested cannot follow itself.
        self.ensure_transition(OrderStatus::FulfillmentRequested)?;
        Ok(vec![Event::FulfillmentRequested {
            shipment_id: shipment_id.clone(),
        }])
    }

    fn record_voided(&self) -> Result<Vec<Event>, Error> {
        let Some(payment) = self.payment else {
            return Err(Error::NoPaymentToVoid);
        };
        match payment.status {
            PaymentStatus::Voided => Ok(vec![]),
            PaymentStatus::Declined => Err(Error::NoPaymentToVoid),
            PaymentStatus::Authorized => match self.status {
                OrderStatus::Cancelled | OrderStatus::Failed => Ok(vec![Event::PaymentVoided]),
                // A live order keeps its payment; voiding needs it ended first.
                from => Err(Error::InvalidTransition {
                    from,
                    to: OrderStatus::Cancelled,
                }),
            },
        }
    }

    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::Placed {
                customer,
                cart_id,
                lines,
                total,
                shipping_address,
                placed_at,
            } => {
                self.exists = true;
                self.customer = *customer;
                self.cart_id = *cart_id;
                self.lines = lines.clone();
                self.total = Some(*total);
                self.shipping_address = Some(shipping_address.clone());
                self.placed_at = Some(*placed_at);
                self.status = OrderStatus::Pending;
            }
            Event::PaymentAuthorized { payment_id, amount } => {
                self.payment = Some(Payment::restore(
                    *payment_id,
                    *amount,
                    PaymentStatus::Authorized,
                ));
            }
            Event::PaymentDeclined { payment_id, .. } => self.apply_declined(*payment_id),
            Event::PaymentVoided => {
                if let Some(payment) = &mut self.payment {
                    payment.status = PaymentStatus::Voided;
                }
            }
            Event::FulfillmentRequested { shipment_id } => {
                self.shipment_id = Some(shipment_id.clone());
                self.set_status(OrderStatus::FulfillmentRequested);
            }
            Event::Failed { reason } => {
                self.failure_reason = Some(*reason);
                self.set_status(OrderStatus::Failed);
            }
            Event::Reserved => self.set_status(OrderStatus::Reserved),
            Event::Confirmed => self.set_status(OrderStatus::Confirmed),
            Event::Shipped => self.set_status(OrderStatus::Shipped),
            Event::Delivered => self.set_status(OrderStatus::Delivered),
            Event::Cancelled => self.set_status(OrderStatus::Cancelled),
        }
        self.version += 1;
    }

    /// A declined attempt has no money attached at the provider; it is
    /// recorded at the order total so the payment row stays complete.
    fn apply_declined(&mut self, payment_id: PaymentId) {
        if let Some(total) = self.total {
            self.payment = Some(Payment::restore(payment_id, total, PaymentStatus::Declined));
        }
    }

    fn set_status(&mut self, to: OrderStatus) {
        debug_assert!(
            can_transition(self.status, to),
            "order event moves {} to {} outside the transition table",
            self.status,
            to
        );
        self.status = to;
    }
}

/// Sums line totals with checked arithmetic; `None` when there are no lines.
fn lines_total(lines: &[OrderLine]) -> Result<Option<Money>, MoneyError> {
    let mut total: Option<Money> = None;
    for line in lines {
        total = Some(match total {
            Some(sum) => sum.checked_add(line.line_total)?,
            None => line.line_total,
        });
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use OrderStatus::*;

    const PAYMENT: PaymentId = PaymentId::from_u128(11);
    const OTHER_PAYMENT: PaymentId = PaymentId::from_u128(12);
    const PLACED_AT: Timestamp = Timestamp::from_unix_ms(1_700_000_000_000);

    fn usd(amount_minor: i64) -> Money {
        Money::new(amount_minor, Currency::USD).expect("valid money")
    }

    fn line(s: &str, quantity: u32, price: Money) -> OrderLine {
        let sku = SkuCode::parse(s).expect("valid sku");
        let quantity = Quantity::new(quantity).expect("valid quantity");
        OrderLine::new(sku, quantity, price).expect("valid line")
    }

    fn address() -> ShippingAddress {
        ShippingAddress::parse("Ada", "1 Main St", None, "Springfield", "12345", "US")
            .expect("valid address")
    }

    fn shipment() -> ShipmentId {
        ShipmentId::parse("SHP-1").expect("valid shipment id")
    }

    fn lines() -> Vec<OrderLine> {
        vec![line("A", 2, usd(150)), line("B", 1, usd(200))]
    }

    fn place_with(lines: Vec<OrderLine>) -> Command {
        Command::Place {
            customer: Some(CustomerId::from_u128(1)),
            cart_id: Some(CartId::from_u128(2)),
            lines,
            shipping_address: address(),
            placed_at: PLACED_AT,
        }
    }

    fn placed() -> Event {
        Event::Placed {
            customer: Some(CustomerId::from_u128(1)),
            cart_id: Some(CartId::from_u128(2)),
            lines: lines(),
            total: usd(500),
            shipping_address: address(),
            placed_at: PLACED_AT,
        }
    }

    fn authorized() -> Event {
        Event::PaymentAuthorized {
            payment_id: PAYMENT,
            amount: usd(500),
        }
    }

    fn declined() -> Event {
        Event::PaymentDeclined {
            payment_id: PAYMENT,
            reason: FailureReason::PaymentDeclined,
        }
    }

    fn given(events: &[Event]) -> Order {
        let mut order = Order::new(OrderId::from_u128(99));
        for event in events {
            order.apply(event);
        }
        order
    }

    fn when(events: &[Event], cmd: Command) -> Result<Vec<Event>, Error> {
        given(events).handle(&cmd)
    }

    fn then(result: Result<Vec<Event>, Error>, expected: Vec<Event>) {
        assert_eq!(result, Ok(expected));
    }

    fn then_error(result: Result<Vec<Event>, Error>, expected: Error) {
        assert_eq!(result, Err(expected));
    }

    fn invalid(from: OrderStatus, to: OrderStatus) -> Error {
        Error::InvalidTransition { from, to }
    }

    /// Histories that leave the order in each status.
    fn history(status: OrderStatus) -> Vec<Event> {
        let failed = Event::Failed {
            reason: FailureReason::OutOfStock,
        };
        let fulfilment = Event::FulfillmentRequested {
            shipment_id: shipment(),
        };
        let mut events = vec![placed()];
        let rest: &[Event] = match status {
            Pending => &[],
            Reserved => &[Event::Reserved],
            Confirmed => &[Event::Reserved, authorized(), Event::Confirmed],
            FulfillmentRequested => &[Event::Reserved, authorized(), Event::Confirmed, fulfilment],
            Shipped => &[
                Event::Reserved,
                authorized(),
                Event::Confirmed,
                fulfilment,
                Event::Shipped,
            ],
            Delivered => &[
                Event::Reserved,
                authorized(),
                Event::Confirmed,
                fulfilment,
                Event::Shipped,
                Event::Delivered,
            ],
            Failed => &[failed],
            Cancelled => &[Event::Cancelled],
        };
        events.extend_from_slice(rest);
        events
    }

    fn all_commands() -> Vec<Command> {
        vec![
            Command::MarkReserved,
            Command::RecordPaymentAuthorized {
                payment_id: PAYMENT,
                amount: usd(500),
            },
            Command::RecordPaymentDeclined {
                payment_id: PAYMENT,
                reason: FailureReason::PaymentDeclined,
            },
            Command::Confirm,
            Command::RequestFulfillment {
                shipment_id: shipment(),
            },
            Command::MarkShipped,
            Command::MarkDelivered,
            Command::Fail {
                reason: FailureReason::OutOfStock,
            },
            Command::Cancel,
            Command::RecordPaymentVoided,
        ]
    }

    #[test]
    fn every_command_but_place_needs_a_placed_order() {
        for cmd in all_commands() {
            then_error(when(&[], cmd), Error::NotFound);
        }
    }

    #[test]
    fn place_computes_the_total() {
        then(when(&[], place_with(lines())), vec![placed()]);
        let order = given(&[placed()]);
        assert!(order.exists());
        assert_eq!((order.status(), order.total()), (Pending, Some(usd(500))));
        assert_eq!(order.lines(), lines().as_slice());
        assert_eq!(order.shipping_address(), Some(&address()));
        assert_eq!(order.placed_at(), Some(PLACED_AT));
        assert_eq!(order.customer(), Some(CustomerId::from_u128(1)));
        assert_eq!(order.cart_id(), Some(CartId::from_u128(2)));
        assert_eq!((order.payment(), order.shipment_id()), (None, None));
        assert_eq!((order.failure_reason(), order.version()), (None, 1));
    }

    #[test]
    fn place_twice_is_rejected() {
        then_error(when(&[placed()], place_with(lines())), Error::AlreadyPlaced);
    }

    #[test]
    fn place_without_lines_is_rejected() {
        then_error(when(&[], place_with(vec![])), Error::NoLines);
    }

    #[test]
    fn place_with_too_many_lines_is_rejected() {
        let many = (0..=ORDER_LINES_MAX)
            .map(|i| line(&format!("S{i}"), 1, usd(1)))
            .collect();
        then_error(
            when(&[], place_with(many)),
            Error::TooManyLines {
                max: ORDER_LINES_MAX,
            },
        );
    }

    #[test]
    fn place_with_mixed_currencies_is_rejected() {
        let eur = Money::new(1, Currency::EUR).expect("valid");
        then_error(
            when(
                &[],
                place_with(vec![line("A", 1, usd(1)), line("B", 1, eur)]),
            ),
            Error::Money(MoneyError::CurrencyMismatch {
                expected: Currency::USD,
                found: Currency::EUR,
            }),
        );
    }

    #[test]
    fn place_with_overflowing_total_is_rejected() {
        let half = usd(i64::MAX / 2 + 1);
        then_error(
            when(
                &[],
                place_with(vec![line("A", 1, half), line("B", 1, half)]),
            ),
            Error::Money(MoneyError::Overflow),
        );
    }

    #[test]
    fn order_line_rejects_overflowing_total() {
        let sku = SkuCode::parse("A").expect("valid");
        let quantity = Quantity::new(2).expect("valid");
        assert_eq!(
            OrderLine::new(sku, quantity, usd(i64::MAX)),
            Err(MoneyError::Overflow)
        );
        let line = line("A", 3, usd(7));
        assert_eq!((line.unit_price(), line.line_total()), (usd(7), usd(21)));
        assert_eq!(line.quantity().get(), 3);
        assert_eq!(line.sku().as_str(), "A");
    }

    #[test]
    fn mark_reserved_moves_pending_to_reserved() {
        then(
            when(&history(Pending), Command::MarkReserved),
            vec![Event::Reserved],
        );
        then(when(&history(Reserved), Command::MarkReserved), vec![]);
        for from in [Confirmed, Shipped, Failed, Cancelled] {
            then_error(
                when(&history(from), Command::MarkReserved),
                invalid(from, Reserved),
            );
        }
    }

    #[test]
    fn record_payment_authorized_in_reserved() {
        let cmd = Command::RecordPaymentAuthorized {
            payment_id: PAYMENT,
            amount: usd(500),
        };
        then(when(&history(Reserved), cmd), vec![authorized()]);
        let mut events = history(Reserved);
        events.push(authorized());
        let payment = given(&events).payment().copied().expect("recorded");
        assert_eq!((payment.id(), payment.amount()), (PAYMENT, usd(500)));
        assert_eq!(payment.status(), PaymentStatus::Authorized);
        assert_eq!(given(&events).status(), Reserved);
    }

    #[test]
    fn record_payment_authorized_again_is_idempotent() {
        let cmd = Command::RecordPaymentAuthorized {
            payment_id: PAYMENT,
            amount: usd(500),
        };
        let mut events = history(Reserved);
        events.push(authorized());
        then(when(&events, cmd.clone()), vec![]);
        then(when(&history(Confirmed), cmd), vec![]);
    }

    #[test]
    fn record_payment_authorized_with_wrong_amount_is_rejected() {
        let cmd = Command::RecordPaymentAuthorized {
            payment_id: PAYMENT,
            amount: usd(499),
        };
        then_error(when(&history(Reserved), cmd), Error::PaymentAmountMismatch);
    }

    #[test]
    fn record_payment_authorized_outside_reserved_is_rejected() {
        let cmd = Command::RecordPaymentAuthorized {
            payment_id: OTHER_PAYMENT,
            amount: usd(500),
        };
        for from in [Pending, Confirmed, Failed, Cancelled] {
            then_error(when(&history(from), cmd.clone()), invalid(from, Reserved));
        }
    }

    #[test]
    fn record_payment_authorized_after_a_decline_replaces_it() {
        let cmd = Command::RecordPaymentAuthorized {
            payment_id: OTHER_PAYMENT,
            amount: usd(500),
        };
        let mut events = history(Reserved);
        events.push(declined());
        then(
            when(&events, cmd),
            vec![Event::PaymentAuthorized {
                payment_id: OTHER_PAYMENT,
                amount: usd(500),
            }],
        );
    }

    #[test]
    fn record_payment_declined_records_without_moving_status() {
        let cmd = Command::RecordPaymentDeclined {
            payment_id: PAYMENT,
            reason: FailureReason::PaymentDeclined,
        };
        then(when(&history(Reserved), cmd.clone()), vec![declined()]);
        let mut events = history(Reserved);
        events.push(declined());
        let order = given(&events);
        assert_eq!(order.status(), Reserved);
        assert_eq!(
            order.payment().map(Payment::status),
            Some(PaymentStatus::Declined)
        );
        then(when(&events, cmd), vec![]);
    }

    #[test]
    fn record_payment_declined_outside_reserved_is_rejected() {
        let cmd = Command::RecordPaymentDeclined {
            payment_id: PAYMENT,
            reason: FailureReason::PaymentTimeout,
        };
        for from in [Pending, Confirmed, Cancelled] {
            then_error(when(&history(from), cmd.clone()), invalid(from, Reserved));
        }
    }

    #[test]
    fn confirm_needs_an_authorized_payment() {
        let mut events = history(Reserved);
        events.push(authorized());
        then(when(&events, Command::Confirm), vec![Event::Confirmed]);
        then_error(
            when(&history(Reserved), Command::Confirm),
            Error::PaymentMissing,
        );
        let mut declined_events = history(Reserved);
        declined_events.push(declined());
        then_error(
            when(&declined_events, Command::Confirm),
            Error::PaymentMissing,
        );
    }

    #[test]
    fn confirm_again_is_idempotent_and_elsewhere_invalid() {
        then(when(&history(Confirmed), Command::Confirm), vec![]);
        for from in [Pending, FulfillmentRequested, Failed, Cancelled] {
            then_error(
                when(&history(from), Command::Confirm),
                invalid(from, Confirmed),
            );
        }
    }

    #[test]
    fn request_fulfillment_records_the_shipment() {
        let cmd = Command::RequestFulfillment {
            shipment_id: shipment(),
        };
        then(
            when(&history(Confirmed), cmd.clone()),
            vec![Event::FulfillmentRequested {
                shipment_id: shipment(),
            }],
        );
        let order = given(&history(FulfillmentRequested));
        assert_eq!(order.shipment_id(), Some(&shipment()));
        then(when(&history(FulfillmentRequested), cmd.clone()), vec![]);
        for from in [Pending, Reserved, Shipped, Cancelled] {
            then_error(
                when(&history(from), cmd.clone()),
                invalid(from, FulfillmentRequested),
            );
        }
    }

    #[test]
    fn request_fulfillment_with_another_shipment_is_rejected() {
        let cmd = Command::RequestFulfillment {
            shipment_id: ShipmentId::parse("SHP-2").expect("valid"),
        };
        then_error(
            when(&history(FulfillmentRequested), cmd),
            invalid(FulfillmentRequested, FulfillmentRequested),
        );
    }

    #[test]
    fn mark_shipped_and_delivered_follow_fulfilment() {
        then(
            when(&history(FulfillmentRequested), Command::MarkShipped),
            vec![Event::Shipped],
        );
        then(when(&history(Shipped), Command::MarkShipped), vec![]);
        then_error(
            when(&history(Confirmed), Command::MarkShipped),
            invalid(Confirmed, Shipped),
        );
        then(
            when(&history(Shipped), Command::MarkDelivered),
            vec![Event::Delivered],
        );
        then(when(&history(Delivered), Command::MarkDelivered), vec![]);
        then_error(
            when(&history(FulfillmentRequested), Command::MarkDelivered),
            invalid(FulfillmentRequested, Delivered),
        );
    }

    #[test]
    fn fail_before_confirmation_records_the_reason() {
        let cmd = Command::Fail {
            reason: FailureReason::PaymentTimeout,
        };
        let failed = Event::Failed {
            reason: FailureReason::PaymentTimeout,
        };
        then(when(&history(Pending), cmd.clone()), vec![failed.clone()]);
        then(when(&history(Reserved), cmd.clone()), vec![failed]);
        let order = given(&history(Failed));
        assert_eq!(order.failure_reason(), Some(FailureReason::OutOfStock));
        // The first reason wins; a later compensation does not rewrite it.
        then(when(&history(Failed), cmd.clone()), vec![]);
        for from in [Confirmed, Shipped, Delivered, Cancelled] {
            then_error(when(&history(from), cmd.clone()), invalid(from, Failed));
        }
    }

    #[test]
    fn cancel_is_allowed_until_shipment() {
        for from in [Pending, Reserved, Confirmed, FulfillmentRequested] {
            then(
                when(&history(from), Command::Cancel),
                vec![Event::Cancelled],
            );
        }
        then(when(&history(Cancelled), Command::Cancel), vec![]);
        for from in [Shipped, Delivered, Failed] {
            then_error(
                when(&history(from), Command::Cancel),
                invalid(from, Cancelled),
            );
        }
    }

    #[test]
    fn void_an_authorized_payment_of_an_ended_order() {
        let mut cancelled = history(Confirmed);
        cancelled.push(Event::Cancelled);
        then(
            when(&cancelled, Command::RecordPaymentVoided),
            vec![Event::PaymentVoided],
        );
        let mut failed = history(Reserved);
        failed.extend([
            authorized(),
            Event::Failed {
                reason: FailureReason::Interrupted,
            },
        ]);
        then(
            when(&failed, Command::RecordPaymentVoided),
            vec![Event::PaymentVoided],
        );
        cancelled.push(Event::PaymentVoided);
        let order = given(&cancelled);
        assert_eq!(
            order.payment().map(Payment::status),
            Some(PaymentStatus::Voided)
        );
        then(when(&cancelled, Command::RecordPaymentVoided), vec![]);
    }

    #[test]
    fn void_without_an_authorized_payment_is_rejected() {
        then_error(
            when(&history(Cancelled), Command::RecordPaymentVoided),
            Error::NoPaymentToVoid,
        );
        let mut declined_then_failed = history(Reserved);
        declined_then_failed.extend([
            declined(),
            Event::Failed {
                reason: FailureReason::PaymentDeclined,
            },
        ]);
        then_error(
            when(&declined_then_failed, Command::RecordPaymentVoided),
            Error::NoPaymentToVoid,
        );
    }

    #[test]
    fn void_of_a_live_order_is_rejected() {
        then_error(
            when(&history(Confirmed), Command::RecordPaymentVoided),
            invalid(Confirmed, Cancelled),
        );
    }

    #[test]
    fn transition_table_has_no_way_out_of_terminal_states() {
        for to in OrderStatus::ALL.iter().copied() {
            for terminal in [Delivered, Failed, Cancelled] {
                assert!(!can_transition(terminal, to), "{terminal} -> {to}");
            }
            assert!(!can_transition(to, to), "{to} -> {to}");
            assert!(!can_transition(to, Pending), "{to} -> pending");
        }
    }

    #[test]
    fn status_strings_round_trip() {
        for status in OrderStatus::ALL.iter().copied() {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        for reason in FailureReason::ALL.iter().copied() {
            assert_eq!(FailureReason::parse(reason.as_str()), Some(reason));
        }
        for status in PaymentStatus::ALL.iter().copied() {
            assert_eq!(PaymentStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(FulfillmentRequested.as_str(), "fulfillment_requested");
        assert_eq!(FailureReason::OutOfStock.as_str(), "out_of_stock");
        assert_eq!(OrderStatus::parse("Pending"), None);
    }

    #[test]
    fn snapshot_round_trips() {
        let order = given(&history(FulfillmentRequested));
        assert_eq!(Order::restore(order.snapshot()), Ok(order));
        assert_eq!(given(&[]).try_snapshot(), None);
    }

    #[test]
    fn restore_rejects_inconsistent_lines() {
        let snapshot = given(&history(Pending)).snapshot();
        let mut wrong_total = snapshot.clone();
        wrong_total.total = usd(501);
        assert!(Order::restore(wrong_total).is_err());
        let mut no_lines = snapshot.clone();
        no_lines.lines.clear();
        assert!(Order::restore(no_lines).is_err());
        let mut too_many = snapshot;
        too_many.lines = vec![line("A", 1, usd(0)); ORDER_LINES_MAX + 1];
        too_many.total = usd(0);
        assert!(Order::restore(too_many).is_err());
    }

    #[test]
    fn address_is_trimmed_and_validated() {
        let address =
            ShippingAddress::parse(" Ada ", "1 Main", Some("  "), "X", "1", "DE").expect("valid");
        assert_eq!((address.name(), address.line1()), ("Ada", "1 Main"));
        assert_eq!((address.line2(), address.city()), (None, "X"));
        assert_eq!(
            (address.postal_code(), address.country().as_str()),
            ("1", "DE")
        );
        let with_line2 = ShippingAddress::parse("A", "B", Some(" Apt 2 "), "C", "D", "FR");
        assert_eq!(
            with_line2.map(|a| a.line2().map(str::to_owned)),
            Ok(Some("Apt 2".into()))
        );
    }

    #[test]
    fn address_rejections_name_the_field() {
        let parse = |name: &str, line2: Option<&str>, city: &str, country: &str| {
            ShippingAddress::parse(name, "1 Main", line2, city, "12345", country)
        };
        assert_eq!(
            parse(" ", None, "X", "US"),
            Err(AddressError::Missing { field: "name" })
        );
        assert_eq!(
            parse("A", None, "", "US"),
            Err(AddressError::Missing { field: "city" })
        );
        let long = "x".repeat(ADDRESS_FIELD_CHARS_MAX + 1);
        assert_eq!(
            parse("A", Some(&long), "X", "US"),
            Err(AddressError::TooLong {
                field: "line2",
                max: ADDRESS_FIELD_CHARS_MAX
            })
        );
        assert_eq!(
            parse("A\u{7}", None, "X", "US"),
            Err(AddressError::InvalidCharacter { field: "name" })
        );
        for country in ["us", "USA", "U", "", "1A", "ÜS"] {
            assert_eq!(
                parse("A", None, "X", country),
                Err(AddressError::InvalidCountry)
            );
        }
    }
}
