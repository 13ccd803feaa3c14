//! Buyers that keep buying one SKU until told to stop, remembering every attempt and its answer.

use crate::helpers::{Reply, TestApp};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Units one attempt buys cycle through 1..=`QUANTITY_MAX`, so units and orders differ.
const QUANTITY_MAX: u32 = 2;

/// One buy-now request and what became of it.
#[derive(Debug)]
pub struct Attempt {
    pub key: String,
    pub quantity: u32,
    pub started: Instant,
    pub latency: Duration,
    /// `None`: no HTTP answer (connection refused or dropped, e.g. the process was killed).
    pub reply: Option<Reply>,
}

impl Attempt {
    /// The order id of an acknowledged (201) order.
    pub fn acknowledged_order(&self) -> Option<&str> {
        let reply = self.reply.as_ref().filter(|r| r.status == 201)?;
        reply.body["id"].as_str()
    }
}

/// A running closed-loop load: each buyer sends its next request when the previous answered.
pub struct Load {
    stop: Arc<AtomicBool>,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    answered: Arc<AtomicU64>,
    buyers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// `buyers` concurrent buyers of `sku` against the server at `address`.
    pub fn start(address: &str, sku: &str, buyers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let answered = Arc::new(AtomicU64::new(0));
        let buyers = (0..buyers)
            .map(|b| {
                let app = TestApp::attach(address.to_string());
                let (stop, attempts, answered) = (stop.clone(), attempts.clone(), answered.clone());
                let sku = sku.to_string();
                tokio::spawn(async move {
                    let mut i = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("{sku}-buyer-{b}-{i}");
                        let quantity = i % QUANTITY_MAX + 1;
                        let started = Instant::now();
                        let reply = app
                            .try_send(app.buy_now_request(&sku, quantity, &key, "tok_visa"))
                            .await;
                        let latency = started.elapsed();
                        if reply.is_some() {
                            answered.fetch_add(1, Ordering::Relaxed);
                        } else {
                            // The server is down: do not spin on refused connections.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        attempts.lock().expect("lock").push(Attempt {
                            key,
                            quantity,
                            started,
                            latency,
                            reply,
                        });
                        i += 1;
                    }
                })
            })
            .collect();
        Load {
            stop,
            attempts,
            answered,
            buyers,
        }
    }

    /// Requests that got an HTTP answer so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Whether an order sent after `since` has been acknowledged.
    pub fn acknowledged_since(&self, since: Instant) -> bool {
        let attempts = self.attempts.lock().expect("lock");
        attempts
            .iter()
            .rev()
            .any(|a| a.started >= since && a.acknowledged_order().is_some())
    }

    /// Waits until `more` requests beyond `since` have been answered; panics past `bound`.
    pub async fn wait_for_answers(&self, since: u64, more: u64, bound: Duration) {
        let deadline = Instant::now() + bound;
        while self.answered() < since + more {
            assert!(
                Instant::now() < deadline,
                "the load made no progress within {bound:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Lets the buyers get `more` answers beyond those they have (bounded), stops them, prints
    /// what they got, and hands back every attempt.
    pub async fn finish(self, more: u64, bound: Duration) -> Vec<Attempt> {
        self.wait_for_answers(self.answered(), more, bound).await;
        let attempts = self.stop().await;
        println!(
            "load stopped: {} attempts, answers {:?}",
            attempts.len(),
            tally(&attempts)
        );
        attempts
    }

    /// Stops the buyers, waits for their last requests, and hands back every attempt.
    pub async fn stop(self) -> Vec<Attempt> {
        self.stop.store(true, Ordering::Relaxed);
        for buyer in self.buyers {
            buyer.await.expect("buyer");
        }
        std::mem::take(&mut *self.attempts.lock().expect("lock"))
    }
}

/// Attempts counted by answer: (status or "none", code) -> count, for printing.
pub fn tally<'a>(
    attempts: impl IntoIterator<Item = &'a Attempt>,
) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for attempt in attempts {
        let label = match &attempt.reply {
            Some(reply) if reply.code().is_empty() => reply.status.to_string(),
            Some(reply) => format!("{} {}", reply.status, reply.code()),
            None => "no answer".to_string(),
        };
        *counts.entry(label).or_insert(0) += 1;
    }
    counts
}

/// The `q`-quantile of `durations` (0.0..=1.0); zero for none.
pub fn quantile(durations: &mut [Duration], q: f64) -> Duration {
    if durations.is_empty() {
        return Duration::ZERO;
    }
    durations.sort_unstable();
    let index = ((durations.len() - 1) as f64 * q).round() as usize;
    durations[index.min(durations.len() - 1)]
}
