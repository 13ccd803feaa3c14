//! Named limits and timings of the runtime, in one place.
//!
//! Every queue the runtime owns has an upper bound here; `RuntimeConfig::validate` checks the
//! relations between them once at start-up so a bad environment variable fails loudly.

use std::time::Duration;

/// Tunables of the sharding layer. Units are in the names.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Number of shards; a shard owns a registry of live actors and is pinned to one arbiter.
    pub shards: usize,
    /// Number of actix arbiters (OS threads) the shards are spread over.
    pub arbiters: usize,
    /// Upper bound of commands waiting in one actor's mailbox; beyond it callers get `Overloaded`.
    pub mailbox_capacity_max: usize,
    /// Upper bound of decided-but-uncommitted commands one actor holds (the group-commit queue).
    pub pending_commands_max: usize,
    /// Upper bound of changes written in one commit batch of one actor.
    pub batch_changes_max: usize,
    /// Upper bound of actors whose batches share one transaction.
    pub coalesced_actors_max: usize,
    /// Writers (transaction streams) per entity kind; shard `i` commits through writer
    /// `i % writers`. Fewer writers mean fewer, larger transactions: on a disk whose fsync is the
    /// limit, one writer per kind commits the most per second.
    pub writers_per_kind: usize,
    /// Upper bound of batches waiting for a shard's writer; actors wait beyond it.
    pub coalescer_queue_max: usize,
    /// An actor idle for this long hibernates: its actix actor (task, context, mailbox) stops
    /// and only the entity's state stays in the shard's registry, so the next command wakes an
    /// actor from memory without a load. Values at or above `passivation_idle` turn it off.
    pub hibernate_idle: Duration,
    /// An entity idle for this long (hibernated or not) is passivated: its memory is released
    /// and the next command loads it from the store.
    pub passivation_idle: Duration,
    /// How often the sweeper checks idleness.
    pub passivation_check_interval: Duration,
    /// Soft upper bound of live actors per shard; above it the least recently used idle ones are
    /// evicted. Activation is refused (`Overloaded`) above 110% of it.
    pub live_actors_per_shard_max: usize,
    /// First and largest restart backoff after a failure.
    pub restart_backoff_min: Duration,
    pub restart_backoff_max: Duration,
    /// More than this many restarts inside `restart_window` escalates: the actor is stopped and
    /// quarantined for `restart_quarantine`, during which its id answers `Unavailable`.
    pub restart_intensity_max: usize,
    pub restart_window: Duration,
    pub restart_quarantine: Duration,
    /// Upper bound of messages stashed while an actor restarts.
    pub stash_max: usize,
    /// How long a caller waits for an answer before it gets `Timeout`.
    pub ask_timeout: Duration,
    /// How many times a command is redirected to a fresh activation when it met a stopping actor.
    pub redirects_max: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        RuntimeConfig {
            shards: cores * 4,
            arbiters: cores,
            mailbox_capacity_max: 1024,
            pending_commands_max: 4096,
            batch_changes_max: 512,
            coalesced_actors_max: 256,
            writers_per_kind: 1,
            coalescer_queue_max: 4096,
            hibernate_idle: Duration::from_secs(10),
            passivation_idle: Duration::from_secs(120),
            passivation_check_interval: Duration::from_secs(5),
            live_actors_per_shard_max: 250_000,
            restart_backoff_min: Duration::from_millis(10),
            restart_backoff_max: Duration::from_secs(2),
            restart_intensity_max: 5,
            restart_window: Duration::from_secs(10),
            restart_quarantine: Duration::from_secs(5),
            stash_max: 1024,
            ask_timeout: Duration::from_secs(10),
            redirects_max: 3,
        }
    }
}

impl RuntimeConfig {
    /// Checks the relations between the limits; returns a sentence naming the first violation.
    pub fn validate(&self) -> Result<(), String> {
        let checks: [(bool, &str); 13] = [
            (
                !self.hibernate_idle.is_zero(),
                "hibernate idle must be at least 1 ms",
            ),
            (
                self.writers_per_kind >= 1 && self.writers_per_kind <= self.shards,
                "writers per kind must be between 1 and the number of shards",
            ),
            (
                self.coalesced_actors_max >= 1,
                "coalesced actors max must be at least 1",
            ),
            (
                self.coalescer_queue_max >= self.coalesced_actors_max,
                "coalescer queue must hold at least one full transaction's worth of batches",
            ),
            (self.shards >= 1, "shards must be at least 1"),
            (self.arbiters >= 1, "arbiters must be at least 1"),
            (
                self.mailbox_capacity_max >= 1,
                "mailbox capacity must be at least 1",
            ),
            (self.batch_changes_max >= 1, "batch size must be at least 1"),
            (
                self.pending_commands_max >= self.batch_changes_max,
                "pending commands max must be at least the batch size, or batches never fill",
            ),
            (
                self.live_actors_per_shard_max >= 1,
                "live actors per shard must be at least 1",
            ),
            (
                self.restart_backoff_min <= self.restart_backoff_max,
                "restart backoff min must not exceed max",
            ),
            (
                self.restart_intensity_max >= 1,
                "restart intensity must be at least 1",
            ),
            (self.stash_max >= 1, "stash max must be at least 1"),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, why)) => Err((*why).to_string()),
            None => Ok(()),
        }
    }
}
