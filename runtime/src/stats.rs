//! Counters of the actor system, per entity kind, kept in atomics so the hot path only does
//! relaxed increments and a later metrics endpoint can read them at any time.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// Why an actor was stopped while healthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassivationReason {
    /// Idle longer than the passivation time.
    Idle,
    /// Evicted because its shard reached its live-actor bound.
    Evicted,
    /// Asked to stop by an operator.
    Requested,
    /// The runtime is shutting down.
    Shutdown,
}

impl PassivationReason {
    pub const ALL: [PassivationReason; 4] = [
        PassivationReason::Idle,
        PassivationReason::Evicted,
        PassivationReason::Requested,
        PassivationReason::Shutdown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PassivationReason::Idle => "idle",
            PassivationReason::Evicted => "evicted",
            PassivationReason::Requested => "requested",
            PassivationReason::Shutdown => "shutdown",
        }
    }

    fn index(self) -> usize {
        match self {
            PassivationReason::Idle => 0,
            PassivationReason::Evicted => 1,
            PassivationReason::Requested => 2,
            PassivationReason::Shutdown => 3,
        }
    }
}

/// Counters for one entity kind.
#[derive(Debug, Default)]
pub struct KindStats {
    alive: AtomicI64,
    hibernated: AtomicI64,
    hibernations: AtomicU64,
    wakes: AtomicU64,
    activations: AtomicU64,
    activation_failures: AtomicU64,
    passivations: [AtomicU64; 4],
    restarts: AtomicU64,
    failures: AtomicU64,
    reloads: AtomicU64,
    commands: AtomicU64,
    overloaded: AtomicU64,
    batches: AtomicU64,
    batch_changes: AtomicU64,
    batch_changes_max_seen: AtomicU64,
    commit_failures: AtomicU64,
    conflicts: AtomicU64,
}

/// A point-in-time copy of `KindStats`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KindStatsSnapshot {
    /// Running actors (each with its task, context and mailbox).
    pub alive: i64,
    /// Entities kept in memory without an actor, waiting for their next command.
    pub hibernated: i64,
    /// Actors that stopped into hibernation.
    pub hibernations: u64,
    /// Hibernated entities woken into an actor by a command (no store load).
    pub wakes: u64,
    pub activations: u64,
    pub activation_failures: u64,
    pub passivations_idle: u64,
    pub passivations_evicted: u64,
    pub passivations_requested: u64,
    pub passivations_shutdown: u64,
    pub restarts: u64,
    pub failures: u64,
    pub reloads: u64,
    pub commands: u64,
    pub overloaded: u64,
    pub batches: u64,
    pub batch_changes: u64,
    pub batch_changes_max_seen: u64,
    pub commit_failures: u64,
    pub conflicts: u64,
}

impl KindStats {
    pub(crate) fn activated(&self) {
        self.activations.fetch_add(1, Relaxed);
        self.alive.fetch_add(1, Relaxed);
    }
    /// An actor stopped into hibernation: one fewer running, one more hibernated.
    pub(crate) fn hibernated(&self) {
        self.hibernations.fetch_add(1, Relaxed);
        self.hibernated.fetch_add(1, Relaxed);
    }
    /// A hibernated entity became an actor again.
    pub(crate) fn woken(&self) {
        self.wakes.fetch_add(1, Relaxed);
        self.hibernated.fetch_sub(1, Relaxed);
        self.alive.fetch_add(1, Relaxed);
    }
    /// A hibernated entity was dropped from memory (idle passivation, eviction, operator).
    pub(crate) fn hibernated_passivated(&self, reason: PassivationReason) {
        self.hibernated.fetch_sub(1, Relaxed);
        self.passivated(reason);
    }
    pub(crate) fn stopped(&self) {
        self.alive.fetch_sub(1, Relaxed);
    }
    pub(crate) fn activation_failed(&self) {
        self.activation_failures.fetch_add(1, Relaxed);
    }
    pub(crate) fn passivated(&self, reason: PassivationReason) {
        self.passivations[reason.index()].fetch_add(1, Relaxed);
    }
    pub(crate) fn restarted(&self) {
        self.restarts.fetch_add(1, Relaxed);
    }
    pub(crate) fn failed(&self) {
        self.failures.fetch_add(1, Relaxed);
    }
    pub(crate) fn reloaded(&self) {
        self.reloads.fetch_add(1, Relaxed);
    }
    pub(crate) fn command(&self) {
        self.commands.fetch_add(1, Relaxed);
    }
    pub(crate) fn overloaded(&self) {
        self.overloaded.fetch_add(1, Relaxed);
    }
    pub(crate) fn batch(&self, changes: usize) {
        let changes = changes as u64;
        self.batches.fetch_add(1, Relaxed);
        self.batch_changes.fetch_add(changes, Relaxed);
        self.batch_changes_max_seen.fetch_max(changes, Relaxed);
    }
    pub(crate) fn commit_failed(&self, conflict: bool) {
        self.commit_failures.fetch_add(1, Relaxed);
        if conflict {
            self.conflicts.fetch_add(1, Relaxed);
        }
    }

    pub fn snapshot(&self) -> KindStatsSnapshot {
        let p = |r: PassivationReason| self.passivations[r.index()].load(Relaxed);
        KindStatsSnapshot {
            alive: self.alive.load(Relaxed),
            hibernated: self.hibernated.load(Relaxed),
            hibernations: self.hibernations.load(Relaxed),
            wakes: self.wakes.load(Relaxed),
            activations: self.activations.load(Relaxed),
            activation_failures: self.activation_failures.load(Relaxed),
            passivations_idle: p(PassivationReason::Idle),
            passivations_evicted: p(PassivationReason::Evicted),
            passivations_requested: p(PassivationReason::Requested),
            passivations_shutdown: p(PassivationReason::Shutdown),
            restarts: self.restarts.load(Relaxed),
            failures: self.failures.load(Relaxed),
            reloads: self.reloads.load(Relaxed),
            commands: self.commands.load(Relaxed),
            overloaded: self.overloaded.load(Relaxed),
            batches: self.batches.load(Relaxed),
            batch_changes: self.batch_changes.load(Relaxed),
            batch_changes_max_seen: self.batch_changes_max_seen.load(Relaxed),
            commit_failures: self.commit_failures.load(Relaxed),
            conflicts: self.conflicts.load(Relaxed),
        }
    }
}
