//! Shard-level group commit. Every actor of one kind on one shard hands its commit batch to the
//! shard's coalescer, which writes whatever has queued up meanwhile in one `commit_many` call
//! (one transaction in the real stores). A hot actor already batches its own commands; this
//! batches many cold actors (one order each) so they do not pay one transaction each.
//!
//! One commit runs at a time per coalescer, and that is the point: while it runs, the next batch
//! fills. Latency stays one commit or two; throughput grows with the batch.

use crate::entity::{Entity, EntityStore, StoreError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

struct Request<E: Entity> {
    id: E::Id,
    changes: Vec<E::Change>,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// The queue into one shard's writer. Cheap to clone.
pub(crate) struct Coalescer<E: Entity> {
    queue: mpsc::Sender<Request<E>>,
}

impl<E: Entity> Clone for Coalescer<E> {
    fn clone(&self) -> Self {
        Coalescer {
            queue: self.queue.clone(),
        }
    }
}

impl<E: Entity> Coalescer<E> {
    /// Starts the writer task on the IO runtime. `queue_max` bounds waiting batches (senders
    /// wait when it is full, which backs up into the actors' bounded pending queues);
    /// `entities_max` bounds how many entities' batches one transaction carries.
    pub(crate) fn start(
        store: Arc<dyn EntityStore<E>>,
        io: &tokio::runtime::Handle,
        queue_max: usize,
        entities_max: usize,
    ) -> Self {
        let (queue, requests) = mpsc::channel(queue_max);
        io.spawn(write_loop(store, requests, entities_max));
        Coalescer { queue }
    }

    /// Queues one entity's batch and resolves when its transaction has committed (or failed).
    pub(crate) fn commit(
        &self,
        id: E::Id,
        changes: Vec<E::Change>,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send + 'static {
        let queue = self.queue.clone();
        async move {
            let (reply, answer) = oneshot::channel();
            queue
                .send(Request { id, changes, reply })
                .await
                .map_err(|_| StoreError::Unavailable("the shard's writer has stopped".into()))?;
            answer.await.unwrap_or_else(|_| {
                Err(StoreError::Other(
                    "the shard's writer dropped a batch".into(),
                ))
            })
        }
    }
}

async fn write_loop<E: Entity>(
    store: Arc<dyn EntityStore<E>>,
    mut requests: mpsc::Receiver<Request<E>>,
    entities_max: usize,
) {
    let mut waiting = Vec::with_capacity(entities_max);
    while requests.recv_many(&mut waiting, entities_max).await > 0 {
        let (batches, replies): (Vec<_>, Vec<_>) = waiting
            .drain(..)
            .map(|r| ((r.id, r.changes), r.reply))
            .unzip();
        let changes: usize = batches.iter().map(|(_, changes)| changes.len()).sum();
        let started = std::time::Instant::now();
        let results = store.commit_many(batches).await;
        metrics::histogram!("persistence_commit_duration_seconds", "actor_type" => E::KIND)
            .record(started.elapsed().as_secs_f64());
        metrics::histogram!("persistence_batch_size", "actor_type" => E::KIND)
            .record(changes as f64);
        debug_assert_eq!(results.len(), replies.len(), "one result per batch");
        let mut results = results.into_iter();
        for reply in replies {
            let result = results.next().unwrap_or_else(|| {
                Err(StoreError::Other(
                    "the store returned too few results".into(),
                ))
            });
            // The actor may have stopped waiting (it never does today); nothing to do then.
            let _ = reply.send(result);
        }
    }
}
