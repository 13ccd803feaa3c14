//! A customer's basket, from creation to checkout.
//!
//! Prices are the catalog snapshot the caller took when the item was added;
//! the cart never looks prices up itself.

use std::fmt;

use crate::corrupt::{ensure, CorruptState};
use crate::ids::{CartId, CustomerId, OrderId, Quantity, SkuCode};
use crate::limits::{CART_LINES_MAX, CART_LINE_QUANTITY_MAX};
use crate::money::{Money, MoneyError};

/// Where a cart is in checkout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CartStatus {
    /// Lines may change.
    Open,
    /// An order is being placed from the cart; lines are frozen so the order
    /// matches what the customer saw.
    CheckingOut { order_id: OrderId },
    /// The order was placed; the cart is finished.
    CheckedOut { order_id: OrderId },
}

impl CartStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            CartStatus::Open => "open",
            CartStatus::CheckingOut { .. } => "checking_out",
            CartStatus::CheckedOut { .. } => "checked_out",
        }
    }

    /// The order this cart is (being) checked out into.
    pub fn order_id(&self) -> Option<OrderId> {
        match self {
            CartStatus::Open => None,
            CartStatus::CheckingOut { order_id } | CartStatus::CheckedOut { order_id } => {
                Some(*order_id)
            }
        }
    }
}

/// One SKU in the cart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartLine {
    sku: SkuCode,
    quantity: Quantity,
    /// The price when the SKU was first added; later additions keep it.
    unit_price: Money,
}

impl CartLine {
    pub fn restore(sku: SkuCode, quantity: Quantity, unit_price: Money) -> CartLine {
        CartLine {
            sku,
            quantity,
            unit_price,
        }
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

    pub fn line_total(&self) -> Result<Money, MoneyError> {
        self.unit_price.checked_mul(self.quantity.get())
    }
}

/// What a caller asks of a cart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Create {
        customer: Option<CustomerId>,
    },
    /// `unit_price` is the catalog snapshot taken by the caller.
    AddItem {
        sku: SkuCode,
        quantity: Quantity,
        unit_price: Money,
    },
    /// Zero removes the line.
    SetQuantity {
        sku: SkuCode,
        quantity: u32,
    },
    RemoveItem {
        sku: SkuCode,
    },
    BeginCheckout {
        order_id: OrderId,
    },
    CompleteCheckout {
        order_id: OrderId,
    },
    AbortCheckout {
        order_id: OrderId,
    },
}

/// What happened to a cart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Created {
        customer: Option<CustomerId>,
    },
    /// Carries the added quantity; on an existing line `apply` sums it and
    /// keeps the line's first price.
    ItemAdded {
        sku: SkuCode,
        quantity: Quantity,
        unit_price: Money,
    },
    QuantityChanged {
        sku: SkuCode,
        quantity: Quantity,
    },
    ItemRemoved {
        sku: SkuCode,
    },
    CheckoutStarted {
        order_id: OrderId,
    },
    CheckedOut {
        order_id: OrderId,
    },
    CheckoutAborted {
        order_id: OrderId,
    },
}

/// Why a cart command was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    NotFound,
    AlreadyExists,
    NotOpen {
        status: &'static str,
    },
    TooManyLines {
        max: usize,
    },
    LineQuantityExceeded {
        max: u32,
    },
    LineNotFound,
    Empty,
    CheckoutMismatch,
    /// A currency mismatch between lines, or a total that would overflow.
    Money(MoneyError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound => f.write_str("cart not found"),
            Error::AlreadyExists => f.write_str("cart already exists for another customer"),
            Error::NotOpen { status } => write!(f, "cart is {status}, not open"),
            Error::TooManyLines { max } => write!(f, "cart may hold at most {max} lines"),
            Error::LineQuantityExceeded { max } => {
                write!(f, "a cart line may hold at most {max} units")
            }
            Error::LineNotFound => f.write_str("cart has no line for this sku"),
            Error::Empty => f.write_str("cart is empty"),
            Error::CheckoutMismatch => f.write_str("cart is not checking out into this order"),
            Error::Money(e) => write!(f, "cart total: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<MoneyError> for Error {
    fn from(e: MoneyError) -> Self {
        Error::Money(e)
    }
}

/// A cart as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartSnapshot {
    pub id: CartId,
    pub customer: Option<CustomerId>,
    pub lines: Vec<CartLine>,
    pub status: CartStatus,
    pub version: u64,
}

/// The cart aggregate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cart {
    id: CartId,
    /// False until `Created`; actors hold a `Cart` for any id they are asked
    /// about, so existence is state rather than an `Option<Cart>`.
    exists: bool,
    /// `None` for guest carts.
    customer: Option<CustomerId>,
    /// At most `CART_LINES_MAX`, one per SKU, all in one currency, in the
    /// order they were added so the customer sees a stable list.
    lines: Vec<CartLine>,
    status: CartStatus,
    /// Number of events applied, for optimistic concurrency.
    version: u64,
}

impl Cart {
    pub fn new(id: CartId) -> Cart {
        Cart {
            id,
            exists: false,
            customer: None,
            lines: Vec::new(),
            status: CartStatus::Open,
            version: 0,
        }
    }

    /// Rebuilds a cart from storage, refusing state that breaks a limit.
    pub fn restore(s: CartSnapshot) -> Result<Cart, CorruptState> {
        let cart = Cart {
            id: s.id,
            exists: true,
            customer: s.customer,
            lines: s.lines,
            status: s.status,
            version: s.version,
        };
        cart.check_invariants()?;
        Ok(cart)
    }

    /// The stored form. Only existing carts are stored, so callers snapshot
    /// after an accepted command; `restore` marks the cart as existing.
    pub fn snapshot(&self) -> CartSnapshot {
        debug_assert!(self.exists, "snapshot of a cart that was never created");
        CartSnapshot {
            id: self.id,
            customer: self.customer,
            lines: self.lines.clone(),
            status: self.status,
            version: self.version,
        }
    }

    pub fn id(&self) -> CartId {
        self.id
    }

    pub fn exists(&self) -> bool {
        self.exists
    }

    pub fn customer(&self) -> Option<CustomerId> {
        self.customer
    }

    pub fn lines(&self) -> &[CartLine] {
        &self.lines
    }

    pub fn status(&self) -> CartStatus {
        self.status
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// The sum of line totals, or `None` for an empty cart (which has no
    /// currency yet).
    pub fn total(&self) -> Result<Option<Money>, MoneyError> {
        lines_total(&self.lines)
    }

    pub fn handle(&self, cmd: &Command) -> Result<Vec<Event>, Error> {
        match cmd {
            Command::Create { customer } => self.create(*customer),
            _ if !self.exists => Err(Error::NotFound),
            Command::AddItem {
                sku,
                quantity,
                unit_price,
            } => self.add_item(sku, *quantity, *unit_price),
            Command::SetQuantity { sku, quantity } => self.set_quantity(sku, *quantity),
            Command::RemoveItem { sku } => self.remove_item(sku),
            Command::BeginCheckout { order_id } => self.begin_checkout(*order_id),
            Command::CompleteCheckout { order_id } => self.complete_checkout(*order_id),
            Command::AbortCheckout { order_id } => self.abort_checkout(*order_id),
        }
    }

    fn create(&self, customer: Option<CustomerId>) -> Result<Vec<Event>, Error> {
        if !self.exists {
            return Ok(vec![Event::Created { customer }]);
        }
        // A retried create is harmless; a create for someone else is not.
        if self.customer == customer {
            Ok(vec![])
        } else {
            Err(Error::AlreadyExists)
        }
    }

    fn add_item(
        &self,
        sku: &SkuCode,
        quantity: Quantity,
        unit_price: Money,
    ) -> Result<Vec<Event>, Error> {
        self.ensure_open()?;
        self.ensure_currency(unit_price)?;
        let line_quantity = match self.line(sku) {
            Some(line) => line.quantity.get().saturating_add(quantity.get()),
            None if self.lines.len() >= CART_LINES_MAX => {
                return Err(Error::TooManyLines {
                    max: CART_LINES_MAX,
                })
            }
            None => quantity.get(),
        };
        ensure_line_quantity(line_quantity)?;
        let event = Event::ItemAdded {
            sku: sku.clone(),
            quantity,
            unit_price,
        };
        self.ensure_total_after(&event)?;
        Ok(vec![event])
    }

    fn set_quantity(&self, sku: &SkuCode, quantity: u32) -> Result<Vec<Event>, Error> {
        self.ensure_open()?;
        let line = self.line(sku).ok_or(Error::LineNotFound)?;
        let Ok(quantity) = Quantity::new(quantity) else {
            // Only zero fails here, since larger values are checked below
            // against a limit far under `Quantity::MAX`.
            return Ok(vec![Event::ItemRemoved { sku: sku.clone() }]);
        };
        ensure_line_quantity(quantity.get())?;
        if line.quantity == quantity {
            return Ok(vec![]);
        }
        let event = Event::QuantityChanged {
            sku: sku.clone(),
            quantity,
        };
        self.ensure_total_after(&event)?;
        Ok(vec![event])
    }

    fn remove_item(&self, sku: &SkuCode) -> Result<Vec<Event>, Error> {
        self.ensure_open()?;
        self.line(sku).ok_or(Error::LineNotFound)?;
        Ok(vec![Event::ItemRemoved { sku: sku.clone() }])
    }

    fn begin_checkout(&self, order_id: OrderId) -> Result<Vec<Event>, Error> {
        match self.status {
            CartStatus::Open if self.lines.is_empty() => Err(Error::Empty),
            CartStatus::Open => Ok(vec![Event::CheckoutStarted { order_id }]),
            // The checkout saga retries its first step; the same order id
            // means the step already happened.
            status if status.order_id() == Some(order_id) => Ok(vec![]),
            status => Err(Error::NotOpen {
                status: status.as_str(),
            }),
        }
    }

    fn complete_checkout(&self, order_id: OrderId) -> Result<Vec<Event>, Error> {
        match self.status {
            CartStatus::CheckingOut { order_id: current } if current == order_id => {
                Ok(vec![Event::CheckedOut { order_id }])
            }
            CartStatus::CheckedOut { order_id: current } if current == order_id => Ok(vec![]),
            _ => Err(Error::CheckoutMismatch),
        }
    }

    fn abort_checkout(&self, order_id: OrderId) -> Result<Vec<Event>, Error> {
        match self.status {
            CartStatus::CheckingOut { order_id: current } if current == order_id => {
                Ok(vec![Event::CheckoutAborted { order_id }])
            }
            CartStatus::Open => Ok(vec![]),
            _ => Err(Error::CheckoutMismatch),
        }
    }

    fn ensure_open(&self) -> Result<(), Error> {
        match self.status {
            CartStatus::Open => Ok(()),
            status => Err(Error::NotOpen {
                status: status.as_str(),
            }),
        }
    }

    /// A cart has one currency, set by its first line.
    fn ensure_currency(&self, price: Money) -> Result<(), Error> {
        match self.lines.first() {
            Some(first) if first.unit_price.currency() != price.currency() => {
                Err(Error::Money(MoneyError::CurrencyMismatch {
                    expected: first.unit_price.currency(),
                    found: price.currency(),
                }))
            }
            _ => Ok(()),
        }
    }

    /// Rejects an event after which the total could not be computed.
    ///
    /// Limits and currency are checked before, so the trial `apply` (on a
    /// copy of at most `CART_LINES_MAX` lines) only has overflow left to find.
    fn ensure_total_after(&self, event: &Event) -> Result<(), Error> {
        let mut next = self.clone();
        next.apply(event);
        next.total()?;
        Ok(())
    }

    fn line(&self, sku: &SkuCode) -> Option<&CartLine> {
        self.lines.iter().find(|line| &line.sku == sku)
    }

    fn line_mut(&mut self, sku: &SkuCode) -> Option<&mut CartLine> {
        self.lines.iter_mut().find(|line| &line.sku == sku)
    }

    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::Created { customer } => {
                self.exists = true;
                self.customer = *customer;
                self.status = CartStatus::Open;
            }
            Event::ItemAdded {
                sku,
                quantity,
                unit_price,
            } => self.apply_item_added(sku, *quantity, *unit_price),
            Event::QuantityChanged { sku, quantity } => {
                if let Some(line) = self.line_mut(sku) {
                    line.quantity = *quantity;
                }
            }
            Event::ItemRemoved { sku } => self.lines.retain(|line| &line.sku != sku),
            Event::CheckoutStarted { order_id } => {
                self.status = CartStatus::CheckingOut {
                    order_id: *order_id,
                }
            }
            Event::CheckedOut { order_id } => {
                self.status = CartStatus::CheckedOut {
                    order_id: *order_id,
                }
            }
            Event::CheckoutAborted { .. } => self.status = CartStatus::Open,
        }
        self.version += 1;
        self.debug_assert_invariants();
    }

    fn apply_item_added(&mut self, sku: &SkuCode, quantity: Quantity, unit_price: Money) {
        match self.line_mut(sku) {
            Some(line) => line.quantity = line.quantity.saturating_add(quantity),
            None => self
                .lines
                .push(CartLine::restore(sku.clone(), quantity, unit_price)),
        }
    }

    fn debug_assert_invariants(&self) {
        debug_assert!(self.lines.len() <= CART_LINES_MAX, "too many cart lines");
        debug_assert!(
            self.lines
                .iter()
                .all(|line| line.quantity.get() <= CART_LINE_QUANTITY_MAX),
            "cart line quantity above limit"
        );
        debug_assert!(self.single_currency(), "cart mixes currencies");
        debug_assert!(self.distinct_skus(), "cart has duplicate skus");
    }

    fn check_invariants(&self) -> Result<(), CorruptState> {
        ensure(self.lines.len() <= CART_LINES_MAX, "cart: too many lines")?;
        ensure(
            self.lines
                .iter()
                .all(|line| line.quantity.get() <= CART_LINE_QUANTITY_MAX),
            "cart: line quantity above limit",
        )?;
        ensure(self.single_currency(), "cart: lines mix currencies")?;
        ensure(self.distinct_skus(), "cart: duplicate sku lines")?;
        ensure(self.total().is_ok(), "cart: total overflows")
    }

    fn single_currency(&self) -> bool {
        let mut currencies = self.lines.iter().map(|line| line.unit_price.currency());
        match currencies.next() {
            Some(first) => currencies.all(|c| c == first),
            None => true,
        }
    }

    /// Quadratic, but over at most `CART_LINES_MAX` lines.
    fn distinct_skus(&self) -> bool {
        self.lines
            .iter()
            .enumerate()
            .all(|(i, line)| self.lines[..i].iter().all(|other| other.sku != line.sku))
    }
}

fn ensure_line_quantity(quantity: u32) -> Result<(), Error> {
    if quantity > CART_LINE_QUANTITY_MAX {
        return Err(Error::LineQuantityExceeded {
            max: CART_LINE_QUANTITY_MAX,
        });
    }
    Ok(())
}

/// Sums line totals with checked arithmetic; `None` when there are no lines.
fn lines_total(lines: &[CartLine]) -> Result<Option<Money>, MoneyError> {
    let mut total: Option<Money> = None;
    for line in lines {
        let line_total = line.line_total()?;
        total = Some(match total {
            Some(sum) => sum.checked_add(line_total)?,
            None => line_total,
        });
    }
    Ok(total)
}
