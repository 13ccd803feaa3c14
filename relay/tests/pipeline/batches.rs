//! The consumers' set-based batches (`Handler::apply_batch`) against one event at a time: the
//! same rows in the read model and the notifications, and a batch applied again sends nothing.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use relay::consumer::Handler;
use relay::envelope::Envelope;
use relay::notify::{Notification, NotificationHandler, Notifier};
use relay::projector::OrderProjector;
use relay::Db;

use crate::harness::*;

/// Remembers what it was asked to send.
#[derive(Default)]
struct Recording {
    sent: Mutex<Vec<(uuid::Uuid, &'static str, Option<uuid::Uuid>)>>,
}

#[async_trait]
impl Notifier for Recording {
    async fn notify(&self, n: &Notification) -> Result<(), String> {
        self.sent.lock().map_err(|e| e.to_string())?.push((
            n.order_id,
            n.kind.as_str(),
            n.customer_id,
        ));
        Ok(())
    }
}

impl Recording {
    fn take(&self) -> Vec<(uuid::Uuid, &'static str, Option<uuid::Uuid>)> {
        self.sent
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }
}

/// Everything the two consumers wrote, as text, in a stable order.
async fn written(db: &Db) -> Vec<String> {
    let Db::Postgres(pool) = db else {
        unreachable!("a Postgres world")
    };
    let mut out = Vec::new();
    for sql in [
        "SELECT row_to_json(v)::text FROM order_views v ORDER BY order_id",
        "SELECT row_to_json(s)::text FROM order_view_skus s ORDER BY sku, order_id",
        "SELECT row_to_json(r)::text FROM notification_recipients r ORDER BY order_id",
        "SELECT row_to_json(n)::text FROM notifications n ORDER BY notification_id",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(sql)
            .fetch_all(pool)
            .await
            .expect("read the consumers' tables");
        out.push(rows.join("\n"));
    }
    out
}

async fn clear(db: &Db) {
    let Db::Postgres(pool) = db else {
        unreachable!("a Postgres world")
    };
    sqlx::query(
        "TRUNCATE order_views, order_view_skus, notification_recipients, notifications CASCADE",
    )
    .execute(pool)
    .await
    .expect("truncate");
}

/// One transaction: the whole batch, or each event in turn.
async fn apply(db: &Db, handler: &dyn Handler, events: &[&Envelope], batched: bool) {
    let mut tx = db.begin().await.expect("begin");
    if batched {
        handler.apply_batch(&mut tx, events).await.expect("batch");
    } else {
        for e in events {
            handler.apply(&mut tx, e).await.expect("event");
        }
    }
    tx.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_batched_consumers_write_what_one_event_at_a_time_writes() {
    let world = World::new(Backend::Postgres).await;
    let sku = world.stock("BATCH-1", 3).await;
    let other = world.stock("BATCH-2", 10).await;
    let (alice, bob) = (customer(), customer());
    // Confirmed, declined, confirmed on another SKU, and two that find the first SKU sold out.
    for (who, sku, token) in [
        (alice, &sku, "tok_visa"),
        (bob, &sku, "tok_decline"),
        (bob, &other, "tok_visa"),
        (alice, &sku, "tok_visa"),
        (alice, &sku, "tok_visa"),
        (bob, &sku, "tok_visa"),
    ] {
        world.buy(who, sku, token).await;
    }
    let outbox = world.outbox().await;
    // Each aggregate's events in sequence, the aggregates interleaved as a relay batch has them.
    let mut events: Vec<&Envelope> = outbox.iter().filter(|e| e.stream() == "order").collect();
    events.sort_by_key(|e| (e.sequence, e.aggregate_id.clone()));
    assert!(
        events.len() >= 20,
        "order events of six checkouts: {}",
        events.len()
    );

    let recording = Arc::new(Recording::default());
    let handlers: [Box<dyn Handler>; 2] = [
        Box::new(OrderProjector),
        Box::new(NotificationHandler::new(recording.clone())),
    ];
    for handler in &handlers {
        apply(&world.db, &**handler, &events, false).await;
    }
    let one_by_one = written(&world.db).await;
    let sent_one_by_one = recording.take();
    clear(&world.db).await;

    for handler in &handlers {
        apply(&world.db, &**handler, &events, true).await;
    }
    assert_eq!(written(&world.db).await, one_by_one);
    assert_eq!(
        recording.take(),
        sent_one_by_one,
        "the same mails, in the same order"
    );
    let statuses: Vec<String> = {
        let Db::Postgres(pool) = &world.db else {
            unreachable!()
        };
        sqlx::query_scalar("SELECT status FROM order_views ORDER BY status")
            .fetch_all(pool)
            .await
            .expect("statuses")
    };
    assert_eq!(
        statuses,
        [
            "failed",
            "failed",
            "fulfillment_requested",
            "fulfillment_requested",
            "fulfillment_requested",
            "fulfillment_requested"
        ],
        "every order at its latest status"
    );
    assert_eq!(sent_one_by_one.len(), 6, "one mail per order outcome");

    // The batch again (as if the inbox had not caught it): no row changes, no second mail.
    for handler in &handlers {
        apply(&world.db, &**handler, &events, true).await;
    }
    assert_eq!(written(&world.db).await, one_by_one);
    assert!(recording.take().is_empty(), "nothing sent twice");
    // And one event at a time again, as the Kafka consumers apply them: still nothing.
    for handler in &handlers {
        assert!(handler.deduplicates_itself(), "{}", handler.name());
        apply(&world.db, &**handler, &events, false).await;
    }
    assert_eq!(written(&world.db).await, one_by_one);
    assert!(recording.take().is_empty(), "nothing sent twice");
    world.close().await;
}
