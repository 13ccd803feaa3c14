//! The books checks on hand-made inputs: a consistent set passes, and each kind of damage fails
//! exactly the check that should catch it.

use super::*;

const O1: &str = "00000000-0000-4000-8000-000000000001";
const O2: &str = "00000000-0000-4000-8000-000000000002";
const O3: &str = "00000000-0000-4000-8000-000000000003";

fn stock(sku: &str, on_hand: i64, reserved: i64, sold: i64) -> StockRow {
    StockRow {
        sku: sku.into(),
        on_hand,
        reserved,
        available: on_hand - reserved,
        sold,
    }
}

/// Stock 10 of HOT; two confirmed orders of 1 each, one failed (out of stock) order.
fn consistent() -> Books {
    let order = |id: &str, status: &str| OrderRow {
        order_id: id.into(),
        status: status.into(),
    };
    let line = |id: &str| LineRow {
        order_id: id.into(),
        sku: "HOT".into(),
        quantity: 1,
    };
    let committed = |id: &str| ReservationRow {
        reservation_id: reservation_id(id, "HOT").expect("uuid"),
        sku: "HOT".into(),
        quantity: 1,
        status: "committed".into(),
    };
    let key = |k: &str, id: &str, code: i64| KeyRow {
        scope: "buy_now".into(),
        key: k.into(),
        order_id: id.into(),
        status_code: Some(code),
    };
    let saga = |id: &str, step: &str| SagaRow {
        order_id: id.into(),
        step: step.into(),
        age_ms: 100_000,
    };
    let ack = |k: &str, status: u16, id: Option<&str>| Acknowledged {
        key: k.into(),
        status: Some(status),
        order_id: id.map(Into::into),
    };
    Books {
        stock_given: BTreeMap::from([("HOT".to_string(), 10)]),
        api_inventory: vec![stock("HOT", 8, 0, 2)],
        store: Some(StoreBooks {
            inventory: vec![stock("HOT", 8, 0, 2)],
            orders: vec![
                order(O1, "fulfillment_requested"),
                order(O2, "confirmed"),
                order(O3, "failed"),
            ],
            lines: vec![line(O1), line(O2), line(O3)],
            reservations: vec![committed(O1), committed(O2)],
            payments: vec![
                PaymentRow {
                    order_id: O1.into(),
                    status: "authorized".into(),
                },
                PaymentRow {
                    order_id: O2.into(),
                    status: "authorized".into(),
                },
            ],
            sagas: vec![
                saga(O1, "completed"),
                saga(O2, "completed"),
                saga(O3, "failed"),
            ],
            keys: vec![key("k1", O1, 201), key("k2", O2, 201), key("k3", O3, 409)],
            outbox_published: 0,
            outbox_unpublished: 12,
        }),
        store_missing_reason: String::new(),
        tally: vec![
            ack("k1", 201, Some(O1)),
            ack("k2", 201, Some(O2)),
            ack("k3", 409, None),
        ],
        tally_dropped: 0,
        replays: vec![ReplayRow {
            key: "k1".into(),
            first_status: 201,
            first_order: Some(O1.into()),
            replay_status: Some(201),
            replay_order: Some(O1.into()),
        }],
        api_orders: vec![ApiOrderRow {
            order_id: O1.into(),
            http_status: Some(200),
            status: Some("fulfillment_requested".into()),
        }],
        saga_stuck_after_ms: 30_000,
        outbox_note: String::new(),
    }
}

fn store(b: &mut Books) -> &mut StoreBooks {
    b.store.as_mut().expect("hand-made books have a store")
}

fn failed(b: &Books) -> Vec<String> {
    check(b)
        .into_iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .map(|r| r.name)
        .collect()
}

#[test]
fn consistent_books_pass_and_outbox_is_skipped_without_a_relay() {
    let b = consistent();
    let results = check(&b);
    assert!(!any_failed(&results), "{results:#?}");
    let outbox = results
        .iter()
        .find(|r| r.name == "outbox drained")
        .expect("outbox check");
    assert_eq!(outbox.verdict, Verdict::Skip);
    assert!(outbox.detail.contains("no relay yet"));
}

#[test]
fn overselling_fails_sold_within_stock_and_the_units_check() {
    let mut b = consistent();
    b.stock_given.insert("HOT".into(), 1);
    assert_eq!(failed(&b), vec!["units sold never exceed stock"]);
    let mut c = consistent();
    store(&mut c).inventory[0].sold = 3;
    let f = failed(&c);
    assert!(
        f.contains(&"confirmed orders equal units sold".to_string()),
        "{f:?}"
    );
}

#[test]
fn negative_stock_fails() {
    let mut b = consistent();
    b.api_inventory[0].available = -1;
    assert_eq!(failed(&b), vec!["no stock is negative"]);
    let mut c = consistent();
    c.api_inventory.clear();
    assert!(failed(&c).contains(&"no stock is negative".to_string()));
}

#[test]
fn an_order_behind_no_key_or_two_keys_fails() {
    let mut b = consistent();
    store(&mut b).keys.remove(2);
    assert_eq!(failed(&b), vec!["one order per idempotency key"]);
    let mut c = consistent();
    store(&mut c).keys.push(KeyRow {
        scope: "buy_now".into(),
        key: "k9".into(),
        order_id: O1.into(),
        status_code: Some(201),
    });
    assert_eq!(failed(&c), vec!["one order per idempotency key"]);
}

#[test]
fn a_replay_with_another_order_fails() {
    let mut b = consistent();
    b.replays[0].replay_order = Some(O2.into());
    assert_eq!(failed(&b), vec!["one order per idempotency key"]);
}

#[test]
fn client_and_store_disagreeing_on_a_key_fails() {
    let mut b = consistent();
    b.tally[0].order_id = Some(O2.into());
    let f = failed(&b);
    assert!(
        f.contains(&"one order per idempotency key".to_string()),
        "{f:?}"
    );
}

#[test]
fn confirmed_order_without_committed_reservation_or_payment_fails() {
    let mut b = consistent();
    store(&mut b).reservations[0].status = "released".into();
    assert_eq!(
        failed(&b),
        vec!["confirmed orders have committed reservations and an authorized payment"]
    );
    let mut c = consistent();
    store(&mut c).payments[1].status = "voided".into();
    assert_eq!(
        failed(&c),
        vec!["confirmed orders have committed reservations and an authorized payment"]
    );
}

#[test]
fn old_open_saga_is_stuck_but_a_young_one_is_not() {
    let mut b = consistent();
    store(&mut b).sagas[0] = SagaRow {
        order_id: O1.into(),
        step: "authorized".into(),
        age_ms: 29_999,
    };
    assert!(failed(&b).is_empty());
    store(&mut b).sagas[0].age_ms = 30_000;
    assert_eq!(failed(&b), vec!["no saga stuck"]);
}

#[test]
fn an_acknowledged_order_missing_or_not_confirmed_fails() {
    let mut b = consistent();
    store(&mut b).orders[1].status = "cancelled".into();
    let f = failed(&b);
    assert!(
        f.contains(&"every 201 the client saw is a confirmed order".to_string()),
        "{f:?}"
    );
    let mut c = consistent();
    c.api_orders[0].http_status = Some(404);
    assert_eq!(
        failed(&c),
        vec!["every 201 the client saw is a confirmed order"]
    );
}

#[test]
fn without_a_store_store_checks_skip_never_pass() {
    let mut b = consistent();
    b.store = None;
    b.store_missing_reason = "--database-url not given".into();
    let results = check(&b);
    assert!(!any_failed(&results), "{results:#?}");
    for name in [
        "confirmed orders equal units sold",
        "no saga stuck",
        "outbox drained",
    ] {
        let r = results.iter().find(|r| r.name == name).expect("present");
        assert_eq!(r.verdict, Verdict::Skip, "{name}");
        assert!(r.detail.contains("--database-url"));
    }
}

#[test]
fn outbox_with_a_relay_must_be_empty() {
    let mut b = consistent();
    store(&mut b).outbox_published = 5;
    assert_eq!(failed(&b), vec!["outbox drained"]);
    store(&mut b).outbox_unpublished = 0;
    assert!(failed(&b).is_empty());
}

#[test]
fn reservation_id_matches_uuid_v5_in_the_order_namespace() {
    let id = reservation_id(O1, "HOT").expect("uuid");
    let parsed = uuid::Uuid::parse_str(&id).expect("uuid");
    assert_eq!(parsed.get_version_num(), 5);
    assert_ne!(reservation_id(O1, "HOT"), reservation_id(O2, "HOT"));
    assert_eq!(reservation_id("not-a-uuid", "HOT"), None);
}
