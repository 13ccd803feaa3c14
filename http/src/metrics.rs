//! `GET /metrics`: the Prometheus text format, and the HTTP middleware that times requests.
//!
//! Two sources are rendered together:
//! - **Event metrics** recorded through the `metrics` facade where they happen (HTTP requests,
//!   checkout outcomes, command decisions and mailbox waits in the runtime, commits and batch
//!   sizes in the runtime's writer, saga compensations). The process-wide Prometheus recorder
//!   installed by [`install`] keeps them; every histogram has explicit buckets, so Prometheus
//!   gets `_bucket` series it can aggregate, never summaries.
//! - **Sampled figures** read at scrape time from the runtime's atomics (`Commerce::
//!   kinds_overview`), the relay's figures and the store (sagas in flight). They are rendered
//!   here from this application's own state rather than pushed into the global recorder, so two
//!   applications in one process (the tests) never overwrite each other's gauges, and nothing is
//!   done for them between scrapes.
//!
//! Labels are the actor type, the route template, the method, the status, the command name, the
//! passivation reason or the outcome: bounded sets. Never an aggregate id.

use crate::ops::OpsHandle;
use crate::problem::Code;
use crate::AppState;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// Buckets of every `*_seconds` histogram: 1 µs (an in-memory decision) to 10 s (the ask
/// timeout), roughly 1-2.5-5 per decade.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.000_001,
    0.000_002_5,
    0.000_005,
    0.000_01,
    0.000_025,
    0.000_05,
    0.000_1,
    0.000_25,
    0.000_5,
    0.001,
    0.002_5,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
];

/// Buckets of `persistence_batch_size` (changes per transaction): powers of two up to the
/// largest batch the runtime's bounds allow in practice.
pub const BATCH_SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0,
];

/// How many in-flight sagas one scrape counts at most: the gauge is a store query, bounded so a
/// scrape stays cheap however large a backlog grows.
pub const SAGA_SCAN_MAX: u32 = 1000;

/// Largest problem body the outcome counter reads (ours are a few hundred bytes).
const PROBLEM_BODY_BYTES_MAX: usize = 16 * 1024;

/// The checkout routes whose answers are counted in `checkout_outcomes_total`.
const CHECKOUT_ROUTES: [&str; 2] = ["/v1/carts/{id}/checkout", "/v1/orders"];

/// Whether event metrics are recorded. Off (`METRICS_ENABLED=false`) the middleware does
/// nothing and no recorder is installed, so the facade's macros are no-ops: the baseline of the
/// overhead measurement.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// The process-wide recorder's handle; a recorder can be installed once per process.
static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the Prometheus recorder (once per process; later calls return the same handle) and
/// turns event metrics on.
pub fn install() -> Result<PrometheusHandle, String> {
    let handle = HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("persistence_batch_size".into()),
                    BATCH_SIZE_BUCKETS,
                )
            })
            .map_err(|e| format!("metrics buckets: {e}"))?
            .build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder)
            .map_err(|e| format!("installing the metrics recorder: {e}"))?;
        describe();
        Ok(handle)
    });
    if handle.is_ok() {
        ENABLED.store(true, Ordering::Release);
    }
    handle.clone()
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn describe() {
    use metrics::{describe_counter, describe_histogram, Unit};
    describe_histogram!(
        "http_server_request_duration_seconds",
        Unit::Seconds,
        "Duration of HTTP server requests, by method, route template and status."
    );
    describe_counter!(
        "checkout_outcomes_total",
        "Checkout and buy-now answers, by outcome (confirmed, replayed or the problem code)."
    );
    describe_histogram!(
        "actor_command_duration_seconds",
        Unit::Seconds,
        "Time an actor spends deciding one command in memory (the commit is timed apart)."
    );
    describe_histogram!(
        "actor_mailbox_wait_seconds",
        Unit::Seconds,
        "Time a command waits in an actor's mailbox before it is handled."
    );
    describe_histogram!(
        "persistence_commit_duration_seconds",
        Unit::Seconds,
        "Duration of one group-commit transaction of a kind's writer."
    );
    describe_histogram!(
        "persistence_batch_size",
        "Changes written by one group-commit transaction."
    );
    describe_histogram!(
        "checkout_step_duration_seconds",
        Unit::Seconds,
        "Duration of one step of a checkout or buy now, by step: claim_idempotency_key, place, \
         reserve, authorize, request_shipment, commit_stock, confirm (with the fulfillment \
         request, for a buy now), and fulfill (the fulfillment request recorded after the \
         confirmation: a cart's checkout, or a carrier that failed before it)."
    );
    describe_counter!(
        "saga_compensations_total",
        "Checkout sagas that started compensating."
    );
}

/// Times every request as `http_server_request_duration_seconds{method,route,status}` (the
/// route is the matched template, `unmatched` for the 404 fallback) and counts checkout
/// outcomes from the answer.
pub async fn track_http(req: Request, next: Next) -> Response {
    if !enabled() {
        return next.run(req).await;
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let method = req.method().clone();
    let started = Instant::now();
    let mut response = next.run(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status();
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    if method == Method::POST && CHECKOUT_ROUTES.contains(&route.as_str()) {
        let outcome;
        (response, outcome) = checkout_outcome(response).await;
        metrics::counter!("checkout_outcomes_total", "outcome" => outcome).increment(1);
    }
    metrics::histogram!(
        "http_server_request_duration_seconds",
        "method" => method_label(&method),
        "route" => route,
        "status" => status.as_str().to_owned(),
    )
    .record(elapsed);
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        // OpenTelemetry's convention for methods outside the known set: bounded cardinality.
        _ => "_OTHER",
    }
}

/// `confirmed` for a new order, `replayed` for an idempotent replay, else the problem's code.
/// A failed order's answer is a stored problem (its body is what a replay sends), so its code
/// is read from the (small, buffered) body and looked up in the closed `Code` table.
async fn checkout_outcome(response: Response) -> (Response, &'static str) {
    if response.headers().contains_key("idempotent-replayed") {
        return (response, "replayed");
    }
    if response.status().is_success() {
        return (response, "confirmed");
    }
    if let Some(code) = response.extensions().get::<Code>() {
        let code = code.as_str();
        return (response, code);
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, PROBLEM_BODY_BYTES_MAX).await else {
        return (Response::from_parts(parts, Body::empty()), "error");
    };
    let code = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| {
            let code = v.get("code")?.as_str()?.to_owned();
            Code::ALL.iter().find(|c| c.as_str() == code).copied()
        })
        .map_or("error", Code::as_str);
    (Response::from_parts(parts, Body::from(bytes)), code)
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "probes",
    responses((status = 200, description = "Every metric in the Prometheus text format 0.0.4.",
        content_type = "text/plain; version=0.0.4; charset=utf-8", body = String)))]
pub async fn render(State(state): State<AppState>, ops: Option<Extension<OpsHandle>>) -> Response {
    let mut out = String::with_capacity(16 * 1024);
    sample_runtime(&state, &mut out);
    if let Some(Extension(ops)) = &ops {
        sample_outbox(ops, &mut out);
    }
    match state.commerce.sagas_in_flight(SAGA_SCAN_MAX).await {
        Ok(sagas) => {
            family(
                &mut out,
                "saga_in_flight",
                "gauge",
                "Checkout sagas not yet completed or failed (counted up to 1000).",
            );
            let _ = writeln!(out, "saga_in_flight {}", sagas.len());
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count sagas in flight"),
    }
    if let Some(handle) = HANDLE.get().and_then(|h| h.as_ref().ok()) {
        out.push_str(&handle.render());
    }
    let mut response = out.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One series per actor type of the value `value` picks from its overview.
fn per_kind(
    out: &mut String,
    kinds: &[actors::ops::KindOverview],
    (name, kind, help): (&str, &str, &str),
    value: impl Fn(&actors::ops::KindOverview) -> u64,
) {
    family(out, name, kind, help);
    for k in kinds {
        let _ = writeln!(out, "{name}{{actor_type=\"{}\"}} {}", k.kind, value(k));
    }
}

/// Picks one counter out of a kind's snapshot.
type Pick = fn(&runtime::KindStatsSnapshot) -> u64;

fn sample_runtime(state: &AppState, out: &mut String) {
    let kinds = state.commerce.kinds_overview();
    let alive = |k: &actors::ops::KindOverview| k.stats.alive.max(0) as u64;
    per_kind(
        out,
        &kinds,
        ("actors_alive", "gauge", "Live actors."),
        alive,
    );
    let hibernated = |k: &actors::ops::KindOverview| k.stats.hibernated.max(0) as u64;
    per_kind(
        out,
        &kinds,
        (
            "actors_hibernated",
            "gauge",
            "Entities in memory without a running actor.",
        ),
        hibernated,
    );
    family(
        out,
        "actors_alive_per_shard",
        "gauge",
        "Entities in memory (running or hibernated) per shard.",
    );
    for k in &kinds {
        for (shard, live) in k.live_per_shard.iter().enumerate() {
            let _ = writeln!(
                out,
                "actors_alive_per_shard{{actor_type=\"{}\",shard=\"{shard}\"}} {live}",
                k.kind
            );
        }
    }
    let counters: [(&str, &str, Pick); 12] = [
        ("actor_activations_total", "Actors activated.", |s| {
            s.activations
        }),
        (
            "actor_hibernations_total",
            "Idle actors stopped with their state kept in memory.",
            |s| s.hibernations,
        ),
        (
            "actor_wakes_total",
            "Hibernated entities woken into an actor without a load.",
            |s| s.wakes,
        ),
        (
            "actor_activation_failures_total",
            "Activations whose load failed.",
            |s| s.activation_failures,
        ),
        (
            "actor_restarts_total",
            "Actors reloaded from the store after a failure or on request.",
            |s| s.restarts,
        ),
        (
            "actor_failures_total",
            "Commands whose decision panicked.",
            |s| s.failures,
        ),
        ("actor_commands_total", "Commands decided.", |s| s.commands),
        (
            "actor_overloaded_total",
            "Commands refused because a mailbox or queue was full.",
            |s| s.overloaded,
        ),
        (
            "persistence_batches_total",
            "Batches actors handed to their writer.",
            |s| s.batches,
        ),
        (
            "persistence_batch_changes_total",
            "Changes in those batches.",
            |s| s.batch_changes,
        ),
        (
            "persistence_commit_failures_total",
            "Batches whose commit failed.",
            |s| s.commit_failures,
        ),
        (
            "persistence_conflicts_total",
            "Batches whose commit failed on a version conflict.",
            |s| s.conflicts,
        ),
    ];
    for (name, help, value) in counters {
        per_kind(out, &kinds, (name, "counter", help), |k| value(&k.stats));
    }
    family(
        out,
        "actor_passivations_total",
        "counter",
        "Actors stopped while healthy, by reason.",
    );
    for k in &kinds {
        let s = &k.stats;
        for (reason, n) in [
            ("idle", s.passivations_idle),
            ("evicted", s.passivations_evicted),
            ("requested", s.passivations_requested),
            ("shutdown", s.passivations_shutdown),
        ] {
            let _ = writeln!(
                out,
                "actor_passivations_total{{actor_type=\"{}\",reason=\"{reason}\"}} {n}",
                k.kind
            );
        }
    }
    let depth = |k: &actors::ops::KindOverview| k.mailbox_depth as u64;
    per_kind(
        out,
        &kinds,
        (
            "actor_mailbox_depth",
            "gauge",
            "Commands waiting in mailboxes (sampled).",
        ),
        depth,
    );
}

fn sample_outbox(ops: &OpsHandle, out: &mut String) {
    let Some(outbox) = ops.outbox() else { return };
    family(
        out,
        "outbox_pending",
        "gauge",
        "Unpublished outbox rows at the relay's last look.",
    );
    let _ = writeln!(out, "outbox_pending {}", outbox.pending);
    family(
        out,
        "outbox_lag_seconds",
        "gauge",
        "Age of the oldest unpublished outbox row.",
    );
    let _ = writeln!(out, "outbox_lag_seconds {}", outbox.lag_ms as f64 / 1000.0);
    family(
        out,
        "outbox_published_total",
        "counter",
        "Outbox rows this process published.",
    );
    let _ = writeln!(out, "outbox_published_total {}", outbox.published_total);
    family(
        out,
        "outbox_publish_failures_total",
        "counter",
        "Outbox row publications that failed (and are retried).",
    );
    let _ = writeln!(out, "outbox_publish_failures_total {}", outbox.failed_total);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_ascend() {
        for buckets in [SECONDS_BUCKETS, BATCH_SIZE_BUCKETS] {
            assert!(buckets.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let custom = Method::from_bytes(b"PURGE").unwrap_or(Method::GET);
        assert_eq!(method_label(&custom), "_OTHER");
        assert_eq!(method_label(&Method::POST), "POST");
    }
}
