//! Wiring of metrics and the ops API: installs the Prometheus recorder (unless
//! `METRICS_ENABLED=false`), keeps it drained, and hands the relay's figures to the HTTP edge.

use commerce_http::ops::{OpsHandle, OutboxFigures, OutboxStatus};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the recorder's histograms are drained into their buckets when nobody scrapes;
/// without it, samples recorded between scrapes would pile up in memory.
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs the recorder and starts its upkeep until `stop`; does nothing when disabled.
pub fn start_metrics(enabled: bool, mut stop: watch::Receiver<bool>) {
    if !enabled {
        return;
    }
    let handle = match commerce_http::metrics::install() {
        Ok(handle) => handle,
        Err(e) => {
            tracing::warn!(error = %e, "metrics disabled: the recorder could not be installed");
            return;
        }
    };
    tokio::spawn(async move {
        let mut upkeep = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = upkeep.tick() => handle.run_upkeep(),
            }
        }
    });
}

/// The relay's figures as the edge's `OutboxFigures`.
struct RelayFigures(Arc<relay::RelayMetrics>);

impl OutboxFigures for RelayFigures {
    fn outbox(&self) -> OutboxStatus {
        let s = self.0.snapshot();
        OutboxStatus {
            pending: s.pending,
            lag_ms: s.lag_ms,
            published_total: s.published_total,
            failed_total: s.failed_total,
        }
    }
}

/// What the ops routes get: the relay's figures when this process runs the relay.
pub fn ops_handle(pipeline: Option<&relay::Pipeline>) -> OpsHandle {
    OpsHandle {
        outbox: pipeline.map(|p| Arc::new(RelayFigures(p.metrics())) as Arc<dyn OutboxFigures>),
    }
}
