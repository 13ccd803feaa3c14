//! The order read model: a denormalized order list per customer (`order_views`) and per SKU
//! (`order_view_skus`), projected from the `order` stream.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::Deserialize;
use uuid::Uuid;

use crate::consumer::{apply_each, Handler, HandlerError};
use crate::db::Tx;
use crate::envelope::Envelope;

pub const ORDER_READ_MODEL: &str = "order-read-model";

pub struct OrderProjector;

#[derive(Deserialize)]
struct MoneyDto {
    amount: i64,
    currency: String,
}

#[derive(Deserialize)]
struct LineDto {
    sku: String,
    quantity: i64,
}

#[derive(Deserialize)]
struct Placed {
    order_id: Uuid,
    customer_id: Option<Uuid>,
    lines: Vec<LineDto>,
    total: MoneyDto,
    placed_at_ms: i64,
}

impl Placed {
    fn line_count(&self) -> i64 {
        i64::try_from(self.lines.len()).unwrap_or(i64::MAX)
    }

    fn item_count(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity).sum()
    }
}

#[derive(Deserialize)]
struct OrderOnly {
    order_id: Uuid,
}

fn parse<'a, T: Deserialize<'a>>(e: &'a Envelope) -> Result<T, HandlerError> {
    serde_json::from_str(&e.payload)
        .map_err(|err| HandlerError::Rejected(format!("{} payload: {err}", e.event_type)))
}

/// The status an order event moves the order to; `None` for events the list does not show.
fn status_after(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "order.reserved" => "reserved",
        "order.confirmed" => "confirmed",
        "order.fulfillment_requested" => "fulfillment_requested",
        "order.shipped" => "shipped",
        "order.delivered" => "delivered",
        "order.failed" => "failed",
        "order.cancelled" => "cancelled",
        _ => return None,
    })
}

/// What one order event does to the read model.
enum Projection {
    Placed(Placed),
    Status {
        order_id: Uuid,
        status: &'static str,
    },
}

/// Reads `e`; `None` for events the read model does not show.
fn projection(e: &Envelope) -> Result<Option<Projection>, HandlerError> {
    if e.event_type == "order.placed" {
        let placed: Placed = parse(e)?;
        if placed.lines.iter().any(|l| l.quantity <= 0) || placed.total.currency.len() != 3 {
            return Err(HandlerError::Rejected(
                "order.placed: bad line or currency".to_owned(),
            ));
        }
        Ok(Some(Projection::Placed(placed)))
    } else if let Some(status) = status_after(&e.event_type) {
        let only: OrderOnly = parse(e)?;
        Ok(Some(Projection::Status {
            order_id: only.order_id,
            status,
        }))
    } else {
        Ok(None)
    }
}

#[async_trait]
impl Handler for OrderProjector {
    fn name(&self) -> &'static str {
        ORDER_READ_MODEL
    }

    fn streams(&self) -> &'static [&'static str] {
        &["order"]
    }

    /// A placed order's rows are inserted with `ON CONFLICT DO NOTHING` on their keys, and a
    /// status moves only for an event newer than the row's `last_sequence`: a repeat is a no-op.
    fn deduplicates_itself(&self) -> bool {
        true
    }

    async fn apply(&self, tx: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        match projection(e)? {
            Some(Projection::Placed(placed)) => {
                insert_placed(tx, &placed, e.sequence, e.occurred_at_ms).await
            }
            Some(Projection::Status { order_id, status }) => {
                update_status(tx, order_id, status, e.sequence, e.occurred_at_ms).await
            }
            None => Ok(()),
        }
    }

    /// On Postgres three statements per batch: the placed orders, their SKUs, and one status
    /// update per order — its latest event's, since each update only moves an order forward.
    async fn apply_batch(&self, tx: &mut Tx, batch: &[&Envelope]) -> Result<(), HandlerError> {
        let Tx::Postgres(pg) = tx else {
            return apply_each(self, tx, batch).await;
        };
        let mut placed = PlacedRows::default();
        let mut latest: HashMap<Uuid, (&'static str, i64, i64)> = HashMap::new();
        for e in batch {
            match projection(e)? {
                Some(Projection::Placed(p)) => placed.push(&p, e.sequence, e.occurred_at_ms),
                Some(Projection::Status { order_id, status }) => {
                    let newer = latest
                        .get(&order_id)
                        .is_none_or(|&(_, sequence, _)| e.sequence > sequence);
                    if newer {
                        latest.insert(order_id, (status, e.sequence, e.occurred_at_ms));
                    }
                }
                None => {}
            }
        }
        placed.insert(pg).await?;
        update_statuses(pg, &latest).await
    }
}

/// Placed orders as column arrays, for one multi-row insert per table.
#[derive(Default)]
struct PlacedRows {
    ids: Vec<Uuid>,
    customers: Vec<Option<Uuid>>,
    totals: Vec<i64>,
    currencies: Vec<String>,
    line_counts: Vec<i64>,
    item_counts: Vec<i64>,
    placed_ms: Vec<i64>,
    at_ms: Vec<i64>,
    sequences: Vec<i64>,
    sku_skus: Vec<String>,
    sku_orders: Vec<Uuid>,
    sku_quantities: Vec<i64>,
    sku_placed_ms: Vec<i64>,
}

impl PlacedRows {
    fn push(&mut self, p: &Placed, sequence: i64, at_ms: i64) {
        self.ids.push(p.order_id);
        self.customers.push(p.customer_id);
        self.totals.push(p.total.amount);
        self.currencies.push(p.total.currency.clone());
        self.line_counts.push(p.line_count());
        self.item_counts.push(p.item_count());
        self.placed_ms.push(p.placed_at_ms);
        self.at_ms.push(at_ms);
        self.sequences.push(sequence);
        for line in &p.lines {
            self.sku_skus.push(line.sku.clone());
            self.sku_orders.push(p.order_id);
            self.sku_quantities.push(line.quantity);
            self.sku_placed_ms.push(p.placed_at_ms);
        }
    }

    async fn insert(&self, tx: &mut sqlx::PgConnection) -> Result<(), HandlerError> {
        if self.ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO order_views (order_id, customer_id, status, total_minor, currency, \
             line_count, item_count, placed_at, updated_at, last_sequence) \
             SELECT u.id, u.customer, 'placed', u.total, u.currency, u.lines, u.items, \
                    from_unix_ms(u.placed), from_unix_ms(u.at), u.seq \
             FROM UNNEST($1::UUID[], $2::UUID[], $3::INT8[], $4::TEXT[], $5::INT8[], $6::INT8[], \
                         $7::INT8[], $8::INT8[], $9::INT8[]) \
                  AS u(id, customer, total, currency, lines, items, placed, at, seq) \
             ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(&self.ids)
        .bind(&self.customers)
        .bind(&self.totals)
        .bind(&self.currencies)
        .bind(&self.line_counts)
        .bind(&self.item_counts)
        .bind(&self.placed_ms)
        .bind(&self.at_ms)
        .bind(&self.sequences)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO order_view_skus (sku, order_id, quantity, placed_at) \
             SELECT u.sku, u.id, u.quantity, from_unix_ms(u.placed) \
             FROM UNNEST($1::TEXT[], $2::UUID[], $3::INT8[], $4::INT8[]) \
                  AS u(sku, id, quantity, placed) \
             ON CONFLICT (sku, order_id) DO NOTHING",
        )
        .bind(&self.sku_skus)
        .bind(&self.sku_orders)
        .bind(&self.sku_quantities)
        .bind(&self.sku_placed_ms)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// One update for every order of the batch: to its latest event's status, if that event is
/// newer than the last one applied. Unnamed, so Postgres plans the join for the table as it is
/// now rather than reusing a plan made while it was small.
async fn update_statuses(
    tx: &mut sqlx::PgConnection,
    latest: &HashMap<Uuid, (&'static str, i64, i64)>,
) -> Result<(), HandlerError> {
    if latest.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(latest.len());
    let mut statuses = Vec::with_capacity(latest.len());
    let mut sequences = Vec::with_capacity(latest.len());
    let mut at_ms = Vec::with_capacity(latest.len());
    for (id, (status, sequence, at)) in latest {
        ids.push(*id);
        statuses.push(*status);
        sequences.push(*sequence);
        at_ms.push(*at);
    }
    sqlx::query(
        "UPDATE order_views AS v SET status = u.status, updated_at = from_unix_ms(u.at), \
         last_sequence = u.seq \
         FROM UNNEST($1::UUID[], $2::TEXT[], $3::INT8[], $4::INT8[]) AS u(id, status, seq, at) \
         WHERE v.order_id = u.id AND v.last_sequence < u.seq",
    )
    .persistent(false)
    .bind(&ids)
    .bind(&statuses)
    .bind(&sequences)
    .bind(&at_ms)
    .execute(tx)
    .await?;
    Ok(())
}

async fn insert_placed(
    tx: &mut Tx,
    p: &Placed,
    sequence: i64,
    at_ms: i64,
) -> Result<(), HandlerError> {
    let (line_count, item_count) = (p.line_count(), p.item_count());
    match tx {
        Tx::Postgres(tx) => {
            sqlx::query(
                "INSERT INTO order_views (order_id, customer_id, status, total_minor, currency, \
                 line_count, item_count, placed_at, updated_at, last_sequence) \
                 VALUES ($1, $2, 'placed', $3, $4, $5, $6, from_unix_ms($7), from_unix_ms($8), $9) \
                 ON CONFLICT (order_id) DO NOTHING",
            )
            .bind(p.order_id)
            .bind(p.customer_id)
            .bind(p.total.amount)
            .bind(&p.total.currency)
            .bind(line_count)
            .bind(item_count)
            .bind(p.placed_at_ms)
            .bind(at_ms)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
            for line in &p.lines {
                sqlx::query(
                    "INSERT INTO order_view_skus (sku, order_id, quantity, placed_at) \
                     VALUES ($1, $2, $3, from_unix_ms($4)) \
                     ON CONFLICT (sku, order_id) DO NOTHING",
                )
                .bind(&line.sku)
                .bind(p.order_id)
                .bind(line.quantity)
                .bind(p.placed_at_ms)
                .execute(&mut **tx)
                .await?;
            }
        }
        Tx::Sqlite(tx) => {
            let order_id = p.order_id.hyphenated().to_string();
            sqlx::query(
                "INSERT INTO order_views (order_id, customer_id, status, total_minor, currency, \
                 line_count, item_count, placed_at, updated_at, last_sequence) \
                 VALUES ($1, $2, 'placed', $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (order_id) DO NOTHING",
            )
            .bind(&order_id)
            .bind(p.customer_id.map(|c| c.hyphenated().to_string()))
            .bind(p.total.amount)
            .bind(&p.total.currency)
            .bind(line_count)
            .bind(item_count)
            .bind(p.placed_at_ms)
            .bind(at_ms)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
            for line in &p.lines {
                sqlx::query(
                    "INSERT INTO order_view_skus (sku, order_id, quantity, placed_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (sku, order_id) DO NOTHING",
                )
                .bind(&line.sku)
                .bind(&order_id)
                .bind(line.quantity)
                .bind(p.placed_at_ms)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

/// Moves the order's status forward; an event older than the last applied one changes nothing.
async fn update_status(
    tx: &mut Tx,
    order_id: Uuid,
    status: &str,
    sequence: i64,
    at_ms: i64,
) -> Result<(), HandlerError> {
    match tx {
        Tx::Postgres(tx) => {
            sqlx::query(
                "UPDATE order_views SET status = $1, updated_at = from_unix_ms($2), \
                 last_sequence = $3 WHERE order_id = $4 AND last_sequence < $3",
            )
            .bind(status)
            .bind(at_ms)
            .bind(sequence)
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
        }
        Tx::Sqlite(tx) => {
            sqlx::query(
                "UPDATE order_views SET status = $1, updated_at = $2, \
                 last_sequence = $3 WHERE order_id = $4 AND last_sequence < $3",
            )
            .bind(status)
            .bind(at_ms)
            .bind(sequence)
            .bind(order_id.hyphenated().to_string())
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
