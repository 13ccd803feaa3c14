//! Stored state the domain could never have produced is refused on load, never acted on.

use actors::ports::StoreError;
use domain::inventory::InventorySku;
use domain::ReservationId;

use crate::contract_tests;
use crate::fixtures::{at, reserve, restock, sku, stock, uuid};
use crate::harness::Harness;

contract_tests!(
    store_answers_ping,
    inventory_breaking_an_invariant_fails_to_load_as_other
);

async fn store_answers_ping(h: Harness) {
    h.store().ping().await.unwrap();
}

async fn inventory_breaking_an_invariant_fails_to_load_as_other(h: Harness) {
    let mut inv = InventorySku::new(sku("MUG"));
    let batch = vec![
        stock(&mut inv, restock(10), at(0)),
        stock(
            &mut inv,
            reserve(ReservationId::from_u128(uuid()), 3, at(100)),
            at(1),
        ),
    ];
    h.store().commit_inventory(batch).await.unwrap();
    // The counter no longer matches the held reservation: a bad migration or a manual edit.
    h.execute_raw("UPDATE inventory SET reserved = 0").await;

    let result = h.store().load_inventory(inv.sku()).await;

    assert!(matches!(result, Err(StoreError::Other(_))), "{result:?}");
}
