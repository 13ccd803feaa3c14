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
    /// A shopper logging in takes over the guest cart they filled before: the cart keeps its
    /// lines and from then on belongs to `customer`. Only an open guest cart can be claimed.
    Claim {
        customer: CustomerId,
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
    /// A guest cart now belongs to `customer`.
    Claimed {
        customer: CustomerId,
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
    /// The cart belongs to another customer, so it cannot be claimed.
    OwnedByAnother,
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
            Error::OwnedByAnother => f.write_str("cart belongs to another customer"),
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
            Command::Claim { customer } => self.claim(*customer),
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
        if quantity == 0 {
            return Ok(vec![Event::ItemRemoved { sku: sku.clone() }]);
        }
        ensure_line_quantity(quantity)?;
        // Zero and values above the line limit are handled above, and the
        // limit is far below `Quantity::MAX`, so this cannot fail.
        let quantity = Quantity::new(quantity).map_err(|_| Error::LineQuantityExceeded {
            max: CART_LINE_QUANTITY_MAX,
        })?;
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

    fn claim(&self, customer: CustomerId) -> Result<Vec<Event>, Error> {
        match self.customer {
            // A retried login attaches the same cart again: nothing to do.
            Some(owner) if owner == customer => Ok(vec![]),
            Some(_) => Err(Error::OwnedByAnother),
            None => {
                // A checked-out cart's order was placed as a guest and stays a guest order;
                // moving the cart alone would split the two.
                self.ensure_open()?;
                Ok(vec![Event::Claimed { customer }])
            }
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
            Event::Claimed { customer } => self.customer = Some(*customer),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    const ORDER: OrderId = OrderId::from_u128(7);
    const OTHER_ORDER: OrderId = OrderId::from_u128(8);
    const ALICE: CustomerId = CustomerId::from_u128(1);
    const BOB: CustomerId = CustomerId::from_u128(2);

    fn sku(s: &str) -> SkuCode {
        SkuCode::parse(s).expect("valid sku")
    }

    fn q(v: u32) -> Quantity {
        Quantity::new(v).expect("valid quantity")
    }

    fn usd(amount_minor: i64) -> Money {
        Money::new(amount_minor, Currency::USD).expect("valid money")
    }

    fn created() -> Event {
        Event::Created {
            customer: Some(ALICE),
        }
    }

    fn added(s: &str, quantity: u32, price: i64) -> Event {
        Event::ItemAdded {
            sku: sku(s),
            quantity: q(quantity),
            unit_price: usd(price),
        }
    }

    fn add(s: &str, quantity: u32, unit_price: Money) -> Command {
        Command::AddItem {
            sku: sku(s),
            quantity: q(quantity),
            unit_price,
        }
    }

    fn set(s: &str, quantity: u32) -> Command {
        Command::SetQuantity {
            sku: sku(s),
            quantity,
        }
    }

    fn given(events: &[Event]) -> Cart {
        let mut cart = Cart::new(CartId::from_u128(42));
        for event in events {
            cart.apply(event);
        }
        cart
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

    /// A cart with one line, checking out into `ORDER`.
    fn checking_out() -> Vec<Event> {
        vec![
            created(),
            added("A", 1, 100),
            Event::CheckoutStarted { order_id: ORDER },
        ]
    }

    fn checked_out() -> Vec<Event> {
        let mut history = checking_out();
        history.push(Event::CheckedOut { order_id: ORDER });
        history
    }

    /// A cart holding `CART_LINES_MAX` distinct SKUs.
    fn full_cart() -> Vec<Event> {
        let mut history = vec![created()];
        history.extend((0..CART_LINES_MAX).map(|i| added(&format!("S{i}"), 1, 1)));
        history
    }

    #[test]
    fn every_command_but_create_needs_an_existing_cart() {
        let commands = [
            add("A", 1, usd(1)),
            set("A", 1),
            Command::RemoveItem { sku: sku("A") },
            Command::BeginCheckout { order_id: ORDER },
            Command::CompleteCheckout { order_id: ORDER },
            Command::AbortCheckout { order_id: ORDER },
            Command::Claim { customer: ALICE },
        ];
        for cmd in commands {
            then_error(when(&[], cmd), Error::NotFound);
        }
    }

    #[test]
    fn create_emits_created() {
        let cmd = Command::Create {
            customer: Some(ALICE),
        };
        then(when(&[], cmd), vec![created()]);
        let cart = given(&[created()]);
        assert!(cart.exists());
        assert_eq!(cart.customer(), Some(ALICE));
        assert_eq!((cart.status(), cart.version()), (CartStatus::Open, 1));
        assert_eq!(cart.total(), Ok(None));
    }

    #[test]
    fn create_again_for_the_same_customer_is_idempotent() {
        let cmd = Command::Create {
            customer: Some(ALICE),
        };
        then(when(&[created()], cmd), vec![]);
    }

    fn guest_cart() -> Vec<Event> {
        vec![Event::Created { customer: None }, added("A", 2, 100)]
    }

    #[test]
    fn claim_gives_an_open_guest_cart_to_the_customer_with_its_lines() {
        then(
            when(&guest_cart(), Command::Claim { customer: BOB }),
            vec![Event::Claimed { customer: BOB }],
        );
        let mut history = guest_cart();
        history.push(Event::Claimed { customer: BOB });
        let cart = given(&history);
        assert_eq!(cart.customer(), Some(BOB));
        assert_eq!(cart.lines().len(), 1);
        assert_eq!(cart.status(), CartStatus::Open);
    }

    #[test]
    fn claim_by_the_owner_again_is_idempotent() {
        then(
            when(&[created()], Command::Claim { customer: ALICE }),
            vec![],
        );
    }

    #[test]
    fn claim_of_another_customers_cart_is_rejected() {
        then_error(
            when(&[created()], Command::Claim { customer: BOB }),
            Error::OwnedByAnother,
        );
    }

    #[test]
    fn claim_of_a_guest_cart_in_checkout_is_rejected() {
        let mut history = guest_cart();
        history.push(Event::CheckoutStarted { order_id: ORDER });
        then_error(
            when(&history, Command::Claim { customer: BOB }),
            Error::NotOpen {
                status: "checking_out",
            },
        );
    }

    #[test]
    fn create_again_for_another_customer_is_rejected() {
        for customer in [Some(BOB), None] {
            then_error(
                when(&[created()], Command::Create { customer }),
                Error::AlreadyExists,
            );
        }
    }

    #[test]
    fn add_item_adds_a_line() {
        then(
            when(&[created()], add("A", 2, usd(150))),
            vec![added("A", 2, 150)],
        );
        let cart = given(&[created(), added("A", 2, 150), added("B", 1, 99)]);
        assert_eq!(cart.lines().len(), 2);
        assert_eq!(cart.total(), Ok(Some(usd(399))));
    }

    #[test]
    fn add_existing_sku_sums_quantity_and_keeps_first_price() {
        then(
            when(&[created(), added("A", 2, 150)], add("A", 3, usd(999))),
            vec![added("A", 3, 999)],
        );
        let cart = given(&[created(), added("A", 2, 150), added("A", 3, 999)]);
        assert_eq!(cart.lines().len(), 1);
        let line = &cart.lines()[0];
        assert_eq!((line.sku(), line.quantity()), (&sku("A"), q(5)));
        assert_eq!(line.unit_price(), usd(150));
        assert_eq!(line.line_total(), Ok(usd(750)));
    }

    #[test]
    fn add_item_when_not_open_is_rejected() {
        then_error(
            given(&checking_out()).handle(&add("B", 1, usd(1))),
            Error::NotOpen {
                status: "checking_out",
            },
        );
        then_error(
            given(&checked_out()).handle(&add("B", 1, usd(1))),
            Error::NotOpen {
                status: "checked_out",
            },
        );
    }

    #[test]
    fn add_beyond_line_limit_is_rejected() {
        then_error(
            when(&full_cart(), add("NEW", 1, usd(1))),
            Error::TooManyLines {
                max: CART_LINES_MAX,
            },
        );
        // An existing SKU adds no line, so a full cart still accepts it.
        then(
            when(&full_cart(), add("S0", 1, usd(1))),
            vec![added("S0", 1, 1)],
        );
    }

    #[test]
    fn add_beyond_line_quantity_limit_is_rejected() {
        let exceeded = Error::LineQuantityExceeded {
            max: CART_LINE_QUANTITY_MAX,
        };
        then_error(
            when(&[created()], add("A", CART_LINE_QUANTITY_MAX + 1, usd(1))),
            exceeded,
        );
        let history = [created(), added("A", CART_LINE_QUANTITY_MAX, 1)];
        then_error(when(&history, add("A", 1, usd(1))), exceeded);
        then(
            when(&[created()], add("A", CART_LINE_QUANTITY_MAX, usd(1))),
            vec![added("A", CART_LINE_QUANTITY_MAX, 1)],
        );
    }

    #[test]
    fn add_in_another_currency_is_rejected() {
        let eur = Money::new(100, Currency::EUR).expect("valid");
        then_error(
            when(&[created(), added("A", 1, 100)], add("B", 1, eur)),
            Error::Money(MoneyError::CurrencyMismatch {
                expected: Currency::USD,
                found: Currency::EUR,
            }),
        );
    }

    #[test]
    fn add_that_would_overflow_the_total_is_rejected() {
        let huge = usd(i64::MAX / 2);
        let history = [created(), added("A", 1, i64::MAX / 2)];
        then_error(
            when(&history, add("B", 3, huge)),
            Error::Money(MoneyError::Overflow),
        );
        then_error(
            when(&history, add("A", 2, huge)),
            Error::Money(MoneyError::Overflow),
        );
    }

    #[test]
    fn set_quantity_changes_the_line() {
        then(
            when(&[created(), added("A", 2, 100)], set("A", 5)),
            vec![Event::QuantityChanged {
                sku: sku("A"),
                quantity: q(5),
            }],
        );
        let history = [
            created(),
            added("A", 2, 100),
            Event::QuantityChanged {
                sku: sku("A"),
                quantity: q(5),
            },
        ];
        assert_eq!(given(&history).total(), Ok(Some(usd(500))));
    }

    #[test]
    fn set_quantity_to_the_same_value_is_idempotent() {
        then(when(&[created(), added("A", 2, 100)], set("A", 2)), vec![]);
    }

    #[test]
    fn set_quantity_zero_removes_the_line() {
        then(
            when(&[created(), added("A", 2, 100)], set("A", 0)),
            vec![Event::ItemRemoved { sku: sku("A") }],
        );
    }

    #[test]
    fn set_quantity_on_a_missing_line_is_rejected() {
        then_error(when(&[created()], set("A", 3)), Error::LineNotFound);
        then_error(when(&[created()], set("A", 0)), Error::LineNotFound);
    }

    #[test]
    fn set_quantity_above_limit_is_rejected() {
        then_error(
            when(
                &[created(), added("A", 2, 100)],
                set("A", CART_LINE_QUANTITY_MAX + 1),
            ),
            Error::LineQuantityExceeded {
                max: CART_LINE_QUANTITY_MAX,
            },
        );
        then_error(
            when(&[created(), added("A", 2, 100)], set("A", u32::MAX)),
            Error::LineQuantityExceeded {
                max: CART_LINE_QUANTITY_MAX,
            },
        );
    }

    #[test]
    fn set_quantity_that_would_overflow_the_total_is_rejected() {
        let history = [created(), added("A", 1, i64::MAX / 2)];
        then_error(
            when(&history, set("A", 3)),
            Error::Money(MoneyError::Overflow),
        );
    }

    #[test]
    fn set_quantity_when_not_open_is_rejected() {
        then_error(
            given(&checking_out()).handle(&set("A", 2)),
            Error::NotOpen {
                status: "checking_out",
            },
        );
    }

    #[test]
    fn remove_item_removes_the_line() {
        let cmd = Command::RemoveItem { sku: sku("A") };
        then(
            when(&[created(), added("A", 2, 100)], cmd),
            vec![Event::ItemRemoved { sku: sku("A") }],
        );
        let cart = given(&[
            created(),
            added("A", 2, 100),
            Event::ItemRemoved { sku: sku("A") },
        ]);
        assert!(cart.lines().is_empty());
    }

    #[test]
    fn remove_missing_line_is_rejected() {
        let cmd = Command::RemoveItem { sku: sku("A") };
        then_error(when(&[created()], cmd), Error::LineNotFound);
    }

    #[test]
    fn remove_item_when_not_open_is_rejected() {
        let cmd = Command::RemoveItem { sku: sku("A") };
        then_error(
            given(&checked_out()).handle(&cmd),
            Error::NotOpen {
                status: "checked_out",
            },
        );
    }

    #[test]
    fn begin_checkout_freezes_the_cart() {
        let cmd = Command::BeginCheckout { order_id: ORDER };
        then(
            when(&[created(), added("A", 1, 100)], cmd),
            vec![Event::CheckoutStarted { order_id: ORDER }],
        );
        assert_eq!(
            given(&checking_out()).status(),
            CartStatus::CheckingOut { order_id: ORDER }
        );
    }

    #[test]
    fn begin_checkout_of_an_empty_cart_is_rejected() {
        let cmd = Command::BeginCheckout { order_id: ORDER };
        then_error(when(&[created()], cmd), Error::Empty);
    }

    #[test]
    fn begin_checkout_again_for_the_same_order_is_idempotent() {
        let cmd = Command::BeginCheckout { order_id: ORDER };
        then(given(&checking_out()).handle(&cmd), vec![]);
        then(given(&checked_out()).handle(&cmd), vec![]);
    }

    #[test]
    fn begin_checkout_for_another_order_is_rejected() {
        let cmd = Command::BeginCheckout {
            order_id: OTHER_ORDER,
        };
        then_error(
            given(&checking_out()).handle(&cmd),
            Error::NotOpen {
                status: "checking_out",
            },
        );
        then_error(
            given(&checked_out()).handle(&cmd),
            Error::NotOpen {
                status: "checked_out",
            },
        );
    }

    #[test]
    fn complete_checkout_finishes_the_cart() {
        let cmd = Command::CompleteCheckout { order_id: ORDER };
        then(
            given(&checking_out()).handle(&cmd),
            vec![Event::CheckedOut { order_id: ORDER }],
        );
        then(given(&checked_out()).handle(&cmd), vec![]);
        assert_eq!(
            given(&checked_out()).status(),
            CartStatus::CheckedOut { order_id: ORDER }
        );
    }

    #[test]
    fn complete_checkout_of_another_order_or_open_cart_is_rejected() {
        let other = Command::CompleteCheckout {
            order_id: OTHER_ORDER,
        };
        then_error(
            given(&checking_out()).handle(&other),
            Error::CheckoutMismatch,
        );
        then_error(
            given(&checked_out()).handle(&other),
            Error::CheckoutMismatch,
        );
        let same = Command::CompleteCheckout { order_id: ORDER };
        then_error(when(&[created()], same), Error::CheckoutMismatch);
    }

    #[test]
    fn abort_checkout_reopens_the_cart() {
        let cmd = Command::AbortCheckout { order_id: ORDER };
        then(
            given(&checking_out()).handle(&cmd),
            vec![Event::CheckoutAborted { order_id: ORDER }],
        );
        let mut history = checking_out();
        history.push(Event::CheckoutAborted { order_id: ORDER });
        assert_eq!(given(&history).status(), CartStatus::Open);
        then(given(&history).handle(&cmd), vec![]);
    }

    #[test]
    fn abort_checkout_of_another_order_or_finished_cart_is_rejected() {
        let other = Command::AbortCheckout {
            order_id: OTHER_ORDER,
        };
        then_error(
            given(&checking_out()).handle(&other),
            Error::CheckoutMismatch,
        );
        let same = Command::AbortCheckout { order_id: ORDER };
        then_error(given(&checked_out()).handle(&same), Error::CheckoutMismatch);
    }

    #[test]
    fn status_strings_and_order_ids() {
        assert_eq!(CartStatus::Open.as_str(), "open");
        assert_eq!(CartStatus::Open.order_id(), None);
        let checking = CartStatus::CheckingOut { order_id: ORDER };
        assert_eq!(
            (checking.as_str(), checking.order_id()),
            ("checking_out", Some(ORDER))
        );
        let done = CartStatus::CheckedOut { order_id: ORDER };
        assert_eq!(
            (done.as_str(), done.order_id()),
            ("checked_out", Some(ORDER))
        );
    }

    #[test]
    fn snapshot_round_trips() {
        let cart = given(&checking_out());
        assert_eq!(Cart::restore(cart.snapshot()), Ok(cart));
    }

    fn restore_with(lines: Vec<CartLine>) -> Result<Cart, CorruptState> {
        let mut snapshot = given(&[created()]).snapshot();
        snapshot.lines = lines;
        Cart::restore(snapshot)
    }

    fn line(s: &str, quantity: u32, price: Money) -> CartLine {
        CartLine::restore(sku(s), q(quantity), price)
    }

    #[test]
    fn restore_rejects_broken_limits() {
        let eur = Money::new(1, Currency::EUR).expect("valid");
        let too_many = (0..=CART_LINES_MAX)
            .map(|i| line(&format!("S{i}"), 1, usd(1)))
            .collect();
        assert!(restore_with(too_many).is_err());
        assert!(restore_with(vec![line("A", CART_LINE_QUANTITY_MAX + 1, usd(1))]).is_err());
        assert!(restore_with(vec![line("A", 1, usd(1)), line("B", 1, eur)]).is_err());
        assert!(restore_with(vec![line("A", 1, usd(1)), line("A", 2, usd(1))]).is_err());
        let huge = usd(i64::MAX);
        assert!(restore_with(vec![line("A", 2, huge)]).is_err());
        assert!(restore_with(vec![line("A", 1, usd(1)), line("B", 2, usd(1))]).is_ok());
    }
}
