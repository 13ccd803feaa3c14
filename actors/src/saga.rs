//! The checkout saga: reserve every line (all or nothing), authorize payment, confirm the order
//! and commit the stock, then request shipment. Each step's outcome is persisted in the saga
//! record before the next step starts, and every step is idempotent (deterministic reservation
//! ids, provider calls keyed by order id, order commands that are no-ops when repeated), so a
//! saga interrupted anywhere can be resumed or compensated from its record.

use crate::aggregates::{InventoryCommand, InventoryView};
use crate::app::Inner;
use crate::error::AppError;
use crate::ports::{Authorization, GatewayError, SagaRecord, SagaStep};
use domain::inventory::{self, ReservationStatus};
use domain::order::{self, FailureReason, OrderLine, OrderStatus, ShippingAddress};
use domain::{cart, CartId, CustomerId, Order, OrderId, ReservationId};

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

/// Places the order and drives the saga to its end. Returns the order in its final state:
/// confirmed (fulfillment requested) or failed with its reason.
pub async fn start(c: &Inner, plan: CheckoutPlan) -> Result<Order, AppError> {
    let now = c.clock.now();
    let mut record = SagaRecord {
        order_id: plan.order_id,
        cart_id: plan.cart_id,
        step: SagaStep::Started,
        payment_token: plan.payment_token,
        failure_reason: None,
        started_at: now,
        updated_at: now,
    };
    if let Err(e) = c.store.save_saga(&record).await {
        // Without a saga record nobody would ever finish this checkout: reopen the cart now.
        if let Some(cart_id) = plan.cart_id {
            let abort = cart::Command::AbortCheckout {
                order_id: plan.order_id,
            };
            if let Err(abort_error) = c.cart(cart_id, abort).await {
                tracing::warn!(%cart_id, error = %abort_error, "could not reopen the cart of a checkout that never started");
            }
        }
        return Err(e.into());
    }
    let place = order::Command::Place {
        customer: plan.customer,
        cart_id: plan.cart_id,
        lines: plan.lines,
        shipping_address: plan.shipping_address,
        placed_at: now,
    };
    match c.order(plan.order_id, place).await {
        Ok(_) | Err(AppError::Order(order::Error::AlreadyPlaced)) => {}
        Err(e) => {
            // Nothing was reserved yet: end the saga here so recovery does not pick it up.
            record.step = SagaStep::Failed;
            record.failure_reason = Some(FailureReason::Interrupted.as_str().to_string());
            save(c, &mut record).await?;
            if let Some(cart_id) = plan.cart_id {
                c.cart(
                    cart_id,
                    cart::Command::AbortCheckout {
                        order_id: plan.order_id,
                    },
                )
                .await?;
            }
            return Err(e);
        }
    }
    drive(c, record).await
}

/// Runs the saga from its recorded step to a terminal step.
pub async fn drive(c: &Inner, mut record: SagaRecord) -> Result<Order, AppError> {
    loop {
        record.step = match record.step {
            SagaStep::Started => reserve(c, &mut record).await?,
            SagaStep::Reserved => authorize(c, &mut record).await?,
            SagaStep::Authorized => confirm(c, &record).await?,
            SagaStep::Confirmed => ship(c, &record).await?,
            SagaStep::Compensating => compensate(c, &record).await?,
            SagaStep::Completed | SagaStep::Failed => return c.get_order(record.order_id).await,
        };
        save(c, &mut record).await?;
    }
}

/// Resumes a saga found in flight after a crash. Before payment nothing was promised to anyone,
/// so it is compensated; after payment the shopper has paid, so it goes forward.
pub async fn recover(c: &Inner, mut record: SagaRecord) -> Result<Order, AppError> {
    if matches!(record.step, SagaStep::Started | SagaStep::Reserved) {
        if c.load_order(record.order_id).await?.is_none() {
            record.step = SagaStep::Failed;
            record.failure_reason = Some(FailureReason::Interrupted.as_str().to_string());
            save(c, &mut record).await?;
            if let Some(cart_id) = record.cart_id {
                c.cart(
                    cart_id,
                    cart::Command::AbortCheckout {
                        order_id: record.order_id,
                    },
                )
                .await?;
            }
            return Err(AppError::OrderNotFound);
        }
        record.step = SagaStep::Compensating;
        record.failure_reason = Some(FailureReason::Interrupted.as_str().to_string());
        save(c, &mut record).await?;
    }
    drive(c, record).await
}

async fn save(c: &Inner, record: &mut SagaRecord) -> Result<(), AppError> {
    record.updated_at = c.clock.now();
    c.store.save_saga(record).await?;
    Ok(())
}

fn fail_with(record: &mut SagaRecord, reason: FailureReason) -> SagaStep {
    record.failure_reason = Some(reason.as_str().to_string());
    SagaStep::Compensating
}

async fn reserve(c: &Inner, record: &mut SagaRecord) -> Result<SagaStep, AppError> {
    let order = c.get_order(record.order_id).await?;
    if order.status() != OrderStatus::Pending {
        // Cancelled (or moved on) under the saga: compensation makes the stock whole again.
        return Ok(fail_with(record, FailureReason::Interrupted));
    }
    let expires_at = c
        .clock
        .now()
        .plus_ms(c.config.reservation_ttl.as_millis() as i64);
    for line in order.lines() {
        let reservation_id = reservation_id(record.order_id, line.sku());
        let reserve = inventory::Command::Reserve {
            reservation_id,
            quantity: line.quantity(),
            expires_at,
        };
        match c
            .inventory(line.sku().clone(), InventoryCommand::Domain(reserve))
            .await
        {
            Ok(view) if held(&view) => {}
            Ok(_) => return Ok(fail_with(record, FailureReason::Interrupted)),
            Err(AppError::Inventory(inventory::Error::OutOfStock { .. })) => {
                return Ok(fail_with(record, FailureReason::OutOfStock));
            }
            Err(e) => return Err(e),
        }
    }
    match c.order(record.order_id, order::Command::MarkReserved).await {
        Ok(_) => Ok(SagaStep::Reserved),
        Err(AppError::Order(order::Error::InvalidTransition { .. })) => {
            Ok(fail_with(record, FailureReason::Interrupted))
        }
        Err(e) => Err(e),
    }
}

fn held(view: &InventoryView) -> bool {
    view.reservation.as_ref().is_some_and(|r| {
        matches!(
            r.status(),
            ReservationStatus::Held | ReservationStatus::Committed
        )
    })
}

async fn authorize(c: &Inner, record: &mut SagaRecord) -> Result<SagaStep, AppError> {
    let order = c.get_order(record.order_id).await?;
    let Some(total) = order.total() else {
        return Ok(fail_with(record, FailureReason::Interrupted));
    };
    let call = c
        .payments
        .authorize(record.order_id, total, &record.payment_token);
    let answer = match tokio::time::timeout(c.config.payment_timeout, call).await {
        Ok(answer) => answer,
        Err(_) => Err(GatewayError::Timeout),
    };
    match answer {
        Ok(Authorization::Approved { payment_id }) => {
            let command = order::Command::RecordPaymentAuthorized {
                payment_id,
                amount: total,
            };
            match c.order(record.order_id, command).await {
                Ok(_) => Ok(SagaStep::Authorized),
                Err(AppError::Order(order::Error::InvalidTransition { .. })) => {
                    // Cancelled while the provider was answering: the order cannot record the
                    // payment, so compensation would not find it. Void it here, by the id the
                    // provider gave, or the authorization would stay open.
                    c.payments
                        .void(record.order_id, payment_id)
                        .await
                        .map_err(|e| AppError::Gateway(e.to_string()))?;
                    Ok(fail_with(record, FailureReason::Interrupted))
                }
                Err(e) => Err(e),
            }
        }
        Ok(Authorization::Declined { reason }) => {
            tracing::info!(order_id = %record.order_id, %reason, "payment declined");
            let payment_id = domain::PaymentId::from_u128(uuid::Uuid::new_v4().as_u128());
            let command = order::Command::RecordPaymentDeclined {
                payment_id,
                reason: FailureReason::PaymentDeclined,
            };
            match c.order(record.order_id, command).await {
                Ok(_) | Err(AppError::Order(_)) => {
                    Ok(fail_with(record, FailureReason::PaymentDeclined))
                }
                Err(e) => Err(e),
            }
        }
        Err(GatewayError::Timeout) => Ok(fail_with(record, FailureReason::PaymentTimeout)),
        Err(GatewayError::Failed(e)) => Err(AppError::Gateway(e)),
    }
}

async fn confirm(c: &Inner, record: &SagaRecord) -> Result<SagaStep, AppError> {
    let order = c.get_order(record.order_id).await?;
    for line in order.lines() {
        let reservation_id = reservation_id(record.order_id, line.sku());
        let commit = inventory::Command::Commit { reservation_id };
        c.inventory(line.sku().clone(), InventoryCommand::Domain(commit))
            .await?;
    }
    c.order(record.order_id, order::Command::Confirm).await?;
    if let Some(cart_id) = record.cart_id {
        c.cart(
            cart_id,
            cart::Command::CompleteCheckout {
                order_id: record.order_id,
            },
        )
        .await?;
    }
    Ok(SagaStep::Confirmed)
}

async fn ship(c: &Inner, record: &SagaRecord) -> Result<SagaStep, AppError> {
    let order = c.get_order(record.order_id).await?;
    if order.status() != OrderStatus::Confirmed {
        // Already requested, or cancelled after confirmation: nothing to ship.
        return Ok(SagaStep::Completed);
    }
    let shipment_id = c
        .shipping
        .request_shipment(record.order_id, &order)
        .await
        .map_err(|e| AppError::Gateway(e.to_string()))?;
    match c
        .order(
            record.order_id,
            order::Command::RequestFulfillment { shipment_id },
        )
        .await
    {
        Ok(_) | Err(AppError::Order(order::Error::InvalidTransition { .. })) => {
            Ok(SagaStep::Completed)
        }
        Err(e) => Err(e),
    }
}

/// Undoes what the saga did: releases (or returns) the stock, voids an authorized payment,
/// fails the order unless it was cancelled, and reopens the cart.
async fn compensate(c: &Inner, record: &SagaRecord) -> Result<SagaStep, AppError> {
    let order = c.get_order(record.order_id).await?;
    release_stock(c, &order).await?;
    let reason = record
        .failure_reason
        .as_deref()
        .and_then(FailureReason::parse)
        .unwrap_or(FailureReason::Interrupted);
    match c
        .order(record.order_id, order::Command::Fail { reason })
        .await
    {
        Ok(_) | Err(AppError::Order(order::Error::InvalidTransition { .. })) => {}
        Err(e) => return Err(e),
    }
    // Voiding needs a failed or cancelled order, so it comes after the order failed.
    void_payment(c, &c.get_order(record.order_id).await?).await?;
    if let Some(cart_id) = record.cart_id {
        match c
            .cart(
                cart_id,
                cart::Command::AbortCheckout {
                    order_id: record.order_id,
                },
            )
            .await
        {
            Ok(_) | Err(AppError::Cart(cart::Error::CheckoutMismatch)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(SagaStep::Failed)
}

/// Puts the order's units back: held reservations are released, committed ones returned.
pub async fn release_stock(c: &Inner, order: &Order) -> Result<(), AppError> {
    for line in order.lines() {
        let reservation_id = reservation_id(order.id(), line.sku());
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
                c.inventory(line.sku().clone(), InventoryCommand::Domain(back))
                    .await?;
            }
            Err(AppError::Inventory(inventory::Error::ReservationNotHeld { .. })) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Voids the order's payment if it is authorized.
pub async fn void_payment(c: &Inner, order: &Order) -> Result<(), AppError> {
    let Some(payment) = order.payment() else {
        return Ok(());
    };
    if payment.status() != order::PaymentStatus::Authorized {
        return Ok(());
    }
    c.payments
        .void(order.id(), payment.id())
        .await
        .map_err(|e| AppError::Gateway(e.to_string()))?;
    match c
        .order(order.id(), order::Command::RecordPaymentVoided)
        .await
    {
        Ok(_) | Err(AppError::Order(order::Error::NoPaymentToVoid)) => Ok(()),
        Err(e) => Err(e),
    }
}
