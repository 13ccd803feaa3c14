//! The embedded bus: with no `KAFKA_BROKERS`, the relay hands envelopes straight to the same
//! handlers, through the same inbox and dead-letter logic. A row counts as published once every
//! handler applied it (or dead-lettered it, into the `dead_letters` table), so a crash between
//! the two redelivers it and the inboxes absorb the repeat: the same at-least-once delivery with
//! exactly-once effects as on Kafka.
//!
//! Batching: each handler applies a whole relay batch in one transaction (one inbox row per
//! event inside it, unless the handler deduplicates itself, and the handler's own set-based
//! statements where it has them:
//! [`Handler::apply_batch`]), so the bus costs one commit per handler and batch, not per event — which
//! matters on SQLite, where every commit takes the single write lock and an fsync the actors'
//! group commits also need. Only if that transaction fails does the handler fall back to one
//! delivery per event, with retries and dead letters.

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::ConsumerConfig;
use crate::consumer::{deliver, Handler, HandlerError, Outcome};
use crate::db::Db;
use crate::envelope::Envelope;
use crate::publish::Publisher;

pub struct Bus {
    db: Db,
    handlers: Vec<Arc<dyn Handler>>,
    config: ConsumerConfig,
}

impl Bus {
    pub fn new(db: Db, handlers: Vec<Arc<dyn Handler>>, config: ConsumerConfig) -> Bus {
        Bus {
            db,
            handlers,
            config,
        }
    }

    /// All of `batch` that `handler` reads, in one transaction.
    async fn apply_all(
        &self,
        handler: &dyn Handler,
        batch: &[&Envelope],
    ) -> Result<(), HandlerError> {
        let mut tx = self.db.begin().await?;
        if handler.deduplicates_itself() {
            handler.apply_batch(&mut tx, batch).await?;
        } else {
            let ids: Vec<uuid::Uuid> = batch.iter().map(|e| e.event_id).collect();
            let fresh = tx.inbox_claim_many(handler.name(), &ids).await?;
            let fresh: Vec<&Envelope> = batch
                .iter()
                .copied()
                .filter(|e| fresh.contains(&e.event_id))
                .collect();
            handler.apply_batch(&mut tx, &fresh).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One event, with retries and dead letters. A transient failure goes back to the relay,
    /// whose backoff retries the row.
    async fn deliver_one(&self, handler: &dyn Handler, envelope: &Envelope) -> Result<(), String> {
        let outcome = deliver(&self.db, handler, envelope, &self.config, &|| false)
            .await
            .map_err(|e| format!("{}: {e}", handler.name()))?;
        if let Outcome::DeadLettered { error, attempts } = outcome {
            self.db
                .dead_letter(handler.name(), envelope, &error, attempts)
                .await
                .map_err(|e| format!("cannot record a dead letter: {e}"))?;
        }
        Ok(())
    }

    /// Delivers `batch` to `handler` one event at a time, recording failures in `results`.
    async fn deliver_each(
        &self,
        handler: &dyn Handler,
        batch: &[Envelope],
        results: &mut [Result<(), String>],
    ) {
        let mut failed: Vec<(&str, &str)> = Vec::new();
        for (envelope, result) in batch.iter().zip(results.iter_mut()) {
            if !handler.streams().contains(&envelope.stream()) {
                continue;
            }
            let key = (
                envelope.aggregate_type.as_str(),
                envelope.aggregate_id.as_str(),
            );
            // Never hand over an event while an earlier one of its aggregate is undelivered.
            if failed.contains(&key) {
                *result = Err("an earlier event of this aggregate failed".to_owned());
                continue;
            }
            if let Err(e) = self.deliver_one(handler, envelope).await {
                failed.push(key);
                *result = Err(e);
            }
        }
    }
}

#[async_trait]
impl Publisher for Bus {
    /// On Postgres the handlers apply the batch concurrently, each in its own transaction on
    /// its own connection; on SQLite, whose single writer would only make them queue for its
    /// lock, one after the other. A row is published when every handler has it.
    async fn publish(&self, batch: &[Envelope]) -> Vec<Result<(), String>> {
        let per_handler: Vec<Vec<Result<(), String>>> = match self.db {
            Db::Postgres(_) => {
                futures::future::join_all(
                    self.handlers
                        .iter()
                        .map(|handler| self.publish_to(&**handler, batch)),
                )
                .await
            }
            Db::Sqlite(_) => {
                let mut all = Vec::with_capacity(self.handlers.len());
                for handler in &self.handlers {
                    all.push(self.publish_to(&**handler, batch).await);
                }
                all
            }
        };
        let mut results: Vec<Result<(), String>> = vec![Ok(()); batch.len()];
        for handler_results in per_handler {
            for (result, outcome) in results.iter_mut().zip(handler_results) {
                if result.is_ok() {
                    *result = outcome;
                }
            }
        }
        results
    }
}

impl Bus {
    /// `batch` to one handler: one transaction for all it reads, or, if that fails, one
    /// delivery per event with retries and dead letters.
    async fn publish_to(
        &self,
        handler: &dyn Handler,
        batch: &[Envelope],
    ) -> Vec<Result<(), String>> {
        let mut results: Vec<Result<(), String>> = vec![Ok(()); batch.len()];
        let relevant: Vec<&Envelope> = batch
            .iter()
            .filter(|e| handler.streams().contains(&e.stream()))
            .collect();
        if relevant.is_empty() {
            return results;
        }
        if let Err(e) = self.apply_all(handler, &relevant).await {
            tracing::debug!(consumer = handler.name(), error = %e, "batch failed; delivering one by one");
            self.deliver_each(handler, batch, &mut results).await;
        }
        results
    }
}
