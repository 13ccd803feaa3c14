use actors::ports::StoreError;
use domain::inventory::{Command, InventorySku};
use domain::{ReservationId, ReservationStatus};
use serde_json::json;

use crate::contract_tests;
use crate::fixtures::{at, reserve, restock, sku, stock, uuid};
use crate::harness::Harness;

contract_tests!(
    unknown_sku_loads_empty,
    inventory_with_reservations_in_every_status_round_trips,
    inventory_events_write_typed_outbox_rows,
    stale_inventory_update_conflicts_and_writes_nothing,
    expired_reservation_query_finds_held_reservations_past_their_deadline,
    expired_reservation_query_honours_its_limit_oldest_first,
);

fn new_reservation() -> ReservationId {
    ReservationId::from_u128(uuid())
}

async fn unknown_sku_loads_empty(h: Harness) {
    let sku = sku("NONE");

    let loaded = h.store().load_inventory(&sku).await.unwrap();

    assert_eq!(loaded, InventorySku::new(sku));
}

async fn inventory_with_reservations_in_every_status_round_trips(h: Harness) {
    let mut inv = InventorySku::new(sku("MUG"));
    let [held, committed, released, expired, returned] = std::array::from_fn(|_| new_reservation());
    let mut changes = vec![stock(&mut inv, restock(100), at(0))];
    for (i, id) in [held, committed, released, expired, returned]
        .into_iter()
        .enumerate()
    {
        changes.push(stock(&mut inv, reserve(id, i as u32 + 1, at(1_000)), at(1)));
    }
    changes.push(stock(
        &mut inv,
        Command::Commit {
            reservation_id: committed,
        },
        at(2),
    ));
    changes.push(stock(
        &mut inv,
        Command::Release {
            reservation_id: released,
        },
        at(3),
    ));
    changes.push(stock(
        &mut inv,
        Command::Expire {
            reservation_id: expired,
        },
        at(2_000),
    ));
    changes.push(stock(
        &mut inv,
        Command::Commit {
            reservation_id: returned,
        },
        at(4),
    ));
    changes.push(stock(
        &mut inv,
        Command::Return {
            reservation_id: returned,
        },
        at(5),
    ));

    for change in changes {
        h.store().commit_inventory(vec![change]).await.unwrap();
    }

    let loaded = h.store().load_inventory(inv.sku()).await.unwrap();
    assert_eq!(loaded, inv);
    let statuses: Vec<ReservationStatus> = [held, committed, released, expired, returned]
        .iter()
        .map(|id| loaded.reservation(id).expect("reservation stored").status())
        .collect();
    use ReservationStatus::*;
    assert_eq!(statuses, vec![Held, Committed, Released, Expired, Returned]);
}

async fn inventory_events_write_typed_outbox_rows(h: Harness) {
    let mut inv = InventorySku::new(sku("MUG"));
    let id = new_reservation();
    let changes = vec![
        stock(&mut inv, restock(10), at(0)),
        stock(&mut inv, reserve(id, 3, at(60_000)), at(1)),
        stock(&mut inv, Command::Commit { reservation_id: id }, at(2)),
    ];

    h.store().commit_inventory(changes).await.unwrap();

    let rows = h.outbox_rows_for("inventory", inv.sku().as_str()).await;
    let types: Vec<&str> = rows.iter().map(|r| r.event_type.as_str()).collect();
    assert_eq!(
        types,
        vec![
            "inventory.restocked",
            "inventory.reserved",
            "inventory.committed"
        ]
    );
    let sequences: Vec<i64> = rows.iter().map(|r| r.sequence).collect();
    assert_eq!(sequences, vec![1, 2, 3]);
    let sku = inv.sku().as_str();
    assert_eq!(rows[0].payload, json!({"sku": sku, "quantity": 10}));
    let reserved = json!({
        "sku": sku,
        "reservation_id": id.to_string(),
        "quantity": 3,
        "expires_at_ms": at(60_000).unix_ms(),
    });
    assert_eq!(rows[1].payload, reserved);
    let committed = json!({"sku": sku, "reservation_id": id.to_string(), "quantity": 3});
    assert_eq!(rows[2].payload, committed);
}

async fn stale_inventory_update_conflicts_and_writes_nothing(h: Harness) {
    let mut inv = InventorySku::new(sku("MUG"));
    h.store()
        .commit_inventory(vec![stock(&mut inv, restock(10), at(0))])
        .await
        .unwrap();
    let mut stale = inv.clone();
    let winner = stock(&mut inv, reserve(new_reservation(), 4, at(100)), at(1));
    h.store().commit_inventory(vec![winner]).await.unwrap();
    let outbox_before = h.outbox_count().await;
    let loser = stock(&mut stale, reserve(new_reservation(), 9, at(100)), at(2));

    let result = h.store().commit_inventory(vec![loser]).await;

    assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
    assert_eq!(h.outbox_count().await, outbox_before);
    assert_eq!(h.store().load_inventory(inv.sku()).await.unwrap(), inv);
}

/// Given SKUs with held reservations expiring before and after `now`, and a released one that
/// is past its deadline, the query names only the SKUs with held reservations past due.
async fn expired_reservation_query_finds_held_reservations_past_their_deadline(h: Harness) {
    let mut due = InventorySku::new(sku("DUE"));
    let mut later = InventorySku::new(sku("LATER"));
    let mut released = InventorySku::new(sku("RELEASED"));
    let id = new_reservation();
    let changes = [
        (
            &mut due,
            vec![
                restock(5),
                reserve(new_reservation(), 1, at(10)),
                reserve(new_reservation(), 1, at(20)),
            ],
        ),
        (
            &mut later,
            vec![restock(5), reserve(new_reservation(), 1, at(1_000))],
        ),
        (
            &mut released,
            vec![
                restock(5),
                reserve(id, 1, at(10)),
                Command::Release { reservation_id: id },
            ],
        ),
    ];
    for (inv, commands) in changes {
        let batch: Vec<_> = commands
            .into_iter()
            .map(|cmd| stock(inv, cmd, at(0)))
            .collect();
        h.store().commit_inventory(batch).await.unwrap();
    }

    let expired = h
        .store()
        .skus_with_expired_reservations(at(50), 10)
        .await
        .unwrap();
    let at_deadline = h
        .store()
        .skus_with_expired_reservations(at(10), 10)
        .await
        .unwrap();
    let none_yet = h
        .store()
        .skus_with_expired_reservations(at(9), 10)
        .await
        .unwrap();

    assert_eq!(expired, vec![due.sku().clone()]);
    assert_eq!(at_deadline, vec![due.sku().clone()]);
    assert_eq!(none_yet, vec![]);
}

async fn expired_reservation_query_honours_its_limit_oldest_first(h: Harness) {
    let mut skus = Vec::new();
    for deadline_ms in [30, 10, 20] {
        let mut inv = InventorySku::new(sku("SKU"));
        let batch = vec![
            stock(&mut inv, restock(5), at(0)),
            stock(
                &mut inv,
                reserve(new_reservation(), 2, at(deadline_ms)),
                at(0),
            ),
        ];
        h.store().commit_inventory(batch).await.unwrap();
        skus.push(inv.sku().clone());
    }

    let first_two = h
        .store()
        .skus_with_expired_reservations(at(100), 2)
        .await
        .unwrap();

    assert_eq!(first_two, vec![skus[1].clone(), skus[2].clone()]);
}
