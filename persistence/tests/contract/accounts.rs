use actors::ports::{AccountCreated, AccountRecord, SessionRecord};
use domain::{CustomerId, Email, Timestamp};

use crate::contract_tests;
use crate::fixtures::{at, customer};
use crate::harness::Harness;

contract_tests!(
    an_account_round_trips_by_email_and_by_id,
    a_second_account_with_the_same_email_is_refused_and_changes_nothing,
    a_session_is_found_until_it_expires_or_is_deleted,
    sessions_per_account_are_bounded_keeping_the_newest,
    expired_sessions_are_pruned_at_the_next_login,
);

fn email(s: &str) -> Email {
    Email::parse(s).expect("valid email")
}

fn new_account(address: &str) -> AccountRecord {
    AccountRecord {
        customer: customer(),
        email: email(address),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        created_at: at(0),
    }
}

fn session(
    customer: CustomerId,
    digest_seed: u8,
    created: Timestamp,
    ttl_ms: i64,
) -> SessionRecord {
    SessionRecord {
        token_digest: format!("{digest_seed:02x}").repeat(32),
        customer,
        created_at: created,
        expires_at: created.plus_ms(ttl_ms),
    }
}

async fn an_account_round_trips_by_email_and_by_id(h: Harness) {
    let ann = new_account("ann@example.com");
    assert_eq!(
        h.store().create_account(&ann).await.unwrap(),
        AccountCreated::Created
    );
    assert_eq!(
        h.store().account_by_email(&ann.email).await.unwrap(),
        Some(ann.clone())
    );
    assert_eq!(h.store().account(ann.customer).await.unwrap(), Some(ann));
    assert_eq!(
        h.store()
            .account_by_email(&email("bob@example.com"))
            .await
            .unwrap(),
        None
    );
}

async fn a_second_account_with_the_same_email_is_refused_and_changes_nothing(h: Harness) {
    let first = new_account("ann@example.com");
    h.store().create_account(&first).await.unwrap();
    let second = new_account("ann@example.com");

    let created = h.store().create_account(&second).await.unwrap();

    assert_eq!(created, AccountCreated::EmailTaken);
    assert_eq!(h.store().account(second.customer).await.unwrap(), None);
    assert_eq!(
        h.store().account_by_email(&first.email).await.unwrap(),
        Some(first)
    );
}

async fn a_session_is_found_until_it_expires_or_is_deleted(h: Harness) {
    let ann = new_account("ann@example.com");
    h.store().create_account(&ann).await.unwrap();
    let s = session(ann.customer, 1, at(1_000), 60_000);
    h.store().create_session(&s, 5).await.unwrap();

    assert_eq!(
        h.store().session(&s.token_digest, at(2_000)).await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(
        h.store()
            .session(&s.token_digest, at(61_000))
            .await
            .unwrap(),
        None,
        "expired at 61s"
    );
    h.store().delete_session(&s.token_digest).await.unwrap();
    assert_eq!(
        h.store().session(&s.token_digest, at(2_000)).await.unwrap(),
        None
    );
    // Logging out twice is not an error.
    h.store().delete_session(&s.token_digest).await.unwrap();
}

async fn sessions_per_account_are_bounded_keeping_the_newest(h: Harness) {
    let ann = new_account("ann@example.com");
    h.store().create_account(&ann).await.unwrap();
    let sessions: Vec<_> = (1..=4)
        .map(|i| session(ann.customer, i, at(i64::from(i) * 1_000), 600_000))
        .collect();

    for s in &sessions {
        h.store().create_session(s, 2).await.unwrap();
    }

    let now = at(10_000);
    let mut live = Vec::new();
    for s in &sessions {
        live.push(
            h.store()
                .session(&s.token_digest, now)
                .await
                .unwrap()
                .is_some(),
        );
    }
    assert_eq!(live, vec![false, false, true, true]);
}

async fn expired_sessions_are_pruned_at_the_next_login(h: Harness) {
    let ann = new_account("ann@example.com");
    h.store().create_account(&ann).await.unwrap();
    let old = session(ann.customer, 1, at(0), 1_000);
    h.store().create_session(&old, 5).await.unwrap();

    h.store()
        .create_session(&session(ann.customer, 2, at(5_000), 60_000), 5)
        .await
        .unwrap();

    // Looked up "in the past", the old session would still be valid if its row were there.
    assert_eq!(
        h.store().session(&old.token_digest, at(500)).await.unwrap(),
        None
    );
}
