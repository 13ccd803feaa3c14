//! The checkout saga: place the order, reserve every line (all or nothing), authorize payment,
//! confirm the order, commit the stock, request shipment.
//!
//! Durability: the saga record moves in the same transaction as the order change of its step
//! (`OrderCommand::with_saga`), so a step and the saga's knowledge of it are durable together.
//! Steps that follow each other without an external call are one order change: placing is one,
//! "reserved + payment authorized + confirmed" is one, "fulfillment requested" is one. Three
//! order commits per checkout, and the stock changes ride the SKU actors' group commits; the
//! stock commit runs beside the confirmation, since compensation returns committed stock too.
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
use domain::{cart, CartId, CustomerId, Order, OrderId, PaymentId, ReservationId};

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

/// Places the order and drives the saga to its end. Returns the order in its final state:
/// fulfillment requested, or failed with its reason.
pub async fn start(c: &Inner, plan: CheckoutPlan) -> Result<Order, AppError> {
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

/// From a placed order whose stock is reserved: authorize, then confirm and commit the stock
/// side by side; then complete.
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
    record.step = SagaStep::Confirmed;
    let confirm = vec![
        order::Command::MarkReserved,
        order::Command::RecordPaymentAuthorized {
            payment_id,
            amount: total,
        },
        order::Command::Confirm,
    ];
    // The stock is committed while the confirmation commits: they are different actors'
    // writes, and neither needs the other's. Should the confirmation fail, or the process die
    // between the two, compensation returns committed units as it releases held ones.
    let (confirmed, committed) = futures::join!(
        timed("confirm", c.saga_order(order.id(), confirm, &mut record)),
        timed("commit_stock", commit_stock(c, &order)),
    );
    match confirmed {
        Ok(confirmed) => {
            // A stock commit that failed is retried by recovery from the confirmed record.
            committed?;
            complete(c, record, confirmed).await
        }
        Err(AppError::Order(order::Error::InvalidTransition { .. })) => {
            // Cancelled while the provider was answering: the order cannot record the payment,
            // so void it here by the id the provider gave, then compensate. The stock commit
            // may have landed or lost to the cancellation's release; either way it goes back.
            void_at_provider(c, order.id(), Some(payment_id)).await?;
            record.step = SagaStep::Started;
            fail(c, record, &order, FailureReason::Interrupted, None).await
        }
        Err(e) => Err(e),
    }
}

/// From a confirmed order: commit the stock, close the cart, request shipment.
async fn finish(c: &Inner, record: SagaRecord, order: Order) -> Result<Order, AppError> {
    timed("commit_stock", commit_stock(c, &order)).await?;
    complete(c, record, order).await
}

/// From a confirmed order whose stock is committed: close the cart, request shipment.
async fn complete(c: &Inner, mut record: SagaRecord, order: Order) -> Result<Order, AppError> {
    if let Some(cart_id) = record.cart_id {
        match c
            .cart(
                cart_id,
                cart::Command::CompleteCheckout {
                    order_id: order.id(),
                },
            )
            .await
        {
            Ok(_) | Err(AppError::Cart(cart::Error::CheckoutMismatch)) => {}
            Err(e) => return Err(e),
        }
    }
    if order.status() != OrderStatus::Confirmed {
        // Already shipped onward, or cancelled after confirmation (its canceller compensates).
        return Ok(order);
    }
    let shipment_id = timed(
        "request_shipment",
        c.shipping.request_shipment(order.id(), &order),
    )
    .await
    .map_err(|e| AppError::Gateway(e.to_string()))?;
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
        SagaStep::Started => {
            // A payment may have been authorized and not recorded: void by order id.
            void_at_provider(c, order.id(), None).await?;
            fail(c, record, &order, FailureReason::Interrupted, None).await
        }
        SagaStep::Confirmed => finish(c, record, order).await,
        SagaStep::Compensating => compensate(c, record, order).await,
        SagaStep::Completed | SagaStep::Failed => Ok(order),
    }
}

/// Finishes a cancellation: stock back, payment voided, saga ended.
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
