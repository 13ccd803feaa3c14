//! Memory per live cart (RSS delta from /proc/<pid>/status) and cold activation latency of a
//! passivated cart.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use futures::StreamExt;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::client::Api;
use crate::limits::{COLD_CARTS_MAX, CONCURRENCY_MAX, LATENCY_US_MAX, MEMORY_CARTS_MAX};
use crate::scenario::id_of;
use crate::stats::Percentiles;

/// Pause before each RSS reading, so allocations in flight have landed.
const RSS_SETTLE: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, Args)]
pub struct MemoryArgs {
    /// Base URL of the running server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub base_url: String,
    /// PID of the server process, for /proc/<pid>/status.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Carts to activate for the RSS figure (0 = skip).
    #[arg(long, default_value_t = 100_000)]
    pub carts: u64,
    /// Requests in flight while creating carts.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Carts to create, let passivate, and read back for cold activation latency (0 = skip).
    /// Start the server with PASSIVATION_IDLE_MS=1000 for this.
    #[arg(long, default_value_t = 0)]
    pub cold_carts: u64,
    /// How long to wait for the carts to passivate before reading them back.
    #[arg(long, default_value_t = 3_000)]
    pub passivation_wait_ms: u64,
    /// After the RSS reading, wait up to this long for the idle carts to hibernate (give up
    /// their actors and keep only their state) and read RSS again (0 = skip). Needs the admin
    /// token, and a server with HIBERNATE_IDLE_MS below this wait.
    #[arg(long, default_value_t = 0)]
    pub hibernation_wait_ms: u64,
    /// Bearer token of admin routes, to read /ops/overview [default: $ADMIN_TOKEN].
    #[arg(long)]
    pub admin_token: Option<String>,
    /// Write the figures here as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemoryReport {
    pub carts_requested: u64,
    pub carts_created: u64,
    pub failures: u64,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub bytes_per_cart: f64,
    pub carts_per_s: f64,
    /// Filled when the hibernation phase ran.
    pub hibernated: Option<HibernationReport>,
}

/// The same carts after their actors hibernated.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HibernationReport {
    /// Carts the server reported hibernated when RSS was read.
    pub carts_hibernated: u64,
    /// Cart actors still running then.
    pub carts_running: u64,
    pub waited_ms: u64,
    pub rss_kib: u64,
    pub bytes_per_cart: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColdReport {
    pub carts: u64,
    pub passivation_wait_ms: u64,
    pub failures: u64,
    /// First read after the wait: the actor is activated from the store.
    pub cold: Percentiles,
    /// Second read straight after: the actor is live, for contrast.
    pub warm: Percentiles,
}

/// The VmRSS of a /proc/<pid>/status text, in KiB.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut parts = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(value),
        _ => None,
    }
}

pub fn read_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text =
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("reading {path}: {e}"))?;
    parse_vm_rss_kib(&text).ok_or_else(|| anyhow::anyhow!("no VmRSS line in {path}"))
}

/// Creates `n` carts, `concurrency` at a time; returns the ids (if `keep_ids`) and failures.
async fn create_carts(
    api: &Api,
    n: u64,
    concurrency: usize,
    keep_ids: bool,
) -> (Vec<String>, u64, u64) {
    let mut ids = Vec::new();
    let (mut created, mut failures) = (0u64, 0u64);
    let mut answers = futures::stream::iter(0..n)
        .map(|_| api.create_cart())
        .buffer_unordered(concurrency.clamp(1, CONCURRENCY_MAX));
    while let Some(a) = answers.next().await {
        match a
            .ok()
            .filter(|a| a.status == 201)
            .and_then(|a| id_of(&a.body))
        {
            Some(id) => {
                created += 1;
                if keep_ids {
                    ids.push(id);
                }
            }
            None => failures += 1,
        }
    }
    (ids, created, failures)
}

pub async fn cart_memory(
    api: &Api,
    pid: u32,
    carts: u64,
    concurrency: usize,
) -> anyhow::Result<MemoryReport> {
    anyhow::ensure!(
        (1..=MEMORY_CARTS_MAX).contains(&carts),
        "carts must be in 1..={MEMORY_CARTS_MAX}"
    );
    tokio::time::sleep(RSS_SETTLE).await;
    let before = read_rss_kib(pid)?;
    let started = Instant::now();
    let (_, created, failures) = create_carts(api, carts, concurrency, false).await;
    let elapsed_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(RSS_SETTLE).await;
    let after = read_rss_kib(pid)?;
    Ok(MemoryReport {
        carts_requested: carts,
        carts_created: created,
        failures,
        rss_before_kib: before,
        rss_after_kib: after,
        bytes_per_cart: bytes_per_cart(before, after, created),
        carts_per_s: crate::stats::per_second(created, elapsed_s),
        hibernated: None,
    })
}

/// The RSS growth from `before_kib` to `after_kib` spread over `carts` (0 without carts).
fn bytes_per_cart(before_kib: u64, after_kib: u64, carts: u64) -> f64 {
    if carts == 0 {
        return 0.0;
    }
    (after_kib as f64 - before_kib as f64) * 1024.0 / carts as f64
}

/// The cart kind's (hibernated, running) counts from /ops/overview.
async fn cart_counts(api: &Api) -> anyhow::Result<(u64, u64)> {
    let a = api.get_admin("/ops/overview").await?;
    anyhow::ensure!(a.status == 200, "/ops/overview answered {}", a.status);
    let kinds = a.body["kinds"].as_array().cloned().unwrap_or_default();
    let cart = kinds
        .iter()
        .find(|k| k["actor_type"] == "cart")
        .ok_or_else(|| anyhow::anyhow!("/ops/overview lists no cart kind"))?;
    let count = |field: &str| cart[field].as_i64().unwrap_or(0).max(0) as u64;
    Ok((count("hibernated"), count("alive")))
}

/// Waits (up to `wait`) until `carts` carts are hibernated, then reads RSS.
pub async fn after_hibernation(
    api: &Api,
    pid: u32,
    report: &MemoryReport,
    wait: Duration,
) -> anyhow::Result<HibernationReport> {
    let started = Instant::now();
    let mut counts = cart_counts(api).await?;
    while counts.0 < report.carts_created && started.elapsed() < wait {
        tokio::time::sleep(Duration::from_millis(500)).await;
        counts = cart_counts(api).await?;
    }
    tokio::time::sleep(RSS_SETTLE).await;
    let rss = read_rss_kib(pid)?;
    Ok(HibernationReport {
        carts_hibernated: counts.0,
        carts_running: counts.1,
        waited_ms: started.elapsed().as_millis() as u64,
        rss_kib: rss,
        bytes_per_cart: bytes_per_cart(report.rss_before_kib, rss, report.carts_created),
    })
}

/// Reads every cart once, one at a time so each figure is one activation and not a queue.
async fn read_each(api: &Api, ids: &[String]) -> (Histogram<u64>, u64) {
    let mut h = Histogram::<u64>::new_with_bounds(1, LATENCY_US_MAX, 3)
        .expect("constant histogram bounds are valid");
    let mut failures = 0;
    for id in ids {
        let t = Instant::now();
        let ok = matches!(api.get(&format!("/v1/carts/{id}")).await, Ok(a) if a.status == 200);
        h.saturating_record((t.elapsed().as_micros() as u64).clamp(1, LATENCY_US_MAX));
        failures += u64::from(!ok);
    }
    (h, failures)
}

pub async fn cold_activation(
    api: &Api,
    carts: u64,
    wait: Duration,
    concurrency: usize,
) -> anyhow::Result<ColdReport> {
    anyhow::ensure!(
        (1..=COLD_CARTS_MAX).contains(&carts),
        "cold carts must be in 1..={COLD_CARTS_MAX}"
    );
    let (ids, _, create_failures) = create_carts(api, carts, concurrency, true).await;
    tokio::time::sleep(wait).await;
    let (cold, cold_failures) = read_each(api, &ids).await;
    let (warm, warm_failures) = read_each(api, &ids).await;
    Ok(ColdReport {
        carts: ids.len() as u64,
        passivation_wait_ms: wait.as_millis() as u64,
        failures: create_failures + cold_failures + warm_failures,
        cold: Percentiles::of(&cold),
        warm: Percentiles::of(&warm),
    })
}

pub fn print_memory(r: &MemoryReport) {
    println!(
        "cart memory: {} carts created ({} failed, {:.0}/s); VmRSS {} KiB -> {} KiB; {:.0} bytes per cart",
        r.carts_created, r.failures, r.carts_per_s, r.rss_before_kib, r.rss_after_kib, r.bytes_per_cart
    );
    if let Some(h) = &r.hibernated {
        println!(
            "after hibernation: {} carts hibernated, {} cart actors running (after {} ms); VmRSS {} KiB; {:.0} bytes per cart",
            h.carts_hibernated, h.carts_running, h.waited_ms, h.rss_kib, h.bytes_per_cart
        );
    }
}

pub fn print_cold(r: &ColdReport) {
    println!(
        "cold activation ({} carts after {} ms idle, {} failures): cold p50 {:.2} ms p99 {:.2} ms max {:.2} ms; warm p50 {:.2} ms p99 {:.2} ms",
        r.carts, r.passivation_wait_ms, r.failures, r.cold.p50_ms, r.cold.p99_ms, r.cold.max_ms, r.warm.p50_ms, r.warm.p99_ms
    );
}

/// `loadtest cart-memory`.
pub async fn run(args: &MemoryArgs) -> anyhow::Result<()> {
    let admin = args
        .admin_token
        .clone()
        .or_else(|| std::env::var("ADMIN_TOKEN").ok());
    let api = Api::new(&args.base_url, admin.as_deref())?;
    api.wait_ready("/healthz", Duration::from_secs(10)).await?;
    let mut out = serde_json::Map::new();
    if args.carts > 0 {
        let pid = args.pid.ok_or_else(|| {
            anyhow::anyhow!("--pid is needed for the RSS figure (or pass --carts 0)")
        })?;
        let mut r = cart_memory(&api, pid, args.carts, args.concurrency).await?;
        if args.hibernation_wait_ms > 0 {
            let wait = Duration::from_millis(args.hibernation_wait_ms);
            r.hibernated = Some(after_hibernation(&api, pid, &r, wait).await?);
        }
        print_memory(&r);
        out.insert("memory".into(), serde_json::to_value(&r)?);
    }
    if args.cold_carts > 0 {
        let r = cold_activation(
            &api,
            args.cold_carts,
            Duration::from_millis(args.passivation_wait_ms),
            args.concurrency,
        )
        .await?;
        print_cold(&r);
        out.insert("cold_activation".into(), serde_json::to_value(&r)?);
    }
    if let Some(path) = &args.json {
        crate::report::write_json(path, &serde_json::Value::Object(out))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_kib() {
        let status = "Name:\tcommerce\nVmPeak:\t  200000 kB\nVmRSS:\t   51234 kB\nThreads:\t9\n";
        assert_eq!(parse_vm_rss_kib(status), Some(51_234));
        assert_eq!(parse_vm_rss_kib("Name: x\n"), None);
        assert_eq!(parse_vm_rss_kib("VmRSS:\t 12 MB\n"), None);
    }

    #[test]
    fn own_rss_is_readable() {
        assert!(read_rss_kib(std::process::id()).expect("own /proc status") > 0);
    }
}
