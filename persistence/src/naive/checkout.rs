//! Placing an order the classic way: decide in memory, ask the payment provider, then one
//! transaction that writes everything and takes the stock under the hot row's lock.

use actors::ports::{Authorization, GatewayError, Recorded, SagaRecord, SagaStep, StoreError};
use actors::AppError;
use domain::order::{self, FailureReason, OrderLine, ShippingAddress};
use domain::{cart, inventory, Cart, CartId, CustomerId, Order, OrderId, PaymentId};
use domain::{Quantity, SkuCode, Timestamp};
use sqlx::postgres::PgConnection;

use super::sql::{self, Outbox, ReservationRow};
use super::{decide, recorded, AnswerFormat, KeyClaim, NaiveSqlEngine, Placement, StoredAnswer};
use crate::error;

/// What one checkout places, before any of it is written.
struct Attempt {
    order_id: OrderId,
    customer: Option<CustomerId>,
    lines: Vec<OrderLine>,
    shipping_address: ShippingAddress,
    payment_token: String,
    /// The cart being checked out, already moved to `checked_out` in memory.
    cart: Option<CartCheckout>,
}

struct CartCheckout {
    expected_version: u64,
    cart: Cart,
    events: Vec<Recorded<cart::Event>>,
}

/// What the payment provider said.
enum Payment {
    Approved(PaymentId),
    Refused {
        reason: FailureReason,
        declined: Option<PaymentId>,
    },
}

/// How the checkout transaction ended.
enum Committed {
    Done,
    /// A line's SKU had too few units; the transaction rolled back.
    OutOfStock,
    /// Another request holds the key; the transaction rolled back.
    KeyTaken,
}

impl NaiveSqlEngine {
    /// Buy now: an order straight from SKUs at their current prices.
    pub async fn buy_now(
        &self,
        key: &KeyClaim,
        items: Vec<(SkuCode, Quantity)>,
        payment_token: String,
        shipping_address: ShippingAddress,
        format: &AnswerFormat,
    ) -> Result<Placement, AppError> {
        if let Some(seen) = self.seen(key).await? {
            return Ok(seen);
        }
        let mut lines = Vec::with_capacity(items.len());
        for (sku, quantity) in items {
            let price = self.price_for_sale(&sku).await?;
            lines.push(OrderLine::new(sku, quantity, price).map_err(AppError::Money)?);
        }
        let attempt = Attempt {
            order_id: new_order_id(),
            customer: None,
            lines,
            shipping_address,
            payment_token,
            cart: None,
        };
        self.place(key, attempt, format).await
    }

    /// Checks a cart out: the cart moves to `checked_out` in the order's transaction, under its
    /// version, so a cart changed meanwhile is a 409 `version_conflict` and nothing is written.
    pub async fn checkout(
        &self,
        key: &KeyClaim,
        cart_id: CartId,
        payment_token: String,
        shipping_address: ShippingAddress,
        format: &AnswerFormat,
    ) -> Result<Placement, AppError> {
        if let Some(seen) = self.seen(key).await? {
            return Ok(seen);
        }
        let mut cart = self.cart(cart_id).await?;
        let order_id = new_order_id();
        let expected_version = cart.version();
        let now = self.now();
        let cart_error = |e| match e {
            cart::Error::NotFound => AppError::CartNotFound,
            e => AppError::Cart(e),
        };
        let mut events = decide(&mut cart, &cart::Command::BeginCheckout { order_id }, now)
            .map_err(cart_error)?;
        let complete = cart::Command::CompleteCheckout { order_id };
        events.extend(decide(&mut cart, &complete, now).map_err(cart_error)?);
        let lines = cart
            .lines()
            .iter()
            .map(|l| OrderLine::new(l.sku().clone(), l.quantity(), l.unit_price()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(AppError::Money)?;
        let attempt = Attempt {
            order_id,
            customer: cart.customer(),
            lines,
            shipping_address,
            payment_token,
            cart: Some(CartCheckout {
                expected_version,
                cart,
                events,
            }),
        };
        self.place(key, attempt, format).await
    }

    /// The answer already given under `key`, if any.
    async fn seen(&self, key: &KeyClaim) -> Result<Option<Placement>, AppError> {
        let mut conn = self.pool.acquire().await.map_err(error::map)?;
        let row = sql::select_key(&mut conn, key).await?;
        Ok(row.map(|(request_hash, status, body)| {
            if request_hash != key.request_hash {
                return Placement::KeyReused;
            }
            match (status.and_then(|s| u16::try_from(s).ok()), body) {
                (Some(status), Some(body)) => Placement::Replay(StoredAnswer { status, body }),
                _ => Placement::InProgress,
            }
        }))
    }

    /// The answer of the request that won the key.
    async fn replay(&self, key: &KeyClaim) -> Result<Placement, AppError> {
        Ok(self.seen(key).await?.unwrap_or(Placement::InProgress))
    }

    async fn place(
        &self,
        key: &KeyClaim,
        attempt: Attempt,
        format: &AnswerFormat,
    ) -> Result<Placement, AppError> {
        // A look without a lock: a sold-out SKU is refused without charging anyone or queueing
        // on its row. The UPDATE's guard in the transaction is what actually decides.
        if !self.in_stock(&attempt.lines).await? {
            return self.refuse(key, attempt.order_id, format).await;
        }
        let now = self.now();
        let mut order = Order::new(attempt.order_id);
        let place = order::Command::Place {
            customer: attempt.customer,
            cart_id: attempt.cart.as_ref().map(|c| c.cart.id()),
            lines: attempt.lines.clone(),
            shipping_address: attempt.shipping_address.clone(),
            placed_at: now,
        };
        let events = decide(&mut order, &place, now).map_err(AppError::Order)?;
        match self.authorize(&order, &attempt.payment_token).await? {
            Payment::Approved(payment_id) => {
                self.confirm(key, &attempt, order, events, payment_id, format)
                    .await
            }
            Payment::Refused { reason, declined } => {
                let failed = Failure { reason, declined };
                self.fail(key, &attempt, order, events, failed, format)
                    .await
            }
        }
    }

    async fn in_stock(&self, lines: &[OrderLine]) -> Result<bool, AppError> {
        let skus: Vec<&str> = lines.iter().map(|l| l.sku().as_str()).collect();
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT sku, on_hand - reserved FROM inventory WHERE sku = ANY($1)")
                .bind(&skus)
                .fetch_all(&self.pool)
                .await
                .map_err(error::map)?;
        Ok(lines.iter().all(|line| {
            rows.iter().any(|(sku, available)| {
                sku == line.sku().as_str() && *available >= i64::from(line.quantity().get())
            })
        }))
    }

    /// Stores the out-of-stock answer under the key, unless another request answered it first.
    async fn refuse(
        &self,
        key: &KeyClaim,
        order_id: OrderId,
        format: &AnswerFormat,
    ) -> Result<Placement, AppError> {
        let mut conn = self.pool.acquire().await.map_err(error::map)?;
        let answer = (format.out_of_stock)();
        if sql::insert_answered_key(&mut conn, key, order_id, &answer, self.now()).await? {
            Ok(Placement::OutOfStock)
        } else {
            self.replay(key).await
        }
    }

    /// Asks the provider, outside any transaction: no lock waits on a network call.
    async fn authorize(&self, order: &Order, token: &str) -> Result<Payment, AppError> {
        let Some(total) = order.total() else {
            return Err(AppError::Order(order::Error::NoLines));
        };
        let call = self.gateways.payments.authorize(order.id(), total, token);
        let answer = match tokio::time::timeout(self.config.payment_timeout, call).await {
            Ok(answer) => answer,
            Err(_) => Err(GatewayError::Timeout),
        };
        match answer {
            Ok(Authorization::Approved { payment_id }) => Ok(Payment::Approved(payment_id)),
            Ok(Authorization::Declined { reason }) => {
                tracing::info!(order_id = %order.id(), %reason, "payment declined");
                Ok(Payment::Refused {
                    reason: FailureReason::PaymentDeclined,
                    declined: Some(PaymentId::from_u128(uuid::Uuid::new_v4().as_u128())),
                })
            }
            Err(GatewayError::Timeout) => {
                // The provider may still authorize after we gave up: void by order id.
                self.void(order.id(), None).await?;
                Ok(Payment::Refused {
                    reason: FailureReason::PaymentTimeout,
                    declined: None,
                })
            }
            Err(GatewayError::Failed(e)) => Err(AppError::Gateway(e)),
        }
    }

    pub(super) async fn void(
        &self,
        order_id: OrderId,
        payment_id: Option<PaymentId>,
    ) -> Result<(), AppError> {
        self.gateways
            .payments
            .void(order_id, payment_id)
            .await
            .map_err(|e| AppError::Gateway(e.to_string()))
    }

    /// Withdraws the order's shipment request at the carrier.
    pub(super) async fn withdraw_shipment(&self, order_id: OrderId) -> Result<(), AppError> {
        self.gateways
            .shipping
            .cancel_shipment(order_id)
            .await
            .map_err(|e| AppError::Gateway(e.to_string()))
    }

    /// Moves the order to `fulfillment_requested` in memory, then commits it all at once. If the
    /// transaction does not commit, the authorization is voided and the shipment request
    /// withdrawn: nothing was sold.
    async fn confirm(
        &self,
        key: &KeyClaim,
        attempt: &Attempt,
        mut order: Order,
        mut events: Vec<Recorded<order::Event>>,
        payment_id: PaymentId,
        format: &AnswerFormat,
    ) -> Result<Placement, AppError> {
        let now = self.now();
        let amount = order
            .total()
            .ok_or(AppError::Order(order::Error::NoLines))?;
        for step in [
            order::Command::MarkReserved,
            order::Command::RecordPaymentAuthorized { payment_id, amount },
            order::Command::Confirm,
        ] {
            events.extend(decide(&mut order, &step, now).map_err(AppError::Order)?);
        }
        let shipping = self.gateways.shipping.request_shipment(order.id(), &order);
        let shipment_id = shipping
            .await
            .map_err(|e| AppError::Gateway(e.to_string()))?;
        let request = order::Command::RequestFulfillment { shipment_id };
        events.extend(decide(&mut order, &request, now).map_err(AppError::Order)?);
        let answer = (format.order)(&order);
        let committed = self
            .commit_confirmed(key, attempt, &order, &events, &answer)
            .await;
        if !matches!(committed, Ok(Committed::Done)) {
            self.void(order.id(), Some(payment_id)).await?;
            self.withdraw_shipment(order.id()).await?;
        }
        match committed? {
            Committed::Done => Ok(Placement::Placed(Box::new(order))),
            Committed::OutOfStock => self.refuse(key, order.id(), format).await,
            Committed::KeyTaken => self.replay(key).await,
        }
    }

    /// The one transaction of a confirmed checkout. The hot inventory rows are locked last, so
    /// each buyer holds a SKU's lock only for its last statements and the commit.
    async fn commit_confirmed(
        &self,
        key: &KeyClaim,
        attempt: &Attempt,
        order: &Order,
        events: &[Recorded<order::Event>],
        answer: &StoredAnswer,
    ) -> Result<Committed, AppError> {
        let now = self.now();
        let mut tx = self.pool.begin().await.map_err(error::map)?;
        // Returning early drops `tx`, which rolls it back.
        if !sql::insert_answered_key(&mut tx, key, order.id(), answer, now).await? {
            return Ok(Committed::KeyTaken);
        }
        let mut outbox =
            write_order(&mut tx, attempt, order, events, SagaStep::Completed, now).await?;
        if let Some(checkout) = &attempt.cart {
            write_cart(&mut tx, checkout, now).await?;
            outbox.push("cart", &checkout.cart.id().to_string(), &checkout.events)?;
        }
        if !take_stock(
            &mut tx,
            order,
            self.reservation_expiry(now),
            now,
            &mut outbox,
        )
        .await?
        {
            return Ok(Committed::OutOfStock);
        }
        outbox.insert(&mut tx).await?;
        tx.commit().await.map_err(error::map)?;
        Ok(Committed::Done)
    }

    /// Records a refused payment: the order fails as the saga fails it, and no stock moves.
    async fn fail(
        &self,
        key: &KeyClaim,
        attempt: &Attempt,
        mut order: Order,
        mut events: Vec<Recorded<order::Event>>,
        failure: Failure,
        format: &AnswerFormat,
    ) -> Result<Placement, AppError> {
        let now = self.now();
        let reason = failure.reason;
        let mut steps = Vec::new();
        if let Some(payment_id) = failure.declined {
            steps.push(order::Command::MarkReserved);
            steps.push(order::Command::RecordPaymentDeclined { payment_id, reason });
        }
        steps.push(order::Command::Fail { reason });
        for step in &steps {
            events.extend(decide(&mut order, step, now).map_err(AppError::Order)?);
        }
        let answer = (format.order)(&order);
        let mut tx = self.pool.begin().await.map_err(error::map)?;
        if !sql::insert_answered_key(&mut tx, key, order.id(), &answer, now).await? {
            return self.replay(key).await;
        }
        let failed = SagaStep::Failed;
        let outbox = write_order(&mut tx, attempt, &order, &events, failed, now).await?;
        outbox.insert(&mut tx).await?;
        tx.commit().await.map_err(error::map)?;
        Ok(Placement::Placed(Box::new(order)))
    }

    fn reservation_expiry(&self, now: Timestamp) -> Timestamp {
        let ttl_ms = i64::try_from(self.config.reservation_ttl.as_millis()).unwrap_or(i64::MAX);
        now.plus_ms(ttl_ms)
    }
}

struct Failure {
    reason: FailureReason,
    declined: Option<PaymentId>,
}

fn new_order_id() -> OrderId {
    OrderId::from_u128(uuid::Uuid::new_v4().as_u128())
}

/// Writes the order with its lines, payment and saga row; returns the outbox with its events.
async fn write_order(
    conn: &mut PgConnection,
    attempt: &Attempt,
    order: &Order,
    events: &[Recorded<order::Event>],
    step: SagaStep,
    now: Timestamp,
) -> Result<Outbox, AppError> {
    let snapshot = order
        .try_snapshot()
        .ok_or_else(|| StoreError::Other("a placed order has no snapshot".to_owned()))?;
    sql::insert_order(conn, &snapshot, now).await?;
    let saga = SagaRecord {
        order_id: order.id(),
        cart_id: snapshot.cart_id,
        step,
        payment_token: attempt.payment_token.clone(),
        failure_reason: snapshot.failure_reason.map(|r| r.as_str().to_owned()),
        started_at: now,
        updated_at: now,
    };
    sql::upsert_saga(conn, &saga).await?;
    let mut outbox = Outbox::default();
    outbox.push("order", &order.id().to_string(), events)?;
    Ok(outbox)
}

async fn write_cart(
    conn: &mut PgConnection,
    checkout: &CartCheckout,
    now: Timestamp,
) -> Result<(), AppError> {
    let cart = &checkout.cart;
    let order_id = cart
        .status()
        .order_id()
        .map(|id| uuid::Uuid::from_u128(id.as_u128()));
    let updated = sqlx::query(
        "UPDATE carts SET status = $3, order_id = $4, version = $5, updated_at = from_unix_ms($6)
         WHERE cart_id = $1 AND version = $2",
    )
    .bind(uuid::Uuid::from_u128(cart.id().as_u128()))
    .bind(crate::convert::to_i64(
        checkout.expected_version,
        "cart version",
    )?)
    .bind(cart.status().as_str())
    .bind(order_id)
    .bind(crate::convert::to_i64(cart.version(), "cart version")?)
    .bind(now.unix_ms())
    .execute(conn)
    .await
    .map_err(error::map)?;
    if updated.rows_affected() == 1 {
        Ok(())
    } else {
        Err(AppError::Store(StoreError::Conflict))
    }
}

/// Takes every line's units under its row lock, in SKU order so two multi-line checkouts cannot
/// deadlock, and records each line's reservation as reserved and committed at once. `false`:
/// a line lacked stock, and the caller must roll back.
async fn take_stock(
    conn: &mut PgConnection,
    order: &Order,
    expires_at: Timestamp,
    now: Timestamp,
    outbox: &mut Outbox,
) -> Result<bool, AppError> {
    let mut lines: Vec<&OrderLine> = order.lines().iter().collect();
    lines.sort_by(|a, b| a.sku().as_str().cmp(b.sku().as_str()));
    let mut reservations = Vec::with_capacity(lines.len());
    for line in lines {
        let (sku, quantity) = (line.sku(), line.quantity());
        let Some(version) = sql::take_stock(conn, sku, quantity.get()).await? else {
            return Ok(false);
        };
        let reservation_id = actors::saga::reservation_id(order.id(), sku);
        let reserved = inventory::Event::Reserved {
            reservation_id,
            quantity,
            expires_at,
        };
        let committed = inventory::Event::Committed {
            reservation_id,
            quantity,
        };
        let events = [
            recorded(version.saturating_sub(1), now, reserved),
            recorded(version, now, committed),
        ];
        outbox.push("inventory", sku.as_str(), &events)?;
        reservations.push(ReservationRow {
            id: reservation_id.as_u128(),
            sku: sku.as_str(),
            quantity: i64::from(quantity.get()),
            status: "committed",
            expires_at_ms: expires_at.unix_ms(),
        });
    }
    sql::upsert_reservations(conn, &reservations, now).await?;
    Ok(true)
}
