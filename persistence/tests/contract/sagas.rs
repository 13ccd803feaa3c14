use actors::ports::{SagaRecord, SagaStep};
use domain::Timestamp;

use crate::contract_tests;
use crate::fixtures::{at, customer, decide, new_cart_id, new_order_id, place};
use crate::harness::Harness;
use actors::ports::StoreError;
use domain::Order;

contract_tests!(
    unknown_saga_loads_none,
    saga_round_trips_and_upserts,
    sagas_in_flight_are_unfinished_oldest_first,
    a_saga_step_commits_with_its_order_change_or_not_at_all,
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
