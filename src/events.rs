//! Bootstrap of the event pipeline (the `relay` crate): its settings from the environment, the
//! store opened together with the database handle the relay and consumers use, and the
//! `relay` and `rebuild-read-models` subcommands.

use std::sync::Arc;
use std::time::Duration;

use actors::ports::Store;
use persistence::{PgStore, SqliteStore};
use relay::{ConsumerConfig, Db, LogNotifier, Notifier, Pipeline, PipelineSettings, RelayConfig};

use crate::settings::Secret;
use crate::Settings;

/// `KAFKA_*`, `RELAY_*`, `OUTBOX_RETENTION_MS`, `CONSUMER_ATTEMPTS_MAX`,
/// `CONSUMER_SESSION_TIMEOUT_MS`, `SMTP_URL`,
/// `NOTIFY_MAIL_FROM`, `NOTIFY_MAIL_TO`.
#[derive(Clone, Debug)]
pub struct EventSettings {
    /// `KAFKA_BROKERS`: bootstrap servers; unset = the embedded in-process bus.
    pub kafka_brokers: Option<String>,
    /// `RELAY_ENABLED` (default true): whether `serve` runs the relay and consumers in-process.
    /// Set it to false when `commerce relay` runs as its own deployment.
    pub relay_in_serve: bool,
    pub relay: RelayConfig,
    pub consumer: ConsumerConfig,
    /// `SMTP_URL` (lettre's form, e.g. `smtp://mail:25`): e-mail notifications when set.
    pub smtp_url: Option<Secret>,
    pub mail_from: String,
    pub mail_to: String,
}

type Get<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The relay's default batch on Postgres and on SQLite (`RELAY_BATCH_MAX` overrides both).
const RELAY_BATCH_POSTGRES: u32 = 5_000;
const RELAY_BATCH_SQLITE: u32 = 500;

fn var(get: Get<'_>, name: &str) -> Option<String> {
    get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn number(get: Get<'_>, name: &str) -> Result<Option<u64>, String> {
    var(get, name)
        .map(|raw| {
            raw.parse::<u64>()
                .map_err(|e| format!("{name}={raw:?} is invalid: {e}"))
        })
        .transpose()
}

fn millis(get: Get<'_>, name: &str, default: Duration) -> Result<Duration, String> {
    Ok(number(get, name)?.map_or(default, Duration::from_millis))
}

impl EventSettings {
    pub fn from_lookup(get: Get<'_>) -> Result<EventSettings, String> {
        let mut relay = RelayConfig::default();
        if let Some(prefix) = var(get, "KAFKA_TOPIC_PREFIX") {
            relay.topic_prefix = prefix;
        }
        // On Postgres large batches are what let the relay keep up with a flash sale (see
        // docs/performance.md); on SQLite every handler transaction holds the one write lock the
        // actors' group commits also need, so its batches stay small.
        relay.batch_size_max = if var(get, "DATABASE_URL").is_some() {
            RELAY_BATCH_POSTGRES
        } else {
            RELAY_BATCH_SQLITE
        };
        if let Some(batch) = number(get, "RELAY_BATCH_MAX")? {
            relay.batch_size_max =
                u32::try_from(batch).map_err(|_| "RELAY_BATCH_MAX is too large")?;
        }
        relay.lease = millis(get, "RELAY_LEASE_MS", relay.lease)?;
        relay.publish_timeout = millis(get, "RELAY_PUBLISH_TIMEOUT_MS", relay.publish_timeout)?;
        relay.retention = number(get, "OUTBOX_RETENTION_MS")?
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        relay.validate()?;
        let mut consumer = ConsumerConfig::default();
        if let Some(n) = number(get, "CONSUMER_ATTEMPTS_MAX")? {
            consumer.attempts_max =
                u32::try_from(n.max(1)).map_err(|_| "CONSUMER_ATTEMPTS_MAX is too large")?;
        }
        consumer.session_timeout =
            millis(get, "CONSUMER_SESSION_TIMEOUT_MS", consumer.session_timeout)?;
        if !(1_000..=3_600_000).contains(&consumer.session_timeout.as_millis()) {
            return Err("CONSUMER_SESSION_TIMEOUT_MS must be 1000..=3600000".to_owned());
        }
        let relay_in_serve = match var(get, "RELAY_ENABLED").as_deref() {
            None | Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(other) => {
                return Err(format!("RELAY_ENABLED={other:?} is invalid: true or false"))
            }
        };
        Ok(EventSettings {
            kafka_brokers: var(get, "KAFKA_BROKERS"),
            relay_in_serve,
            relay,
            consumer,
            smtp_url: var(get, "SMTP_URL").map(Secret::new),
            mail_from: var(get, "NOTIFY_MAIL_FROM")
                .unwrap_or_else(|| "commerce@localhost".to_owned()),
            mail_to: var(get, "NOTIFY_MAIL_TO").unwrap_or_else(|| "orders@localhost".to_owned()),
        })
    }

    /// The pipeline's settings, with the notifier these settings choose.
    pub fn pipeline(&self) -> anyhow::Result<PipelineSettings> {
        let notifier: Arc<dyn Notifier> = match &self.smtp_url {
            Some(url) => Arc::new(
                relay::SmtpNotifier::new(url.expose(), &self.mail_from, &self.mail_to)
                    .map_err(anyhow::Error::msg)?,
            ),
            None => Arc::new(LogNotifier),
        };
        Ok(PipelineSettings {
            kafka_brokers: self.kafka_brokers.clone(),
            relay: self.relay.clone(),
            consumer: self.consumer.clone(),
            notifier,
            run_consumers: true,
        })
    }

    /// For the start-up line.
    pub fn describe(&self) -> String {
        match &self.kafka_brokers {
            Some(b) => format!("kafka {b}, topics {}.*", self.relay.topic_prefix),
            None => "embedded bus".to_owned(),
        }
    }
}

/// Opens the configured store (migrating it) and the database handle of the event pipeline,
/// which shares the store's pool.
pub async fn open_store_and_db(settings: &Settings) -> anyhow::Result<(Arc<dyn Store>, Db)> {
    let fail = |e: actors::ports::StoreError| anyhow::anyhow!("cannot open the store: {e}");
    match settings.database_url.as_ref().map(Secret::expose) {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = PgStore::connect(url, &settings.pool).await.map_err(fail)?;
            let db = Db::Postgres(store.pool().clone());
            Ok((Arc::new(store), db))
        }
        Some(_) => anyhow::bail!(
            "DATABASE_URL must be a postgres:// or postgresql:// URL; leave it unset for SQLite"
        ),
        None => {
            let store = SqliteStore::open(&settings.data_dir, &settings.pool)
                .await
                .map_err(fail)?;
            let db = Db::Sqlite(store.pool().clone());
            Ok((Arc::new(store), db))
        }
    }
}

/// `commerce relay`: the relay and consumers alone, until Ctrl-C or SIGTERM.
pub async fn run_relay(settings: Settings) -> anyhow::Result<()> {
    let (_store, db) = open_store_and_db(&settings).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let pipeline =
        Pipeline::start(db, settings.events.pipeline()?, stop_rx).map_err(anyhow::Error::msg)?;
    println!("commerce relay running ({})", settings.events.describe());
    crate::shutdown_signal().await;
    let _ = stop_tx.send(true);
    pipeline.join().await;
    Ok(())
}

/// `commerce rebuild-read-models`: replays the outbox's order history into the read model.
pub async fn rebuild(settings: Settings) -> anyhow::Result<()> {
    let (_store, db) = open_store_and_db(&settings).await?;
    let done = relay::rebuild_read_models(&db)
        .await
        .map_err(|e| anyhow::anyhow!("rebuilding the read models: {e}"))?;
    println!(
        "read models rebuilt from {} events ({} could not be applied)",
        done.events, done.rejected
    );
    Ok(())
}
