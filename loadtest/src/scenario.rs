//! The three workloads, as operations the drivers schedule.
//!
//! An *operation* is one buyer's (or shopper's) whole journey: for buy-now one request, for a
//! cart checkout several. The drivers time operations; each operation also reports how many
//! HTTP requests it made, so the report has both journeys/s and requests/s.

use std::collections::VecDeque;
use std::sync::Mutex;

use futures::StreamExt;
use serde_json::Value;

use crate::client::{Answer, Api};
use crate::limits::{SETUP_CONCURRENCY_MAX, TALLY_ENTRIES_MAX};
use crate::outcome::Outcome;
use crate::verify::is_confirmed_status;
use crate::zipf::{SplitMix64, Zipf};

pub const TOKEN_APPROVE: &str = "tok_visa";
pub const TOKEN_DECLINE: &str = "tok_decline";

/// Cart ids remembered for cart-storm revisits; older ones are forgotten.
pub const REVISIT_RING_MAX: usize = 10_000;

/// Most distinct lines a checkout-mix cart gets.
pub const CART_LINES_MAX: u32 = 10;

/// Highest quantity a shopper puts on one line.
pub const LINE_QUANTITY_MAX: u64 = 3;

/// Price of every synthetic product, in cents.
pub const PRICE_MINOR: i64 = 19_999;

#[derive(Clone, Debug, PartialEq)]
pub struct FlashSale {
    pub sku: String,
    pub stock: u64,
    pub quantity_per_buyer: u32,
    /// Create a cart, add the SKU and check out, instead of one buy-now request.
    pub via_cart: bool,
}

#[derive(Clone, Debug)]
pub struct CheckoutMix {
    pub sku_prefix: String,
    pub skus: usize,
    pub stock_per_sku: u64,
    pub zipf: Zipf,
    pub lines_max: u32,
    pub change_fraction: f64,
    pub remove_fraction: f64,
    pub decline_fraction: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CartStorm {
    pub sku_prefix: String,
    pub skus: usize,
    pub items_per_cart: u32,
    /// Share of operations that read an older cart again (activating a passivated actor).
    pub revisit_fraction: f64,
}

#[derive(Clone, Debug)]
pub enum Scenario {
    FlashSale(FlashSale),
    CheckoutMix(CheckoutMix),
    CartStorm(CartStorm),
}

/// A product the setup defines and stocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogItem {
    pub sku: String,
    pub stock: u64,
}

impl Scenario {
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::FlashSale(_) => "flash-sale",
            Scenario::CheckoutMix(_) => "checkout-mix",
            Scenario::CartStorm(_) => "cart-storm",
        }
    }

    /// Does this scenario check out (and so have books to verify)?
    pub fn places_orders(&self) -> bool {
        !matches!(self, Scenario::CartStorm(_))
    }

    pub fn catalog(&self) -> Vec<CatalogItem> {
        match self {
            Scenario::FlashSale(f) => vec![CatalogItem {
                sku: f.sku.clone(),
                stock: f.stock,
            }],
            Scenario::CheckoutMix(m) => (0..m.skus)
                .map(|k| CatalogItem {
                    sku: sku_name(&m.sku_prefix, k),
                    stock: m.stock_per_sku,
                })
                .collect(),
            // Cart lines need a defined product, not stock.
            Scenario::CartStorm(c) => (0..c.skus)
                .map(|k| CatalogItem {
                    sku: sku_name(&c.sku_prefix, k),
                    stock: 0,
                })
                .collect(),
        }
    }
}

pub fn sku_name(prefix: &str, k: usize) -> String {
    format!("{prefix}-{k:05}")
}

/// Defines and stocks the catalog through the admin API, a bounded number of calls at a time.
pub async fn setup_catalog(api: &Api, items: &[CatalogItem]) -> anyhow::Result<()> {
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(items.iter())
        .map(|item| async move {
            let a = api
                .put_product(&item.sku, &format!("Load test {}", item.sku), PRICE_MINOR)
                .await?;
            expect_success(&a, &format!("PUT /v1/products/{}", item.sku))?;
            if item.stock > 0 {
                let a = api.restock(&item.sku, item.stock).await?;
                expect_success(&a, &format!("POST /v1/inventory/{}/restock", item.sku))?;
            }
            Ok(())
        })
        .buffer_unordered(SETUP_CONCURRENCY_MAX)
        .collect()
        .await;
    results.into_iter().collect()
}

fn expect_success(a: &Answer, what: &str) -> anyhow::Result<()> {
    if a.is_success() {
        Ok(())
    } else {
        anyhow::bail!("setup: {what} answered {} {}", a.status, a.body)
    }
}

/// What a replay of an idempotency key must send again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayTarget {
    BuyNow {
        lines: Vec<(String, u32)>,
        token: &'static str,
    },
    Checkout {
        cart_id: String,
        token: &'static str,
    },
}

/// The client's own record of one checkout attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TallyEntry {
    pub key: String,
    pub target: ReplayTarget,
    /// None when no HTTP answer came back.
    pub status: Option<u16>,
    pub order_id: Option<String>,
    pub order_status: Option<String>,
}

/// Every checkout attempt of the run, up to TALLY_ENTRIES_MAX.
#[derive(Debug, Default)]
pub struct Tally {
    pub entries: Vec<TallyEntry>,
    /// Attempts not kept because the tally was full: verification says it saw only part.
    pub dropped: u64,
}

/// The result of one operation, for the recorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpResult {
    pub outcome: Outcome,
    pub http_requests: u64,
    pub order_confirmed: bool,
}

impl OpResult {
    fn of(outcome: Outcome, http_requests: u64) -> OpResult {
        OpResult {
            outcome,
            http_requests,
            order_confirmed: false,
        }
    }
}

/// One run's workload: the scenario, the client and what the operations leave behind.
/// Shared by all in-flight operations; the mutexes are `std` ones because they are held for a
/// push or a pop only, never across an `.await`.
#[derive(Debug)]
pub struct Workload {
    pub api: Api,
    pub scenario: Scenario,
    /// Seeds each operation's choices, so a run can be repeated.
    pub seed: u64,
    /// Prefix of every idempotency key of this run, so the store's keys can be told apart.
    pub key_prefix: String,
    pub tally: Mutex<Tally>,
    revisit: Mutex<VecDeque<String>>,
}

impl Workload {
    pub fn new(api: Api, scenario: Scenario, seed: u64, key_prefix: String) -> Workload {
        Workload {
            api,
            scenario,
            seed,
            key_prefix,
            tally: Mutex::new(Tally::default()),
            revisit: Mutex::new(VecDeque::new()),
        }
    }

    pub fn key(&self, index: u64) -> String {
        format!("{}-{index}", self.key_prefix)
    }

    pub async fn run_one(&self, index: u64) -> OpResult {
        let mut rng = SplitMix64::for_operation(self.seed, index);
        match &self.scenario {
            Scenario::FlashSale(f) if f.via_cart => {
                let lines = vec![(f.sku.clone(), f.quantity_per_buyer)];
                self.cart_checkout(index, &lines, &[], TOKEN_APPROVE).await
            }
            Scenario::FlashSale(f) => {
                self.buy_now(index, vec![(f.sku.clone(), f.quantity_per_buyer)])
                    .await
            }
            Scenario::CheckoutMix(m) => self.checkout_mix(index, m, &mut rng).await,
            Scenario::CartStorm(c) => self.cart_storm(c, &mut rng).await,
        }
    }

    async fn buy_now(&self, index: u64, lines: Vec<(String, u32)>) -> OpResult {
        let key = self.key(index);
        let answer = self.api.buy_now(&key, &lines, TOKEN_APPROVE).await;
        self.settle_checkout(
            key,
            ReplayTarget::BuyNow {
                lines,
                token: TOKEN_APPROVE,
            },
            answer,
            1,
        )
    }

    /// Create a cart, add `lines`, apply `churn` (set quantity 0 = remove), check out.
    async fn cart_checkout(
        &self,
        index: u64,
        lines: &[(String, u32)],
        churn: &[(String, u32)],
        token: &'static str,
    ) -> OpResult {
        let mut http = 0;
        let cart_id = match self.cart_with_lines(lines, &mut http).await {
            Ok(id) => id,
            Err(r) => return r,
        };
        for (sku, q) in churn {
            http += 1;
            let answer = if *q == 0 {
                self.api.remove_item(&cart_id, sku).await
            } else {
                self.api.set_quantity(&cart_id, sku, *q).await
            };
            if let Some(r) = failure(answer, http) {
                return r;
            }
        }
        let key = self.key(index);
        let answer = self.api.checkout(&cart_id, &key, token).await;
        self.settle_checkout(
            key,
            ReplayTarget::Checkout { cart_id, token },
            answer,
            http + 1,
        )
    }

    async fn cart_with_lines(
        &self,
        lines: &[(String, u32)],
        http: &mut u64,
    ) -> Result<String, OpResult> {
        *http += 1;
        let created = match self.api.create_cart().await {
            Ok(a) if a.is_success() => a,
            other => {
                return Err(failure(other, *http).unwrap_or(OpResult::of(Outcome::Other, *http)))
            }
        };
        let Some(cart_id) = created.str_field("id").map(str::to_owned) else {
            return Err(OpResult::of(Outcome::Other, *http));
        };
        for (sku, q) in lines {
            *http += 1;
            if let Some(r) = failure(self.api.add_item(&cart_id, sku, *q).await, *http) {
                return Err(r);
            }
        }
        Ok(cart_id)
    }

    /// Classifies a checkout answer and records it in the tally.
    fn settle_checkout<E>(
        &self,
        key: String,
        target: ReplayTarget,
        answer: Result<Answer, E>,
        http: u64,
    ) -> OpResult {
        let (outcome, status, order_id, order_status) = match &answer {
            Ok(a) => (
                Outcome::from_answer(a.status, a.code()),
                Some(a.status),
                a.str_field("id").map(str::to_owned),
                a.str_field("status").map(str::to_owned),
            ),
            Err(_) => (Outcome::Transport, None, None, None),
        };
        let order_confirmed =
            outcome == Outcome::Created && order_status.as_deref().is_some_and(is_confirmed_status);
        let entry = TallyEntry {
            key,
            target,
            status,
            order_id,
            order_status,
        };
        if let Ok(mut t) = self.tally.lock() {
            if t.entries.len() < TALLY_ENTRIES_MAX {
                t.entries.push(entry);
            } else {
                t.dropped += 1;
            }
        }
        OpResult {
            outcome,
            http_requests: http,
            order_confirmed,
        }
    }

    async fn checkout_mix(&self, index: u64, m: &CheckoutMix, rng: &mut SplitMix64) -> OpResult {
        let wanted = rng.range_inclusive(1, u64::from(m.lines_max.clamp(1, CART_LINES_MAX)));
        let mut lines: Vec<(String, u32)> = Vec::new();
        for _ in 0..wanted {
            let sku = sku_name(&m.sku_prefix, m.zipf.sample(rng));
            // A popular SKU drawn twice stays one line: the cart's add would merge it anyway.
            if !lines.iter().any(|(s, _)| *s == sku) {
                lines.push((sku, rng.range_inclusive(1, LINE_QUANTITY_MAX) as u32));
            }
        }
        let mut churn = Vec::new();
        if rng.chance(m.change_fraction) {
            let i = rng.range_inclusive(0, lines.len() as u64 - 1) as usize;
            churn.push((
                lines[i].0.clone(),
                rng.range_inclusive(1, LINE_QUANTITY_MAX) as u32,
            ));
        }
        if lines.len() > 1 && rng.chance(m.remove_fraction) {
            let i = rng.range_inclusive(0, lines.len() as u64 - 1) as usize;
            churn.push((lines[i].0.clone(), 0));
        }
        let token = if rng.chance(m.decline_fraction) {
            TOKEN_DECLINE
        } else {
            TOKEN_APPROVE
        };
        self.cart_checkout(index, &lines, &churn, token).await
    }

    async fn cart_storm(&self, c: &CartStorm, rng: &mut SplitMix64) -> OpResult {
        let old = if rng.chance(c.revisit_fraction) {
            self.revisit_pick(rng)
        } else {
            None
        };
        if let Some(cart_id) = old {
            let a = self.api.get(&format!("/v1/carts/{cart_id}")).await;
            return failure(a, 1).unwrap_or(OpResult::of(Outcome::Ok, 1));
        }
        let lines: Vec<(String, u32)> = (0..c.items_per_cart)
            .map(|_| {
                (
                    sku_name(
                        &c.sku_prefix,
                        rng.range_inclusive(0, c.skus as u64 - 1) as usize,
                    ),
                    1,
                )
            })
            .collect();
        let mut http = 0;
        let cart_id = match self.cart_with_lines(&lines, &mut http).await {
            Ok(id) => id,
            Err(r) => return r,
        };
        self.revisit_remember(cart_id);
        OpResult::of(
            if lines.is_empty() {
                Outcome::Created
            } else {
                Outcome::Ok
            },
            http,
        )
    }

    fn revisit_pick(&self, rng: &mut SplitMix64) -> Option<String> {
        let ring = self.revisit.lock().ok()?;
        if ring.is_empty() {
            return None;
        }
        let i = rng.range_inclusive(0, ring.len() as u64 - 1) as usize;
        ring.get(i).cloned()
    }

    fn revisit_remember(&self, cart_id: String) {
        if let Ok(mut ring) = self.revisit.lock() {
            if ring.len() >= REVISIT_RING_MAX {
                ring.pop_front();
            }
            ring.push_back(cart_id);
        }
    }

    /// Takes the tally out once the run is over.
    pub fn take_tally(&self) -> Tally {
        self.tally
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default()
    }
}

/// `Some(result)` when a step did not succeed: the operation ends with that step's outcome.
fn failure<E>(answer: Result<Answer, E>, http: u64) -> Option<OpResult> {
    match answer {
        Ok(a) if a.is_success() => None,
        Ok(a) => Some(OpResult::of(Outcome::from_answer(a.status, a.code()), http)),
        Err(_) => Some(OpResult::of(Outcome::Transport, http)),
    }
}

/// The id field of a JSON body, for callers outside the hot path.
pub fn id_of(body: &Value) -> Option<String> {
    body.get("id").and_then(Value::as_str).map(str::to_owned)
}
