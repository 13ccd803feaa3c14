//! How each domain aggregate is hosted: its command names, its view, the change it commits and
//! which store calls load and commit it.

use crate::hosted::Aggregate;
use crate::ports::{
    CartChange, InventoryChange, InventoryCounters, OrderChange, ProductChange, Recorded,
    SagaRecord, Store,
};
use domain::inventory::{self, InventorySku, Reservation};
use domain::{cart, catalog, order};
use domain::{Cart, CartId, Order, OrderId, Product, SkuCode, Timestamp};
use futures::future::BoxFuture;
use runtime::StoreError;
use std::sync::Arc;

impl Aggregate for Product {
    type Id = SkuCode;
    type Command = catalog::Command;
    type Event = catalog::Event;
    type Error = catalog::Error;
    type View = Product;
    type Change = ProductChange;
    const KIND: &'static str = "product";

    fn handle(
        &self,
        command: &catalog::Command,
        _now: Timestamp,
    ) -> Result<Vec<catalog::Event>, catalog::Error> {
        Product::handle(self, command)
    }
    fn apply(&mut self, event: &catalog::Event) {
        Product::apply(self, event)
    }
    fn version(&self) -> u64 {
        Product::version(self)
    }
    fn view(&self, _command: Option<&catalog::Command>) -> Product {
        self.clone()
    }
    fn change(
        &self,
        _command: &catalog::Command,
        expected_version: u64,
        events: Vec<Recorded<catalog::Event>>,
    ) -> ProductChange {
        ProductChange {
            expected_version,
            product: self.snapshot(),
            events,
        }
    }
    fn command_name(command: &catalog::Command) -> &'static str {
        match command {
            catalog::Command::Define { .. } => "define",
        }
    }
    fn load(store: Arc<dyn Store>, id: SkuCode) -> BoxFuture<'static, Result<Self, StoreError>> {
        Box::pin(async move { store.load_product(&id).await })
    }
    fn commit(
        store: Arc<dyn Store>,
        changes: Vec<ProductChange>,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(async move { store.commit_product(changes).await })
    }
    fn commit_many(
        store: Arc<dyn Store>,
        batches: Vec<Vec<ProductChange>>,
    ) -> BoxFuture<'static, Vec<Result<(), StoreError>>> {
        Box::pin(async move { store.commit_products_many(batches).await })
    }
}

/// Inventory commands: the domain's, plus a sweep that expires every overdue reservation at once.
#[derive(Clone, Debug)]
pub enum InventoryCommand {
    Domain(inventory::Command),
    ExpireDue,
}

/// What callers see of a SKU's stock; never the whole reservation map, which is large when hot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InventoryView {
    pub sku: SkuCode,
    pub on_hand: u64,
    pub reserved: u64,
    pub available: u64,
    pub sold: u64,
    pub version: u64,
    /// The reservation the command was about, in its state after the command.
    pub reservation: Option<Reservation>,
}

impl Aggregate for InventorySku {
    type Id = SkuCode;
    type Command = InventoryCommand;
    type Event = inventory::Event;
    type Error = inventory::Error;
    type View = InventoryView;
    type Change = InventoryChange;
    const KIND: &'static str = "inventory";

    fn handle(
        &self,
        command: &InventoryCommand,
        now: Timestamp,
    ) -> Result<Vec<inventory::Event>, inventory::Error> {
        match command {
            InventoryCommand::Domain(command) => InventorySku::handle(self, command, now),
            InventoryCommand::ExpireDue => {
                let mut events = Vec::new();
                for reservation_id in self.held_expired_before(now) {
                    events.extend(InventorySku::handle(
                        self,
                        &inventory::Command::Expire { reservation_id },
                        now,
                    )?);
                }
                Ok(events)
            }
        }
    }
    fn apply(&mut self, event: &inventory::Event) {
        InventorySku::apply(self, event)
    }
    fn version(&self) -> u64 {
        InventorySku::version(self)
    }
    fn view(&self, command: Option<&InventoryCommand>) -> InventoryView {
        let reservation = command
            .and_then(reservation_of)
            .and_then(|id| self.reservation(&id).cloned());
        InventoryView {
            sku: self.sku().clone(),
            on_hand: self.on_hand(),
            reserved: self.reserved(),
            available: self.available(),
            sold: self.sold(),
            version: InventorySku::version(self),
            reservation,
        }
    }
    fn change(
        &self,
        _command: &InventoryCommand,
        expected_version: u64,
        events: Vec<Recorded<inventory::Event>>,
    ) -> InventoryChange {
        let reservations = events
            .iter()
            .filter_map(|r| event_reservation(&r.event))
            .filter_map(|id| self.reservation(&id).cloned())
            .collect();
        InventoryChange {
            sku: self.sku().clone(),
            expected_version,
            counters: InventoryCounters {
                on_hand: self.on_hand(),
                reserved: self.reserved(),
                sold: self.sold(),
                version: InventorySku::version(self),
            },
            reservations,
            events,
        }
    }
    fn command_name(command: &InventoryCommand) -> &'static str {
        match command {
            InventoryCommand::Domain(inventory::Command::Restock { .. }) => "restock",
            InventoryCommand::Domain(inventory::Command::Reserve { .. }) => "reserve",
            InventoryCommand::Domain(inventory::Command::Release { .. }) => "release",
            InventoryCommand::Domain(inventory::Command::Commit { .. }) => "commit",
            InventoryCommand::Domain(inventory::Command::Expire { .. }) => "expire",
            InventoryCommand::Domain(inventory::Command::Return { .. }) => "return",
            InventoryCommand::ExpireDue => "expire_due",
        }
    }
    fn load(store: Arc<dyn Store>, id: SkuCode) -> BoxFuture<'static, Result<Self, StoreError>> {
        Box::pin(async move { store.load_inventory(&id).await })
    }
    fn commit(
        store: Arc<dyn Store>,
        changes: Vec<InventoryChange>,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(async move { store.commit_inventory(changes).await })
    }
    fn commit_many(
        store: Arc<dyn Store>,
        batches: Vec<Vec<InventoryChange>>,
    ) -> BoxFuture<'static, Vec<Result<(), StoreError>>> {
        Box::pin(async move { store.commit_inventory_many(batches).await })
    }
}

fn reservation_of(command: &InventoryCommand) -> Option<domain::ReservationId> {
    match command {
        InventoryCommand::Domain(
            inventory::Command::Reserve { reservation_id, .. }
            | inventory::Command::Release { reservation_id }
            | inventory::Command::Commit { reservation_id }
            | inventory::Command::Expire { reservation_id }
            | inventory::Command::Return { reservation_id },
        ) => Some(*reservation_id),
        _ => None,
    }
}

fn event_reservation(event: &inventory::Event) -> Option<domain::ReservationId> {
    match event {
        inventory::Event::Restocked { .. } => None,
        inventory::Event::Reserved { reservation_id, .. }
        | inventory::Event::Released { reservation_id, .. }
        | inventory::Event::Committed { reservation_id, .. }
        | inventory::Event::Expired { reservation_id, .. }
        | inventory::Event::Returned { reservation_id, .. } => Some(*reservation_id),
    }
}

impl Aggregate for Cart {
    type Id = CartId;
    type Command = cart::Command;
    type Event = cart::Event;
    type Error = cart::Error;
    type View = Cart;
    type Change = CartChange;
    const KIND: &'static str = "cart";

    fn handle(
        &self,
        command: &cart::Command,
        _now: Timestamp,
    ) -> Result<Vec<cart::Event>, cart::Error> {
        Cart::handle(self, command)
    }
    fn apply(&mut self, event: &cart::Event) {
        Cart::apply(self, event)
    }
    fn version(&self) -> u64 {
        Cart::version(self)
    }
    fn view(&self, _command: Option<&cart::Command>) -> Cart {
        self.clone()
    }
    fn change(
        &self,
        _command: &cart::Command,
        expected_version: u64,
        events: Vec<Recorded<cart::Event>>,
    ) -> CartChange {
        CartChange {
            expected_version,
            cart: self.snapshot(),
            events,
        }
    }
    fn fresh(id: &CartId) -> Option<Cart> {
        Some(Cart::new(*id))
    }
    fn command_name(command: &cart::Command) -> &'static str {
        match command {
            cart::Command::Create { .. } => "create",
            cart::Command::AddItem { .. } => "add_item",
            cart::Command::SetQuantity { .. } => "set_quantity",
            cart::Command::RemoveItem { .. } => "remove_item",
            cart::Command::BeginCheckout { .. } => "begin_checkout",
            cart::Command::CompleteCheckout { .. } => "complete_checkout",
            cart::Command::AbortCheckout { .. } => "abort_checkout",
            cart::Command::Claim { .. } => "claim",
        }
    }
    fn load(store: Arc<dyn Store>, id: CartId) -> BoxFuture<'static, Result<Self, StoreError>> {
        Box::pin(async move { store.load_cart(id).await })
    }
    fn commit(
        store: Arc<dyn Store>,
        changes: Vec<CartChange>,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(async move { store.commit_cart(changes).await })
    }
    fn commit_many(
        store: Arc<dyn Store>,
        batches: Vec<Vec<CartChange>>,
    ) -> BoxFuture<'static, Vec<Result<(), StoreError>>> {
        Box::pin(async move { store.commit_carts_many(batches).await })
    }
}

/// Order commands: one or more domain commands decided together as one change (steps of the
/// saga that follow each other without an external call in between commit once), optionally
/// with the saga record that moves with them.
#[derive(Clone, Debug)]
pub struct OrderCommand {
    pub steps: Vec<order::Command>,
    pub saga: Option<SagaRecord>,
}

impl OrderCommand {
    pub fn one(step: order::Command) -> Self {
        OrderCommand {
            steps: vec![step],
            saga: None,
        }
    }

    pub fn with_saga(steps: Vec<order::Command>, saga: SagaRecord) -> Self {
        OrderCommand {
            steps,
            saga: Some(saga),
        }
    }
}

impl Aggregate for Order {
    type Id = OrderId;
    type Command = OrderCommand;
    type Event = order::Event;
    type Error = order::Error;
    type View = Order;
    type Change = OrderChange;
    const KIND: &'static str = "order";

    fn handle(
        &self,
        command: &OrderCommand,
        _now: Timestamp,
    ) -> Result<Vec<order::Event>, order::Error> {
        match command.steps.as_slice() {
            [one] => Order::handle(self, one),
            steps => {
                // Each step decides on the state the previous steps left, so decide on a scratch
                // copy; all steps are accepted or none.
                let mut scratch = self.clone();
                let mut events = Vec::new();
                for step in steps {
                    for event in Order::handle(&scratch, step)? {
                        scratch.apply(&event);
                        events.push(event);
                    }
                }
                Ok(events)
            }
        }
    }
    fn apply(&mut self, event: &order::Event) {
        Order::apply(self, event)
    }
    fn version(&self) -> u64 {
        Order::version(self)
    }
    fn view(&self, _command: Option<&OrderCommand>) -> Order {
        self.clone()
    }
    fn change(
        &self,
        command: &OrderCommand,
        expected_version: u64,
        events: Vec<Recorded<order::Event>>,
    ) -> OrderChange {
        // An order exists once placed, so a change always has a full snapshot.
        OrderChange {
            expected_version,
            order: self.snapshot(),
            events,
            saga: command.saga.clone(),
        }
    }
    fn fresh(id: &OrderId) -> Option<Order> {
        Some(Order::new(*id))
    }
    fn command_name(command: &OrderCommand) -> &'static str {
        use order::Command as C;
        match command.steps.as_slice() {
            [C::Place { .. }] => "place",
            [C::Cancel] => "cancel",
            [C::Fail { .. }] => "fail",
            [C::RecordPaymentVoided] => "record_payment_voided",
            [C::RequestFulfillment { .. }] => "request_fulfillment",
            [.., C::Confirm] => "confirm",
            [.., C::Fail { .. }] => "fail",
            [_] => "step",
            _ => "steps",
        }
    }
    fn load(store: Arc<dyn Store>, id: OrderId) -> BoxFuture<'static, Result<Self, StoreError>> {
        Box::pin(async move { store.load_order(id).await })
    }
    fn commit(
        store: Arc<dyn Store>,
        changes: Vec<OrderChange>,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(async move { store.commit_order(changes).await })
    }
    fn commit_many(
        store: Arc<dyn Store>,
        batches: Vec<Vec<OrderChange>>,
    ) -> BoxFuture<'static, Vec<Result<(), StoreError>>> {
        Box::pin(async move { store.commit_orders_many(batches).await })
    }
}
