//! Rows as both adapters read them (ids as `u128`, instants as unix ms), and their conversion
//! into domain aggregates. Each adapter decodes its own column types into these; everything
//! after that is shared, so the two stores cannot disagree on what a row means.

use actors::ports::{SagaRecord, SagaStep, StoreError};
use domain::cart::{CartLine, CartSnapshot, CartStatus};
use domain::catalog::{ProductName, ProductSnapshot};
use domain::inventory::{InventorySnapshot, Reservation, ReservationStatus};
use domain::order::{FailureReason, OrderLine, OrderSnapshot, OrderStatus, Payment, PaymentStatus};
use domain::{
    Cart, CartId, CustomerId, InventorySku, Order, OrderId, PaymentId, Product, ReservationId,
    ShipmentId, ShippingAddress, SkuCode,
};

use crate::convert::{corrupt, money, quantity, sku, timestamp, to_u64};

pub(crate) struct ProductRow {
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
    pub active: bool,
    pub version: i64,
}

pub(crate) fn product(sku: &SkuCode, row: ProductRow) -> Result<Product, StoreError> {
    Ok(Product::restore(ProductSnapshot {
        sku: sku.clone(),
        name: ProductName::parse(&row.name).map_err(|e| corrupt("product name", e))?,
        price: money(row.price_minor, &row.currency)?,
        active: row.active,
        version: to_u64(row.version, "product version")?,
    }))
}

pub(crate) struct InventoryRow {
    pub on_hand: i64,
    pub reserved: i64,
    pub sold: i64,
    pub version: i64,
}

pub(crate) struct ReservationRow {
    pub reservation_id: u128,
    pub quantity: i64,
    pub status: String,
    pub expires_at_ms: i64,
}

pub(crate) fn inventory(
    sku: &SkuCode,
    row: InventoryRow,
    reservations: Vec<ReservationRow>,
) -> Result<InventorySku, StoreError> {
    let reservations = reservations
        .into_iter()
        .map(reservation)
        .collect::<Result<Vec<_>, _>>()?;
    let snapshot = InventorySnapshot {
        sku: sku.clone(),
        on_hand: to_u64(row.on_hand, "inventory on_hand")?,
        reserved: to_u64(row.reserved, "inventory reserved")?,
        sold: to_u64(row.sold, "inventory sold")?,
        reservations,
        version: to_u64(row.version, "inventory version")?,
    };
    InventorySku::restore(snapshot).map_err(|e| corrupt("inventory", e))
}

fn reservation(row: ReservationRow) -> Result<Reservation, StoreError> {
    let status = ReservationStatus::parse(&row.status)
        .ok_or_else(|| corrupt("reservation status", &row.status))?;
    Ok(Reservation::restore(
        ReservationId::from_u128(row.reservation_id),
        quantity(row.quantity)?,
        status,
        timestamp(row.expires_at_ms),
    ))
}

pub(crate) struct CartRow {
    pub customer_id: Option<u128>,
    pub status: String,
    pub order_id: Option<u128>,
    pub version: i64,
}

pub(crate) struct CartLineRow {
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub currency: String,
}

pub(crate) fn cart(id: CartId, row: CartRow, lines: Vec<CartLineRow>) -> Result<Cart, StoreError> {
    let lines = lines
        .into_iter()
        .map(cart_line)
        .collect::<Result<Vec<_>, _>>()?;
    let snapshot = CartSnapshot {
        id,
        customer: row.customer_id.map(CustomerId::from_u128),
        lines,
        status: cart_status(&row.status, row.order_id)?,
        version: to_u64(row.version, "cart version")?,
    };
    Cart::restore(snapshot).map_err(|e| corrupt("cart", e))
}

fn cart_line(row: CartLineRow) -> Result<CartLine, StoreError> {
    Ok(CartLine::restore(
        sku(&row.sku)?,
        quantity(row.quantity)?,
        money(row.unit_price_minor, &row.currency)?,
    ))
}

/// The `carts.status` and `carts.order_id` columns of a status.
pub(crate) fn cart_status_columns(status: CartStatus) -> (&'static str, Option<u128>) {
    (status.as_str(), status.order_id().map(OrderId::as_u128))
}

fn cart_status(status: &str, order_id: Option<u128>) -> Result<CartStatus, StoreError> {
    match (status, order_id.map(OrderId::from_u128)) {
        ("open", None) => Ok(CartStatus::Open),
        ("checking_out", Some(order_id)) => Ok(CartStatus::CheckingOut { order_id }),
        ("checked_out", Some(order_id)) => Ok(CartStatus::CheckedOut { order_id }),
        _ => Err(corrupt("cart status", status)),
    }
}

pub(crate) struct SagaRow {
    pub order_id: u128,
    pub cart_id: Option<u128>,
    pub step: String,
    pub payment_token: String,
    pub failure_reason: Option<String>,
    pub started_at_ms: i64,
    pub updated_at_ms: i64,
}

pub(crate) fn saga(row: SagaRow) -> Result<SagaRecord, StoreError> {
    Ok(SagaRecord {
        order_id: OrderId::from_u128(row.order_id),
        cart_id: row.cart_id.map(CartId::from_u128),
        step: SagaStep::parse(&row.step).ok_or_else(|| corrupt("saga step", &row.step))?,
        payment_token: row.payment_token,
        failure_reason: row.failure_reason,
        started_at: timestamp(row.started_at_ms),
        updated_at: timestamp(row.updated_at_ms),
    })
}

/// A stored idempotency key, as `claim` reads it back after losing the insert race.
pub(crate) struct IdempotencyRow {
    pub request_hash: String,
    pub order_id: u128,
    pub status_code: Option<i32>,
    pub response_body: Option<Vec<u8>>,
}

pub(crate) fn idempotency_claim(
    row: IdempotencyRow,
    request_hash: &str,
) -> Result<actors::ports::IdempotencyClaim, StoreError> {
    use actors::ports::IdempotencyClaim;
    if row.request_hash != request_hash {
        return Ok(IdempotencyClaim::Mismatch);
    }
    match (row.status_code, row.response_body) {
        (Some(status), Some(body)) => {
            let status =
                u16::try_from(status).map_err(|_| corrupt("idempotency status", status))?;
            Ok(IdempotencyClaim::Completed { status, body })
        }
        (None, None) => Ok(IdempotencyClaim::InProgress {
            order_id: OrderId::from_u128(row.order_id),
        }),
        _ => Err(corrupt(
            "idempotency key",
            "status and body not set together",
        )),
    }
}

pub(crate) struct OrderRow {
    pub customer_id: Option<u128>,
    pub cart_id: Option<u128>,
    pub status: String,
    pub total_minor: i64,
    pub currency: String,
    pub ship_name: String,
    pub ship_line1: String,
    pub ship_line2: Option<String>,
    pub ship_city: String,
    pub ship_postal_code: String,
    pub ship_country: String,
    pub shipment_id: Option<String>,
    pub failure_reason: Option<String>,
    pub placed_at_ms: i64,
    pub version: i64,
}

pub(crate) struct OrderLineRow {
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub line_total_minor: i64,
    pub currency: String,
}

pub(crate) struct PaymentRow {
    pub payment_id: u128,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
}

pub(crate) fn order(
    id: OrderId,
    row: OrderRow,
    lines: Vec<OrderLineRow>,
    payment: Option<PaymentRow>,
) -> Result<Order, StoreError> {
    let snapshot = OrderSnapshot {
        id,
        customer: row.customer_id.map(CustomerId::from_u128),
        cart_id: row.cart_id.map(CartId::from_u128),
        lines: lines
            .into_iter()
            .map(order_line)
            .collect::<Result<_, _>>()?,
        total: money(row.total_minor, &row.currency)?,
        shipping_address: shipping_address(&row)?,
        status: OrderStatus::parse(&row.status)
            .ok_or_else(|| corrupt("order status", &row.status))?,
        payment: payment.map(self::payment).transpose()?,
        shipment_id: row.shipment_id.as_deref().map(shipment_id).transpose()?,
        failure_reason: row
            .failure_reason
            .as_deref()
            .map(failure_reason)
            .transpose()?,
        placed_at: timestamp(row.placed_at_ms),
        version: to_u64(row.version, "order version")?,
    };
    Order::restore(snapshot).map_err(|e| corrupt("order", e))
}

fn shipping_address(row: &OrderRow) -> Result<ShippingAddress, StoreError> {
    ShippingAddress::parse(
        &row.ship_name,
        &row.ship_line1,
        row.ship_line2.as_deref(),
        &row.ship_city,
        &row.ship_postal_code,
        &row.ship_country,
    )
    .map_err(|e| corrupt("shipping address", e))
}

fn order_line(row: OrderLineRow) -> Result<OrderLine, StoreError> {
    let line = OrderLine::new(
        sku(&row.sku)?,
        quantity(row.quantity)?,
        money(row.unit_price_minor, &row.currency)?,
    )
    .map_err(|e| corrupt("order line", e))?;
    // The total is recomputed from price and quantity; a stored one that differs was not
    // written by this code.
    if line.line_total().amount_minor() != row.line_total_minor {
        return Err(corrupt("order line total", row.line_total_minor));
    }
    Ok(line)
}

fn payment(row: PaymentRow) -> Result<Payment, StoreError> {
    let status =
        PaymentStatus::parse(&row.status).ok_or_else(|| corrupt("payment status", &row.status))?;
    Ok(Payment::restore(
        PaymentId::from_u128(row.payment_id),
        money(row.amount_minor, &row.currency)?,
        status,
    ))
}

fn shipment_id(value: &str) -> Result<ShipmentId, StoreError> {
    ShipmentId::parse(value).map_err(|e| corrupt("shipment id", e))
}

fn failure_reason(value: &str) -> Result<FailureReason, StoreError> {
    FailureReason::parse(value).ok_or_else(|| corrupt("failure reason", value))
}
