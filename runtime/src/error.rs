//! Failures of the dispatch path itself (as opposed to business rejections).

use crate::entity::StoreError;

/// Why a command got no business answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// A mailbox, pending queue or shard is full; retry after a short pause.
    #[error("overloaded: {0}")]
    Overloaded(&'static str),
    /// The store is unreachable, or the actor could not be activated.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Optimistic concurrency conflict; the actor reloaded and a retry will see the new state.
    #[error("version conflict")]
    Conflict,
    /// The commit of this command's batch failed; nothing of it was stored.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// Decided on top of a batch that failed to commit; nothing of it was stored.
    #[error("aborted because an earlier batch failed to commit")]
    Aborted,
    /// The actor failed (panicked) while handling this command; it restarts from the store.
    #[error("actor failed: {0}")]
    ActorFailed(String),
    /// No answer within the ask timeout; the command may or may not have been applied.
    #[error("timed out waiting for the actor")]
    Timeout,
    /// The runtime is shutting down.
    #[error("shutting down")]
    ShuttingDown,
}

impl DispatchError {
    /// Whether the caller may retry the same command safely and soon.
    pub fn is_transient(&self) -> bool {
        !matches!(self, DispatchError::ActorFailed(_))
    }
}

impl From<StoreError> for DispatchError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => DispatchError::Conflict,
            StoreError::Unavailable(s) => DispatchError::Unavailable(s),
            StoreError::Other(s) => DispatchError::CommitFailed(s),
        }
    }
}
