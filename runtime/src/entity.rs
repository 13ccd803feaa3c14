//! What the runtime needs to know about an aggregate: how to decide a command, and where its
//! state is loaded from and committed to. It knows nothing else about it.

use futures::future::BoxFuture;
use std::fmt::{Debug, Display};
use std::hash::Hash;

/// The identity of one entity instance; hashed to pick its shard.
pub trait EntityId: Clone + Eq + Hash + Debug + Display + Send + Sync + Unpin + 'static {}
impl<T: Clone + Eq + Hash + Debug + Display + Send + Sync + Unpin + 'static> EntityId for T {}

/// An aggregate hosted by one actor. `decide` runs strictly one command at a time, from memory,
/// and applies an accepted change to `self` immediately so the next command sees it, even though
/// the change is committed later as part of a batch.
pub trait Entity: Sized + Send + Sync + Unpin + 'static {
    type Id: EntityId;
    type Command: Send + Unpin + 'static;
    type Reply: Send + Unpin + 'static;
    type Rejection: Send + Unpin + 'static;
    /// One accepted command's effect, in the form the store commits it.
    type Change: Send + Unpin + 'static;

    /// The entity type name used in metrics, logs and ops views.
    const KIND: &'static str;

    /// Decides `command` against the current state. On `Persist` the state already includes the
    /// change; if its commit fails the runtime throws the state away and reloads it.
    fn decide(&mut self, command: Self::Command) -> Decision<Self>;

    /// A low-cardinality name of the command, for metrics.
    fn command_name(command: &Self::Command) -> &'static str;
}

/// The outcome of deciding one command.
pub enum Decision<E: Entity> {
    /// Nothing to persist (a read, or an idempotent repeat).
    Reply(E::Reply),
    /// A business rejection; nothing changed.
    Reject(E::Rejection),
    /// Accepted: the change must commit before the caller hears `reply`.
    Persist { reply: E::Reply, change: E::Change },
}

/// Why a store operation failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// Optimistic concurrency: the stored version was not the one this actor loaded.
    #[error("version conflict: the stored aggregate changed under this actor")]
    Conflict,
    /// The store cannot be reached or timed out; retrying later may work.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug, corrupt data, a constraint violation.
    #[error("store error: {0}")]
    Other(String),
}

/// Where an entity's state lives. Implementations run their futures on the IO runtime, never on
/// an actor thread.
pub trait EntityStore<E: Entity>: Send + Sync + 'static {
    /// Loads the entity, or its empty initial state if it was never stored.
    fn load(&self, id: &E::Id) -> BoxFuture<'static, Result<E, StoreError>>;
    /// The empty initial state of an id the caller knows was never stored (for example one it
    /// just generated at random), so activation can skip the load. `None` means "always load".
    /// Safe even if the caller is wrong: the first commit's version check then fails.
    fn fresh(&self, _id: &E::Id) -> Option<E> {
        None
    }
    /// Commits the changes (in decision order) atomically: all of them or none.
    fn commit(
        &self,
        id: &E::Id,
        changes: Vec<E::Change>,
    ) -> BoxFuture<'static, Result<(), StoreError>>;

    /// Group commit: the batches of several entities of this kind, one result per batch, in
    /// order. One batch's failure must not fail the others. The default commits them one by one.
    fn commit_many(
        &self,
        batches: Vec<(E::Id, Vec<E::Change>)>,
    ) -> BoxFuture<'static, Vec<Result<(), StoreError>>> {
        let commits: Vec<_> = batches
            .into_iter()
            .map(|(id, changes)| self.commit(&id, changes))
            .collect();
        Box::pin(async move {
            let mut results = Vec::with_capacity(commits.len());
            for commit in commits {
                results.push(commit.await);
            }
            results
        })
    }
}
