//! The consumer framework: a [`Handler`] applies one event's side effect inside a transaction
//! that also writes the inbox row `(consumer, event_id)`, so a redelivered event changes
//! nothing. A handler whose own writes already make a repeat a no-op
//! ([`Handler::deduplicates_itself`]) is spared the inbox row. Rejected events are retried with
//! backoff and, after `attempts_max`, dead-lettered; the consumer then moves on. The same code
//! runs behind Kafka consumer groups ([`KafkaConsumer`]) and behind the embedded bus
//! ([`crate::bus`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{BorrowedMessage, Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use tokio::sync::watch;

use crate::config::{backoff, ConsumerConfig};
use crate::db::{Db, Tx};
use crate::envelope::Envelope;

/// Why a handler did not apply an event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// The world failed (database unreachable): retried without limit, never dead-lettered.
    #[error("transient: {0}")]
    Transient(String),
    /// The event cannot be applied (bad payload, a failing downstream): retried up to
    /// `attempts_max`, then dead-lettered.
    #[error("rejected: {0}")]
    Rejected(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => HandlerError::Transient(e.to_string()),
            // A constraint or decode failure will fail the same way next time.
            other => HandlerError::Rejected(other.to_string()),
        }
    }
}

/// One consumer: a name (its inbox key and consumer group) and its side effect.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Stable: renaming a consumer makes it apply every event again.
    fn name(&self) -> &'static str;
    /// The streams it reads (topic suffixes: `order`, `payment`, ...).
    fn streams(&self) -> &'static [&'static str];
    /// Applies `envelope` inside `tx`. Events it does not care about are `Ok(())`.
    async fn apply(&self, tx: &mut Tx, envelope: &Envelope) -> Result<(), HandlerError>;

    /// `true` if applying an event a second time, after or within a batch, changes nothing and
    /// sends nothing, because of the handler's own writes: rows keyed by the event's natural key
    /// and inserted with `ON CONFLICT DO NOTHING`, updates guarded by the aggregate's sequence,
    /// side effects sent only when their record was new. The framework then writes no inbox row
    /// for it. An inbox row per event and consumer is a consumer's largest write, and the inbox
    /// is never pruned. Such a handler never reports [`Outcome::Duplicate`]: a repeat is
    /// `Applied` and is a no-op. The default, `false`, keeps the inbox.
    fn deduplicates_itself(&self) -> bool {
        false
    }

    /// Applies `batch` (events not applied before, unless the handler deduplicates itself, each
    /// aggregate's in sequence order) inside `tx`, with the effect of applying them one by one in
    /// that order. The default does just that; a handler overrides it to write a batch with a
    /// few set-based statements instead of a few per event. An error fails the whole batch (the transaction is dropped), and
    /// the embedded bus then delivers its events one at a time.
    async fn apply_batch(&self, tx: &mut Tx, batch: &[&Envelope]) -> Result<(), HandlerError> {
        apply_each(self, tx, batch).await
    }
}

/// Applies `batch` one event at a time: [`Handler::apply_batch`]'s default, and what an
/// override falls back to where it has no set-based statements (SQLite).
pub async fn apply_each<H: Handler + ?Sized>(
    handler: &H,
    tx: &mut Tx,
    batch: &[&Envelope],
) -> Result<(), HandlerError> {
    for envelope in batch {
        handler.apply(tx, envelope).await?;
    }
    Ok(())
}

/// What became of one delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// The inbox had it: applied before, nothing changed now.
    Duplicate,
    /// Given up after this many attempts with this error.
    DeadLettered {
        error: String,
        attempts: u32,
    },
}

/// One attempt: inbox claim (unless the handler deduplicates itself) + side effect + commit,
/// or nothing.
pub async fn apply_once(
    db: &Db,
    handler: &dyn Handler,
    envelope: &Envelope,
) -> Result<Outcome, HandlerError> {
    let mut tx = db.begin().await?;
    if !handler.deduplicates_itself() && !tx.inbox_claim(handler.name(), envelope.event_id).await? {
        return Ok(Outcome::Duplicate);
    }
    handler.apply(&mut tx, envelope).await?;
    tx.commit().await?;
    Ok(Outcome::Applied)
}

/// Attempts until applied, duplicate or dead-lettered. A transient failure is retried while
/// `keep_trying_transient()` says so, else returned (the caller retries the whole delivery).
pub async fn deliver(
    db: &Db,
    handler: &dyn Handler,
    envelope: &Envelope,
    config: &ConsumerConfig,
    keep_trying_transient: &(dyn Fn() -> bool + Send + Sync),
) -> Result<Outcome, HandlerError> {
    let mut rejections: u32 = 0;
    let mut transients: u32 = 0;
    loop {
        let error = match apply_once(db, handler, envelope).await {
            Ok(outcome) => return Ok(outcome),
            Err(HandlerError::Rejected(e)) => {
                rejections += 1;
                if rejections >= config.attempts_max {
                    tracing::warn!(consumer = handler.name(), event_id = %envelope.event_id,
                        event_type = %envelope.event_type, error = %e, attempts = rejections,
                        "giving up on an event: dead-lettered");
                    return Ok(Outcome::DeadLettered {
                        error: e,
                        attempts: rejections,
                    });
                }
                rejections
            }
            Err(HandlerError::Transient(e)) => {
                if !keep_trying_transient() {
                    return Err(HandlerError::Transient(e));
                }
                transients = transients.saturating_add(1);
                tracing::warn!(consumer = handler.name(), error = %e, "consumer retrying after a transient failure");
                transients
            }
        };
        tokio::time::sleep(backoff(config.backoff_min, config.backoff_max, error)).await;
    }
}

/// The dead-letter topic of one consumer.
pub fn dlq_topic(prefix: &str, consumer: &str) -> String {
    format!("{prefix}.dlq.{consumer}")
}

pub const H_DLQ_ERROR: &str = "dlq_error";
pub const H_DLQ_CONSUMER: &str = "dlq_consumer";
pub const H_DLQ_ATTEMPTS: &str = "dlq_attempts";
pub const H_DLQ_TOPIC: &str = "dlq_original_topic";
pub const H_DLQ_PARTITION: &str = "dlq_original_partition";
pub const H_DLQ_OFFSET: &str = "dlq_original_offset";

/// A handler behind a Kafka consumer group. Offsets are committed by hand, after the message
/// was applied, found a duplicate, or dead-lettered: a crash before that redelivers it, and the
/// inbox absorbs the redelivery.
pub struct KafkaConsumer {
    handler: Arc<dyn Handler>,
    db: Db,
    consumer: StreamConsumer,
    dlq: FutureProducer,
    topic_prefix: String,
    config: ConsumerConfig,
}

impl KafkaConsumer {
    pub fn new(
        brokers: &str,
        topic_prefix: &str,
        handler: Arc<dyn Handler>,
        db: Db,
        config: ConsumerConfig,
    ) -> Result<KafkaConsumer, String> {
        let group = format!("{topic_prefix}.{}", handler.name());
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("allow.auto.create.topics", "true")
            .set("topic.metadata.refresh.interval.ms", "2000")
            .set(
                "session.timeout.ms",
                config.session_timeout.as_millis().to_string(),
            )
            // Kafka's advice: a third of the session timeout.
            .set(
                "heartbeat.interval.ms",
                (config.session_timeout.as_millis() / 3).max(1).to_string(),
            )
            .create()
            .map_err(|e| format!("cannot create the Kafka consumer {group}: {e}"))?;
        let topics: Vec<String> = handler
            .streams()
            .iter()
            .map(|s| format!("{topic_prefix}.{s}"))
            .collect();
        let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topic_refs)
            .map_err(|e| format!("cannot subscribe {group} to {topics:?}: {e}"))?;
        let dlq = crate::publish::producer_config(brokers, Duration::from_secs(30))
            .create()
            .map_err(|e| format!("cannot create the dead-letter producer: {e}"))?;
        Ok(KafkaConsumer {
            handler,
            db,
            consumer,
            dlq,
            topic_prefix: topic_prefix.to_owned(),
            config,
        })
    }

    /// Consumes until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let name = self.handler.name();
        tracing::info!(consumer = name, "kafka consumer started");
        loop {
            let message = tokio::select! {
                m = self.consumer.recv() => m,
                _ = stop.changed() => break,
            };
            if *stop.borrow() {
                break;
            }
            match message {
                Ok(m) => {
                    if !self.handle(&m, &stop).await {
                        break;
                    }
                }
                Err(e) => {
                    // Before the relay's first record a subscribed topic does not exist yet;
                    // the consumer picks it up on its next metadata refresh.
                    if e.rdkafka_error_code() == Some(RDKafkaErrorCode::UnknownTopicOrPartition) {
                        tracing::debug!(consumer = name, error = %e, "topic not there yet");
                    } else {
                        tracing::warn!(consumer = name, error = %e, "kafka receive failed");
                    }
                    tokio::time::sleep(self.config.backoff_min).await;
                }
            }
        }
        tracing::info!(consumer = name, "kafka consumer stopped");
    }

    /// Processes one message and commits its offset. `false` when stopping before it was
    /// settled (it is then redelivered to whoever consumes next).
    async fn handle(&self, m: &BorrowedMessage<'_>, stop: &watch::Receiver<bool>) -> bool {
        let outcome = match Envelope::from_message(m) {
            // Retrying cannot fix a record that does not decode.
            Err(e) => Outcome::DeadLettered {
                error: format!("undecodable record: {e}"),
                attempts: 1,
            },
            Ok(envelope) => {
                let keep = || !*stop.borrow();
                match deliver(&self.db, &*self.handler, &envelope, &self.config, &keep).await {
                    Ok(outcome) => {
                        if let Outcome::DeadLettered { error, attempts } = &outcome {
                            if let Err(e) = self
                                .db
                                .dead_letter(self.handler.name(), &envelope, error, *attempts)
                                .await
                            {
                                tracing::warn!(error = %e, "cannot record a dead letter in the database");
                            }
                        }
                        outcome
                    }
                    Err(_) => return false,
                }
            }
        };
        if let Outcome::DeadLettered { error, attempts } = &outcome {
            if !self.send_to_dlq(m, error, *attempts, stop).await {
                return false;
            }
        }
        // Async: librdkafka sends commits in order; a commit lost in a crash only means a
        // redelivery, which the inbox absorbs.
        if let Err(e) = self.consumer.commit_message(m, CommitMode::Async) {
            // The message is settled; a lost commit only means a redelivery the inbox absorbs.
            tracing::warn!(consumer = self.handler.name(), error = %e, "offset commit failed");
        }
        true
    }

    /// Copies the record to the dead-letter topic with the error in headers, retrying until
    /// the broker has it (a dead letter must not be lost either).
    async fn send_to_dlq(
        &self,
        m: &BorrowedMessage<'_>,
        error: &str,
        attempts: u32,
        stop: &watch::Receiver<bool>,
    ) -> bool {
        let topic = dlq_topic(&self.topic_prefix, self.handler.name());
        let mut failures = 0;
        loop {
            let headers = dlq_headers(m, self.handler.name(), error, attempts);
            let mut record = FutureRecord::to(&topic).headers(headers);
            if let Some(key) = m.key() {
                record = record.key(key);
            }
            if let Some(payload) = m.payload() {
                record = record.payload(payload);
            }
            match self.dlq.send(record, Duration::from_secs(30)).await {
                Ok(_) => return true,
                Err((e, _)) => {
                    failures += 1;
                    tracing::warn!(topic, error = %e, "cannot write to the dead-letter topic");
                    if *stop.borrow() {
                        return false;
                    }
                    let pause = backoff(self.config.backoff_min, self.config.backoff_max, failures);
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

fn dlq_headers(
    m: &BorrowedMessage<'_>,
    consumer: &str,
    error: &str,
    attempts: u32,
) -> OwnedHeaders {
    let mut headers = OwnedHeaders::new();
    if let Some(original) = m.headers() {
        for h in original.iter() {
            headers = headers.insert(Header {
                key: h.key,
                value: h.value,
            });
        }
    }
    let attempts = attempts.to_string();
    let partition = m.partition().to_string();
    let offset = m.offset().to_string();
    let extra: [(&str, &str); 6] = [
        (H_DLQ_ERROR, error),
        (H_DLQ_CONSUMER, consumer),
        (H_DLQ_ATTEMPTS, &attempts),
        (H_DLQ_TOPIC, m.topic()),
        (H_DLQ_PARTITION, &partition),
        (H_DLQ_OFFSET, &offset),
    ];
    for (key, value) in extra {
        headers = headers.insert(Header {
            key,
            value: Some(value),
        });
    }
    headers
}
