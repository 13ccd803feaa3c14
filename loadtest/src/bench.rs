//! `loadtest bench`: the same flash sale against the ceiling (echo), the baseline
//! (`commerce serve --engine naive-sql`) and the actor runtime (`commerce serve`), each a child
//! process on a free port with a fresh Postgres database; warmed up, measured, verified, stopped.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use serde::Serialize;

use crate::cli::{Params, RunPlan};
use crate::client::Api;
use crate::memory::{self, ColdReport, MemoryReport};
use crate::report::{self, html, RunReport};
use crate::run;
use crate::server::{self, ChildServer, StartError};
use crate::storeceiling::{self, StoreCeilingPlan, StoreCeilingReport};

/// Passivation idle time of the server started for the cold-activation figure.
const COLD_PASSIVATION_IDLE_MS: u64 = 1_000;

/// Wait after the last touch before reading carts back cold: idle time plus a sweep's margin.
const COLD_WAIT_MS: u64 = 3 * COLD_PASSIVATION_IDLE_MS;

#[derive(Clone, Debug, Args)]
pub struct BenchArgs {
    /// The server binary [default: `commerce` next to this executable].
    #[arg(long)]
    pub commerce_bin: Option<PathBuf>,
    /// Postgres to create the fresh databases in (trust auth).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres_url: String,
    /// Closed model: concurrent buyers.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 20.0)]
    pub duration_s: f64,
    /// Warm-up seconds per server.
    #[arg(long, default_value_t = 3.0)]
    pub warmup_s: f64,
    /// Also run the open model at this arrival rate (per second).
    #[arg(long)]
    pub open_rate: Option<f64>,
    /// Opening burst of the open-model run.
    #[arg(long, default_value_t = 0)]
    pub open_burst: u64,
    /// In-flight bound of the open-model run.
    #[arg(long, default_value_t = 1_024)]
    pub max_in_flight: usize,
    /// Units of the hot SKU; large by default so the measured window sells, not refuses.
    #[arg(long, default_value_t = 10_000_000)]
    pub stock: u64,
    /// Buyers go through a cart instead of buy now.
    #[arg(long)]
    pub via_cart: bool,
    /// Which engines, comma-separated, out of ceiling, store-ceiling, baseline, actor.
    #[arg(
        long,
        default_value = "ceiling,store-ceiling,baseline,actor",
        value_delimiter = ','
    )]
    pub engines: Vec<String>,
    /// Store ceiling: orders per transaction.
    #[arg(long, default_value_t = 500)]
    pub store_batch: usize,
    /// Store ceiling: concurrent writer connections (one per core keeps Postgres busy).
    #[arg(long, default_value_t = 2)]
    pub store_writers: usize,
    /// After the actor run: RSS per cart over this many carts on a fresh actor server (0 = skip).
    #[arg(long, default_value_t = 0)]
    pub memory_carts: u64,
    /// After the actor run: cold activation latency over this many carts (0 = skip).
    #[arg(long, default_value_t = 0)]
    pub cold_carts: u64,
    #[arg(long, default_value_t = 1)]
    pub driver_threads: usize,
    /// Keep the databases for inspection instead of dropping them.
    #[arg(long)]
    pub keep_databases: bool,
    /// Where the children's logs go [default: a new directory under the temp dir].
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    Ceiling,
    StoreCeiling,
    Baseline,
    Actor,
}

impl Engine {
    fn parse(s: &str) -> anyhow::Result<Engine> {
        Ok(match s.trim() {
            "ceiling" => Engine::Ceiling,
            "store-ceiling" => Engine::StoreCeiling,
            "baseline" => Engine::Baseline,
            "actor" => Engine::Actor,
            other => anyhow::bail!(
                "unknown engine {other:?}: use ceiling, store-ceiling, baseline or actor"
            ),
        })
    }

    fn label(self) -> &'static str {
        match self {
            Engine::Ceiling => "ceiling (axum echo)",
            Engine::StoreCeiling => "store ceiling (SQL)",
            Engine::Baseline => "baseline (naive-sql)",
            Engine::Actor => "actor runtime",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct EngineResult {
    pub engine: String,
    /// Why the engine could not be measured; no figures then.
    pub unavailable: Option<String>,
    pub runs: Vec<RunReport>,
    /// The store ceiling's figures (it makes no HTTP runs).
    pub store: Option<StoreCeilingReport>,
    pub passed: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Ratios {
    pub actor_vs_baseline_orders_per_s: Option<f64>,
    pub actor_vs_baseline_p99: Option<f64>,
    pub actor_vs_ceiling_http_per_s: Option<f64>,
    pub actor_vs_ceiling_p99: Option<f64>,
    /// How far above the baseline any engine writing the same rows could get on this machine.
    pub store_ceiling_vs_baseline_orders_per_s: Option<f64>,
    pub actor_vs_store_ceiling_orders_per_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub command_line: String,
    /// /proc/loadavg before and after: the machine is shared, and a busy one skews figures.
    pub load_average_start: String,
    pub load_average_end: String,
    pub engines: Vec<EngineResult>,
    pub ratios: Ratios,
    pub memory: Option<MemoryReport>,
    pub cold_activation: Option<ColdReport>,
}

struct Context {
    args: BenchArgs,
    commerce_bin: PathBuf,
    log_dir: PathBuf,
    stamp: String,
}

fn default_commerce_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow::anyhow!("{} has no parent directory", exe.display()))?;
    Ok(dir.join("commerce"))
}

/// Runs the bench; returns whether everything that ran passed.
pub async fn bench(args: BenchArgs) -> anyhow::Result<bool> {
    let engines: Vec<Engine> = args
        .engines
        .iter()
        .map(|e| Engine::parse(e))
        .collect::<anyhow::Result<_>>()?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .to_string();
    let commerce_bin = match &args.commerce_bin {
        Some(p) => p.clone(),
        None => default_commerce_bin()?,
    };
    let log_dir = args
        .log_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("loadtest-bench-{stamp}")));
    std::fs::create_dir_all(&log_dir)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", log_dir.display()))?;
    let ctx = Context {
        args,
        commerce_bin,
        log_dir,
        stamp,
    };
    let load_average_start = load_average();
    let mut results = Vec::new();
    for engine in engines {
        let r = run_engine(&ctx, engine).await;
        results.push(r);
    }
    let memory = if ctx.args.memory_carts > 0 {
        measure_memory(&ctx)
            .await
            .map_err(|e| eprintln!("memory figure failed: {e:#}"))
            .ok()
    } else {
        None
    };
    let cold_activation = if ctx.args.cold_carts > 0 {
        measure_cold(&ctx)
            .await
            .map_err(|e| eprintln!("cold activation figure failed: {e:#}"))
            .ok()
    } else {
        None
    };
    let report = BenchReport {
        command_line: report::command_line(),
        load_average_start,
        load_average_end: load_average(),
        ratios: ratios(&results),
        engines: results,
        memory,
        cold_activation,
    };
    print_summary(&report, &ctx);
    if let Some(path) = &ctx.args.json {
        report::write_json(path, &report)?;
    }
    if let Some(path) = &ctx.args.html {
        let runs: Vec<RunReport> = report
            .engines
            .iter()
            .flat_map(|e| e.runs.iter().cloned())
            .collect();
        let pre = format!("<pre>{}</pre>", html::escape(&summary_text(&report, &ctx)));
        std::fs::write(path, html::render("loadtest bench", &pre, &runs))
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    Ok(report.engines.iter().all(|e| e.passed) && memory_ok(&report, &ctx))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn memory_ok(r: &BenchReport, ctx: &Context) -> bool {
    (ctx.args.memory_carts == 0 || r.memory.is_some())
        && (ctx.args.cold_carts == 0 || r.cold_activation.is_some())
}

/// A started server with what must be cleaned up after it.
struct Started {
    server: ChildServer,
    database: Option<String>,
    database_url: Option<String>,
    admin_token: Option<String>,
}

fn admin_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Starts `engine` (with extra environment), or says why it is unavailable.
async fn start_engine(
    ctx: &Context,
    engine: Engine,
    tag: &str,
    extra_env: &[(String, String)],
) -> Result<Started, String> {
    let port = server::free_port().map_err(|e| format!("no free port: {e}"))?;
    let log_path = ctx.log_dir.join(format!("{tag}.log"));
    if engine == Engine::Ceiling {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let args = vec![
            "echo-server".to_string(),
            "--addr".to_string(),
            format!("127.0.0.1:{port}"),
        ];
        let server = server::start(tag, &exe, &args, &[], port, &log_path)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(Started {
            server,
            database: None,
            database_url: None,
            admin_token: None,
        });
    }
    if !ctx.commerce_bin.exists() {
        return Err(format!("{} does not exist (build it: cargo build --release --bin commerce, or pass --commerce-bin)", ctx.commerce_bin.display()));
    }
    let db = format!("loadtest_{}_{}", ctx.stamp, tag.replace('-', "_"));
    let url = server::create_database(&ctx.args.postgres_url, &db)
        .await
        .map_err(|e| format!("creating database {db}: {e:#}"))?;
    let token = admin_token();
    let mut env = vec![
        ("HTTP_ADDR".to_string(), format!("127.0.0.1:{port}")),
        ("DATABASE_URL".to_string(), url.clone()),
        ("ADMIN_TOKEN".to_string(), token.clone()),
        ("RUST_LOG".to_string(), "warn".to_string()),
    ];
    env.extend_from_slice(extra_env);
    let mut args = vec!["serve".to_string()];
    if engine == Engine::Baseline {
        args.extend(["--engine".to_string(), "naive-sql".to_string()]);
    } else {
        // An ENGINE variable inherited from the caller's shell must not turn the actor run into
        // something else; the baseline's flag wins over the variable anyway.
        env.push(("ENGINE".to_string(), "actors".to_string()));
    }
    match server::start(tag, &ctx.commerce_bin, &args, &env, port, &log_path).await {
        Ok(server) => {
            if engine == Engine::Baseline {
                if let Err(reason) = baseline_is_real(&ctx.commerce_bin, &server.log_path) {
                    let _ = server.stop().await;
                    drop_db(ctx, &db).await;
                    return Err(reason);
                }
            }
            Ok(Started {
                server,
                database: Some(db),
                database_url: Some(url),
                admin_token: Some(token),
            })
        }
        Err(e) => {
            drop_db(ctx, &db).await;
            Err(match e {
                StartError::Exited { status, log_tail } => {
                    format!(
                        "`{} {}` exited with {status}: {}",
                        ctx.commerce_bin.display(),
                        args.join(" "),
                        log_tail.trim()
                    )
                }
                other => other.to_string(),
            })
        }
    }
}

/// A binary that ignores unknown flags would serve the actor engine under the baseline's name.
/// The baseline counts as real only if the binary's usage or its start-up output names it.
fn baseline_is_real(bin: &Path, log_path: &Path) -> Result<(), String> {
    let help = std::process::Command::new(bin)
        .arg("--help")
        .output()
        .map_err(|e| format!("running --help: {e}"))?;
    let help_text = format!(
        "{}{}",
        String::from_utf8_lossy(&help.stdout),
        String::from_utf8_lossy(&help.stderr)
    );
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    if help_text.contains("naive-sql") || log.contains("naive-sql") || log.contains("naive_sql") {
        Ok(())
    } else {
        Err("`commerce serve --engine naive-sql` started, but neither `commerce --help` nor its start-up output mentions naive-sql, so the flag was most likely ignored and it would measure the actor engine".to_string())
    }
}

async fn drop_db(ctx: &Context, db: &str) {
    if ctx.args.keep_databases {
        return;
    }
    if let Err(e) = server::drop_database(&ctx.args.postgres_url, db).await {
        eprintln!("could not drop database {db}: {e:#}");
    }
}

async fn stop(ctx: &Context, s: Started) {
    let name = s.server.name.clone();
    if let Err(e) = s.server.stop().await {
        eprintln!("stopping {name}: {e:#}");
    }
    if let Some(db) = &s.database {
        drop_db(ctx, db).await;
    }
}

fn run_params(ctx: &Context, s: &Started, open: bool) -> Params {
    let a = &ctx.args;
    Params {
        base_url: Some(s.server.base_url.clone()),
        admin_token: s.admin_token.clone(),
        database_url: s.database_url.clone(),
        concurrency: if open { None } else { Some(a.concurrency) },
        rate: if open { a.open_rate } else { None },
        burst: if open { Some(a.open_burst) } else { None },
        max_in_flight: if open { Some(a.max_in_flight) } else { None },
        duration_s: Some(a.duration_s),
        warmup_s: Some(a.warmup_s),
        stock: Some(a.stock),
        via_cart: Some(a.via_cart),
        driver_threads: Some(a.driver_threads),
        quiet: Some(a.quiet),
        ..Default::default()
    }
}

async fn run_engine(ctx: &Context, engine: Engine) -> EngineResult {
    let tag = match engine {
        Engine::Ceiling => "ceiling",
        Engine::StoreCeiling => "store_ceiling",
        Engine::Baseline => "baseline",
        Engine::Actor => "actor",
    };
    if !ctx.args.quiet {
        eprintln!("== starting {}", engine.label());
    }
    if engine == Engine::StoreCeiling {
        return run_store_ceiling(ctx, tag).await;
    }
    let started = match start_engine(ctx, engine, tag, &[]).await {
        Ok(s) => s,
        Err(reason) => {
            let label = if engine == Engine::Baseline {
                "baseline unavailable"
            } else {
                "unavailable"
            };
            println!("{}: {label}: {reason}", engine.label());
            return EngineResult {
                engine: engine.label().into(),
                unavailable: Some(reason),
                runs: vec![],
                store: None,
                passed: engine == Engine::Baseline,
            };
        }
    };
    let mut runs = Vec::new();
    let mut passed = true;
    let models: &[bool] = if ctx.args.open_rate.is_some() {
        &[false, true]
    } else {
        &[false]
    };
    for &open in models {
        let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        let outcome =
            match RunPlan::resolve("flash-sale", &run_params(ctx, &started, open), &run_id) {
                Ok(mut plan) => {
                    if engine == Engine::Ceiling {
                        // The echo has no catalog and no books: nothing to set up or verify.
                        plan.setup = false;
                        plan.verify = None;
                    }
                    run::execute(&plan, &run_id).await
                }
                Err(e) => Err(e),
            };
        match outcome {
            Ok(mut f) => {
                let model = if open { "open model" } else { "closed model" };
                f.report.label = format!("{} — {model}, flash-sale", engine.label());
                println!("{}", report::summary_table(&f.report));
                passed &= f.passed;
                runs.push(f.report);
            }
            Err(e) => {
                println!("{}: run failed: {e:#}", engine.label());
                passed = false;
            }
        }
    }
    stop(ctx, started).await;
    EngineResult {
        engine: engine.label().into(),
        unavailable: None,
        runs,
        store: None,
        passed,
    }
}

/// The store ceiling on a fresh database migrated by the server binary itself, so it writes the
/// server's own schema. An engine that could not run is reported, and fails the bench.
async fn run_store_ceiling(ctx: &Context, tag: &str) -> EngineResult {
    let label = Engine::StoreCeiling.label();
    match store_ceiling(ctx, tag).await {
        Ok(report) => {
            println!("{}", storeceiling::summary_line(&report));
            EngineResult {
                engine: label.into(),
                unavailable: None,
                runs: vec![],
                passed: report.failed_batches == 0 && report.orders > 0,
                store: Some(report),
            }
        }
        Err(e) => {
            println!("{label}: unavailable: {e:#}");
            EngineResult {
                engine: label.into(),
                unavailable: Some(format!("{e:#}")),
                runs: vec![],
                store: None,
                passed: false,
            }
        }
    }
}

async fn store_ceiling(ctx: &Context, tag: &str) -> anyhow::Result<StoreCeilingReport> {
    let plan = StoreCeilingPlan {
        batch: ctx.args.store_batch,
        writers: ctx.args.store_writers,
        warmup_s: ctx.args.warmup_s,
        duration_s: ctx.args.duration_s,
    };
    plan.check()?;
    anyhow::ensure!(
        ctx.commerce_bin.exists(),
        "{} does not exist (build it: cargo build --release --bin commerce, or pass --commerce-bin)",
        ctx.commerce_bin.display()
    );
    let db = format!("loadtest_{}_{tag}", ctx.stamp);
    let url = server::create_database(&ctx.args.postgres_url, &db).await?;
    let measured = async {
        server::migrate(&ctx.commerce_bin, &url).await?;
        storeceiling::measure(&url, &plan).await
    }
    .await;
    drop_db(ctx, &db).await;
    measured
}

async fn measure_memory(ctx: &Context) -> anyhow::Result<MemoryReport> {
    let s = start_engine(ctx, Engine::Actor, "actor-memory", &[])
        .await
        .map_err(anyhow::Error::msg)?;
    let api = Api::new(&s.server.base_url, None)?;
    let r = memory::cart_memory(
        &api,
        s.server.pid,
        ctx.args.memory_carts,
        ctx.args.concurrency,
    )
    .await;
    stop(ctx, s).await;
    let r = r?;
    memory::print_memory(&r);
    Ok(r)
}

async fn measure_cold(ctx: &Context) -> anyhow::Result<ColdReport> {
    let env = [(
        "PASSIVATION_IDLE_MS".to_string(),
        COLD_PASSIVATION_IDLE_MS.to_string(),
    )];
    let s = start_engine(ctx, Engine::Actor, "actor-cold", &env)
        .await
        .map_err(anyhow::Error::msg)?;
    let api = Api::new(&s.server.base_url, None)?;
    let r = memory::cold_activation(
        &api,
        ctx.args.cold_carts,
        Duration::from_millis(COLD_WAIT_MS),
        ctx.args.concurrency,
    )
    .await;
    stop(ctx, s).await;
    let r = r?;
    memory::print_cold(&r);
    Ok(r)
}

fn closed_run(results: &[EngineResult], label: &str) -> Option<RunReport> {
    results
        .iter()
        .find(|e| e.engine == label)
        .and_then(|e| e.runs.first().cloned())
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then_some(a / b)
}

pub fn ratios(results: &[EngineResult]) -> Ratios {
    let actor = closed_run(results, Engine::Actor.label());
    let baseline = closed_run(results, Engine::Baseline.label());
    let ceiling = closed_run(results, Engine::Ceiling.label());
    let store = results
        .iter()
        .find_map(|e| e.store.as_ref())
        .map(|s| s.orders_per_s);
    let orders = |r: &Option<RunReport>| r.as_ref().map(|r| r.summary.orders_confirmed_per_s);
    let over = |a: Option<f64>, b: Option<f64>| a.zip(b).and_then(|(a, b)| ratio(a, b));
    let pair = |other: &Option<RunReport>, f: fn(&RunReport) -> f64| match (&actor, other) {
        (Some(a), Some(o)) => ratio(f(a), f(o)),
        _ => None,
    };
    Ratios {
        actor_vs_baseline_orders_per_s: pair(&baseline, |r| r.summary.orders_confirmed_per_s),
        actor_vs_baseline_p99: pair(&baseline, |r| r.summary.corrected.p99_ms),
        actor_vs_ceiling_http_per_s: pair(&ceiling, |r| r.summary.http_per_s),
        actor_vs_ceiling_p99: pair(&ceiling, |r| r.summary.corrected.p99_ms),
        store_ceiling_vs_baseline_orders_per_s: over(store, orders(&baseline)),
        actor_vs_store_ceiling_orders_per_s: over(orders(&actor), store),
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map(|v| format!("{v:.2}x"))
        .unwrap_or_else(|| "n/a".to_string())
}

/// "open" or "closed", for the bench's tables.
fn model_name(run: &RunReport) -> &'static str {
    if run.model.starts_with("open") {
        "open"
    } else {
        "closed"
    }
}

fn summary_text(r: &BenchReport, ctx: &Context) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "== bench: flash sale, {} concurrent buyers, {} s measured after {} s warm-up",
        ctx.args.concurrency, ctx.args.duration_s, ctx.args.warmup_s
    );
    let _ = writeln!(
        out,
        "{:<22} {:<7} {:>12} {:>12} {:>9} {:>9} {:>9}  verification",
        "engine", "model", "confirmed/s", "HTTP req/s", "p50 ms", "p99 ms", "errors"
    );
    for e in &r.engines {
        if let Some(reason) = &e.unavailable {
            let prefix = if e.engine == Engine::Baseline.label() {
                "baseline unavailable"
            } else {
                "unavailable"
            };
            let _ = writeln!(out, "{:<22} {prefix}: {reason}", e.engine);
            continue;
        }
        if let Some(store) = &e.store {
            let verdict = if store.failed_batches == 0 {
                "n/a".to_string()
            } else {
                format!("FAIL ({} failed batches)", store.failed_batches)
            };
            let _ = writeln!(
                out,
                "{:<22} {:<7} {:>12.1} {:>12} {:>9.2} {:>9.2} {:>9}  {verdict}",
                e.engine,
                format!("b{}", store.plan.batch),
                store.orders_per_s,
                "n/a",
                store.batch_latency.p50_ms,
                store.batch_latency.p99_ms,
                store.failed_batches
            );
        }
        for run in &e.runs {
            let s = &run.summary;
            let model = model_name(run);
            let failed = run
                .verification
                .iter()
                .filter(|c| c.verdict == crate::verify::Verdict::Fail)
                .count();
            let verdict = if run.verification.is_empty() {
                "n/a".to_string()
            } else if failed == 0 {
                "PASS".to_string()
            } else {
                format!("FAIL ({failed})")
            };
            let _ = writeln!(
                out,
                "{:<22} {:<7} {:>12.1} {:>12.1} {:>9.2} {:>9.2} {:>9}  {verdict}",
                e.engine,
                model,
                s.orders_confirmed_per_s,
                s.http_per_s,
                s.corrected.p50_ms,
                s.corrected.p99_ms,
                s.errors
            );
        }
    }
    let mut costs: Vec<(&str, String, &crate::dbcost::DbCost)> = Vec::new();
    for e in &r.engines {
        if let Some(c) = e.store.as_ref().and_then(|s| s.db_cost.as_ref()) {
            costs.push((e.engine.as_str(), "batch".to_string(), c));
        }
        for run in &e.runs {
            if let Some(c) = &run.db_cost {
                costs.push((e.engine.as_str(), model_name(run).to_string(), c));
            }
        }
    }
    if !costs.is_empty() {
        let _ = writeln!(
            out,
            "database work per confirmed order (Postgres counters over the window):"
        );
        let _ = writeln!(
            out,
            "{:<22} {:<7} {:>12} {:>9} {:>9} {:>9} {:>10} {:>11}",
            "engine",
            "model",
            "transactions",
            "inserted",
            "updated",
            "deleted",
            "WAL bytes",
            "buffer hits"
        );
        for (engine, model, c) in costs {
            let _ = writeln!(
                out,
                "{engine:<22} {model:<7} {:>12.2} {:>9.2} {:>9.2} {:>9.2} {:>10.0} {:>11.1}",
                c.transactions,
                c.rows_inserted,
                c.rows_updated,
                c.rows_deleted,
                c.wal_bytes,
                c.blocks_hit
            );
        }
    }
    let q = &r.ratios;
    let _ = writeln!(
        out,
        "ratios (closed model): actor/baseline confirmed/s {}, p99 {}; actor/ceiling HTTP req/s {}, p99 {}",
        fmt_ratio(q.actor_vs_baseline_orders_per_s),
        fmt_ratio(q.actor_vs_baseline_p99),
        fmt_ratio(q.actor_vs_ceiling_http_per_s),
        fmt_ratio(q.actor_vs_ceiling_p99)
    );
    if q.store_ceiling_vs_baseline_orders_per_s.is_some()
        || q.actor_vs_store_ceiling_orders_per_s.is_some()
    {
        let _ = writeln!(
            out,
            "store ceiling (Postgres alone writing the rows of confirmed orders, batched): \
             store-ceiling/baseline orders/s {}, actor/store-ceiling {}",
            fmt_ratio(q.store_ceiling_vs_baseline_orders_per_s),
            fmt_ratio(q.actor_vs_store_ceiling_orders_per_s)
        );
    }
    if let Some(m) = &r.memory {
        let _ = writeln!(
            out,
            "memory: {:.0} bytes per live cart over {} carts (VmRSS {} -> {} KiB)",
            m.bytes_per_cart, m.carts_created, m.rss_before_kib, m.rss_after_kib
        );
    }
    if let Some(c) = &r.cold_activation {
        let _ = writeln!(out, "cold activation: p50 {:.2} ms, p99 {:.2} ms over {} carts (warm p50 {:.2} ms, p99 {:.2} ms)", c.cold.p50_ms, c.cold.p99_ms, c.carts, c.warm.p50_ms, c.warm.p99_ms);
    }
    let _ = writeln!(
        out,
        "load average (/proc/loadavg) at start: {}; at end: {}",
        r.load_average_start, r.load_average_end
    );
    let _ = writeln!(
        out,
        "latencies are corrected (from intended start); children's logs in {}",
        ctx.log_dir.display()
    );
    let _ = writeln!(out, "reproduce: {}", r.command_line);
    out
}

fn print_summary(r: &BenchReport, ctx: &Context) {
    println!("{}", summary_text(r, ctx));
}
