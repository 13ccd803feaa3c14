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
