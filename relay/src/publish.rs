//! Where the relay sends envelopes: Kafka, or the in-process bus of embedded mode.

use std::time::Duration;

use async_trait::async_trait;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use crate::envelope::Envelope;

/// How much longer than the publish timeout the relay waits for delivery reports.
pub const REPORT_GRACE: Duration = Duration::from_secs(1);

/// A sink that acknowledges each envelope it durably accepted.
#[async_trait]
pub trait Publisher: Send + Sync + 'static {
    /// Publishes `batch` (in order per aggregate) and answers one result per envelope, in the
    /// same order. `Ok` means the sink acknowledged it (for Kafka: every in-sync replica has
    /// it); only those rows are marked published.
    async fn publish(&self, batch: &[Envelope]) -> Vec<Result<(), String>>;
}

/// The idempotent Kafka producer: `enable.idempotence=true` (no duplicates or reordering from
/// the producer's own retries, at most 5 requests in flight per partition), `acks=all`.
pub struct KafkaPublisher {
    producer: FutureProducer,
    topic_prefix: String,
    /// Bounds how long librdkafka keeps retrying one message before reporting failure; shorter
    /// than the relay's lease (`RelayConfig::validate`).
    timeout: Duration,
}

impl KafkaPublisher {
    pub fn new(brokers: &str, topic_prefix: &str, timeout: Duration) -> Result<Self, String> {
        let producer: FutureProducer = producer_config(brokers, timeout)
            .create()
            .map_err(|e| format!("cannot create the Kafka producer: {e}"))?;
        Ok(KafkaPublisher {
            producer,
            topic_prefix: topic_prefix.to_owned(),
            timeout,
        })
    }

    /// Waits until everything queued is delivered or `timeout` passes.
    pub fn flush(&self, timeout: Duration) {
        if let Err(e) = self.producer.flush(timeout) {
            tracing::warn!(error = %e, "kafka producer flush");
        }
    }
}

pub fn producer_config(brokers: &str, timeout: Duration) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", timeout.as_millis().to_string())
        // The key (aggregate id) picks the partition, so one aggregate stays in one partition.
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .set("compression.type", "none");
    cfg
}

#[async_trait]
impl Publisher for KafkaPublisher {
    async fn publish(&self, batch: &[Envelope]) -> Vec<Result<(), String>> {
        // Every record is queued before any is awaited, in batch order: librdkafka keeps the
        // queue order per partition, and the idempotent producer keeps it across retries.
        let mut pending = Vec::with_capacity(batch.len());
        for envelope in batch {
            let topic = envelope.topic(&self.topic_prefix);
            let record = FutureRecord::to(&topic)
                .key(envelope.aggregate_id.as_bytes())
                .payload(envelope.payload.as_bytes())
                .headers(envelope.headers());
            pending.push(match self.producer.send_result(record) {
                Ok(delivery) => Ok(delivery),
                Err((e, _)) => Err(format!("cannot queue: {e}")),
            });
        }
        // librdkafka reports every message within `message.timeout.ms` of queueing it; the
        // deadline is only a safety net, and stays inside the lease (`RelayConfig::validate`).
        let deadline = tokio::time::Instant::now() + self.timeout + REPORT_GRACE;
        let mut results = Vec::with_capacity(batch.len());
        for queued in pending {
            results.push(match queued {
                Err(e) => Err(e),
                Ok(delivery) => match tokio::time::timeout_at(deadline, delivery).await {
                    Ok(Ok(Ok(_))) => Ok(()),
                    Ok(Ok(Err((e, _)))) => Err(e.to_string()),
                    Ok(Err(_)) => Err("the producer dropped the message".to_owned()),
                    Err(_) => Err("no delivery report in time".to_owned()),
                },
            });
        }
        results
    }
}
