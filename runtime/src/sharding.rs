//! The sharding layer: routes a command for entity `id` to the one live actor for it, activating
//! the actor on demand.
//!
//! Each shard owns a `DashMap` from id to `Slot`. Get-or-activate goes through the map's `entry`
//! API, which holds the write lock of that key's map segment while the actor is created, so two
//! concurrent first requests for one id cannot create two actors. A message is offered to an
//! actor only while a guard on its slot is held; an actor removes its own slot before it stops,
//! and that removal waits for those guards, so once removed no new message can reach it.

use crate::actor::{Control, EntityActor, Envelope, Outcome, Start};
use crate::coalescer::Coalescer;
use crate::config::RuntimeConfig;
use crate::entity::{Entity, EntityStore};
use crate::error::DispatchError;
use crate::journal::{Journal, JournalEntry};
use crate::stats::{KindStats, KindStatsSnapshot, PassivationReason};
use crate::system::ActorSystem;
use actix::dev::channel;
use actix::prelude::*;
use actix_rt::ArbiterHandle;
use dashmap::DashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Extra actix mailbox room for control messages, which bypass our own depth gate.
const CONTROL_MESSAGES_MARGIN: usize = 64;

/// Live figures of one actor, shared between its slot and the actor itself.
#[derive(Debug)]
pub struct Probe {
    /// Commands accepted into the mailbox and not yet handled: the gate that bounds the mailbox.
    pub(crate) depth: AtomicUsize,
    /// Milliseconds since the sharding layer's origin at the last handled message.
    pub(crate) last_active_ms: AtomicU64,
    pub(crate) commands: AtomicU64,
    pub(crate) restarts: AtomicU64,
    /// Milliseconds since the sharding layer's origin at activation: the base of command rates.
    activated_ms: u64,
}

impl Probe {
    fn new(now_ms: u64) -> Probe {
        Probe {
            depth: AtomicUsize::new(0),
            last_active_ms: AtomicU64::new(now_ms),
            commands: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            activated_ms: now_ms,
        }
    }
}

/// What the ops API shows of one live actor.
#[derive(Clone, Debug)]
pub struct ActorView {
    pub id: String,
    pub shard: usize,
    /// Kept in memory without a running actor (no mailbox); its figures restart when it wakes.
    pub hibernated: bool,
    pub mailbox_depth: usize,
    pub commands: u64,
    pub restarts: u64,
    pub idle_ms: u64,
    /// How long the actor has been live.
    pub age_ms: u64,
}

impl ActorView {
    /// Commands handled per minute since activation (the first second counts as a whole second,
    /// so a fresh actor is not ranked hottest by one command).
    pub fn commands_per_minute(&self) -> u64 {
        self.commands.saturating_mul(60_000) / self.age_ms.max(1_000)
    }
}

/// What a shard's registry holds for one entity in memory.
pub(crate) enum Slot<E: Entity> {
    /// A running actor: commands go to its mailbox.
    Active(Live<E>),
    /// An idle entity without an actor: only its committed state. The next command wakes an
    /// actor from it without a load. Boxed so the registry's entries stay small.
    Hibernated(Box<Dormant<E>>),
}

pub(crate) struct Live<E: Entity> {
    addr: Addr<EntityActor<E>>,
    pub(crate) generation: u64,
    probe: Arc<Probe>,
}

pub(crate) struct Dormant<E> {
    state: E,
    /// When its actor last handled a message, on the sharding layer's clock.
    last_active_ms: u64,
}

impl<E: Entity> Slot<E> {
    fn last_active_ms(&self) -> u64 {
        match self {
            Slot::Active(live) => live.probe.last_active_ms.load(Ordering::Relaxed),
            Slot::Hibernated(dormant) => dormant.last_active_ms,
        }
    }
}

pub(crate) struct Shard<E: Entity> {
    index: usize,
    arbiter: ArbiterHandle,
    pub(crate) slots: DashMap<E::Id, Slot<E>>,
    /// Kept beside the map because `DashMap::len` locks every segment, which would deadlock
    /// while an entry guard is held.
    pub(crate) live: AtomicUsize,
    /// Ids whose actors restarted too often, with the instant their quarantine ends.
    pub(crate) quarantine: DashMap<E::Id, Instant>,
    /// The writer this shard's actors commit through; their commits share transactions.
    pub(crate) coalescer: Coalescer<E>,
}

pub(crate) struct Inner<E: Entity> {
    pub(crate) config: RuntimeConfig,
    pub(crate) store: Arc<dyn EntityStore<E>>,
    pub(crate) stats: KindStats,
    /// Recent failures and restarts of this kind, bounded, for operators.
    pub(crate) journal: Journal,
    pub(crate) io: tokio::runtime::Handle,
    pub(crate) shards: Box<[Shard<E>]>,
    generation: AtomicU64,
    origin: Instant,
    shutting_down: AtomicBool,
}

impl<E: Entity> Inner<E> {
    pub(crate) fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// Removes the slot of `id` if it still belongs to actor `generation`.
    pub(crate) fn unregister(&self, shard: usize, id: &E::Id, generation: u64) {
        let shard = &self.shards[shard];
        let removed = shard.slots.remove_if(
            id,
            |_, slot| matches!(slot, Slot::Active(live) if live.generation == generation),
        );
        if removed.is_some() {
            shard.live.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Replaces actor `generation`'s slot with its state alone, if nothing is waiting in its
    /// mailbox. The slot's write lock keeps senders out meanwhile (they offer under its read
    /// lock), so an empty mailbox here stays empty: no command can be stranded in the actor
    /// that is about to stop. Gives the state back when the actor must stay.
    pub(crate) fn hibernate(
        &self,
        shard: usize,
        id: &E::Id,
        generation: u64,
        state: E,
        last_active_ms: u64,
    ) -> Result<(), E> {
        let Some(mut slot) = self.shards[shard].slots.get_mut(id) else {
            return Err(state);
        };
        match &*slot {
            Slot::Active(live)
                if live.generation == generation
                    && live.probe.depth.load(Ordering::Acquire) == 0 => {}
            _ => return Err(state),
        }
        *slot = Slot::Hibernated(Box::new(Dormant {
            state,
            last_active_ms,
        }));
        self.stats.hibernated();
        Ok(())
    }

    /// Drops the hibernated state of `id` (an actor's slot is left alone). True if it was there.
    /// Never call it while holding a guard on the shard's map.
    fn drop_hibernated(&self, shard: &Shard<E>, id: &E::Id, reason: PassivationReason) -> bool {
        let removed = shard
            .slots
            .remove_if(id, |_, slot| matches!(slot, Slot::Hibernated(_)));
        if removed.is_some() {
            shard.live.fetch_sub(1, Ordering::AcqRel);
            self.stats.hibernated_passivated(reason);
        }
        removed.is_some()
    }
}

/// Routes commands of one entity kind to its actors. Cheap to clone.
pub struct Sharding<E: Entity> {
    inner: Arc<Inner<E>>,
}

impl<E: Entity> Clone for Sharding<E> {
    fn clone(&self) -> Self {
        Sharding {
            inner: self.inner.clone(),
        }
    }
}

enum Offer<E: Entity> {
    Sent,
    Closed(Envelope<E>),
}

impl<E: Entity> Sharding<E> {
    pub fn new(
        system: &ActorSystem,
        config: RuntimeConfig,
        store: Arc<dyn EntityStore<E>>,
    ) -> Self {
        let arbiters = system.arbiters();
        let writers: Vec<Coalescer<E>> = (0..config.writers_per_kind.max(1))
            .map(|_| {
                Coalescer::start(
                    store.clone(),
                    system.io(),
                    config.coalescer_queue_max,
                    config.coalesced_actors_max,
                )
            })
            .collect();
        let shards = (0..config.shards.max(1))
            .map(|index| Shard {
                index,
                arbiter: arbiters[index % arbiters.len()].clone(),
                slots: DashMap::new(),
                live: AtomicUsize::new(0),
                quarantine: DashMap::new(),
                coalescer: writers[index % writers.len()].clone(),
            })
            .collect();
        let inner = Inner {
            config,
            store,
            stats: KindStats::default(),
            journal: Journal::default(),
            io: system.io().clone(),
            shards,
            generation: AtomicU64::new(1),
            origin: Instant::now(),
            shutting_down: AtomicBool::new(false),
        };
        let inner = Arc::new(inner);
        system.io().spawn(sweep_idle(Arc::downgrade(&inner)));
        Sharding { inner }
    }

    /// The shard that owns `id`. Deterministic: the std SipHash with fixed zero keys.
    pub fn shard_of(&self, id: &E::Id) -> usize {
        let mut hasher = DefaultHasher::new();
        id.hash(&mut hasher);
        (hasher.finish() % self.inner.shards.len() as u64) as usize
    }

    /// Sends `command` to the actor of `id` and waits for its answer: the business result, or a
    /// dispatch error when the runtime could not get one.
    pub async fn ask(
        &self,
        id: E::Id,
        command: E::Command,
    ) -> Result<Result<E::Reply, E::Rejection>, DispatchError> {
        self.ask_as(id, command, false).await
    }

    /// Like `ask`, for an id the caller just created and knows was never stored: if no actor is
    /// live, it is activated from `EntityStore::fresh` without a load.
    pub async fn ask_new(
        &self,
        id: E::Id,
        command: E::Command,
    ) -> Result<Result<E::Reply, E::Rejection>, DispatchError> {
        self.ask_as(id, command, true).await
    }

    async fn ask_as(
        &self,
        id: E::Id,
        command: E::Command,
        new: bool,
    ) -> Result<Result<E::Reply, E::Rejection>, DispatchError> {
        let answer = self.ask_with_redirects(id, command, new);
        match tokio::time::timeout(self.inner.config.ask_timeout, answer).await {
            Ok(answer) => answer,
            Err(_) => Err(DispatchError::Timeout),
        }
    }

    async fn ask_with_redirects(
        &self,
        id: E::Id,
        mut command: E::Command,
        new: bool,
    ) -> Result<Result<E::Reply, E::Rejection>, DispatchError> {
        for _ in 0..=self.inner.config.redirects_max {
            let answer = self.send(&id, command, new)?;
            match answer.await {
                Ok(Outcome::Done(result)) => return Ok(result),
                Ok(Outcome::Failed(e)) => return Err(e),
                // The actor was stopping and handed the command back undecided: route it again.
                Ok(Outcome::Redirect(c)) => command = c,
                Err(_) => {
                    return Err(DispatchError::Unavailable(
                        "the actor stopped before answering".into(),
                    ))
                }
            }
        }
        Err(DispatchError::Unavailable("the actor kept stopping".into()))
    }

    fn send(
        &self,
        id: &E::Id,
        command: E::Command,
        new: bool,
    ) -> Result<oneshot::Receiver<Outcome<E>>, DispatchError> {
        if self.inner.shutting_down.load(Ordering::Acquire) {
            return Err(DispatchError::ShuttingDown);
        }
        let shard = &self.inner.shards[self.shard_of(id)];
        let (tx, rx) = oneshot::channel();
        let mut envelope = Envelope::new(command, tx);
        // Two rounds: a dead actor found in the first is unregistered and replaced in the second.
        for _ in 0..2 {
            match self.offer_or_activate(shard, id, envelope, new)? {
                Offer::Sent => return Ok(rx),
                Offer::Closed(back) => envelope = back,
            }
        }
        Err(DispatchError::Unavailable(
            "could not reach a live actor".into(),
        ))
    }

    fn offer_or_activate(
        &self,
        shard: &Shard<E>,
        id: &E::Id,
        envelope: Envelope<E>,
        new: bool,
    ) -> Result<Offer<E>, DispatchError> {
        if let Some(slot) = shard.slots.get(id) {
            if let Slot::Active(live) = &*slot {
                let generation = live.generation;
                let offered = self.offer(live, envelope);
                drop(slot);
                if let Ok(Offer::Closed(_)) = &offered {
                    self.inner.unregister(shard.index, id, generation);
                }
                return offered;
            }
        }
        self.check_quarantine(shard, id)?;
        self.make_room(shard)?;
        match shard.slots.entry(id.clone()) {
            dashmap::Entry::Occupied(mut occupied) => {
                if let Slot::Hibernated(_) = occupied.get() {
                    // Wake it: a new actor takes the hibernated state, no load.
                    let (live, mailbox) = self.new_live();
                    let generation = live.generation;
                    let probe = live.probe.clone();
                    let previous = std::mem::replace(occupied.get_mut(), Slot::Active(live));
                    if let Slot::Hibernated(dormant) = previous {
                        let start = Start::Woken(dormant.state);
                        let spawned =
                            self.spawn(shard, id.clone(), generation, probe, mailbox, start);
                        if let Err(e) = spawned {
                            // Shutting down: the state is gone from memory (it is committed).
                            let reason = PassivationReason::Shutdown;
                            self.inner.stats.hibernated_passivated(reason);
                            return Err(e);
                        }
                    }
                }
                match occupied.get() {
                    Slot::Active(live) => self.offer(live, envelope),
                    Slot::Hibernated(_) => Ok(Offer::Closed(envelope)),
                }
            }
            dashmap::Entry::Vacant(vacant) => {
                let start = match new.then(|| self.inner.store.fresh(id)).flatten() {
                    Some(state) => Start::Fresh(state),
                    None => Start::Load,
                };
                let (live, mailbox) = self.new_live();
                let (generation, probe) = (live.generation, live.probe.clone());
                self.spawn(shard, id.clone(), generation, probe, mailbox, start)?;
                let offered = self.offer(&live, envelope);
                vacant.insert(Slot::Active(live));
                shard.live.fetch_add(1, Ordering::AcqRel);
                offered
            }
        }
    }

    /// Puts the envelope in the actor's mailbox if the mailbox is below its bound.
    fn offer(&self, slot: &Live<E>, envelope: Envelope<E>) -> Result<Offer<E>, DispatchError> {
        let capacity = self.inner.config.mailbox_capacity_max;
        if slot.probe.depth.fetch_add(1, Ordering::AcqRel) >= capacity {
            slot.probe.depth.fetch_sub(1, Ordering::AcqRel);
            self.inner.stats.overloaded();
            return Err(DispatchError::Overloaded("mailbox full"));
        }
        match slot.addr.try_send(envelope) {
            Ok(()) => Ok(Offer::Sent),
            Err(SendError::Full(_)) => {
                slot.probe.depth.fetch_sub(1, Ordering::AcqRel);
                self.inner.stats.overloaded();
                Err(DispatchError::Overloaded("mailbox full"))
            }
            Err(SendError::Closed(back)) => {
                slot.probe.depth.fetch_sub(1, Ordering::AcqRel);
                Ok(Offer::Closed(back))
            }
        }
    }

    fn check_quarantine(&self, shard: &Shard<E>, id: &E::Id) -> Result<(), DispatchError> {
        let until = match shard.quarantine.get(id) {
            Some(until) => *until,
            None => return Ok(()),
        };
        if Instant::now() < until {
            return Err(DispatchError::Unavailable(
                "the actor failed repeatedly and is quarantined".into(),
            ));
        }
        shard.quarantine.remove(id);
        Ok(())
    }

    /// Keeps the shard under its live-actor bound by evicting the least recently used tenth.
    fn make_room(&self, shard: &Shard<E>) -> Result<(), DispatchError> {
        let max = self.inner.config.live_actors_per_shard_max;
        let live = shard.live.load(Ordering::Acquire);
        if live < max {
            return Ok(());
        }
        if live > max + max / 10 {
            self.inner.stats.overloaded();
            return Err(DispatchError::Overloaded(
                "too many live actors in this shard",
            ));
        }
        let mut by_age: Vec<(u64, Sweep<E>)> = shard
            .slots
            .iter()
            .map(|s| {
                let sweep = match s.value() {
                    Slot::Active(live) => Sweep::Passivate(live.addr.clone()),
                    Slot::Hibernated(_) => Sweep::Drop(s.key().clone()),
                };
                (s.last_active_ms(), sweep)
            })
            .collect();
        by_age.sort_unstable_by_key(|(last, _)| *last);
        for (_, sweep) in by_age.into_iter().take(max / 10 + 1) {
            sweep.apply(&self.inner, shard, PassivationReason::Evicted);
        }
        Ok(())
    }

    /// A new actor's slot and the receiving end of its mailbox.
    fn new_live(&self) -> (Live<E>, channel::AddressReceiver<EntityActor<E>>) {
        let generation = self.inner.generation.fetch_add(1, Ordering::Relaxed);
        let probe = Arc::new(Probe::new(self.inner.now_ms()));
        let (tx, rx) =
            channel::channel(self.inner.config.mailbox_capacity_max + CONTROL_MESSAGES_MARGIN);
        let live = Live {
            addr: Addr::new(tx),
            generation,
            probe,
        };
        (live, rx)
    }

    /// Starts the actor on its shard's arbiter, reading `mailbox`.
    fn spawn(
        &self,
        shard: &Shard<E>,
        id: E::Id,
        generation: u64,
        probe: Arc<Probe>,
        mailbox: channel::AddressReceiver<EntityActor<E>>,
        start: Start<E>,
    ) -> Result<(), DispatchError> {
        let inner = self.inner.clone();
        let shard_index = shard.index;
        let spawned = shard.arbiter.spawn_fn(move || {
            let ctx = Context::with_receiver(mailbox);
            let actor = EntityActor::new(id, shard_index, generation, probe, inner, start);
            actix_rt::spawn(ctx.into_future(actor));
        });
        if spawned {
            Ok(())
        } else {
            Err(DispatchError::ShuttingDown)
        }
    }

    fn control(&self, id: &E::Id, control: Control) -> bool {
        let shard = &self.inner.shards[self.shard_of(id)];
        let Some(slot) = shard.slots.get(id) else {
            return false;
        };
        match &*slot {
            Slot::Active(live) => live.addr.try_send(control).is_ok(),
            Slot::Hibernated(_) => {
                drop(slot);
                // Nothing runs to be asked: passivating or restarting a hibernated entity both
                // mean dropping its state, so the next command loads it from the store.
                let reason = match control {
                    Control::Passivate(reason) => reason,
                    Control::Restart | Control::Hibernate => PassivationReason::Requested,
                };
                self.inner.drop_hibernated(shard, id, reason)
            }
        }
    }

    /// Asks the live actor of `id` to passivate (a hibernated one is dropped at once); false if
    /// `id` is not in memory.
    pub fn passivate(&self, id: &E::Id) -> bool {
        self.control(id, Control::Passivate(PassivationReason::Requested))
    }

    /// Asks the live actor of `id` to throw its state away and reload it from the store (a
    /// hibernated one is dropped, to be loaded by its next command).
    pub fn restart(&self, id: &E::Id) -> bool {
        self.control(id, Control::Restart)
    }

    pub fn stats(&self) -> KindStatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// The newest `n` supervision events of this kind, newest first.
    pub fn journal(&self, n: usize) -> Vec<JournalEntry> {
        self.inner.journal.recent(n)
    }

    pub fn kind(&self) -> &'static str {
        E::KIND
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Live actors per shard, in shard order.
    pub fn live_per_shard(&self) -> Vec<usize> {
        self.inner
            .shards
            .iter()
            .map(|s| s.live.load(Ordering::Relaxed))
            .collect()
    }

    /// Sum of all mailbox depths: a cheap sample for a gauge.
    pub fn mailbox_depth_total(&self) -> usize {
        self.inner
            .shards
            .iter()
            .flat_map(|s| {
                s.slots
                    .iter()
                    .map(|slot| match slot.value() {
                        Slot::Active(live) => live.probe.depth.load(Ordering::Relaxed),
                        Slot::Hibernated(_) => 0,
                    })
                    .collect::<Vec<_>>()
            })
            .sum()
    }

    /// The entity `id` if it is in memory: a running actor, or hibernated.
    pub fn view(&self, id: &E::Id) -> Option<ActorView> {
        let shard = &self.inner.shards[self.shard_of(id)];
        let now = self.inner.now_ms();
        shard
            .slots
            .get(id)
            .map(|slot| view_of(id, shard.index, &slot, now))
    }

    /// The `n` running actors ranked by `key` (for example mailbox depth or commands handled).
    /// Hibernated entities are left out: they have no mailbox and handled nothing since.
    pub fn top_by(&self, n: usize, key: impl Fn(&ActorView) -> u64) -> Vec<ActorView> {
        let now = self.inner.now_ms();
        let mut views: Vec<ActorView> = self
            .inner
            .shards
            .iter()
            .flat_map(|shard| {
                shard
                    .slots
                    .iter()
                    .filter(|s| matches!(s.value(), Slot::Active(_)))
                    .map(|s| view_of(s.key(), shard.index, s.value(), now))
                    .collect::<Vec<_>>()
            })
            .collect();
        views.sort_unstable_by_key(|v| std::cmp::Reverse(key(v)));
        views.truncate(n);
        views
    }

    /// Stops accepting commands, passivates every actor (each finishes and commits what it has
    /// decided first) and waits up to `timeout` for all of them to stop.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        self.inner.shutting_down.store(true, Ordering::Release);
        for shard in self.inner.shards.iter() {
            for slot in shard.slots.iter() {
                // Hibernated entities have nothing uncommitted: they simply go with the process.
                if let Slot::Active(live) = slot.value() {
                    live.addr
                        .do_send(Control::Passivate(PassivationReason::Shutdown));
                }
            }
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.inner.stats.snapshot().alive <= 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

fn view_of<E: Entity>(id: &E::Id, shard: usize, slot: &Slot<E>, now_ms: u64) -> ActorView {
    let idle_ms = now_ms.saturating_sub(slot.last_active_ms());
    match slot {
        Slot::Active(live) => {
            let probe = &live.probe;
            ActorView {
                id: id.to_string(),
                shard,
                hibernated: false,
                mailbox_depth: probe.depth.load(Ordering::Relaxed),
                commands: probe.commands.load(Ordering::Relaxed),
                restarts: probe.restarts.load(Ordering::Relaxed),
                idle_ms,
                age_ms: now_ms.saturating_sub(probe.activated_ms),
            }
        }
        Slot::Hibernated(_) => ActorView {
            id: id.to_string(),
            shard,
            hibernated: true,
            mailbox_depth: 0,
            commands: 0,
            restarts: 0,
            idle_ms,
            age_ms: idle_ms,
        },
    }
}

/// What the sweeper or the live bound does with one entity in memory. Decided while iterating
/// the shard's map, applied after: a slot cannot be removed while the map is being iterated.
enum Sweep<E: Entity> {
    /// Ask the actor to stop (it commits what it decided first).
    Passivate(Addr<EntityActor<E>>),
    /// Ask the actor to hand its state to the registry and stop.
    Hibernate(Addr<EntityActor<E>>),
    /// Drop a hibernated entity's state.
    Drop(E::Id),
}

impl<E: Entity> Sweep<E> {
    fn apply(self, inner: &Inner<E>, shard: &Shard<E>, reason: PassivationReason) {
        match self {
            Sweep::Passivate(addr) => addr.do_send(Control::Passivate(reason)),
            Sweep::Hibernate(addr) => addr.do_send(Control::Hibernate),
            Sweep::Drop(id) => {
                inner.drop_hibernated(shard, &id, reason);
            }
        }
    }
}

/// Finds entities idle longer than the hibernation or passivation time: actors idle past the
/// first hibernate, anything idle past the second is passivated. One sweeper per kind instead
/// of a timer per actor: a million idle carts then cost a scan every few seconds, not a million
/// timers. Ends when the sharding is dropped.
async fn sweep_idle<E: Entity>(inner: std::sync::Weak<Inner<E>>) {
    loop {
        let Some(every) = inner.upgrade().map(|i| i.config.passivation_check_interval) else {
            return;
        };
        tokio::time::sleep(every).await;
        let Some(inner) = inner.upgrade() else { return };
        let passivate_ms = inner.config.passivation_idle.as_millis() as u64;
        let hibernate_ms = inner.config.hibernate_idle.as_millis() as u64;
        let now = inner.now_ms();
        for shard in inner.shards.iter() {
            let todo: Vec<Sweep<E>> = shard
                .slots
                .iter()
                .filter_map(|slot| {
                    let idle = now.saturating_sub(slot.last_active_ms());
                    match slot.value() {
                        Slot::Hibernated(_) if idle >= passivate_ms => {
                            Some(Sweep::Drop(slot.key().clone()))
                        }
                        Slot::Hibernated(_) => None,
                        Slot::Active(live) if live.probe.depth.load(Ordering::Relaxed) > 0 => None,
                        Slot::Active(live) if idle >= passivate_ms => {
                            Some(Sweep::Passivate(live.addr.clone()))
                        }
                        Slot::Active(live) if idle >= hibernate_ms => {
                            Some(Sweep::Hibernate(live.addr.clone()))
                        }
                        Slot::Active(_) => None,
                    }
                })
                .collect();
            for sweep in todo {
                sweep.apply(&inner, shard, PassivationReason::Idle);
            }
        }
    }
}
