//! The relay loop: claim a bounded batch, publish it, mark what the sink acknowledged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use uuid::Uuid;

use crate::config::{backoff, RelayConfig};
use crate::db::Db;
use crate::envelope::Envelope;
use crate::publish::Publisher;

/// The relay's figures, readable at any time (a metrics endpoint reads a [`RelayStats`]
/// snapshot). Atomics because the relay task writes and any task reads, without a lock.
#[derive(Debug, Default)]
pub struct RelayMetrics {
    /// Unpublished rows at the last look.
    pending: AtomicU64,
    /// Age of the oldest unpublished row at the last look, in milliseconds.
    lag_ms: AtomicU64,
    /// Rows this process published (acknowledged and marked).
    published_total: AtomicU64,
    /// Rows whose publication failed (each is retried; one row may count several times).
    failed_total: AtomicU64,
}

/// A snapshot of [`RelayMetrics`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    pub pending: u64,
    pub lag_ms: u64,
    pub published_total: u64,
    pub failed_total: u64,
}

impl RelayMetrics {
    pub fn snapshot(&self) -> RelayStats {
        RelayStats {
            pending: self.pending.load(Ordering::Relaxed),
            lag_ms: self.lag_ms.load(Ordering::Relaxed),
            published_total: self.published_total.load(Ordering::Relaxed),
            failed_total: self.failed_total.load(Ordering::Relaxed),
        }
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub claimed: usize,
    pub published: usize,
    pub failed: usize,
}

/// One relay instance. Several may run against one Postgres database.
pub struct Relay {
    /// Names this instance's leases.
    id: Uuid,
    db: Db,
    publisher: Arc<dyn Publisher>,
    config: RelayConfig,
    metrics: Arc<RelayMetrics>,
}

impl Relay {
    pub fn new(db: Db, publisher: Arc<dyn Publisher>, config: RelayConfig) -> Relay {
        Relay {
            id: Uuid::new_v4(),
            db,
            publisher,
            config,
            metrics: Arc::new(RelayMetrics::default()),
        }
    }

    pub fn metrics(&self) -> Arc<RelayMetrics> {
        Arc::clone(&self.metrics)
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Claims one batch, publishes it and marks the acknowledged rows.
    pub async fn pass(&self) -> Result<Pass, sqlx::Error> {
        let lease_ms = i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX);
        let batch = self
            .db
            .claim(self.id, self.config.batch_size_max, lease_ms)
            .await?;
        if batch.is_empty() {
            return Ok(Pass::default());
        }
        let results = self.publisher.publish(&batch).await;
        let (done, undone) = settle(&batch, &results);
        let marked = self.db.mark_published(self.id, &done).await?;
        if marked != done.len() as u64 {
            tracing::warn!(
                relay = %self.id,
                acknowledged = done.len(),
                marked,
                "lost the lease of some rows while publishing; another relay re-publishes them"
            );
        }
        self.db.release(self.id, &undone).await?;
        self.metrics
            .published_total
            .fetch_add(marked, Ordering::Relaxed);
        self.metrics
            .failed_total
            .fetch_add(undone.len() as u64, Ordering::Relaxed);
        if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
            tracing::warn!(relay = %self.id, failed = undone.len(), error = %e, "publishing failed; retrying with backoff");
        }
        Ok(Pass {
            claimed: batch.len(),
            published: done.len(),
            failed: undone.len(),
        })
    }

    /// Runs passes until `stop` turns true: immediately again after a full batch, after
    /// `idle_poll` when there was nothing, after a capped exponential backoff on failure.
    ///
    /// With a retention, it prunes one bounded statement after the first pass and then every
    /// `PRUNE_INTERVAL`, but while a statement deletes a full `prune_batch_max` (more rows are
    /// past the retention), after every pass and without the idle pause, so pruning keeps up
    /// with a sale instead of deleting one batch a minute.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut failures: u32 = 0;
        let mut last_prune: Option<tokio::time::Instant> = None;
        let mut prune_behind = false;
        let mut last_backlog: Option<tokio::time::Instant> = None;
        tracing::info!(relay = %self.id, dialect = self.db.dialect(), "outbox relay started");
        while !*stop.borrow() {
            let pass = self.pass().await;
            let idle = matches!(&pass, Ok(p) if p.claimed == 0);
            let pause = match pass {
                Ok(pass) if pass.failed == 0 => {
                    failures = 0;
                    if pass.claimed >= self.config.batch_size_max as usize {
                        Duration::ZERO
                    } else {
                        self.config.idle_poll
                    }
                }
                Ok(_) => {
                    failures = failures.saturating_add(1);
                    backoff(self.config.backoff_min, self.config.backoff_max, failures)
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(relay = %self.id, error = %e, "outbox claim failed");
                    backoff(self.config.backoff_min, self.config.backoff_max, failures)
                }
            };
            // Counting the backlog scans every unpublished row (and, until vacuum, the index
            // entries of rows published since): while the relay has work, at most once a
            // second, however short its passes; when a pass finds nothing, after that pass, so
            // the figures reach 0 one idle poll after the outbox drains.
            if idle || last_backlog.is_none_or(|t| t.elapsed() >= BACKLOG_REFRESH_MIN) {
                last_backlog = Some(tokio::time::Instant::now());
                self.refresh_backlog().await;
            }
            if prune_behind || last_prune.is_none_or(|t| t.elapsed() >= PRUNE_INTERVAL) {
                last_prune = Some(tokio::time::Instant::now());
                let pruned = self.prune().await;
                prune_behind = pruned > 0 && pruned >= u64::from(self.config.prune_batch_max);
            }
            let pause = if prune_behind && failures == 0 {
                Duration::ZERO
            } else {
                pause
            };
            if !pause.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        tracing::info!(relay = %self.id, "outbox relay stopped");
    }

    pub async fn refresh_backlog(&self) {
        match self.db.backlog().await {
            Ok(b) => {
                self.metrics.pending.store(b.pending, Ordering::Relaxed);
                self.metrics.lag_ms.store(b.lag_ms, Ordering::Relaxed);
            }
            Err(e) => tracing::debug!(error = %e, "cannot read the outbox backlog"),
        }
    }

    /// Deletes published rows past the retention, a bounded statement at a time.
    pub async fn prune(&self) -> u64 {
        let Some(retention) = self.config.retention else {
            return 0;
        };
        let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        match self
            .db
            .prune(retention_ms, self.config.prune_batch_max)
            .await
        {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "pruning the outbox failed");
                0
            }
        }
    }
}

/// How often, at most, the backlog figures are refreshed while the relay has work. A flash sale
/// keeps every pass short of a full batch, and counting after each of them cost about 3% of
/// Postgres's time per order (docs/performance.md).
const BACKLOG_REFRESH_MIN: Duration = Duration::from_secs(1);

/// How often published rows past the retention are pruned.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// Splits a published batch into rows to mark and rows to release. Per aggregate only the
/// acknowledged prefix is marked: a row acknowledged after an earlier one of its aggregate
/// failed is published again later, after that earlier one, so consumers (which dedupe by
/// inbox) see the aggregate's facts in order at the end.
pub fn settle<'a>(
    batch: &'a [Envelope],
    results: &[Result<(), String>],
) -> (Vec<&'a Envelope>, Vec<Uuid>) {
    assert_eq!(batch.len(), results.len(), "one result per envelope");
    let mut done = Vec::with_capacity(batch.len());
    let mut undone = Vec::new();
    let mut broken: Option<(&str, &str)> = None;
    for (envelope, result) in batch.iter().zip(results) {
        let key = (
            envelope.aggregate_type.as_str(),
            envelope.aggregate_id.as_str(),
        );
        if broken != Some(key) {
            broken = None;
        }
        if result.is_ok() && broken.is_none() {
            done.push(envelope);
        } else {
            broken = Some(key);
            undone.push(envelope.event_id);
        }
    }
    (done, undone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(aggregate: &str, sequence: i64) -> Envelope {
        Envelope {
            event_id: Uuid::from_u128(u128::from(aggregate.as_bytes()[0]) << 64 | sequence as u128),
            aggregate_type: "order".to_owned(),
            aggregate_id: aggregate.to_owned(),
            sequence,
            event_type: "order.placed".to_owned(),
            schema_version: 1,
            payload: "{}".to_owned(),
            occurred_at_ms: 0,
        }
    }

    #[test]
    fn only_the_acknowledged_prefix_of_an_aggregate_is_marked() {
        let batch = [env("a", 1), env("a", 2), env("a", 3), env("b", 1)];
        let results = [Ok(()), Err("x".to_owned()), Ok(()), Ok(())];
        let (done, undone) = settle(&batch, &results);
        let done: Vec<Uuid> = done.iter().map(|e| e.event_id).collect();
        assert_eq!(done, vec![batch[0].event_id, batch[3].event_id]);
        assert_eq!(undone, vec![batch[1].event_id, batch[2].event_id]);
    }
}
