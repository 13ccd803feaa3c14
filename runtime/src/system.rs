//! The actix side of the process: one `System` thread owning a fixed set of arbiters (one OS
//! thread and single-threaded tokio runtime each). Actors live on arbiters; IO (store commits and
//! loads) runs on the caller's multi-threaded tokio runtime, captured as `io`, so an actor thread
//! never blocks on a socket it does not drive.

use actix_rt::{Arbiter, ArbiterHandle, System};
use std::io;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Handle to the actor threads. Dropping it without `shutdown` leaves the threads running until
/// the process exits, which is what a crash would do anyway.
pub struct ActorSystem {
    system: System,
    arbiters: Vec<ArbiterHandle>,
    thread: Option<JoinHandle<()>>,
    io: tokio::runtime::Handle,
}

impl ActorSystem {
    /// Starts `arbiter_count` arbiters. Must be called from inside a tokio runtime, whose handle
    /// becomes the IO runtime.
    pub fn start(arbiter_count: usize) -> io::Result<ActorSystem> {
        let io = tokio::runtime::Handle::try_current().map_err(|e| {
            io::Error::other(format!("ActorSystem::start needs a tokio runtime: {e}"))
        })?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("actor-system".into())
            .spawn(move || run_system(arbiter_count, tx))?;
        let (system, arbiters) = rx
            .recv()
            .map_err(|_| io::Error::other("actor system thread died during start-up"))??;
        Ok(ActorSystem {
            system,
            arbiters,
            thread: Some(thread),
            io,
        })
    }

    pub fn arbiters(&self) -> &[ArbiterHandle] {
        &self.arbiters
    }

    pub fn io(&self) -> &tokio::runtime::Handle {
        &self.io
    }

    /// Stops every arbiter and joins the system thread. Actors should have been passivated first
    /// (see `Sharding::shutdown`), so nothing uncommitted is dropped here.
    pub fn shutdown(mut self) {
        self.system.stop();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("actor system thread panicked during shutdown");
            }
        }
    }
}

type StartResult = io::Result<(System, Vec<ArbiterHandle>)>;

fn run_system(arbiter_count: usize, tx: mpsc::Sender<StartResult>) {
    let runner = System::new();
    let started: io::Result<Vec<Arbiter>> = runner.block_on(async {
        (0..arbiter_count.max(1))
            .map(|_| Arbiter::try_new())
            .collect()
    });
    let arbiters = match started {
        Ok(a) => a,
        Err(e) => {
            // The receiver only disappears if start() itself gave up, so there is no one to tell.
            let _ = tx.send(Err(e));
            return;
        }
    };
    let handles = arbiters.iter().map(Arbiter::handle).collect();
    if tx.send(Ok((System::current(), handles))).is_err() {
        return;
    }
    if let Err(e) = runner.run() {
        tracing::error!(error = %e, "actor system stopped with an error");
    }
    for arbiter in arbiters {
        arbiter.stop();
        if arbiter.join().is_err() {
            tracing::error!("an arbiter thread panicked");
        }
    }
}
