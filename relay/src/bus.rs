//! The embedded bus: with no `KAFKA_BROKERS`, the relay hands envelopes straight to the same
//! handlers, through the same inbox and dead-letter logic. A row counts as published once every
//! handler applied it (or dead-lettered it, into the `dead_letters` table), so a crash between
//! the two redelivers it and the inboxes absorb the repeat: the same at-least-once delivery with
//! exactly-once effects as on Kafka.

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::ConsumerConfig;
use crate::consumer::{deliver, Handler, Outcome};
use crate::db::Db;
use crate::envelope::Envelope;
use crate::publish::Publisher;

pub struct Bus {
    db: Db,
    handlers: Vec<Arc<dyn Handler>>,
    topic_prefix: String,
    config: ConsumerConfig,
}

impl Bus {
    pub fn new(
        db: Db,
        handlers: Vec<Arc<dyn Handler>>,
        topic_prefix: &str,
        config: ConsumerConfig,
    ) -> Bus {
        Bus {
            db,
            handlers,
            topic_prefix: topic_prefix.to_owned(),
            config,
        }
    }

    async fn deliver_one(&self, envelope: &Envelope) -> Result<(), String> {
        for handler in &self.handlers {
            if !handler.streams().contains(&envelope.stream()) {
                continue;
            }
            // A transient failure goes back to the relay, whose backoff retries the row.
            let outcome = deliver(&self.db, &**handler, envelope, &self.config, &|| false)
                .await
                .map_err(|e| format!("{} ({}): {e}", handler.name(), self.topic_prefix))?;
            if let Outcome::DeadLettered { error, attempts } = outcome {
                self.db
                    .dead_letter(handler.name(), envelope, &error, attempts)
                    .await
                    .map_err(|e| format!("cannot record a dead letter: {e}"))?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Publisher for Bus {
    async fn publish(&self, batch: &[Envelope]) -> Vec<Result<(), String>> {
        let mut results = Vec::with_capacity(batch.len());
        let mut failed: Vec<(&str, &str)> = Vec::new();
        for envelope in batch {
            let key = (
                envelope.aggregate_type.as_str(),
                envelope.aggregate_id.as_str(),
            );
            // Never hand over an event while an earlier one of its aggregate is undelivered.
            if failed.contains(&key) {
                results.push(Err("an earlier event of this aggregate failed".to_owned()));
                continue;
            }
            let result = self.deliver_one(envelope).await;
            if result.is_err() {
                failed.push(key);
            }
            results.push(result);
        }
        results
    }
}
