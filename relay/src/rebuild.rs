//! `commerce rebuild-read-models`: empties the order read model and its inbox (the projector
//! deduplicates by its own keys now; the rows are those earlier versions wrote), then replays
//! the outbox's retained `order` history through the same projector. Run it with the consumers
//! stopped. It sees only what the outbox still holds: with `OUTBOX_RETENTION_MS` set, orders
//! whose events were pruned drop out of the rebuilt model.

use crate::consumer::{apply_once, Handler, HandlerError, Outcome};
use crate::db::Db;
use crate::projector::{OrderProjector, ORDER_READ_MODEL};

/// Rows read from the outbox per page.
const PAGE_ROWS_MAX: u32 = 1_000;

/// What a rebuild did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rebuilt {
    pub events: u64,
    pub rejected: u64,
}

pub async fn rebuild_read_models(db: &Db) -> Result<Rebuilt, sqlx::Error> {
    clear(db).await?;
    let projector = OrderProjector;
    let mut done = Rebuilt::default();
    let mut after = None;
    loop {
        let page = db.history("order", after.clone(), PAGE_ROWS_MAX).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.aggregate_id.clone(), last.sequence));
        for envelope in &page {
            match apply_once(db, &projector, envelope).await {
                Ok(Outcome::Applied | Outcome::Duplicate | Outcome::DeadLettered { .. }) => {
                    done.events += 1;
                }
                Err(HandlerError::Rejected(e)) => {
                    tracing::warn!(event_id = %envelope.event_id, error = %e, "rebuild skipped an event it cannot apply");
                    done.rejected += 1;
                }
                Err(HandlerError::Transient(e)) => return Err(sqlx::Error::Protocol(e)),
            }
        }
    }
    tracing::info!(
        events = done.events,
        rejected = done.rejected,
        consumer = projector.name(),
        "read models rebuilt"
    );
    Ok(done)
}

async fn clear(db: &Db) -> Result<(), sqlx::Error> {
    let statements = [
        "DELETE FROM order_view_skus",
        "DELETE FROM order_views",
        "DELETE FROM inbox WHERE consumer = $1",
    ];
    match db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            for sql in statements {
                sqlx::query(sql)
                    .bind(ORDER_READ_MODEL)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        }
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            for sql in statements {
                sqlx::query(sql)
                    .bind(ORDER_READ_MODEL)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        }
    }
}
