//! The checkout saga: place the order, reserve every line (all or nothing), authorize payment,
//! request shipment, commit the stock, confirm the order.
//!
//! Durability: the saga record moves in the same transaction as the order change of its step
//! (`OrderCommand::with_saga`), so a step and the saga's knowledge of it are durable together.
//! Steps that follow each other without an external call are one order change: placing is one,
//! "reserved + payment authorized + confirmed + fulfillment requested" is the other. The
//! provider calls (authorization, then the shipment request) come before that second change and
//! the stock commit right before it, so a buy-now is two order commits, and the stock changes
//! ride the SKU actors' group commits. A cart's checkout records the fulfillment request in a
//! third order commit, after closing the cart, so that a cart left open is recovery's to close.
//! Until the confirmation lands the record says `Started`, and compensation voids the payment,
//! withdraws the shipment request and returns committed stock like held stock.
//!
//! Idempotency: reservation ids derive from the order and SKU (a retry never reserves twice),
//! provider calls are keyed by the order id, and order commands that are repeated are no-ops, so
//! a saga interrupted anywhere is resumed or compensated from its record by `recover`.

use crate::aggregates::{InventoryCommand, InventoryView, OrderCommand};
use crate::app::Inner;
use crate::error::AppError;
use crate::ports::{Authorization, GatewayError, SagaRecord, SagaStep};
use domain::inventory::{self, ReservationStatus};
use domain::order::{self, FailureReason, OrderLine, OrderStatus, ShippingAddress};
use domain::{cart, CartId, CustomerId, Order, OrderId, PaymentId, ReservationId, ShipmentId};

/// Everything needed to start a checkout.
pub struct CheckoutPlan {
    pub order_id: OrderId,
    pub cart_id: Option<CartId>,
    pub customer: Option<CustomerId>,
    pub lines: Vec<OrderLine>,
    pub shipping_address: ShippingAddress,
    pub payment_token: String,
}

/// The reservation of one order line: derived, so a retried step reserves the same thing.
pub fn reservation_id(order_id: OrderId, sku: &domain::SkuCode) -> ReservationId {
    let namespace = uuid::Uuid::from_u128(order_id.as_u128());
    ReservationId::from_u128(uuid::Uuid::new_v5(&namespace, sku.as_str().as_bytes()).as_u128())
}

/// What the payment step concluded.
enum Payment {
    Approved(PaymentId),
    Refused {
        reason: FailureReason,
        declined: Option<PaymentId>,
    },
}

/// Marks a checkout as driven by this process until dropped, so recovery leaves it alone.
struct Running<'a> {
    sagas: &'a dashmap::DashMap<OrderId, ()>,
    order_id: OrderId,
}

impl<'a> Running<'a> {
    fn enter(c: &'a Inner, order_id: OrderId) -> Running<'a> {
        c.running_sagas.insert(order_id, ());
        Running {
            sagas: &c.running_sagas,
            order_id,
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.sagas.remove(&self.order_id);
    }
}

/// Places the order and drives the saga to its end. Returns the order in its final state:
/// fulfillment requested, or failed with its reason.
pub async fn start(c: &Inner, plan: CheckoutPlan) -> Result<Order, AppError> {
    // A saga whose task ends early (an error between two steps) leaves this set, and recovery
    // takes it over once its record is older than `saga_stuck_after`.
    let _running = Running::enter(c, plan.order_id);
    let now = c.clock.now();
    let record = SagaRecord {
        order_id: plan.order_id,
        cart_id: plan.cart_id,
        step: SagaStep::Started,
        payment_token: plan.payment_token,
        failure_reason: None,
        started_at: now,
        updated_at: now,
    };
    let place = order::Command::Place {
        customer: plan.customer,
        cart_id: plan.cart_id,
        lines: plan.lines,
        shipping_address: plan.shipping_address,
        placed_at: now,
    };
    // The saga record commits with the order, before any stock is touched: whatever the saga
    // reserves afterwards, recovery knows about and can give back promptly after a crash.
    // The order id was just generated: the actor starts from nothing instead of loading.
    let placed = timed(
        "place",
        crate::app::ask_new(
            &c.orders,
            plan.order_id,
            crate::hosted::Ask::Execute(OrderCommand::with_saga(vec![place], record.clone())),
            AppError::Order,
        ),
    );
    let order = match placed.await {
        Ok(order) => order,
        Err(e) => {
            // Nothing was written: reopen the cart so the shopper can try again.
            abort_cart(c, &record).await;
            return Err(e);
        }
    };
    match timed("reserve", reserve_all(c, order.id(), order.lines())).await? {
        Some(reason) => fail(c, record, &order, reason, None).await,
        None => forward(c, record, order).await,
    }
}

/// From a placed order whose stock is reserved: authorize, request the shipment, commit the
/// stock, then confirm the order, recording its fulfillment request in the same change for a
/// buy-now and after closing the cart for a cart's checkout.
async fn forward(c: &Inner, mut record: SagaRecord, order: Order) -> Result<Order, AppError> {
    let payment_id = match timed("authorize", authorize(c, &record, &order)).await? {
        Payment::Approved(payment_id) => payment_id,
        Payment::Refused { reason, declined } => {
            return fail(c, record, &order, reason, declined).await
        }
    };
    let Some(total) = order.total() else {
        return fail(c, record, &order, FailureReason::Interrupted, None).await;
    };
    // The shipment is requested before the confirmation, so that a buy-now's confirmation and
    // its fulfillment request are one order commit instead of two, as in the classic checkout.
    // Should the order not be confirmed after all, the request is withdrawn with the payment
    // (`abandon`, and recovery of a `Started` record). A provider failing here does not fail the
    // checkout: the order is confirmed without it and the request retried after.
    let shipment_id = match timed(
        "request_shipment",
        c.shipping.request_shipment(order.id(), &order),
    )
    .await
    {
        Ok(shipment_id) => Some(shipment_id),
        Err(e) => {
            tracing::warn!(order_id = %order.id(), error = %e, "shipment request failed; confirming without it");
            None
        }
    };
    // The stock is committed before the confirmation: a confirmed order's units are sold, and
    // the record that says so is the last write. Until then the record says `Started`, so a
    // crash anywhere before it is compensated, committed units returned like held ones.
    match timed("commit_stock", commit_stock(c, &order)).await {
        Ok(()) => {}
        // The reservation is no longer held: a cancellation released it while the provider
        // answered, or it expired.
        Err(AppError::Inventory(_)) => return abandon(c, record, &order, payment_id).await,
        Err(e) => return Err(e),
    }
    let mut steps = vec![
        order::Command::MarkReserved,
        order::Command::RecordPaymentAuthorized {
            payment_id,
            amount: total,
        },
        order::Command::Confirm,
    ];
    // A buy-now records its fulfillment request with the confirmation and is done. A cart's
    // checkout records it after closing the cart, so that until the cart is closed the record
    // says `confirmed` and recovery would close it; the request itself is already made (asking
    // again for the shipment is idempotent) and is withdrawn if the confirmation fails.
    let done = match &shipment_id {
        Some(shipment_id) if record.cart_id.is_none() => {
            steps.push(order::Command::RequestFulfillment {
                shipment_id: shipment_id.clone(),
            });
            record.step = SagaStep::Completed;
            true
        }
        _ => {
            record.step = SagaStep::Confirmed;
            false
        }
    };
    match timed("confirm", c.saga_order(order.id(), steps, &mut record)).await {
        Ok(confirmed) if done => Ok(confirmed),
        Ok(confirmed) => {
            close_cart(c, &record, &confirmed).await?;
            request_fulfillment(c, record, confirmed, shipment_id).await
        }
        // Cancelled while the provider was answering: the order cannot record the payment.
        Err(AppError::Order(order::Error::InvalidTransition { .. })) => {
            abandon(c, record, &order, payment_id).await
        }
        Err(e) => Err(e),
    }
}

/// An order that cannot be confirmed after its payment was authorized (cancelled or expired
/// meanwhile): voids the payment by the id the provider gave, withdraws the shipment request,
/// and compensates; the stock goes back whether it was still held or already committed.
async fn abandon(
    c: &Inner,
    record: SagaRecord,
    order: &Order,
    payment_id: PaymentId,
) -> Result<Order, AppError> {
    void_at_provider(c, order.id(), Some(payment_id)).await?;
    withdraw_shipment(c, order.id()).await?;
    fail(c, record, order, FailureReason::Interrupted, None).await
}

/// From a confirmed order whose fulfillment was not requested yet (a record from before
/// shipments were requested ahead of the confirmation, or a provider that failed then): commit
/// the stock, close the cart, request shipment.
async fn finish(c: &Inner, record: SagaRecord, order: Order) -> Result<Order, AppError> {
    timed("commit_stock", commit_stock(c, &order)).await?;
    close_cart(c, &record, &order).await?;
    request_fulfillment(c, record, order, None).await
}

/// Marks the cart of a checkout checked out, once its order is confirmed.
async fn close_cart(c: &Inner, record: &SagaRecord, order: &Order) -> Result<(), AppError> {
    let Some(cart_id) = record.cart_id else {
        return Ok(());
    };
    let complete = cart::Command::CompleteCheckout {
        order_id: order.id(),
    };
    match c.cart(cart_id, complete).await {
        Ok(_) | Err(AppError::Cart(cart::Error::CheckoutMismatch)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// From a confirmed order whose stock is committed: record its shipment, requesting it unless
/// `requested` already holds the provider's answer (asking again after a cancellation withdrew
/// it would request it anew).
async fn request_fulfillment(
    c: &Inner,
    mut record: SagaRecord,
    order: Order,
    requested: Option<ShipmentId>,
) -> Result<Order, AppError> {
    if order.status() != OrderStatus::Confirmed {
        // Already shipped onward, or cancelled after confirmation (its canceller compensates).
        return Ok(order);
    }
    let shipment_id = match requested {
        Some(shipment_id) => shipment_id,
        None => timed(
            "request_shipment",
            c.shipping.request_shipment(order.id(), &order),
        )
        .await
        .map_err(|e| AppError::Gateway(e.to_string()))?,
    };
    record.step = SagaStep::Completed;
    let request = vec![order::Command::RequestFulfillment { shipment_id }];
    match timed("fulfill", c.saga_order(order.id(), request, &mut record)).await {
        // Cancelled meanwhile: the cancellation owns the saga record from here.
        Err(AppError::Order(order::Error::InvalidTransition { .. })) => {
            c.get_order(order.id()).await
        }
        other => other,
    }
}

/// Runs one step of a checkout and records how long it took as
/// `checkout_step_duration_seconds{step}`, so an operator sees where a checkout's latency goes.
pub async fn timed<T>(step: &'static str, work: impl std::future::Future<Output = T>) -> T {
    let started = std::time::Instant::now();
    let outcome = work.await;
    metrics::histogram!("checkout_step_duration_seconds", "step" => step)
        .record(started.elapsed().as_secs_f64());
    outcome
}

/// Releases the stock, records the failure (and a declined payment) on the order together with
/// the saga's end, and reopens the cart. Stock goes back first: until the failure is recorded
/// the saga is still `Started`, and recovery would compensate it again, idempotently.
async fn fail(
    c: &Inner,
    mut record: SagaRecord,
    order: &Order,
    reason: FailureReason,
    declined: Option<PaymentId>,
) -> Result<Order, AppError> {
    metrics::counter!("saga_compensations_total", "reason" => reason.as_str()).increment(1);
    release_stock(c, order).await?;
    let mut steps = Vec::new();
    if let Some(payment_id) = declined {
        steps.push(order::Command::MarkReserved);
        steps.push(order::Command::RecordPaymentDeclined { payment_id, reason });
    }
    steps.push(order::Command::Fail { reason });
    record.step = SagaStep::Failed;
    record.failure_reason = Some(reason.as_str().to_string());
    let failed = match c.saga_order(order.id(), steps, &mut record).await {
        Ok(failed) => failed,
        Err(AppError::Order(_)) => {
            // The order moved on (cancelled): keep its state, end the saga on its own.
            save(c, &mut record).await?;
            c.get_order(order.id()).await?
        }
        Err(e) => return Err(e),
    };
    abort_cart(c, &record).await;
    Ok(failed)
}

/// Resumes a saga found in flight after a crash. Before confirmation nothing was promised to
/// anyone, so it is compensated; after confirmation the shopper has paid, so it goes forward.
pub async fn recover(c: &Inner, record: SagaRecord) -> Result<Order, AppError> {
    let Some(order) = c.load_order(record.order_id).await? else {
        // The order was never placed: nothing was reserved or charged.
        let mut record = record;
        record.step = SagaStep::Failed;
        record.failure_reason = Some(FailureReason::Interrupted.as_str().to_string());
        save(c, &mut record).await?;
        abort_cart(c, &record).await;
        return Err(AppError::OrderNotFound);
    };
    match record.step {
        SagaStep::Started => interrupt(c, record, order).await,
        SagaStep::Confirmed => finish(c, record, order).await,
        SagaStep::Compensating => compensate(c, record, order).await,
        SagaStep::Completed | SagaStep::Failed => Ok(order),
    }
}

/// Ends a saga found at `started`. The order is failed first, in one change with the saga at
/// `compensating`, and only then is anything given back. Recovery leaves the sagas this process
/// is running alone (`Inner::running_sagas`), but a record it read may still race a late
/// confirmation (of a process that died with its commit in flight), and this order of steps
/// keeps it from returning sold units under a confirmed order: once the order is failed nothing
/// can confirm it, and a confirmation that landed first makes the failure impossible, so
/// nothing is touched.
async fn interrupt(c: &Inner, mut record: SagaRecord, order: Order) -> Result<Order, AppError> {
    record.step = SagaStep::Compensating;
    record.failure_reason = Some(FailureReason::Interrupted.as_str().to_string());
    let fail = vec![order::Command::Fail {
        reason: FailureReason::Interrupted,
    }];
    let failed = match c.saga_order(order.id(), fail, &mut record).await {
        Ok(failed) => failed,
        // Confirmed or cancelled meanwhile: whoever did it ends the saga.
        Err(AppError::Order(order::Error::InvalidTransition { .. })) => {
            return c.get_order(order.id()).await
        }
        Err(e) => return Err(e),
    };
    compensate(c, record, failed).await
}

/// Finishes a cancellation, or an interrupted saga: stock back (held released, sold returned),
/// shipment request withdrawn, payment voided, saga ended.
pub async fn compensate(
    c: &Inner,
    mut record: SagaRecord,
    order: Order,
) -> Result<Order, AppError> {
    // The reason is one of `FailureReason::as_str` or "cancelled": a bounded label.
    let reason = record
        .failure_reason
        .clone()
        .unwrap_or_else(|| "unknown".into());
    metrics::counter!("saga_compensations_total", "reason" => reason).increment(1);
    release_stock(c, &order).await?;
    // By order id: a shipment requested ahead of a confirmation that never landed has no id on
    // the order.
    withdraw_shipment(c, order.id()).await?;
    if order.payment().is_none() {
        // Ended while the provider was answering: an authorization the order never recorded
        // may exist, and is voided by order id.
        void_at_provider(c, order.id(), None).await?;
    }
    record.step = SagaStep::Failed;
    let voided = void_payment(c, &order, &mut record).await?;
    if !voided {
        save(c, &mut record).await?;
    }
    abort_cart(c, &record).await;
    c.get_order(order.id()).await
}

async fn save(c: &Inner, record: &mut SagaRecord) -> Result<(), AppError> {
    record.updated_at = c.clock.now();
    c.store.save_saga(record).await?;
    Ok(())
}

async fn abort_cart(c: &Inner, record: &SagaRecord) {
    let Some(cart_id) = record.cart_id else {
        return;
    };
    let abort = cart::Command::AbortCheckout {
        order_id: record.order_id,
    };
    match c.saga_cart(cart_id, abort).await {
        Ok(_) | Err(AppError::Cart(cart::Error::CheckoutMismatch)) => {}
        // The reservation TTL and the cart's own retry path cover this; say so in the logs.
        Err(e) => {
            tracing::warn!(%cart_id, error = %e, "could not reopen the cart of a failed checkout")
        }
    }
}

/// Reserves every line, all or nothing. `Some(reason)` when a line cannot be reserved; the
/// caller's compensation releases whatever was reserved.
async fn reserve_all(
    c: &Inner,
    order_id: OrderId,
    lines: &[OrderLine],
) -> Result<Option<FailureReason>, AppError> {
    let expires_at = c
        .clock
        .now()
        .plus_ms(c.config.reservation_ttl.as_millis() as i64);
    let reservations = lines.iter().map(|line| {
        let reservation_id = reservation_id(order_id, line.sku());
        let reserve = inventory::Command::Reserve {
            reservation_id,
            quantity: line.quantity(),
            expires_at,
        };
        c.saga_inventory(line.sku().clone(), InventoryCommand::Domain(reserve))
    });
    let mut outcome = None;
    for answer in futures::future::join_all(reservations).await {
        match answer {
            Ok(view) if held(&view) => {}
            Ok(_) => outcome = outcome.or(Some(FailureReason::Interrupted)),
            Err(AppError::Inventory(inventory::Error::OutOfStock { .. })) => {
                outcome = Some(FailureReason::OutOfStock)
            }
            Err(e) => return Err(e),
        }
    }
    Ok(outcome)
}

fn held(view: &InventoryView) -> bool {
    view.reservation.as_ref().is_some_and(|r| {
        matches!(
            r.status(),
            ReservationStatus::Held | ReservationStatus::Committed
        )
    })
}

async fn authorize(c: &Inner, record: &SagaRecord, order: &Order) -> Result<Payment, AppError> {
    let Some(total) = order.total() else {
        return Ok(Payment::Refused {
            reason: FailureReason::Interrupted,
            declined: None,
        });
    };
    let call = c
        .payments
        .authorize(order.id(), total, &record.payment_token);
    let answer = match tokio::time::timeout(c.config.payment_timeout, call).await {
        Ok(answer) => answer,
        Err(_) => Err(GatewayError::Timeout),
    };
    match answer {
        Ok(Authorization::Approved { payment_id }) => Ok(Payment::Approved(payment_id)),
        Ok(Authorization::Declined { reason }) => {
            tracing::info!(order_id = %order.id(), %reason, "payment declined");
            let declined = PaymentId::from_u128(uuid::Uuid::new_v4().as_u128());
            Ok(Payment::Refused {
                reason: FailureReason::PaymentDeclined,
                declined: Some(declined),
            })
        }
        Err(GatewayError::Timeout) => {
            // The provider may still authorize after we gave up: void by order id.
            void_at_provider(c, order.id(), None).await?;
            Ok(Payment::Refused {
                reason: FailureReason::PaymentTimeout,
                declined: None,
            })
        }
        Err(GatewayError::Failed(e)) => Err(AppError::Gateway(e)),
    }
}

async fn commit_stock(c: &Inner, order: &Order) -> Result<(), AppError> {
    let commits = order.lines().iter().map(|line| {
        let commit = inventory::Command::Commit {
            reservation_id: reservation_id(order.id(), line.sku()),
        };
        c.saga_inventory(line.sku().clone(), InventoryCommand::Domain(commit))
    });
    for answer in futures::future::join_all(commits).await {
        answer?;
    }
    Ok(())
}

/// Puts the order's units back: held reservations are released, committed ones returned.
pub async fn release_stock(c: &Inner, order: &Order) -> Result<(), AppError> {
    let (order_id, lines) = (order.id(), order.lines());
    for line in lines {
        let reservation_id = reservation_id(order_id, line.sku());
        let release = inventory::Command::Release { reservation_id };
        match c
            .inventory(line.sku().clone(), InventoryCommand::Domain(release))
            .await
        {
            Ok(_) | Err(AppError::Inventory(inventory::Error::ReservationNotFound)) => {}
            Err(AppError::Inventory(inventory::Error::ReservationNotHeld {
                status: ReservationStatus::Committed,
            })) => {
                let back = inventory::Command::Return { reservation_id };
                c.saga_inventory(line.sku().clone(), InventoryCommand::Domain(back))
                    .await?;
            }
            Err(AppError::Inventory(inventory::Error::ReservationNotHeld { .. })) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn void_at_provider(
    c: &Inner,
    order_id: OrderId,
    payment_id: Option<PaymentId>,
) -> Result<(), AppError> {
    c.payments
        .void(order_id, payment_id)
        .await
        .map_err(|e| AppError::Gateway(e.to_string()))
}

async fn withdraw_shipment(c: &Inner, order_id: OrderId) -> Result<(), AppError> {
    c.shipping
        .cancel_shipment(order_id)
        .await
        .map_err(|e| AppError::Gateway(e.to_string()))
}

/// Voids the order's payment if it is authorized, recording it on the order together with
/// `record`. Returns whether the record was written that way.
pub async fn void_payment(
    c: &Inner,
    order: &Order,
    record: &mut SagaRecord,
) -> Result<bool, AppError> {
    let Some(payment) = order.payment() else {
        return Ok(false);
    };
    if payment.status() != order::PaymentStatus::Authorized {
        return Ok(false);
    }
    void_at_provider(c, order.id(), Some(payment.id())).await?;
    match c
        .order_with_saga(
            order.id(),
            vec![order::Command::RecordPaymentVoided],
            record,
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(AppError::Order(order::Error::NoPaymentToVoid)) => Ok(false),
        Err(e) => Err(e),
    }
}
