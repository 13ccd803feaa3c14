use actors::ports::{IdempotencyClaim, SagaRecord, SagaStep};

use crate::contract_tests;
use crate::fixtures::{at, new_order_id};
use crate::harness::Harness;

contract_tests!(
    first_claim_owns_the_key,
    repeated_request_is_in_progress_until_completed,
    different_request_with_the_same_key_is_a_mismatch,
    completed_key_replays_its_response_and_survives_release,
    released_key_can_be_claimed_again,
    keys_are_scoped,
    twenty_concurrent_claims_yield_exactly_one_owner,
    abandoned_keys_without_a_saga_are_released_at_start_up,
);

const SCOPE: &str = "checkout";

async fn first_claim_owns_the_key(h: Harness) {
    let claim = h
        .store()
        .claim_idempotency_key(SCOPE, "k1", "hash-a", new_order_id(), at(0))
        .await;

    assert_eq!(claim.unwrap(), IdempotencyClaim::Claimed);
}

async fn repeated_request_is_in_progress_until_completed(h: Harness) {
    let order_id = new_order_id();
    h.store()
        .claim_idempotency_key(SCOPE, "k1", "hash-a", order_id, at(0))
        .await
        .unwrap();

    let again = h
        .store()
        .claim_idempotency_key(SCOPE, "k1", "hash-a", new_order_id(), at(1))
        .await;

    assert_eq!(again.unwrap(), IdempotencyClaim::InProgress { order_id });
}

async fn different_request_with_the_same_key_is_a_mismatch(h: Harness) {
    h.store()
        .claim_idempotency_key(SCOPE, "k1", "hash-a", new_order_id(), at(0))
        .await
        .unwrap();

    let other = h
        .store()
        .claim_idempotency_key(SCOPE, "k1", "hash-b", new_order_id(), at(1))
        .await;

    assert_eq!(other.unwrap(), IdempotencyClaim::Mismatch);
}

async fn completed_key_replays_its_response_and_survives_release(h: Harness) {
    h.store()
        .claim_idempotency_key(SCOPE, "k1", "hash-a", new_order_id(), at(0))
        .await
        .unwrap();
    h.store()
        .complete_idempotency_key(SCOPE, "k1", 201, b"{\"ok\":true}")
        .await
        .unwrap();

    h.store()
        .release_idempotency_key(SCOPE, "k1")
        .await
        .unwrap();
    let replay = h
        .store()
        .claim_idempotency_key(SCOPE, "k1", "hash-a", new_order_id(), at(1))
        .await;

    let expected = IdempotencyClaim::Completed {
        status: 201,
        body: b"{\"ok\":true}".to_vec(),
    };
    assert_eq!(replay.unwrap(), expected);
}

async fn released_key_can_be_claimed_again(h: Harness) {
    h.store()
        .claim_idempotency_key(SCOPE, "k1", "hash-a", new_order_id(), at(0))
        .await
        .unwrap();

    h.store()
        .release_idempotency_key(SCOPE, "k1")
        .await
        .unwrap();
    let retry = h
        .store()
        .claim_idempotency_key(SCOPE, "k1", "hash-b", new_order_id(), at(1))
        .await;

    assert_eq!(retry.unwrap(), IdempotencyClaim::Claimed);
}

async fn keys_are_scoped(h: Harness) {
    h.store()
        .claim_idempotency_key("checkout", "k1", "hash-a", new_order_id(), at(0))
        .await
        .unwrap();

    let other_scope = h
        .store()
        .claim_idempotency_key("refund", "k1", "hash-b", new_order_id(), at(1))
        .await;

    assert_eq!(other_scope.unwrap(), IdempotencyClaim::Claimed);
}

async fn twenty_concurrent_claims_yield_exactly_one_owner(h: Harness) {
    let claims = (0..20).map(|i| {
        let h = h.clone();
        tokio::spawn(async move {
            h.store()
                .claim_idempotency_key(SCOPE, "hot", "hash-a", new_order_id(), at(i))
                .await
                .unwrap()
        })
    });

    let claims: Vec<IdempotencyClaim> = futures::future::try_join_all(claims).await.unwrap();

    let owners = claims
        .iter()
        .filter(|c| **c == IdempotencyClaim::Claimed)
        .count();
    assert_eq!(owners, 1, "{claims:?}");
    assert!(
        claims.iter().all(|c| matches!(
            c,
            IdempotencyClaim::Claimed | IdempotencyClaim::InProgress { .. }
        )),
        "{claims:?}"
    );
}

async fn abandoned_keys_without_a_saga_are_released_at_start_up(h: Harness) {
    let (died, running, answered) = (new_order_id(), new_order_id(), new_order_id());
    for (key, order) in [("died", died), ("running", running), ("answered", answered)] {
        let claim = h
            .store()
            .claim_idempotency_key(SCOPE, key, "hash", order, at(0))
            .await;
        assert_eq!(claim.unwrap(), IdempotencyClaim::Claimed);
    }
    let saga = SagaRecord {
        order_id: running,
        cart_id: None,
        step: SagaStep::Started,
        payment_token: "tok_visa".to_owned(),
        failure_reason: None,
        started_at: at(0),
        updated_at: at(0),
    };
    h.store().save_saga(&saga).await.unwrap();
    h.store()
        .complete_idempotency_key(SCOPE, "answered", 201, b"{}")
        .await
        .unwrap();

    assert_eq!(
        h.store()
            .release_abandoned_idempotency_keys()
            .await
            .unwrap(),
        1
    );

    let again = h
        .store()
        .claim_idempotency_key(SCOPE, "died", "hash", new_order_id(), at(1))
        .await;
    assert_eq!(
        again.unwrap(),
        IdempotencyClaim::Claimed,
        "the dead request's key runs afresh"
    );
    let still = h
        .store()
        .claim_idempotency_key(SCOPE, "running", "hash", new_order_id(), at(1))
        .await;
    assert_eq!(
        still.unwrap(),
        IdempotencyClaim::InProgress { order_id: running }
    );
    let replay = h
        .store()
        .claim_idempotency_key(SCOPE, "answered", "hash", new_order_id(), at(1))
        .await;
    assert!(matches!(
        replay.unwrap(),
        IdempotencyClaim::Completed { status: 201, .. }
    ));
}
