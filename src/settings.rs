//! Configuration from the environment, parsed once at start-up into typed settings. A bad value
//! stops the process with a sentence naming the variable, rather than running on a guess.

use runtime::RuntimeConfig;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// A secret that never prints.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// `HTTP_ADDR`: where the API listens (port 0 picks a free one).
    pub http_addr: SocketAddr,
    /// `DATABASE_URL`: Postgres when set; the embedded SQLite store in `data_dir` otherwise.
    pub database_url: Option<Secret>,
    /// `DATA_DIR`: where the embedded store keeps its file.
    pub data_dir: PathBuf,
    /// `ADMIN_TOKEN`: bearer token of admin routes; generated and printed when unset.
    pub admin_token: Option<Secret>,
    pub runtime: RuntimeConfig,
    pub commerce: actors::CommerceConfig,
    pub pool: persistence::PoolConfig,
    /// `HTTP_CONCURRENCY_MAX` and the other bounds of the HTTP edge.
    pub http_limits: commerce_http::HttpLimits,
    /// `SHUTDOWN_TIMEOUT_MS`: how long shutdown waits for actors to commit and stop.
    pub shutdown_timeout: Duration,
    /// The outbox relay, consumers and notifications (`crate::events`).
    pub events: crate::events::EventSettings,
    /// `METRICS_ENABLED` (default true): record event metrics (histograms, outcome counters).
    /// Off, `/metrics` serves only the figures sampled at scrape time.
    pub metrics_enabled: bool,
}

/// Reads variable `name` through `get`, parsing it when present.
fn parse_var<T: FromStr>(
    get: &dyn Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<T>, String>
where
    T::Err: fmt::Display,
{
    match get(name) {
        None => Ok(None),
        Some(raw) if raw.trim().is_empty() => Ok(None),
        Some(raw) => raw
            .trim()
            .parse::<T>()
            .map(Some)
            .map_err(|e| format!("{name}={raw:?} is invalid: {e}")),
    }
}

fn millis(
    get: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: Duration,
) -> Result<Duration, String> {
    Ok(parse_var::<u64>(get, name)?.map_or(default, Duration::from_millis))
}

impl Settings {
    /// Settings from the process environment.
    pub fn from_env() -> Result<Settings, String> {
        Settings::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Settings from any variable lookup (tests pass a map).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let default_addr = SocketAddr::from(([127, 0, 0, 1], 8080));
        let mut runtime = RuntimeConfig::default();
        if let Some(shards) = parse_var(get, "SHARDS")? {
            runtime.shards = shards;
        }
        if let Some(arbiters) = parse_var(get, "ACTOR_THREADS")? {
            runtime.arbiters = arbiters;
        }
        if let Some(capacity) = parse_var(get, "MAILBOX_CAPACITY")? {
            runtime.mailbox_capacity_max = capacity;
        }
        if let Some(batch) = parse_var(get, "BATCH_CHANGES_MAX")? {
            runtime.batch_changes_max = batch;
        }
        if let Some(writers) = parse_var(get, "WRITERS_PER_KIND")? {
            runtime.writers_per_kind = writers;
        }
        if let Some(live) = parse_var(get, "LIVE_ACTORS_PER_SHARD_MAX")? {
            runtime.live_actors_per_shard_max = live;
        }
        runtime.passivation_idle = millis(get, "PASSIVATION_IDLE_MS", runtime.passivation_idle)?;
        runtime.hibernate_idle = millis(get, "HIBERNATE_IDLE_MS", runtime.hibernate_idle)?;
        runtime.passivation_check_interval = runtime
            .passivation_check_interval
            .min(runtime.passivation_idle)
            .min(runtime.hibernate_idle);
        runtime.ask_timeout = millis(get, "ASK_TIMEOUT_MS", runtime.ask_timeout)?;
        runtime.validate()?;

        let mut commerce = actors::CommerceConfig::default();
        commerce.reservation_ttl = millis(get, "RESERVATION_TTL_MS", commerce.reservation_ttl)?;
        commerce.payment_timeout = millis(get, "PAYMENT_TIMEOUT_MS", commerce.payment_timeout)?;
        commerce.expiry_sweep_interval = millis(
            get,
            "EXPIRY_SWEEP_INTERVAL_MS",
            commerce.expiry_sweep_interval,
        )?;
        commerce.saga_stuck_after = millis(get, "SAGA_STUCK_AFTER_MS", commerce.saga_stuck_after)?;
        commerce.recovery_interval =
            millis(get, "SAGA_RECOVERY_INTERVAL_MS", commerce.recovery_interval)?;
        if commerce.recovery_interval.is_zero() {
            return Err("SAGA_RECOVERY_INTERVAL_MS must be at least 1".to_string());
        }
        commerce.saga_step_overload_wait = millis(
            get,
            "SAGA_STEP_OVERLOAD_WAIT_MS",
            commerce.saga_step_overload_wait,
        )?;
        commerce.accounts.session_ttl =
            millis(get, "SESSION_TTL_MS", commerce.accounts.session_ttl)?;
        if commerce.accounts.session_ttl.is_zero() {
            return Err("SESSION_TTL_MS must be at least 1".to_string());
        }

        let mut pool = persistence::PoolConfig::default();
        if let Some(max) = parse_var(get, "DB_MAX_CONNECTIONS")? {
            pool.max_connections = max;
        }
        pool.acquire_timeout = millis(get, "DB_ACQUIRE_TIMEOUT_MS", pool.acquire_timeout)?;
        pool.statement_timeout = millis(get, "DB_STATEMENT_TIMEOUT_MS", pool.statement_timeout)?;

        let mut http_limits = commerce_http::HttpLimits::default();
        if let Some(max) = parse_var::<usize>(get, "HTTP_CONCURRENCY_MAX")? {
            if max == 0 {
                return Err("HTTP_CONCURRENCY_MAX must be at least 1".to_string());
            }
            http_limits.concurrency_max = max;
        }
        if let Some(list) = get("TRUSTED_PROXIES") {
            http_limits.trusted_proxies = commerce_http::limits::TrustedProxies::parse(&list)
                .map_err(|e| format!("TRUSTED_PROXIES={list:?} is invalid: {e}"))?;
        }
        for (name, slot) in [
            (
                "SIGNUPS_PER_MINUTE_PER_CLIENT",
                &mut http_limits.signups_per_minute_per_client,
            ),
            (
                "LOGINS_PER_MINUTE_PER_CLIENT",
                &mut http_limits.logins_per_minute_per_client,
            ),
            (
                "LOGINS_PER_MINUTE_PER_EMAIL",
                &mut http_limits.logins_per_minute_per_email,
            ),
        ] {
            if let Some(rate) = parse_var::<u32>(get, name)? {
                if rate == 0 {
                    return Err(format!("{name} must be at least 1"));
                }
                *slot = rate;
            }
        }

        Ok(Settings {
            http_addr: parse_var(get, "HTTP_ADDR")?.unwrap_or(default_addr),
            database_url: get("DATABASE_URL")
                .filter(|u| !u.trim().is_empty())
                .map(Secret::new),
            data_dir: get("DATA_DIR")
                .filter(|d| !d.trim().is_empty())
                .map_or_else(|| PathBuf::from("./data"), PathBuf::from),
            admin_token: get("ADMIN_TOKEN")
                .filter(|t| !t.trim().is_empty())
                .map(Secret::new),
            metrics_enabled: parse_var(get, "METRICS_ENABLED")?.unwrap_or(true),
            runtime,
            commerce,
            pool,
            http_limits,
            shutdown_timeout: millis(get, "SHUTDOWN_TIMEOUT_MS", Duration::from_secs(15))?,
            events: crate::events::EventSettings::from_lookup(get)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(&move |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_need_no_environment() {
        let s = settings(&[]).expect("defaults are valid");
        assert_eq!(s.http_addr.to_string(), "127.0.0.1:8080");
        assert!(s.database_url.is_none());
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert!(s.admin_token.is_none());
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = settings(&[("SHARDS", "many")]).expect_err("not a number");
        assert!(err.contains("SHARDS"), "{err}");
        let err = settings(&[("SHARDS", "0")]).expect_err("zero shards");
        assert!(err.contains("shards"), "{err}");
    }

    #[test]
    fn metrics_are_on_unless_switched_off() {
        assert!(settings(&[]).expect("defaults").metrics_enabled);
        let off = settings(&[("METRICS_ENABLED", "false")]).expect("valid");
        assert!(!off.metrics_enabled);
        let err = settings(&[("METRICS_ENABLED", "nope")]).expect_err("not a bool");
        assert!(err.contains("METRICS_ENABLED"), "{err}");
    }

    #[test]
    fn store_timeouts_have_defaults_and_are_named_by_their_variables() {
        let s = settings(&[]).expect("defaults");
        assert_eq!(s.pool.acquire_timeout, Duration::from_secs(2));
        assert_eq!(s.pool.statement_timeout, Duration::from_secs(5));
        let s = settings(&[
            ("DB_ACQUIRE_TIMEOUT_MS", "700"),
            ("DB_STATEMENT_TIMEOUT_MS", "1500"),
        ])
        .expect("valid");
        assert_eq!(s.pool.acquire_timeout, Duration::from_millis(700));
        assert_eq!(s.pool.statement_timeout, Duration::from_millis(1500));
        let err = settings(&[("DB_ACQUIRE_TIMEOUT_MS", "soon")]).expect_err("not a number");
        assert!(err.contains("DB_ACQUIRE_TIMEOUT_MS"), "{err}");
    }

    #[test]
    fn load_shedding_and_saga_recovery_are_configurable() {
        let s = settings(&[
            ("HTTP_CONCURRENCY_MAX", "32"),
            ("SAGA_RECOVERY_INTERVAL_MS", "250"),
        ])
        .expect("valid");
        assert_eq!(s.http_limits.concurrency_max, 32);
        assert_eq!(s.commerce.recovery_interval, Duration::from_millis(250));
        let err = settings(&[("HTTP_CONCURRENCY_MAX", "0")]).expect_err("zero sheds all");
        assert!(err.contains("HTTP_CONCURRENCY_MAX"), "{err}");
        let err = settings(&[("SAGA_RECOVERY_INTERVAL_MS", "0")]).expect_err("zero spins");
        assert!(err.contains("SAGA_RECOVERY_INTERVAL_MS"), "{err}");
    }

    #[test]
    fn trusted_proxies_and_auth_limits_are_configurable() {
        let s = settings(&[
            ("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
            ("LOGINS_PER_MINUTE_PER_EMAIL", "4"),
            ("SAGA_STEP_OVERLOAD_WAIT_MS", "500"),
        ])
        .expect("valid");
        let trusted = s.http_limits.trusted_proxies;
        assert!(trusted.contains("10.2.3.4".parse().expect("ip")));
        assert!(!trusted.contains("11.0.0.1".parse().expect("ip")));
        assert_eq!(s.http_limits.logins_per_minute_per_email, 4);
        assert_eq!(
            s.commerce.saga_step_overload_wait,
            Duration::from_millis(500)
        );
        let err = settings(&[("TRUSTED_PROXIES", "10.0.0.0/99")]).expect_err("bad prefix");
        assert!(err.contains("TRUSTED_PROXIES"), "{err}");
        let err = settings(&[("LOGINS_PER_MINUTE_PER_CLIENT", "0")]).expect_err("zero");
        assert!(err.contains("LOGINS_PER_MINUTE_PER_CLIENT"), "{err}");
    }

    #[test]
    fn secrets_never_print() {
        let s = settings(&[
            ("ADMIN_TOKEN", "hunter2"),
            ("DATABASE_URL", "postgres://u:pw@h/db"),
        ])
        .expect("valid");
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("pw@"),
            "{shown}"
        );
    }
}
