//! How the adapters size and bound their connection pools.

use std::time::Duration;

/// Pool limits shared by both adapters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Open connections at most. Bounds the database's load from this process; the runtime's
    /// group commit keeps the number of concurrent transactions far below the number of actors.
    pub max_connections: u32,
    /// How long a caller waits for a free connection before the store reports `Unavailable`,
    /// so an overloaded database turns into fast errors instead of an unbounded queue.
    pub acquire_timeout: Duration,
    /// The longest one statement may run (Postgres `statement_timeout`; on SQLite the time a
    /// writer waits for the write lock, `busy_timeout`), so a stuck query cannot hold a
    /// connection and an actor forever.
    pub statement_timeout: Duration,
}

impl PoolConfig {
    /// Connections that may be open at once; more would only queue inside the database.
    pub const MAX_CONNECTIONS_MAX: u32 = 1_024;
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
        }
    }
}
