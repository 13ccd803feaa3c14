//! Command line and scenario files, parsed at the edge into a [`RunPlan`].
//!
//! Every run parameter is an `Option` both on the command line and in the file, so "not given"
//! is visible: a flag overrides the file, the file overrides the default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};

use crate::driver::Model;
use crate::limits::{MAX_IN_FLIGHT_DEFAULT, OPERATIONS_MAX, SKUS_MAX};
use crate::scenario::{CartStorm, CheckoutMix, FlashSale, Scenario, CART_LINES_MAX};
use crate::schedule::ArrivalPlan;
use crate::thresholds::Thresholds;
use crate::verify::collect::VerifyConfig;
use crate::zipf::Zipf;

#[derive(Debug, Parser)]
#[command(
    name = "loadtest",
    about = "Load generator and books verifier for the commerce server",
    after_help = "Exit status: 0 all passed; 1 a threshold or a verification check failed; 2 bad usage or the run could not be done."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One hot SKU, limited stock, an opening burst then a constant arrival rate of buyers.
    FlashSale(Params),
    /// Many SKUs with Zipf popularity, cart churn and some declined payments.
    CheckoutMix(Params),
    /// Many distinct carts, to stress actor activation and passivation.
    CartStorm(Params),
    /// The scenario named by --scenario or by the scenario file.
    Run(Params),
    /// A bare axum JSON echo serving POST /v1/orders with 201: the ceiling.
    EchoServer(EchoArgs),
    /// Flash sale against the echo ceiling, the naive-sql baseline and the actor runtime.
    Bench(crate::bench::BenchArgs),
    /// RSS per live cart and cold activation latency of a running server.
    CartMemory(crate::memory::MemoryArgs),
}

#[derive(Debug, Args)]
pub struct EchoArgs {
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: std::net::SocketAddr,
}

/// Everything a run can be told. Names in files are the snake_case field names.
#[derive(Clone, Debug, Default, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// A TOML or JSON file with any of these parameters (snake_case); flags override it.
    #[arg(long)]
    #[serde(skip)]
    pub scenario_file: Option<PathBuf>,
    /// flash-sale, checkout-mix or cart-storm (only for `run`).
    #[arg(long)]
    pub scenario: Option<String>,

    /// Base URL of the server [default: http://127.0.0.1:8080].
    #[arg(long)]
    pub base_url: Option<String>,
    /// Bearer token of admin routes [default: $ADMIN_TOKEN].
    #[arg(long)]
    pub admin_token: Option<String>,
    /// The server's store, read-only, for verification (postgres://… or sqlite://…).
    #[arg(long)]
    pub database_url: Option<String>,

    /// Open model: arrivals per second after the burst [default: 200].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open model: operations intended at t = 0 [default: 200 for flash-sale, else 0].
    #[arg(long)]
    pub burst: Option<u64>,
    /// Open model: most operations in flight; later ones wait and are charged the wait.
    #[arg(long)]
    pub max_in_flight: Option<usize>,
    /// Closed model: this many workers back to back (excludes --rate and --burst).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Length of the measured run in seconds [default: 10].
    #[arg(long)]
    pub duration_s: Option<f64>,
    /// Cap on operations started.
    #[arg(long)]
    pub operations: Option<u64>,
    /// Seconds of buy-now load on a separate SKU before measuring: at the run's rate for an
    /// open-model run with one, else with 16 closed-model workers [default: 0].
    #[arg(long)]
    pub warmup_s: Option<f64>,
    /// Seed of every random choice [default: random].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads of the driver's runtime; 1 = current-thread [default: 1].
    #[arg(long)]
    pub driver_threads: Option<usize>,

    /// Write machine-readable results here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// No progress line on stderr.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub quiet: Option<bool>,

    /// Fail when the corrected p99 is above this (ms).
    #[arg(long)]
    pub max_p99_ms: Option<f64>,
    /// Fail when HTTP requests/s is below this.
    #[arg(long)]
    pub min_rps: Option<f64>,
    /// Fail when the share of operations that errored (503, unexpected, transport) is above this.
    #[arg(long)]
    pub max_error_rate: Option<f64>,

    /// Define the products and stock first [default: true]; off against the echo ceiling.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub setup: Option<bool>,
    /// Verify the books after the run [default: true for scenarios that check out].
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub verify: Option<bool>,
    /// Longest wait for in-flight sagas and reservations to settle [default: 15].
    #[arg(long)]
    pub settle_timeout_s: Option<f64>,
    /// Longest wait for a publishing relay to drain the outbox after the run [default: 120].
    #[arg(long)]
    pub outbox_drain_timeout_s: Option<f64>,
    /// A saga in a non-terminal step untouched this long after settling is stuck [default: 10].
    #[arg(long)]
    pub saga_stuck_after_s: Option<f64>,
    /// Idempotency keys replayed after the run [default: 200].
    #[arg(long)]
    pub replay_sample: Option<usize>,

    /// flash-sale: the hot SKU [default: HOT-<run id>].
    #[arg(long)]
    pub sku: Option<String>,
    /// flash-sale: units on the shelf [default: 1000].
    #[arg(long)]
    pub stock: Option<u64>,
    /// flash-sale: units each buyer takes [default: 1].
    #[arg(long)]
    pub quantity_per_buyer: Option<u32>,
    /// flash-sale: create a cart, add the SKU, check out (instead of buy now).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub via_cart: Option<bool>,

    /// checkout-mix, cart-storm: SKU name prefix [default: MIX-<run id> / STORM-<run id>].
    #[arg(long)]
    pub sku_prefix: Option<String>,
    /// checkout-mix, cart-storm: catalog size [default: 200 / 50].
    #[arg(long)]
    pub skus: Option<usize>,
    /// checkout-mix: units per SKU [default: 500].
    #[arg(long)]
    pub stock_per_sku: Option<u64>,
    /// checkout-mix: Zipf exponent of SKU popularity [default: 1.1].
    #[arg(long)]
    pub zipf_exponent: Option<f64>,
    /// checkout-mix: most lines per cart [default: 3].
    #[arg(long)]
    pub lines_max: Option<u32>,
    /// checkout-mix: share of carts that change a quantity [default: 0.3].
    #[arg(long)]
    pub change_fraction: Option<f64>,
    /// checkout-mix: share of carts that remove a line [default: 0.2].
    #[arg(long)]
    pub remove_fraction: Option<f64>,
    /// checkout-mix: share of checkouts paid with tok_decline [default: 0.05].
    #[arg(long)]
    pub decline_fraction: Option<f64>,
    /// cart-storm: lines added to each new cart [default: 1].
    #[arg(long)]
    pub items_per_cart: Option<u32>,
    /// cart-storm: share of operations that read an older cart again [default: 0.2].
    #[arg(long)]
    pub revisit_fraction: Option<f64>,
}

/// `a.or(b)` for every field: flags (`self`) win over the file (`file`).
macro_rules! overlay {
    ($a:expr, $b:expr; $($f:ident),* $(,)?) => {
        Params { $($f: $a.$f.or($b.$f),)* }
    };
}

impl Params {
    pub fn overlay(self, file: Params) -> Params {
        overlay!(self, file; scenario_file, scenario, base_url, admin_token, database_url, rate, burst,
            max_in_flight, concurrency, duration_s, operations, warmup_s, seed, driver_threads, json, html,
            quiet, setup, max_p99_ms, min_rps, max_error_rate, verify, settle_timeout_s, outbox_drain_timeout_s, saga_stuck_after_s,
            replay_sample, sku, stock, quantity_per_buyer, via_cart, sku_prefix, skus, stock_per_sku,
            zipf_exponent, lines_max, change_fraction, remove_fraction, decline_fraction, items_per_cart,
            revisit_fraction)
    }

    /// Reads the scenario file, if any, and lays the flags over it.
    pub fn with_file(self) -> anyhow::Result<Params> {
        let Some(path) = self.scenario_file.clone() else {
            return Ok(self);
        };
        Ok(self.overlay(read_file(&path)?))
    }
}

/// Parses a TOML or JSON scenario file, chosen by extension (anything but .json is TOML).
pub fn read_file(path: &Path) -> anyhow::Result<Params> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    parse_file(
        &text,
        path.extension().and_then(|e| e.to_str()) == Some("json"),
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub fn parse_file(text: &str, json: bool) -> anyhow::Result<Params> {
    Ok(if json {
        serde_json::from_str(text)?
    } else {
        toml::from_str(text)?
    })
}

/// A fully resolved run.
#[derive(Debug)]
pub struct RunPlan {
    pub scenario: Scenario,
    pub model: Model,
    pub base_url: String,
    pub admin_token: Option<String>,
    /// None = do not verify.
    pub verify: Option<VerifyConfig>,
    /// The server's store, read-only: for the books and for the database work per order.
    pub database_url: Option<String>,
    pub warmup: Duration,
    pub seed: u64,
    pub driver_threads: usize,
    pub json: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub progress: bool,
    pub thresholds: Thresholds,
    /// Prefix of this run's idempotency keys: tells its rows apart in a shared store.
    pub key_prefix: String,
    /// Define products and stock before the run (off against the echo ceiling).
    pub setup: bool,
    /// The resolved parameters for the report.
    pub parameters: serde_json::Value,
}

fn fraction(name: &str, v: f64) -> anyhow::Result<f64> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&v),
        "{name} must be within 0..=1, got {v}"
    );
    Ok(v)
}

fn seconds(name: &str, v: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(v)
        .map_err(|_| anyhow::anyhow!("{name} must be a non-negative number of seconds, got {v}"))
}

impl RunPlan {
    /// Resolves parameters for `scenario` (a subcommand name) with defaults. `run_id` names this
    /// run's SKUs and keys.
    pub fn resolve(scenario_name: &str, p: &Params, run_id: &str) -> anyhow::Result<RunPlan> {
        let scenario = resolve_scenario(scenario_name, p, run_id)?;
        let model = resolve_model(&scenario, p)?;
        let verify_wanted = p.verify.unwrap_or(scenario.places_orders());
        let verify = if verify_wanted {
            Some(VerifyConfig {
                database_url: p.database_url.clone(),
                outbox_drain_timeout: seconds(
                    "outbox-drain-timeout-s",
                    p.outbox_drain_timeout_s.unwrap_or(120.0),
                )?,
                settle_timeout: seconds("settle-timeout-s", p.settle_timeout_s.unwrap_or(15.0))?,
                saga_stuck_after_ms: (p.saga_stuck_after_s.unwrap_or(10.0) * 1_000.0) as i64,
                replay_sample: p.replay_sample.unwrap_or(200),
            })
        } else {
            None
        };
        let driver_threads = p.driver_threads.unwrap_or(1);
        anyhow::ensure!(
            (1..=64).contains(&driver_threads),
            "driver-threads must be in 1..=64"
        );
        Ok(RunPlan {
            model,
            base_url: p
                .base_url
                .clone()
                .unwrap_or_else(|| "http://127.0.0.1:8080".to_string()),
            admin_token: p
                .admin_token
                .clone()
                .or_else(|| std::env::var("ADMIN_TOKEN").ok()),
            verify,
            database_url: p.database_url.clone(),
            warmup: seconds("warmup-s", p.warmup_s.unwrap_or(0.0))?,
            seed: p
                .seed
                .unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0),
            driver_threads,
            json: p.json.clone(),
            html: p.html.clone(),
            progress: !p.quiet.unwrap_or(false),
            thresholds: Thresholds {
                max_p99_ms: p.max_p99_ms,
                min_rps: p.min_rps,
                max_error_rate: p.max_error_rate,
            },
            key_prefix: format!("lt-{run_id}"),
            setup: p.setup.unwrap_or(true),
            parameters: redacted_parameters(p)?,
            scenario,
        })
    }
}

/// The parameters as the report shows them: the admin token never leaves the process.
fn redacted_parameters(p: &Params) -> anyhow::Result<serde_json::Value> {
    let mut shown = p.clone();
    if shown.admin_token.is_some() {
        shown.admin_token = Some("<redacted>".to_string());
    }
    Ok(serde_json::to_value(shown)?)
}

fn resolve_scenario(name: &str, p: &Params, run_id: &str) -> anyhow::Result<Scenario> {
    Ok(match name {
        "flash-sale" => {
            let quantity_per_buyer = p.quantity_per_buyer.unwrap_or(1);
            anyhow::ensure!(
                quantity_per_buyer >= 1,
                "quantity-per-buyer must be at least 1"
            );
            Scenario::FlashSale(FlashSale {
                sku: p.sku.clone().unwrap_or_else(|| format!("HOT-{run_id}")),
                stock: p.stock.unwrap_or(1_000),
                quantity_per_buyer,
                via_cart: p.via_cart.unwrap_or(false),
            })
        }
        "checkout-mix" => {
            let skus = p.skus.unwrap_or(200);
            anyhow::ensure!(
                (1..=SKUS_MAX).contains(&skus),
                "skus must be in 1..={SKUS_MAX}"
            );
            let lines_max = p.lines_max.unwrap_or(3);
            anyhow::ensure!(
                (1..=CART_LINES_MAX).contains(&lines_max),
                "lines-max must be in 1..={CART_LINES_MAX}"
            );
            Scenario::CheckoutMix(CheckoutMix {
                sku_prefix: p
                    .sku_prefix
                    .clone()
                    .unwrap_or_else(|| format!("MIX-{run_id}")),
                skus,
                stock_per_sku: p.stock_per_sku.unwrap_or(500),
                zipf: Zipf::new(skus, p.zipf_exponent.unwrap_or(1.1))
                    .map_err(anyhow::Error::msg)?,
                lines_max,
                change_fraction: fraction("change-fraction", p.change_fraction.unwrap_or(0.3))?,
                remove_fraction: fraction("remove-fraction", p.remove_fraction.unwrap_or(0.2))?,
                decline_fraction: fraction("decline-fraction", p.decline_fraction.unwrap_or(0.05))?,
            })
        }
        "cart-storm" => {
            let skus = p.skus.unwrap_or(50);
            anyhow::ensure!(
                (1..=SKUS_MAX).contains(&skus),
                "skus must be in 1..={SKUS_MAX}"
            );
            let items_per_cart = p.items_per_cart.unwrap_or(1);
            anyhow::ensure!(
                items_per_cart <= CART_LINES_MAX,
                "items-per-cart must be at most {CART_LINES_MAX}"
            );
            Scenario::CartStorm(CartStorm {
                sku_prefix: p
                    .sku_prefix
                    .clone()
                    .unwrap_or_else(|| format!("STORM-{run_id}")),
                skus,
                items_per_cart,
                revisit_fraction: fraction("revisit-fraction", p.revisit_fraction.unwrap_or(0.2))?,
            })
        }
        other => {
            anyhow::bail!("unknown scenario {other:?}: use flash-sale, checkout-mix or cart-storm")
        }
    })
}

fn resolve_model(scenario: &Scenario, p: &Params) -> anyhow::Result<Model> {
    let duration = seconds("duration-s", p.duration_s.unwrap_or(10.0))?;
    let operations_max = p.operations.unwrap_or(OPERATIONS_MAX);
    let model = match p.concurrency {
        Some(concurrency) => {
            anyhow::ensure!(
                p.rate.is_none() && p.burst.is_none(),
                "--concurrency (closed model) excludes --rate and --burst"
            );
            Model::Closed {
                concurrency,
                duration,
                operations_max,
            }
        }
        None => {
            let default_burst = if matches!(scenario, Scenario::FlashSale(_)) {
                200
            } else {
                0
            };
            let plan = ArrivalPlan::new(
                p.burst.unwrap_or(default_burst),
                p.rate.unwrap_or(200.0),
                duration,
                operations_max,
            )
            .map_err(anyhow::Error::msg)?;
            Model::Open {
                plan,
                max_in_flight: p.max_in_flight.unwrap_or(MAX_IN_FLIGHT_DEFAULT),
            }
        }
    };
    model.validate().map_err(anyhow::Error::msg)?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let file = parse_file(
            "rate = 50.0\nstock = 10\nvia_cart = true\nmax_p99_ms = 250.0\n",
            false,
        )
        .expect("toml");
        let flags = Params {
            rate: Some(75.0),
            ..Default::default()
        };
        let p = flags.overlay(file);
        assert_eq!(p.rate, Some(75.0));
        assert_eq!(p.stock, Some(10));
        let plan = RunPlan::resolve("flash-sale", &p, "abc").expect("resolves");
        let Scenario::FlashSale(f) = &plan.scenario else {
            panic!("flash sale expected")
        };
        assert!(f.via_cart);
        assert_eq!(f.sku, "HOT-abc");
        assert_eq!(plan.thresholds.max_p99_ms, Some(250.0));
        match plan.model {
            Model::Open { plan, .. } => assert_eq!(plan.len(), 200 + 750),
            other => panic!("open model expected, got {other:?}"),
        }
    }

    #[test]
    fn json_files_parse_and_unknown_fields_are_refused() {
        let p = parse_file(r#"{"concurrency": 64, "duration_s": 5}"#, true).expect("json");
        assert_eq!(p.concurrency, Some(64));
        assert!(parse_file("rate_per_second = 5", false).is_err());
    }

    #[test]
    fn closed_model_excludes_a_rate() {
        let p = Params {
            concurrency: Some(64),
            rate: Some(10.0),
            ..Default::default()
        };
        assert!(RunPlan::resolve("flash-sale", &p, "x").is_err());
        let q = Params {
            concurrency: Some(64),
            ..Default::default()
        };
        assert!(matches!(
            RunPlan::resolve("flash-sale", &q, "x").expect("ok").model,
            Model::Closed {
                concurrency: 64,
                ..
            }
        ));
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(RunPlan::resolve("nope", &Params::default(), "x").is_err());
        let p = Params {
            decline_fraction: Some(1.5),
            ..Default::default()
        };
        assert!(RunPlan::resolve("checkout-mix", &p, "x").is_err());
        let q = Params {
            duration_s: Some(-1.0),
            ..Default::default()
        };
        assert!(RunPlan::resolve("flash-sale", &q, "x").is_err());
    }
}
