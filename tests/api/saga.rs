//! The checkout saga below the HTTP edge, on the real Postgres store. Racing a cancellation: the
//! payment provider is the one part replaced, by a gate that holds an authorization until the
//! test lets it answer, so the cancellation lands exactly while the saga waits for the provider.
//! A carrier that is down: the shipping provider is replaced by one that fails while told to.

use crate::helpers::fresh_postgres_database;
use actors::hosted::HostedStore;
use actors::ports::{
    Authorization, GatewayError, PaymentGateway, SagaStep, ShippingGateway, SystemClock,
};
use actors::sandbox::{SandboxPayments, SandboxShipment, SandboxShipping, TOKEN_APPROVE};
use actors::{AppError, Commerce, CommerceConfig, Ports, Shopper};
use domain::{
    Cart, CartId, CartStatus, Currency, InventorySku, Money, Order, OrderId, OrderStatus,
    PaymentId, Product, ProductName, Quantity, ShipmentId, ShippingAddress, SkuCode,
};
use persistence::{PgStore, PoolConfig};
use runtime::{ActorSystem, EntityStore, RuntimeConfig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Approves every authorization, but only once `open` is notified; says when it is asked.
#[derive(Default)]
struct GatedPayments {
    asked: Notify,
    open: Notify,
    voided: AtomicBool,
}

#[async_trait::async_trait]
impl PaymentGateway for GatedPayments {
    async fn authorize(
        &self,
        _order_id: OrderId,
        _amount: Money,
        _token: &str,
    ) -> Result<Authorization, GatewayError> {
        self.asked.notify_one();
        self.open.notified().await;
        Ok(Authorization::Approved {
            payment_id: PaymentId::from_u128(uuid::Uuid::new_v4().as_u128()),
        })
    }

    async fn void(
        &self,
        _order_id: OrderId,
        _payment_id: Option<PaymentId>,
    ) -> Result<(), GatewayError> {
        self.voided.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// A shipping provider that is down while `down` is set, and otherwise the sandbox.
#[derive(Default)]
struct FlakyShipping {
    down: AtomicBool,
    sandbox: SandboxShipping,
}

#[async_trait::async_trait]
impl ShippingGateway for FlakyShipping {
    async fn request_shipment(
        &self,
        order_id: OrderId,
        order: &Order,
    ) -> Result<ShipmentId, GatewayError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(GatewayError::Failed("the carrier is down".into()));
        }
        self.sandbox.request_shipment(order_id, order).await
    }

    async fn cancel_shipment(&self, order_id: OrderId) -> Result<(), GatewayError> {
        self.sandbox.cancel_shipment(order_id).await
    }
}

/// A commerce on a fresh Postgres database with these providers, and one product `sku` at
/// 9.90 USD with `units` in stock.
async fn commerce_with(
    payments: Arc<dyn PaymentGateway>,
    shipping: Arc<dyn ShippingGateway>,
    sku: &SkuCode,
    units: u32,
) -> (Commerce, ActorSystem) {
    let store = PgStore::connect(&fresh_postgres_database().await, &PoolConfig::default())
        .await
        .expect("store");
    let runtime = RuntimeConfig {
        arbiters: 2,
        shards: 4,
        ..RuntimeConfig::default()
    };
    let system = ActorSystem::start(runtime.arbiters).expect("actor system");
    let ports = Ports {
        store: Arc::new(store),
        payments,
        shipping,
        clock: Arc::new(SystemClock),
    };
    let config = CommerceConfig {
        payment_timeout: Duration::from_secs(30),
        ..CommerceConfig::default()
    };
    let commerce = Commerce::new(&system, &runtime, config, ports);
    let usd = Currency::parse("USD").expect("usd");
    commerce
        .define_product(
            sku.clone(),
            ProductName::parse("Racer").expect("name"),
            Money::new(990, usd).expect("money"),
            true,
        )
        .await
        .expect("product");
    commerce
        .restock(sku.clone(), Quantity::new(units).expect("quantity"))
        .await
        .expect("restock");
    (commerce, system)
}

fn address() -> ShippingAddress {
    ShippingAddress::parse("Ada", "1 Main St", None, "London", "SW1", "GB").expect("address")
}

async fn buy(
    commerce: &Commerce,
    order_id: OrderId,
    sku: &SkuCode,
    units: u32,
    token: &str,
) -> Result<Order, AppError> {
    commerce
        .buy_now(
            order_id,
            None,
            vec![(sku.clone(), Quantity::new(units).expect("quantity"))],
            token.into(),
            address(),
        )
        .await
}

/// Buys two units in a task of its own, and returns once the saga waits for the gated provider.
async fn buy_two_while_gated(
    commerce: &Commerce,
    payments: &GatedPayments,
    order_id: OrderId,
    sku: &SkuCode,
) -> tokio::task::JoinHandle<Result<Order, AppError>> {
    let buying = tokio::spawn({
        let (commerce, sku) = (commerce.clone(), sku.clone());
        async move { buy(&commerce, order_id, &sku, 2, "tok_gated").await }
    });
    tokio::time::timeout(Duration::from_secs(10), payments.asked.notified())
        .await
        .expect("the saga asks the provider");
    buying
}

/// Lets the gated provider answer and waits for the saga's answer.
async fn answer_gated(
    payments: &GatedPayments,
    buying: tokio::task::JoinHandle<Result<Order, AppError>>,
) -> Order {
    payments.open.notify_one();
    tokio::time::timeout(Duration::from_secs(10), buying)
        .await
        .expect("the saga ends")
        .expect("task")
        .expect("the saga answers with the order")
}

async fn saga_step(commerce: &Commerce, order_id: OrderId) -> SagaStep {
    commerce
        .store()
        .load_saga(order_id)
        .await
        .expect("load saga")
        .expect("saga record")
        .step
}

async fn stop(commerce: Commerce, system: ActorSystem) {
    let _ = commerce.shutdown(Duration::from_secs(5)).await;
    let _ = tokio::task::spawn_blocking(move || system.shutdown()).await;
}

fn new_order_id() -> OrderId {
    OrderId::from_u128(uuid::Uuid::new_v4().as_u128())
}

#[tokio::test]
async fn an_order_cancelled_while_its_payment_authorizes_gets_its_stock_back_and_its_payment_voided(
) {
    let payments = Arc::new(GatedPayments::default());
    let shipping = Arc::new(SandboxShipping::new());
    let sku = SkuCode::parse("RACE-1").expect("sku");
    let (commerce, system) = commerce_with(payments.clone(), shipping.clone(), &sku, 3).await;

    let order_id = new_order_id();
    let buying = buy_two_while_gated(&commerce, &payments, order_id, &sku).await;
    let during = commerce.stock(sku.clone()).await.expect("stock");
    assert_eq!(
        during.reserved, 2,
        "the units are held while the provider answers"
    );

    let cancelled = commerce.cancel_order(order_id).await.expect("cancel");
    assert_eq!(cancelled.status(), OrderStatus::Cancelled);
    let outcome = answer_gated(&payments, buying).await;

    assert_eq!(outcome.status(), OrderStatus::Cancelled);
    let after = commerce.stock(sku.clone()).await.expect("stock");
    assert_eq!(
        (after.on_hand, after.reserved, after.sold, after.available),
        (3, 0, 0, 3),
        "every unit is back on the shelf"
    );
    assert!(
        payments.voided.load(Ordering::SeqCst),
        "the late authorization is voided"
    );
    assert_eq!(
        shipping.shipment(order_id),
        Some(SandboxShipment::Withdrawn),
        "the shipment requested ahead of the confirmation is withdrawn"
    );
    assert_eq!(
        saga_step(&commerce, order_id).await,
        SagaStep::Failed,
        "the saga ended"
    );
    stop(commerce, system).await;
}

#[tokio::test]
async fn recovery_leaves_a_saga_this_process_is_still_running_alone() {
    let payments = Arc::new(GatedPayments::default());
    let shipping = Arc::new(SandboxShipping::new());
    let sku = SkuCode::parse("SLOW-1").expect("sku");
    let (commerce, system) = commerce_with(payments.clone(), shipping.clone(), &sku, 3).await;

    let order_id = new_order_id();
    let buying = buy_two_while_gated(&commerce, &payments, order_id, &sku).await;
    // The saga's record is `started` and as old as recovery could ask, but its task is waiting
    // for the provider: it is slow, not stuck.
    let recovered = commerce
        .recover_sagas(Duration::ZERO)
        .await
        .expect("recovery");
    assert_eq!(recovered, 0, "recovery left the running saga alone");
    assert_eq!(
        commerce.order(order_id).await.expect("order").status(),
        OrderStatus::Pending
    );

    let outcome = answer_gated(&payments, buying).await;
    assert_eq!(outcome.status(), OrderStatus::FulfillmentRequested);
    assert!(!payments.voided.load(Ordering::SeqCst), "nothing voided");
    let stock = commerce.stock(sku.clone()).await.expect("stock");
    assert_eq!((stock.on_hand, stock.reserved, stock.sold), (1, 0, 2));
    assert_eq!(
        shipping.shipment(order_id),
        Some(SandboxShipment::Requested)
    );
    stop(commerce, system).await;
}

/// A payment provider that fails every authorization (and remembers voids).
#[derive(Default)]
struct BrokenPayments {
    voided: AtomicBool,
}

#[async_trait::async_trait]
impl PaymentGateway for BrokenPayments {
    async fn authorize(
        &self,
        _order_id: OrderId,
        _amount: Money,
        _token: &str,
    ) -> Result<Authorization, GatewayError> {
        Err(GatewayError::Failed("the provider is down".into()))
    }

    async fn void(
        &self,
        _order_id: OrderId,
        _payment_id: Option<PaymentId>,
    ) -> Result<(), GatewayError> {
        self.voided.store(true, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn recovery_fails_a_saga_whose_task_ended_midway_and_gives_everything_back() {
    let payments = Arc::new(BrokenPayments::default());
    let shipping = Arc::new(SandboxShipping::new());
    let sku = SkuCode::parse("MIDWAY-1").expect("sku");
    let (commerce, system) = commerce_with(payments.clone(), shipping.clone(), &sku, 3).await;

    let order_id = new_order_id();
    let outcome = buy(&commerce, order_id, &sku, 2, TOKEN_APPROVE).await;
    assert!(
        matches!(outcome, Err(AppError::Gateway(_))),
        "the provider's failure ends the task: {outcome:?}"
    );
    let stock = commerce.stock(sku.clone()).await.expect("stock");
    assert_eq!(stock.reserved, 2, "the units are still held");

    let recovered = commerce
        .recover_sagas(Duration::ZERO)
        .await
        .expect("recovery");
    assert_eq!(recovered, 1);
    let order = commerce.order(order_id).await.expect("order");
    assert_eq!(order.status(), OrderStatus::Failed);
    assert!(
        payments.voided.load(Ordering::SeqCst),
        "an authorization the order never recorded is voided by order id"
    );
    let stock = commerce.stock(sku.clone()).await.expect("stock");
    assert_eq!(
        (stock.on_hand, stock.reserved, stock.sold, stock.available),
        (3, 0, 0, 3)
    );
    assert_eq!(saga_step(&commerce, order_id).await, SagaStep::Failed);
    stop(commerce, system).await;
}

#[tokio::test]
async fn a_checkout_ends_with_its_shipment_requested_its_stock_sold_and_its_saga_completed() {
    let shipping = Arc::new(SandboxShipping::new());
    let sku = SkuCode::parse("SHIP-1").expect("sku");
    let payments = Arc::new(SandboxPayments::new(Duration::from_secs(5)));
    let (commerce, system) = commerce_with(payments, shipping.clone(), &sku, 3).await;

    let order_id = new_order_id();
    let order = buy(&commerce, order_id, &sku, 2, TOKEN_APPROVE)
        .await
        .expect("bought");
    assert_eq!(order.status(), OrderStatus::FulfillmentRequested);
    let stored = commerce.order(order_id).await.expect("order");
    assert_eq!(stored.status(), OrderStatus::FulfillmentRequested);
    assert_eq!(
        stored.shipment_id().map(|s| s.as_str().to_owned()),
        Some(format!("shp_{order_id}"))
    );
    assert_eq!(
        shipping.shipment(order_id),
        Some(SandboxShipment::Requested)
    );
    let stock = commerce.stock(sku.clone()).await.expect("stock");
    assert_eq!((stock.on_hand, stock.reserved, stock.sold), (1, 0, 2));
    assert_eq!(saga_step(&commerce, order_id).await, SagaStep::Completed);

    // Cancelling before shipment gives the units back and withdraws the shipment request.
    let cancelled = commerce.cancel_order(order_id).await.expect("cancel");
    assert_eq!(cancelled.status(), OrderStatus::Cancelled);
    assert_eq!(
        shipping.shipment(order_id),
        Some(SandboxShipment::Withdrawn)
    );
    let stock = commerce.stock(sku.clone()).await.expect("stock");
    assert_eq!((stock.on_hand, stock.reserved, stock.sold), (3, 0, 0));
    stop(commerce, system).await;
}

#[tokio::test]
async fn a_carts_checkout_ends_with_the_cart_checked_out_the_shipment_requested_and_the_saga_completed(
) {
    let shipping = Arc::new(SandboxShipping::new());
    let sku = SkuCode::parse("CART-1").expect("sku");
    let payments = Arc::new(SandboxPayments::new(Duration::from_secs(5)));
    let (commerce, system) = commerce_with(payments, shipping.clone(), &sku, 3).await;

    let cart = commerce.create_cart(None).await.expect("cart");
    commerce
        .add_item(
            Shopper::Guest,
            cart.id(),
            sku.clone(),
            Quantity::new(2).expect("quantity"),
        )
        .await
        .expect("added");
    let order_id = new_order_id();
    let order = commerce
        .checkout(cart.id(), order_id, TOKEN_APPROVE.into(), address())
        .await
        .expect("checked out");
    assert_eq!(order.status(), OrderStatus::FulfillmentRequested);
    assert_eq!(
        shipping.shipment(order_id),
        Some(SandboxShipment::Requested)
    );
    let cart = commerce.cart(cart.id()).await.expect("cart");
    assert_eq!(cart.status(), CartStatus::CheckedOut { order_id });
    assert_eq!(saga_step(&commerce, order_id).await, SagaStep::Completed);
    let stock = commerce.stock(sku.clone()).await.expect("stock");
    assert_eq!((stock.on_hand, stock.reserved, stock.sold), (1, 0, 2));
    stop(commerce, system).await;
}

#[tokio::test]
async fn a_carrier_down_at_checkout_leaves_the_order_confirmed_and_recovery_requests_its_shipment()
{
    let shipping = Arc::new(FlakyShipping::default());
    shipping.down.store(true, Ordering::SeqCst);
    let sku = SkuCode::parse("FLAKY-1").expect("sku");
    let payments = Arc::new(SandboxPayments::new(Duration::from_secs(5)));
    let (commerce, system) = commerce_with(payments, shipping.clone(), &sku, 3).await;

    let order_id = new_order_id();
    let outcome = buy(&commerce, order_id, &sku, 1, TOKEN_APPROVE).await;
    assert!(
        matches!(outcome, Err(AppError::Gateway(_))),
        "the carrier's failure is reported: {outcome:?}"
    );
    let order = commerce.order(order_id).await.expect("order");
    assert_eq!(
        order.status(),
        OrderStatus::Confirmed,
        "the shopper paid: the order is confirmed without its shipment"
    );
    let stock = commerce.stock(sku.clone()).await.expect("stock");
    assert_eq!((stock.on_hand, stock.reserved, stock.sold), (2, 0, 1));
    assert_eq!(
        saga_step(&commerce, order_id).await,
        SagaStep::Confirmed,
        "recovery will finish it"
    );

    shipping.down.store(false, Ordering::SeqCst);
    let recovered = commerce
        .recover_sagas(Duration::ZERO)
        .await
        .expect("recovery");
    assert_eq!(recovered, 1);
    let order = commerce.order(order_id).await.expect("order");
    assert_eq!(order.status(), OrderStatus::FulfillmentRequested);
    assert_eq!(
        shipping.sandbox.shipment(order_id),
        Some(SandboxShipment::Requested)
    );
    let stock = commerce.stock(sku.clone()).await.expect("stock");
    assert_eq!(
        (stock.on_hand, stock.reserved, stock.sold),
        (2, 0, 1),
        "the units were sold once"
    );
    stop(commerce, system).await;
}

/// `Sharding::ask_new` skips the store load only when the entity's store offers a fresh state;
/// new orders and carts must get one (their ids were just generated), or every checkout and
/// every new cart pays a read of a row that cannot exist. SKUs name existing things: they load.
#[tokio::test]
async fn new_orders_and_carts_start_from_nothing_without_a_store_read_and_skus_load() {
    let store: Arc<dyn actors::ports::Store> = Arc::new(
        PgStore::connect(&fresh_postgres_database().await, &PoolConfig::default())
            .await
            .expect("store"),
    );
    let clock: Arc<dyn actors::ports::Clock> = Arc::new(SystemClock);
    let sku = SkuCode::parse("FRESH-1").expect("sku");

    let order_id = OrderId::from_u128(uuid::Uuid::new_v4().as_u128());
    let orders = HostedStore::<Order>::new(store.clone(), clock.clone());
    assert!(orders.fresh(&order_id).is_some(), "orders activate fresh");

    let products = HostedStore::<Product>::new(store.clone(), clock.clone());
    let stock = HostedStore::<InventorySku>::new(store.clone(), clock.clone());
    let carts = HostedStore::<Cart>::new(store, clock);
    assert!(products.fresh(&sku).is_none(), "products load");
    assert!(stock.fresh(&sku).is_none(), "stock loads");
    let cart_id = CartId::from_u128(uuid::Uuid::new_v4().as_u128());
    assert!(carts.fresh(&cart_id).is_some(), "new carts activate fresh");
}
