//! The event pipeline after the outbox: the relay that publishes committed outbox rows to Kafka
//! (or, without `KAFKA_BROKERS`, to an in-process bus), the consumer framework (inbox for
//! exactly-once effects, retries, dead letters), and the consumers: the order read model and
//! notifications.
//!
//! Architecture invariant: this crate reads the outbox and writes only its own tables (outbox
//! lease and publication columns, inbox, dead letters, read models, notifications); it makes no
//! business decision and never writes an aggregate. It knows the outbox's published schema
//! (`docs/events.md`), not the domain's events.
//!
//! Layout:
//! - [`config`]: `RelayConfig`, `ConsumerConfig`, the named bounds and the backoff.
//! - [`envelope`]: one outbox row in flight; its CloudEvents binary-mode Kafka encoding.
//! - [`db`]: SQL for both dialects: claim with lease, mark, release, prune, backlog, inbox.
//! - [`relay`]: the relay loop and its figures (`RelayStats`).
//! - [`publish`]: the `Publisher` port and the idempotent Kafka producer.
//! - [`bus`]: the embedded bus (a `Publisher` that runs the handlers).
//! - [`consumer`]: `Handler`, delivery with inbox, retries and dead letters; Kafka consumer
//!   groups with manual offset commits.
//! - [`projector`], [`notify`]: the consumers; [`queries`]: the read models' queries;
//!   [`rebuild`]: `rebuild-read-models`.
//! - [`Pipeline`]: starts what a process runs, from [`PipelineSettings`].

pub mod bus;
pub mod config;
pub mod consumer;
pub mod db;
pub mod envelope;
pub mod notify;
pub mod projector;
pub mod publish;
pub mod queries;
pub mod rebuild;
pub mod relay;

use std::sync::Arc;

pub use config::{ConsumerConfig, RelayConfig};
pub use consumer::Handler;
pub use db::Db;
pub use notify::{LogNotifier, Notifier, SmtpNotifier};
pub use queries::SqlReadModels;
pub use rebuild::rebuild_read_models;
pub use relay::{Relay, RelayMetrics, RelayStats};

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a process runs of the pipeline.
#[derive(Clone)]
pub struct PipelineSettings {
    /// `None`: the embedded bus (the relay runs the consumers itself).
    pub kafka_brokers: Option<String>,
    pub relay: RelayConfig,
    pub consumer: ConsumerConfig,
    pub notifier: Arc<dyn Notifier>,
    /// Whether this process runs Kafka consumers (on the embedded bus they always run, inside
    /// the relay).
    pub run_consumers: bool,
}

/// The running relay and consumers of one process.
pub struct Pipeline {
    metrics: Arc<RelayMetrics>,
    tasks: Vec<JoinHandle<()>>,
}

/// The consumers this system runs.
pub fn handlers(notifier: Arc<dyn Notifier>) -> Vec<Arc<dyn Handler>> {
    vec![
        Arc::new(projector::OrderProjector),
        Arc::new(notify::NotificationHandler::new(notifier)),
    ]
}

impl Pipeline {
    /// Starts the relay (and, with Kafka and `run_consumers`, the consumers) until `stop`.
    pub fn start(
        db: Db,
        settings: PipelineSettings,
        stop: watch::Receiver<bool>,
    ) -> Result<Pipeline, String> {
        settings.relay.validate()?;
        let handlers = handlers(Arc::clone(&settings.notifier));
        let prefix = settings.relay.topic_prefix.clone();
        let mut tasks = Vec::new();
        let publisher: Arc<dyn publish::Publisher> = match &settings.kafka_brokers {
            None => Arc::new(bus::Bus::new(
                db.clone(),
                handlers,
                settings.consumer.clone(),
            )),
            Some(brokers) => {
                if settings.run_consumers {
                    for handler in handlers {
                        let consumer = consumer::KafkaConsumer::new(
                            brokers,
                            &prefix,
                            handler,
                            db.clone(),
                            settings.consumer.clone(),
                        )?;
                        tasks.push(tokio::spawn(consumer.run(stop.clone())));
                    }
                }
                Arc::new(publish::KafkaPublisher::new(
                    brokers,
                    &prefix,
                    settings.relay.publish_timeout,
                )?)
            }
        };
        let relay = Relay::new(db, publisher, settings.relay);
        let metrics = relay.metrics();
        tasks.push(tokio::spawn(relay.run(stop)));
        Ok(Pipeline { metrics, tasks })
    }

    /// The relay's figures, for a metrics endpoint.
    pub fn metrics(&self) -> Arc<RelayMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Waits for every task to end (after `stop`).
    pub async fn join(self) {
        for task in self.tasks {
            if task.await.is_err() {
                tracing::error!("a relay or consumer task panicked");
            }
        }
    }
}
