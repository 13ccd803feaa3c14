use actors::ports::{SagaRecord, SagaStep};
use domain::Timestamp;

use crate::contract_tests;
use crate::fixtures::{at, customer, decide, new_cart_id, new_order_id, place};
use crate::harness::Harness;
use actors::ports::StoreError;
use domain::order;
use domain::Order;

contract_tests!(
    unknown_saga_loads_none,
    saga_round_trips_and_upserts,
    sagas_in_flight_are_unfinished_oldest_first,
    a_saga_step_commits_with_its_order_change_or_not_at_all,
    a_group_commit_inserts_new_sagas_and_moves_placed_ones,
);

fn saga(step: SagaStep, started_at: Timestamp) -> SagaRecord {
    SagaRecord {
        order_id: new_order_id(),
        cart_id: Some(new_cart_id()),
        step,
        payment_token: "tok_visa".to_owned(),
        failure_reason: None,
        started_at,
        updated_at: started_at,
    }
}

async fn unknown_saga_loads_none(h: Harness) {
    assert_eq!(h.store().load_saga(new_order_id()).await.unwrap(), None);
}

async fn saga_round_trips_and_upserts(h: Harness) {
    let started = saga(SagaStep::Started, at(0));
    h.store().save_saga(&started).await.unwrap();
    assert_eq!(
        h.store().load_saga(started.order_id).await.unwrap(),
        Some(started.clone())
    );
    let failed = SagaRecord {
        cart_id: None,
        step: SagaStep::Failed,
        failure_reason: Some("payment_declined".to_owned()),
        updated_at: at(500),
        ..started.clone()
    };

    h.store().save_saga(&failed).await.unwrap();

    assert_eq!(
        h.store().load_saga(started.order_id).await.unwrap(),
        Some(failed)
    );
}

async fn sagas_in_flight_are_unfinished_oldest_first(h: Harness) {
    let newer = saga(SagaStep::Confirmed, at(300));
    let older = saga(SagaStep::Compensating, at(100));
    let oldest = saga(SagaStep::Started, at(0));
    let completed = saga(SagaStep::Completed, at(-100));
    let failed = saga(SagaStep::Failed, at(-200));
    for record in [&newer, &older, &oldest, &completed, &failed] {
        h.store().save_saga(record).await.unwrap();
    }

    let in_flight = h.store().sagas_in_flight(10).await.unwrap();
    let limited = h.store().sagas_in_flight(2).await.unwrap();

    assert_eq!(in_flight, vec![oldest.clone(), older.clone(), newer]);
    assert_eq!(limited, vec![oldest, older]);
}

async fn a_saga_step_commits_with_its_order_change_or_not_at_all(h: Harness) {
    let mut o = Order::new(new_order_id());
    let mut change = decide(&mut o, place(None, Some(customer())), at(0));
    let started = SagaRecord {
        order_id: o.id(),
        cart_id: None,
        ..saga(SagaStep::Started, at(0))
    };
    change.saga = Some(started.clone());
    h.store().commit_order(vec![change.clone()]).await.unwrap();
    assert_eq!(
        h.store().load_saga(o.id()).await.unwrap(),
        Some(started.clone())
    );

    // The same change again conflicts on the version: the saga step it carries is not written.
    let mut replay = change;
    replay.saga = Some(SagaRecord {
        step: SagaStep::Failed,
        ..started.clone()
    });
    let conflict = h.store().commit_order(vec![replay]).await;
    assert!(
        matches!(conflict, Err(StoreError::Conflict)),
        "{conflict:?}"
    );
    assert_eq!(h.store().load_saga(o.id()).await.unwrap(), Some(started));
}

/// In a group commit, a new order's saga record is inserted and a placed order's is moved on,
/// keeping its start; a placed order whose record is missing gets one all the same.
async fn a_group_commit_inserts_new_sagas_and_moves_placed_ones(h: Harness) {
    let (mut new, mut placed, mut bare) = (
        Order::new(new_order_id()),
        Order::new(new_order_id()),
        Order::new(new_order_id()),
    );
    let record = |order: &Order, step: SagaStep, at: Timestamp, started: Timestamp| SagaRecord {
        order_id: order.id(),
        cart_id: None,
        step,
        payment_token: "tok_visa".to_owned(),
        failure_reason: None,
        started_at: started,
        updated_at: at,
    };
    let mut placing = decide(&mut placed, place(None, Some(customer())), at(0));
    placing.saga = Some(record(&placed, SagaStep::Started, at(0), at(0)));
    h.store().commit_order(vec![placing]).await.unwrap();
    // Placed without a saga record: the group must still leave one.
    let placing = decide(&mut bare, place(None, Some(customer())), at(0));
    h.store().commit_order(vec![placing]).await.unwrap();

    let mut first = decide(&mut new, place(None, Some(customer())), at(5));
    first.saga = Some(record(&new, SagaStep::Started, at(5), at(5)));
    let mut moved = decide(&mut placed, order::Command::MarkReserved, at(5));
    // A later start than the stored one: the stored start must stay.
    moved.saga = Some(record(&placed, SagaStep::Confirmed, at(5), at(5)));
    let mut repaired = decide(&mut bare, order::Command::MarkReserved, at(5));
    repaired.saga = Some(record(&bare, SagaStep::Confirmed, at(5), at(5)));
    let results = h
        .store()
        .commit_orders_many(vec![vec![first], vec![moved], vec![repaired]])
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let store = h.store();
    let load = |id| async move { store.load_saga(id).await.unwrap().expect("saga") };
    let saga = load(new.id()).await;
    assert_eq!((saga.step, saga.started_at), (SagaStep::Started, at(5)));
    let saga = load(placed.id()).await;
    assert_eq!(
        (saga.step, saga.started_at, saga.updated_at),
        (SagaStep::Confirmed, at(0), at(5))
    );
    let saga = load(bare.id()).await;
    assert_eq!((saga.step, saga.updated_at), (SagaStep::Confirmed, at(5)));
}
