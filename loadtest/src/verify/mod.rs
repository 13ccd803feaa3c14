//! Verifying the books after a run: pure checks over rows gathered from the API and the store.
//!
//! `collect` does the IO and fills a [`Books`]; [`check`] turns it into PASS/FAIL/SKIP lines.
//! A check that lacks its inputs says SKIP with the reason, never PASS.

pub mod collect;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::limits::CHECK_EXAMPLES_MAX;

/// Order statuses in which the stock has left the shelf for good.
pub const CONFIRMED_STATUSES: [&str; 4] =
    ["confirmed", "fulfillment_requested", "shipped", "delivered"];

/// Saga steps after which nothing more happens.
pub const SAGA_TERMINAL_STEPS: [&str; 2] = ["completed", "failed"];

pub fn is_confirmed_status(status: &str) -> bool {
    CONFIRMED_STATUSES.contains(&status)
}

/// The reservation id the server derives for one order line (`actors::saga::reservation_id`):
/// a UUID v5 named by the SKU in the order id's namespace. Derived here rather than joined, as
/// the reservations table does not name its order.
pub fn reservation_id(order_id: &str, sku: &str) -> Option<String> {
    let ns = uuid::Uuid::parse_str(order_id).ok()?;
    Some(uuid::Uuid::new_v5(&ns, sku.as_bytes()).to_string())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub verdict: Verdict,
    pub detail: String,
}

impl CheckResult {
    fn new(name: &str, verdict: Verdict, detail: impl Into<String>) -> CheckResult {
        CheckResult {
            name: name.to_string(),
            verdict,
            detail: detail.into(),
        }
    }

    /// PASS when `problems` is empty, else FAIL with the count and the first few.
    fn from_problems(name: &str, checked: &str, problems: Vec<String>) -> CheckResult {
        if problems.is_empty() {
            return CheckResult::new(name, Verdict::Pass, checked);
        }
        let shown: Vec<&str> = problems
            .iter()
            .take(CHECK_EXAMPLES_MAX)
            .map(String::as_str)
            .collect();
        CheckResult::new(
            name,
            Verdict::Fail,
            format!("{} problem(s): {}", problems.len(), shown.join("; ")),
        )
    }

    pub fn line(&self) -> String {
        let v = match self.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        };
        format!("{v}: {} — {}", self.name, self.detail)
    }
}

pub fn any_failed(results: &[CheckResult]) -> bool {
    results.iter().any(|r| r.verdict == Verdict::Fail)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockRow {
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub sold: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    pub order_id: String,
    pub status: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineRow {
    pub order_id: String,
    pub sku: String,
    pub quantity: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationRow {
    pub reservation_id: String,
    pub sku: String,
    pub quantity: i64,
    pub status: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentRow {
    pub order_id: String,
    pub status: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SagaRow {
    pub order_id: String,
    pub step: String,
    /// Time since the saga was last touched, when the books were read.
    pub age_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRow {
    pub scope: String,
    pub key: String,
    pub order_id: String,
    pub status_code: Option<i64>,
}

/// The store's rows that concern this run (its SKUs, its orders, its keys).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreBooks {
    pub inventory: Vec<StockRow>,
    pub orders: Vec<OrderRow>,
    pub lines: Vec<LineRow>,
    pub reservations: Vec<ReservationRow>,
    pub payments: Vec<PaymentRow>,
    pub sagas: Vec<SagaRow>,
    pub keys: Vec<KeyRow>,
    /// Outbox rows ever published, and still unpublished, across the whole store.
    pub outbox_published: i64,
    pub outbox_unpublished: i64,
}

/// One checkout the client saw answered (or not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acknowledged {
    pub key: String,
    pub status: Option<u16>,
    pub order_id: Option<String>,
}

/// A key sent again after the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayRow {
    pub key: String,
    pub first_status: u16,
    pub first_order: Option<String>,
    /// None when the replay got no HTTP answer.
    pub replay_status: Option<u16>,
    pub replay_order: Option<String>,
}

/// An acknowledged order read back through `GET /v1/orders/{id}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiOrderRow {
    pub order_id: String,
    pub http_status: Option<u16>,
    pub status: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Books {
    /// Units this run put on the shelf, per SKU.
    pub stock_given: BTreeMap<String, i64>,
    /// `GET /v1/inventory/{sku}` per SKU; a SKU missing here could not be read.
    pub api_inventory: Vec<StockRow>,
    pub store: Option<StoreBooks>,
    /// Why `store` is None.
    pub store_missing_reason: String,
    pub tally: Vec<Acknowledged>,
    /// Checkout attempts the tally had no room for.
    pub tally_dropped: u64,
    pub replays: Vec<ReplayRow>,
    pub api_orders: Vec<ApiOrderRow>,
    /// A saga in a non-terminal step untouched this long is stuck.
    pub saga_stuck_after_ms: i64,
    /// How the outbox drained while settling, if a relay was publishing.
    pub outbox_note: String,
}

/// Every check, in a fixed order.
pub fn check(b: &Books) -> Vec<CheckResult> {
    vec![
        sold_within_stock(b),
        no_negative_stock(b),
        confirmed_units_equal_sold(b),
        one_order_per_key(b),
        confirmed_orders_backed(b),
        no_stuck_saga(b),
        acknowledged_not_lost(b),
        outbox_drained(b),
    ]
}

fn skip_without_store(name: &str, b: &Books) -> CheckResult {
    CheckResult::new(
        name,
        Verdict::Skip,
        format!("no store access: {}", b.store_missing_reason),
    )
}

pub fn sold_within_stock(b: &Books) -> CheckResult {
    let name = "units sold never exceed stock";
    let mut problems = Vec::new();
    let sources = [
        Some(("api", &b.api_inventory)),
        b.store.as_ref().map(|s| ("store", &s.inventory)),
    ];
    for (source, rows) in sources.into_iter().flatten() {
        for row in rows.iter() {
            let given = b.stock_given.get(&row.sku).copied().unwrap_or(0);
            if row.sold > given {
                problems.push(format!(
                    "{source}: {} sold {} of {given} stocked",
                    row.sku, row.sold
                ));
            }
        }
    }
    if let Some(s) = &b.store {
        for (sku, units) in confirmed_units_by_sku(s) {
            let given = b.stock_given.get(&sku).copied().unwrap_or(0);
            if units > given {
                problems.push(format!(
                    "store: confirmed orders hold {units} of {sku}, only {given} stocked"
                ));
            }
        }
    }
    let stocked: i64 = b.stock_given.values().sum();
    let sold: i64 = b
        .store
        .as_ref()
        .map_or(&b.api_inventory, |s| &s.inventory)
        .iter()
        .map(|r| r.sold)
        .sum();
    let checked = format!(
        "{} SKU(s): {sold} of {stocked} unit(s) sold",
        b.stock_given.len()
    );
    CheckResult::from_problems(name, &checked, problems)
}

pub fn no_negative_stock(b: &Books) -> CheckResult {
    let name = "no stock is negative";
    let mut problems = Vec::new();
    for sku in b.stock_given.keys() {
        if !b.api_inventory.iter().any(|r| &r.sku == sku) {
            problems.push(format!("api: inventory of {sku} could not be read"));
        }
    }
    let sources = [
        Some(("api", &b.api_inventory)),
        b.store.as_ref().map(|s| ("store", &s.inventory)),
    ];
    for (source, rows) in sources.into_iter().flatten() {
        for r in rows.iter() {
            for (field, v) in [
                ("on_hand", r.on_hand),
                ("reserved", r.reserved),
                ("available", r.available),
                ("sold", r.sold),
            ] {
                if v < 0 {
                    problems.push(format!("{source}: {} {field} = {v}", r.sku));
                }
            }
        }
    }
    let where_ = if b.store.is_some() {
        "api and store"
    } else {
        "api only"
    };
    CheckResult::from_problems(
        name,
        &format!("{} SKU(s) in {where_}", b.api_inventory.len()),
        problems,
    )
}

fn confirmed_units_by_sku(s: &StoreBooks) -> BTreeMap<String, i64> {
    let confirmed: HashSet<&str> = s
        .orders
        .iter()
        .filter(|o| is_confirmed_status(&o.status))
        .map(|o| o.order_id.as_str())
        .collect();
    let mut units = BTreeMap::new();
    for l in s
        .lines
        .iter()
        .filter(|l| confirmed.contains(l.order_id.as_str()))
    {
        *units.entry(l.sku.clone()).or_insert(0) += l.quantity;
    }
    units
}

pub fn confirmed_units_equal_sold(b: &Books) -> CheckResult {
    let name = "confirmed orders equal units sold";
    let Some(s) = &b.store else {
        return skip_without_store(name, b);
    };
    let units = confirmed_units_by_sku(s);
    let mut problems = Vec::new();
    for row in &s.inventory {
        let confirmed = units.get(&row.sku).copied().unwrap_or(0);
        if confirmed != row.sold {
            problems.push(format!(
                "{}: confirmed order units {confirmed} != sold {}",
                row.sku, row.sold
            ));
        }
    }
    for (sku, n) in &units {
        if !s.inventory.iter().any(|r| &r.sku == sku) {
            problems.push(format!("{sku}: {n} confirmed unit(s) but no inventory row"));
        }
    }
    let total: i64 = units.values().sum();
    CheckResult::from_problems(
        name,
        &format!(
            "{total} confirmed unit(s) across {} SKU(s)",
            s.inventory.len()
        ),
        problems,
    )
}

pub fn one_order_per_key(b: &Books) -> CheckResult {
    let name = "one order per idempotency key";
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    if let Some(s) = &b.store {
        let mut keys_per_order: HashMap<&str, usize> = HashMap::new();
        for k in &s.keys {
            *keys_per_order.entry(k.order_id.as_str()).or_insert(0) += 1;
        }
        for o in &s.orders {
            match keys_per_order.get(o.order_id.as_str()) {
                None => problems.push(format!(
                    "order {} ({}) is behind no idempotency key",
                    o.order_id, o.status
                )),
                Some(&n) if n > 1 => {
                    problems.push(format!("order {} is behind {n} keys", o.order_id))
                }
                Some(_) => {}
            }
        }
        let by_key: HashMap<&str, &KeyRow> = s.keys.iter().map(|k| (k.key.as_str(), k)).collect();
        for a in b.tally.iter().filter(|a| a.status == Some(201)) {
            match (by_key.get(a.key.as_str()), &a.order_id) {
                (None, _) => problems.push(format!(
                    "key {} answered 201 but is not in the store",
                    a.key
                )),
                (Some(k), Some(id)) if &k.order_id != id => problems.push(format!(
                    "key {}: client got order {id}, store says {}",
                    a.key, k.order_id
                )),
                _ => {}
            }
        }
        checked.push(format!(
            "{} order(s) against {} key(s)",
            s.orders.len(),
            s.keys.len()
        ));
    }
    for r in &b.replays {
        if r.replay_status != Some(r.first_status) || r.replay_order != r.first_order {
            problems.push(format!(
                "replay of {}: first {} {:?}, replay {:?} {:?}",
                r.key, r.first_status, r.first_order, r.replay_status, r.replay_order
            ));
        }
    }
    if !b.replays.is_empty() {
        checked.push(format!("{} key(s) replayed", b.replays.len()));
    }
    if checked.is_empty() {
        return CheckResult::new(
            name,
            Verdict::Skip,
            format!("no replays and no store access: {}", b.store_missing_reason),
        );
    }
    CheckResult::from_problems(name, &checked.join(", "), problems)
}

pub fn confirmed_orders_backed(b: &Books) -> CheckResult {
    let name = "confirmed orders have committed reservations and an authorized payment";
    let Some(s) = &b.store else {
        return skip_without_store(name, b);
    };
    let reservations: HashMap<&str, &ReservationRow> = s
        .reservations
        .iter()
        .map(|r| (r.reservation_id.as_str(), r))
        .collect();
    let payments: HashMap<&str, &str> = s
        .payments
        .iter()
        .map(|p| (p.order_id.as_str(), p.status.as_str()))
        .collect();
    let mut lines: HashMap<&str, Vec<&LineRow>> = HashMap::new();
    for l in &s.lines {
        lines.entry(l.order_id.as_str()).or_default().push(l);
    }
    let mut problems = Vec::new();
    let mut n = 0;
    for o in s.orders.iter().filter(|o| is_confirmed_status(&o.status)) {
        n += 1;
        match payments.get(o.order_id.as_str()) {
            Some(&"authorized") => {}
            other => problems.push(format!(
                "order {}: payment {:?}, not authorized",
                o.order_id, other
            )),
        }
        let order_lines = lines
            .get(o.order_id.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if order_lines.is_empty() {
            problems.push(format!("order {}: no lines", o.order_id));
        }
        for l in order_lines {
            let id = reservation_id(&o.order_id, &l.sku).unwrap_or_default();
            match reservations.get(id.as_str()) {
                Some(r)
                    if r.status == "committed" && r.quantity == l.quantity && r.sku == l.sku => {}
                Some(r) => problems.push(format!(
                    "order {} line {}: reservation {} is {} x{} (want committed x{})",
                    o.order_id, l.sku, id, r.status, r.quantity, l.quantity
                )),
                None => problems.push(format!(
                    "order {} line {}: no reservation {id}",
                    o.order_id, l.sku
                )),
            }
        }
    }
    CheckResult::from_problems(name, &format!("{n} confirmed order(s)"), problems)
}

pub fn no_stuck_saga(b: &Books) -> CheckResult {
    let name = "no saga stuck";
    let Some(s) = &b.store else {
        return skip_without_store(name, b);
    };
    let open: Vec<&SagaRow> = s
        .sagas
        .iter()
        .filter(|g| !SAGA_TERMINAL_STEPS.contains(&g.step.as_str()))
        .collect();
    let problems: Vec<String> = open
        .iter()
        .filter(|g| g.age_ms >= b.saga_stuck_after_ms)
        .map(|g| {
            format!(
                "saga {} in step {} untouched for {} ms",
                g.order_id, g.step, g.age_ms
            )
        })
        .collect();
    let checked = format!(
        "{} saga(s), {} still open but younger than {} ms",
        s.sagas.len(),
        open.len() - problems.len(),
        b.saga_stuck_after_ms
    );
    CheckResult::from_problems(name, &checked, problems)
}

pub fn acknowledged_not_lost(b: &Books) -> CheckResult {
    let name = "every 201 the client saw is a confirmed order";
    let acked: Vec<&Acknowledged> = b.tally.iter().filter(|a| a.status == Some(201)).collect();
    let mut problems = Vec::new();
    let mut checked = vec![format!("{} acknowledged order(s)", acked.len())];
    for a in &acked {
        if a.order_id.is_none() {
            problems.push(format!("key {}: 201 without an order id", a.key));
        }
    }
    if let Some(s) = &b.store {
        let status: HashMap<&str, &str> = s
            .orders
            .iter()
            .map(|o| (o.order_id.as_str(), o.status.as_str()))
            .collect();
        for a in &acked {
            let Some(id) = &a.order_id else { continue };
            match status.get(id.as_str()) {
                Some(st) if is_confirmed_status(st) => {}
                Some(st) => {
                    problems.push(format!("order {id} acknowledged but is {st} in the store"))
                }
                None => problems.push(format!(
                    "order {id} acknowledged but missing from the store"
                )),
            }
        }
        checked.push("all in store".to_string());
    }
    for o in &b.api_orders {
        match (o.http_status, o.status.as_deref()) {
            (Some(200), Some(st)) if is_confirmed_status(st) => {}
            (h, st) => problems.push(format!(
                "GET /v1/orders/{}: {:?} status {:?}",
                o.order_id, h, st
            )),
        }
    }
    checked.push(format!("{} read back through the API", b.api_orders.len()));
    if b.tally_dropped > 0 {
        checked.push(format!(
            "{} attempt(s) not tallied (tally full)",
            b.tally_dropped
        ));
    }
    CheckResult::from_problems(name, &checked.join(", "), problems)
}

pub fn outbox_drained(b: &Books) -> CheckResult {
    let name = "outbox drained";
    let Some(s) = &b.store else {
        return skip_without_store(name, b);
    };
    if s.outbox_published == 0 {
        return CheckResult::new(
            name,
            Verdict::Skip,
            format!(
                "no relay yet (no outbox row was ever published; {} unpublished)",
                s.outbox_unpublished
            ),
        );
    }
    let note = if b.outbox_note.is_empty() {
        String::new()
    } else {
        format!(" ({})", b.outbox_note)
    };
    let problems = if s.outbox_unpublished > 0 {
        vec![format!(
            "{} event(s) still unpublished after the run settled{note}",
            s.outbox_unpublished
        )]
    } else {
        Vec::new()
    };
    CheckResult::from_problems(
        name,
        &format!("{} event(s) published{note}", s.outbox_published),
        problems,
    )
}

#[cfg(test)]
mod tests;
