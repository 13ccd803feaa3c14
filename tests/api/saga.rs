//! The checkout saga below the HTTP edge, on the real Postgres store. Racing a cancellation: the
//! payment provider is the one part replaced, by a gate that holds an authorization until the
//! test lets it answer, so the cancellation lands exactly while the saga waits for the provider.

use crate::helpers::fresh_postgres_database;
use actors::hosted::HostedStore;
use actors::ports::{Authorization, GatewayError, PaymentGateway, SagaStep, SystemClock};
use actors::sandbox::SandboxShipping;
use actors::{Commerce, CommerceConfig, Ports};
use domain::{
    Cart, CartId, Currency, InventorySku, Money, Order, OrderId, OrderStatus, PaymentId, Product,
    ProductName, Quantity, ShippingAddress, SkuCode,
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

#[tokio::test]
async fn an_order_cancelled_while_its_payment_authorizes_gets_its_stock_back_and_its_payment_voided(
) {
    let store = PgStore::connect(&fresh_postgres_database().await, &PoolConfig::default())
        .await
        .expect("store");
    let runtime = RuntimeConfig {
        arbiters: 2,
        shards: 4,
        ..RuntimeConfig::default()
    };
    let system = ActorSystem::start(runtime.arbiters).expect("actor system");
    let payments = Arc::new(GatedPayments::default());
    let ports = Ports {
        store: Arc::new(store),
        payments: payments.clone(),
        shipping: Arc::new(SandboxShipping),
        clock: Arc::new(SystemClock),
    };
    let config = CommerceConfig {
        payment_timeout: Duration::from_secs(30),
        ..CommerceConfig::default()
    };
    let commerce = Commerce::new(&system, &runtime, config, ports);
    let sku = SkuCode::parse("RACE-1").expect("sku");
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
        .restock(sku.clone(), Quantity::new(3).expect("quantity"))
        .await
        .expect("restock");

    let order_id = OrderId::from_u128(uuid::Uuid::new_v4().as_u128());
    let buying = tokio::spawn({
        let (commerce, sku) = (commerce.clone(), sku.clone());
        async move {
            let address = ShippingAddress::parse("Ada", "1 Main St", None, "London", "SW1", "GB")
                .expect("address");
            commerce
                .buy_now(
                    order_id,
                    None,
                    vec![(sku, Quantity::new(2).expect("quantity"))],
                    "tok_gated".into(),
                    address,
                )
                .await
        }
    });
    tokio::time::timeout(Duration::from_secs(10), payments.asked.notified())
        .await
        .expect("the saga asks the provider");
    let during = commerce.stock(sku.clone()).await.expect("stock");
    assert_eq!(
        during.reserved, 2,
        "the units are held while the provider answers"
    );

    let cancelled = commerce.cancel_order(order_id).await.expect("cancel");
    assert_eq!(cancelled.status(), OrderStatus::Cancelled);
    payments.open.notify_one();
    let outcome = tokio::time::timeout(Duration::from_secs(10), buying)
        .await
        .expect("the saga ends")
        .expect("task")
        .expect("the saga answers with the order");

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
    let record = commerce
        .store()
        .load_saga(order_id)
        .await
        .expect("load saga")
        .expect("saga record");
    assert_eq!(record.step, SagaStep::Failed, "the saga ended");

    let _ = commerce.shutdown(Duration::from_secs(5)).await;
    let _ = tokio::task::spawn_blocking(move || system.shutdown()).await;
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
