//! Batches: the runtime's group commit hands the store several changes of one aggregate, in
//! decision order, to commit as one transaction.

use actors::ports::StoreError;
use domain::inventory::InventorySku;
use domain::ReservationId;

use crate::contract_tests;
use crate::fixtures::{
    at, customer, decide, new_order_id, place, reserve, restock, sku, stock, uuid,
};
use crate::harness::Harness;
use domain::order;
use domain::Order;

contract_tests!(
    batch_of_many_changes_commits_every_row_and_event,
    batch_whose_versions_do_not_chain_writes_nothing,
    batch_with_a_gap_in_event_sequences_writes_nothing,
    stale_batch_conflicts_and_writes_nothing,
    batch_failing_after_its_row_write_rolls_back_whole,
    empty_batch_is_a_no_op,
    group_commit_of_many_aggregates_fails_only_the_conflicting_one,
    group_commit_of_many_orders_writes_them_all,
    group_commit_of_order_updates_fails_only_the_stale_one,
);

/// Reservations in one batch: enough to exercise the multi-row statements.
const BATCH_RESERVATIONS: u32 = 25;

fn new_reservation() -> ReservationId {
    ReservationId::from_u128(uuid())
}

async fn batch_of_many_changes_commits_every_row_and_event(h: Harness) {
    let mut inv = InventorySku::new(sku("HOT"));
    let mut changes = vec![stock(&mut inv, restock(1_000), at(0))];
    for i in 0..BATCH_RESERVATIONS {
        changes.push(stock(
            &mut inv,
            reserve(new_reservation(), i + 1, at(60_000)),
            at(i64::from(i)),
        ));
    }

    h.store().commit_inventory(changes).await.unwrap();

    assert_eq!(h.store().load_inventory(inv.sku()).await.unwrap(), inv);
    let rows = h.outbox_rows_for("inventory", inv.sku().as_str()).await;
    let sequences: Vec<i64> = rows.iter().map(|r| r.sequence).collect();
    let expected: Vec<i64> = (1..=i64::from(BATCH_RESERVATIONS) + 1).collect();
    assert_eq!(sequences, expected);
    assert_eq!(h.outbox_count().await, u64::from(BATCH_RESERVATIONS) + 1);
}

async fn batch_whose_versions_do_not_chain_writes_nothing(h: Harness) {
    let mut inv = InventorySku::new(sku("MUG"));
    h.store()
        .commit_inventory(vec![stock(&mut inv, restock(10), at(0))])
        .await
        .unwrap();
    let stored = inv.clone();
    let second = stock(&mut inv, reserve(new_reservation(), 1, at(100)), at(1));
    let _skipped = stock(&mut inv, reserve(new_reservation(), 1, at(100)), at(2));
    let fourth = stock(&mut inv, reserve(new_reservation(), 1, at(100)), at(3));

    let result = h.store().commit_inventory(vec![second, fourth]).await;

    assert!(matches!(result, Err(StoreError::Other(_))), "{result:?}");
    assert_eq!(h.outbox_count().await, 1);
    assert_eq!(
        h.store().load_inventory(stored.sku()).await.unwrap(),
        stored
    );
}

async fn batch_with_a_gap_in_event_sequences_writes_nothing(h: Harness) {
    let mut inv = InventorySku::new(sku("MUG"));
    let mut change = stock(&mut inv, restock(10), at(0));
    change.events[0].sequence = 2;

    let result = h.store().commit_inventory(vec![change]).await;

    assert!(matches!(result, Err(StoreError::Other(_))), "{result:?}");
    assert_eq!(h.outbox_count().await, 0);
    assert_eq!(
        h.store().load_inventory(inv.sku()).await.unwrap(),
        InventorySku::new(inv.sku().clone())
    );
}

async fn stale_batch_conflicts_and_writes_nothing(h: Harness) {
    let mut inv = InventorySku::new(sku("MUG"));
    h.store()
        .commit_inventory(vec![stock(&mut inv, restock(10), at(0))])
        .await
        .unwrap();
    let mut stale = inv.clone();
    h.store()
        .commit_inventory(vec![stock(&mut inv, restock(5), at(1))])
        .await
        .unwrap();
    let stale_batch = vec![
        stock(&mut stale, restock(1), at(2)),
        stock(&mut stale, reserve(new_reservation(), 2, at(100)), at(3)),
    ];

    let result = h.store().commit_inventory(stale_batch).await;

    assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
    assert_eq!(h.outbox_count().await, 2);
    assert_eq!(h.store().load_inventory(inv.sku()).await.unwrap(), inv);
}

/// A reservation id already held by another SKU makes the child-row write fail after the
/// inventory row was written: the whole transaction, row and outbox included, must roll back.
async fn batch_failing_after_its_row_write_rolls_back_whole(h: Harness) {
    let shared = new_reservation();
    let mut first = InventorySku::new(sku("FIRST"));
    let batch = vec![
        stock(&mut first, restock(10), at(0)),
        stock(&mut first, reserve(shared, 1, at(100)), at(1)),
    ];
    h.store().commit_inventory(batch).await.unwrap();
    let mut second = InventorySku::new(sku("SECOND"));
    let clash = vec![
        stock(&mut second, restock(10), at(2)),
        stock(&mut second, reserve(shared, 1, at(100)), at(3)),
    ];

    let result = h.store().commit_inventory(clash).await;

    assert!(result.is_err(), "{result:?}");
    assert_eq!(h.outbox_count().await, 2);
    let empty = InventorySku::new(second.sku().clone());
    assert_eq!(h.store().load_inventory(second.sku()).await.unwrap(), empty);
    assert_eq!(h.store().load_inventory(first.sku()).await.unwrap(), first);
}

async fn empty_batch_is_a_no_op(h: Harness) {
    h.store().commit_inventory(vec![]).await.unwrap();
    h.store().commit_product(vec![]).await.unwrap();
    h.store().commit_cart(vec![]).await.unwrap();
    h.store().commit_order(vec![]).await.unwrap();

    assert_eq!(h.outbox_count().await, 0);
}

async fn group_commit_of_many_aggregates_fails_only_the_conflicting_one(h: Harness) {
    let mut a = InventorySku::new(sku("GROUP-A"));
    let mut b = InventorySku::new(sku("GROUP-B"));
    let mut c = InventorySku::new(sku("GROUP-C"));
    let a1 = vec![stock(&mut a, restock(1), at(0))];
    let b1 = vec![stock(&mut b, restock(2), at(0))];
    h.store().commit_inventory(b1.clone()).await.unwrap();
    let c1 = vec![stock(&mut c, restock(3), at(0))];

    // B's batch is stale (already committed): only it conflicts; A and C commit together.
    let results = h.store().commit_inventory_many(vec![a1, b1, c1]).await;
    assert!(results[0].is_ok(), "{results:?}");
    assert!(
        matches!(results[1], Err(StoreError::Conflict)),
        "{results:?}"
    );
    assert!(results[2].is_ok(), "{results:?}");
    assert_eq!(
        h.store().load_inventory(a.sku()).await.unwrap().on_hand(),
        1
    );
    assert_eq!(
        h.store().load_inventory(b.sku()).await.unwrap().on_hand(),
        2
    );
    assert_eq!(
        h.store().load_inventory(c.sku()).await.unwrap().on_hand(),
        3
    );
}

async fn group_commit_of_many_orders_writes_them_all(h: Harness) {
    let mut orders: Vec<Order> = (0..20).map(|_| Order::new(new_order_id())).collect();
    let batches: Vec<_> = orders
        .iter_mut()
        .map(|o| vec![decide(o, place(None, Some(customer())), at(0))])
        .collect();
    let results = h.store().commit_orders_many(batches).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for order in &orders {
        let loaded = h.store().load_order(order.id()).await.unwrap();
        assert!(loaded.exists());
        assert_eq!(loaded.version(), 1);
    }
}

async fn group_commit_of_order_updates_fails_only_the_stale_one(h: Harness) {
    let mut orders: Vec<Order> = (0..3).map(|_| Order::new(new_order_id())).collect();
    for o in &mut orders {
        let placed = decide(o, place(None, Some(customer())), at(0));
        h.store().commit_order(vec![placed]).await.unwrap();
    }
    let updates: Vec<_> = orders
        .iter_mut()
        .map(|o| vec![decide(o, order::Command::MarkReserved, at(1))])
        .collect();
    // The middle order moved on in the store meanwhile: its update is stale.
    h.store().commit_order(updates[1].clone()).await.unwrap();
    let results = h.store().commit_orders_many(updates).await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(
        matches!(results[1], Err(StoreError::Conflict)),
        "{results:?}"
    );
    for o in &orders {
        assert_eq!(h.store().load_order(o.id()).await.unwrap().version(), 2);
    }
}
