//! One generic runtime entity for every domain aggregate: `Hosted<A>` decides a command with the
//! aggregate's `handle`, applies the events with `apply`, and turns them into the change the store
//! commits. The aggregate-specific parts live in `aggregates.rs`, behind [`Aggregate`].

use crate::ports::{Clock, Recorded, Store};
use domain::Timestamp;
use futures::future::BoxFuture;
use runtime::{Decision, Entity, EntityId, EntityStore, StoreError};
use std::marker::PhantomData;
use std::sync::Arc;

/// What the hosting layer needs from a domain aggregate.
pub trait Aggregate: Sized + Send + Sync + Unpin + 'static {
    type Id: EntityId;
    type Command: Send + Unpin + 'static;
    type Event: Send + Unpin + 'static;
    type Error: Send + Unpin + 'static;
    /// What callers get back: a cheap copy of the parts of the state they need.
    type View: Send + Unpin + 'static;
    type Change: Send + Unpin + 'static;
    const KIND: &'static str;

    fn handle(
        &self,
        command: &Self::Command,
        now: Timestamp,
    ) -> Result<Vec<Self::Event>, Self::Error>;
    fn apply(&mut self, event: &Self::Event);
    fn version(&self) -> u64;
    /// The view after `command` (or after nothing, for a read).
    fn view(&self, command: Option<&Self::Command>) -> Self::View;
    /// The change to commit, built after the events of `command` were applied to `self`.
    fn change(
        &self,
        command: &Self::Command,
        expected_version: u64,
        events: Vec<Recorded<Self::Event>>,
    ) -> Self::Change;
    /// The initial state of an id known never to have been stored, if this aggregate supports
    /// activating without a load (ids the application generates at random).
    fn fresh(_id: &Self::Id) -> Option<Self> {
        None
    }
    fn command_name(command: &Self::Command) -> &'static str;
    fn load(store: Arc<dyn Store>, id: Self::Id) -> BoxFuture<'static, Result<Self, StoreError>>;
    fn commit(
        store: Arc<dyn Store>,
        changes: Vec<Self::Change>,
    ) -> BoxFuture<'static, Result<(), StoreError>>;
    /// Group commit of several aggregates' batches; one result per batch.
    fn commit_many(
        store: Arc<dyn Store>,
        batches: Vec<Vec<Self::Change>>,
    ) -> BoxFuture<'static, Vec<Result<(), StoreError>>>;
}

/// A request to a hosted aggregate.
pub enum Ask<A: Aggregate> {
    /// Read the current (committed) view.
    Get,
    Execute(A::Command),
    /// Panics inside `decide`, to prove supervision end to end. Compiled only for tests.
    #[cfg(feature = "test-hooks")]
    Panic,
}

/// The aggregate plus what deciding needs besides it.
pub struct Hosted<A: Aggregate> {
    state: A,
    clock: Arc<dyn Clock>,
}

impl<A: Aggregate> Entity for Hosted<A> {
    type Id = A::Id;
    type Command = Ask<A>;
    type Reply = A::View;
    type Rejection = A::Error;
    type Change = A::Change;
    const KIND: &'static str = A::KIND;

    fn decide(&mut self, ask: Ask<A>) -> Decision<Self> {
        let command = match ask {
            Ask::Get => return Decision::Reply(self.state.view(None)),
            Ask::Execute(command) => command,
            #[cfg(feature = "test-hooks")]
            Ask::Panic => panic!("panic requested by a test"),
        };
        let now = self.clock.now();
        let events = match self.state.handle(&command, now) {
            Ok(events) => events,
            Err(rejection) => return Decision::Reject(rejection),
        };
        if events.is_empty() {
            // An idempotent repeat: nothing to persist, answer with the current view.
            return Decision::Reply(self.state.view(Some(&command)));
        }
        let expected_version = self.state.version();
        let recorded: Vec<Recorded<A::Event>> = events
            .into_iter()
            .enumerate()
            .map(|(i, event)| {
                self.state.apply(&event);
                Recorded {
                    event_id: crate::ports::new_event_id(),
                    sequence: expected_version + i as u64 + 1,
                    occurred_at: now,
                    event,
                }
            })
            .collect();
        debug_assert_eq!(
            self.state.version(),
            expected_version + recorded.len() as u64
        );
        let change = self.state.change(&command, expected_version, recorded);
        Decision::Persist {
            reply: self.state.view(Some(&command)),
            change,
        }
    }

    fn command_name(ask: &Ask<A>) -> &'static str {
        match ask {
            Ask::Get => "get",
            Ask::Execute(command) => A::command_name(command),
            #[cfg(feature = "test-hooks")]
            Ask::Panic => "panic",
        }
    }
}

/// Adapts the application's `Store` port to the runtime's per-entity store.
pub struct HostedStore<A: Aggregate> {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    aggregate: PhantomData<fn() -> A>,
}

impl<A: Aggregate> HostedStore<A> {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        HostedStore {
            store,
            clock,
            aggregate: PhantomData,
        }
    }
}

impl<A: Aggregate> EntityStore<Hosted<A>> for HostedStore<A> {
    fn load(&self, id: &A::Id) -> BoxFuture<'static, Result<Hosted<A>, StoreError>> {
        let clock = self.clock.clone();
        let loading = A::load(self.store.clone(), id.clone());
        Box::pin(async move {
            Ok(Hosted {
                state: loading.await?,
                clock,
            })
        })
    }

    fn fresh(&self, id: &A::Id) -> Option<Hosted<A>> {
        A::fresh(id).map(|state| Hosted {
            state,
            clock: self.clock.clone(),
        })
    }

    fn commit_many(
        &self,
        batches: Vec<(A::Id, Vec<A::Change>)>,
    ) -> BoxFuture<'static, Vec<Result<(), StoreError>>> {
        let batches = batches.into_iter().map(|(_, changes)| changes).collect();
        A::commit_many(self.store.clone(), batches)
    }

    fn commit(
        &self,
        _id: &A::Id,
        changes: Vec<A::Change>,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        A::commit(self.store.clone(), changes)
    }
}
