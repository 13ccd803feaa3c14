//! The actor shell around one entity: decides commands one at a time from memory, commits them
//! in batches (group commit), supervises itself, and passivates when idle.
//!
//! Life of a command: `handle` decides it synchronously (no await between receiving and deciding,
//! so two commands of one entity never interleave their decisions) and queues the reply with the
//! change. While no batch is committing, `flush` takes up to `batch_changes_max` queued changes,
//! hands them to the store on the IO runtime, and keeps deciding new commands while that commit
//! runs. When it commits, every caller of the batch is answered; when it fails, every caller of
//! the batch and every command decided on top of it gets an error, the in-memory state is thrown
//! away and reloaded from the store. Replies without a change (reads, rejections) queue behind
//! uncommitted changes, so no answer ever reflects state that might not commit.

use crate::entity::{Decision, Entity, StoreError};
use crate::error::DispatchError;
use crate::journal::SupervisionEvent;
use crate::sharding::{Inner, Probe};
use crate::stats::PassivationReason;
use actix::fut::wrap_future;
use actix::prelude::*;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tracing::Instrument;

/// How many consecutive failed reloads an actor tolerates before it gives up and stops.
const RELOAD_ATTEMPTS_MAX: u32 = 5;

/// A command on its way to an actor, with the channel its answer goes back on.
pub(crate) struct Envelope<E: Entity> {
    command: E::Command,
    reply: oneshot::Sender<Outcome<E>>,
    /// When it was put in the mailbox, for `actor_mailbox_wait_seconds`.
    sent: Instant,
    /// The sender's tracing span (whatever it carries, e.g. a request id), entered while the
    /// command is decided and linked from the commit of its batch.
    span: tracing::Span,
}

impl<E: Entity> Envelope<E> {
    pub(crate) fn new(command: E::Command, reply: oneshot::Sender<Outcome<E>>) -> Self {
        Envelope {
            command,
            reply,
            sent: Instant::now(),
            span: tracing::Span::current(),
        }
    }
}

impl<E: Entity> Message for Envelope<E> {
    type Result = ();
}

/// What an actor answers.
pub(crate) enum Outcome<E: Entity> {
    Done(Result<E::Reply, E::Rejection>),
    /// Handed back undecided because the actor is stopping; the dispatcher routes it again.
    Redirect(E::Command),
    Failed(DispatchError),
}

/// Runtime-internal control messages. They bypass the mailbox gate, which is for commands.
pub(crate) enum Control {
    Passivate(PassivationReason),
    Restart,
    /// Idle past the hibernation time: hand the state to the registry and stop.
    Hibernate,
}

/// Where a new actor's state comes from.
pub(crate) enum Start<E> {
    /// Loaded from the store.
    Load,
    /// A brand-new id's initial state: no load.
    Fresh(E),
    /// A hibernated entity's state: no load.
    Woken(E),
}

impl Message for Control {
    type Result = ();
}

/// A decided command waiting for its batch to commit.
struct Queued<E: Entity> {
    reply: oneshot::Sender<Outcome<E>>,
    answer: Result<E::Reply, E::Rejection>,
    change: Option<E::Change>,
    /// The command's span, which the commit span of its batch follows from.
    span: tracing::Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    Panic,
    CommitFailed,
    Requested,
}

enum Phase {
    /// Loading its state at activation; the mailbox is not read meanwhile (`ctx.wait`).
    Loading,
    Ready,
    /// Reloading after a failure; the mailbox is not read meanwhile.
    Restarting,
    /// Unregistered and answering what is left in its mailbox until it is empty, then stopping.
    Draining(Drain),
}

#[derive(Clone)]
enum Drain {
    /// Passivating: hand commands back to be routed to a fresh activation.
    Redirect,
    /// Failed: answer every command with this error.
    Refuse(DispatchError),
}

pub(crate) struct EntityActor<E: Entity> {
    id: E::Id,
    shard: usize,
    generation: u64,
    probe: Arc<Probe>,
    inner: Arc<Inner<E>>,
    phase: Phase,
    /// `None` only while loading or after a failure threw it away.
    state: Option<E>,
    /// Decided commands not yet handed to the store, in decision order.
    queued: VecDeque<Queued<E>>,
    /// Whether a batch is committing; at most one is, so batches commit in order.
    in_flight: bool,
    /// A restart waiting for the in-flight batch to finish.
    restart_after_commit: Option<Cause>,
    /// A passivation waiting for the actor to become idle.
    passivate_when_idle: Option<PassivationReason>,
    /// Commands that arrived while a restart waited for its in-flight batch.
    stash: VecDeque<Envelope<E>>,
    /// Instants of recent panics, for the restart-intensity limit and the backoff.
    panics: VecDeque<Instant>,
    reload_failures: u32,
    /// Woken from hibernation rather than activated.
    woken: bool,
}

impl<E: Entity> EntityActor<E> {
    pub(crate) fn new(
        id: E::Id,
        shard: usize,
        generation: u64,
        probe: Arc<Probe>,
        inner: Arc<Inner<E>>,
        start: Start<E>,
    ) -> Self {
        let (state, woken) = match start {
            Start::Load => (None, false),
            Start::Fresh(state) => (Some(state), false),
            Start::Woken(state) => (Some(state), true),
        };
        EntityActor {
            id,
            shard,
            generation,
            probe,
            inner,
            phase: Phase::Loading,
            // With a state already here, activation skips the load.
            state,
            queued: VecDeque::new(),
            in_flight: false,
            restart_after_commit: None,
            passivate_when_idle: None,
            stash: VecDeque::new(),
            panics: VecDeque::new(),
            reload_failures: 0,
            woken,
        }
    }

    fn busy(&self) -> bool {
        self.in_flight
            || !self.queued.is_empty()
            || !self.stash.is_empty()
            || self.restart_after_commit.is_some()
    }

    fn load(
        &self,
        delay: Duration,
        ctx: &mut Context<Self>,
        then: fn(&mut Self, Result<E, StoreError>, &mut Context<Self>),
    ) {
        let store = self.inner.store.clone();
        let io = self.inner.io.clone();
        let id = self.id.clone();
        let fut = async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            match io.spawn(store.load(&id)).await {
                Ok(loaded) => loaded,
                Err(e) => Err(StoreError::Other(format!("load task failed: {e}"))),
            }
        };
        // `wait` keeps the mailbox unread until the state is loaded.
        ctx.wait(wrap_future(fut).map(move |res, act: &mut Self, ctx| then(act, res, ctx)));
    }

    fn activated(&mut self, loaded: Result<E, StoreError>, ctx: &mut Context<Self>) {
        match loaded {
            Ok(state) => {
                self.state = Some(state);
                self.phase = Phase::Ready;
            }
            Err(e) => {
                self.inner.stats.activation_failed();
                self.inner.journal.record(
                    E::KIND,
                    &self.id,
                    SupervisionEvent::ActivationFailed,
                    &e.to_string(),
                );
                tracing::warn!(kind = E::KIND, id = %self.id, error = %e, "activation failed");
                self.drain(Drain::Refuse(DispatchError::from(e)), ctx);
            }
        }
    }

    fn decide(&mut self, envelope: Envelope<E>, ctx: &mut Context<Self>) {
        if self.queued.len() >= self.inner.config.pending_commands_max {
            self.inner.stats.overloaded();
            let _ = envelope
                .reply
                .send(Outcome::Failed(DispatchError::Overloaded(
                    "commit queue full",
                )));
            return;
        }
        let Some(state) = self.state.as_mut() else {
            let _ = envelope
                .reply
                .send(Outcome::Failed(DispatchError::Unavailable(
                    "actor has no state".into(),
                )));
            return;
        };
        self.inner.stats.command();
        self.probe.commands.fetch_add(1, Ordering::Relaxed);
        let Envelope {
            command,
            reply,
            span,
            ..
        } = envelope;
        // Logs emitted while deciding carry the sender's span (and so its request id).
        let entered = span.enter();
        let name = E::command_name(&command);
        let started = Instant::now();
        // A panic while deciding is this actor's failure, not the thread's: catch it here, answer
        // the caller, and restart from the store with the possibly half-applied state discarded.
        let decided = catch_unwind(AssertUnwindSafe(|| state.decide(command)));
        metrics::histogram!("actor_command_duration_seconds", "actor_type" => E::KIND, "command" => name)
            .record(started.elapsed().as_secs_f64());
        tracing::debug!(kind = E::KIND, id = %self.id, command = name, outcome = decision_name(&decided), "command decided");
        drop(entered);
        match decided {
            Ok(Decision::Reply(answer)) => self.enqueue(reply, Ok(answer), None, span),
            Ok(Decision::Reject(rejection)) => self.enqueue(reply, Err(rejection), None, span),
            Ok(Decision::Persist {
                reply: answer,
                change,
            }) => self.enqueue(reply, Ok(answer), Some(change), span),
            Err(payload) => {
                let _entered = span.enter();
                let message = panic_message(payload.as_ref());
                self.inner.stats.failed();
                self.inner
                    .journal
                    .record(E::KIND, &self.id, SupervisionEvent::Panicked, &message);
                tracing::error!(kind = E::KIND, id = %self.id, command = name, panic = %message, "actor failed");
                let _ = reply.send(Outcome::Failed(DispatchError::ActorFailed(message)));
                self.fail_and_restart(Cause::Panic, ctx);
                return;
            }
        }
        self.flush(ctx);
    }

    fn enqueue(
        &mut self,
        reply: oneshot::Sender<Outcome<E>>,
        answer: Result<E::Reply, E::Rejection>,
        change: Option<E::Change>,
        span: tracing::Span,
    ) {
        if change.is_none() && self.queued.is_empty() && !self.in_flight {
            // Nothing uncommitted to wait for: answer straight from memory.
            let _ = reply.send(Outcome::Done(answer));
            return;
        }
        self.queued.push_back(Queued {
            reply,
            answer,
            change,
            span,
        });
    }

    /// Starts committing the next batch unless one is already committing.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        while !self.in_flight && !self.queued.is_empty() {
            let (changes, replies) = self.take_batch();
            if changes.is_empty() {
                // Only answers that waited behind a batch which has since committed.
                for q in replies {
                    let _ = q.reply.send(Outcome::Done(q.answer));
                }
                continue;
            }
            self.in_flight = true;
            self.inner.stats.batch(changes.len());
            // A root span of its own (a batch serves several senders), linked to each command's.
            let span = tracing::info_span!(parent: None, "commit", kind = E::KIND, id = %self.id, batch = changes.len());
            for q in &replies {
                span.follows_from(&q.span);
            }
            let shard = &self.inner.shards[self.shard];
            let commit = self.inner.io.spawn(
                shard
                    .coalescer
                    .commit(self.id.clone(), changes)
                    .instrument(span.clone()),
            );
            ctx.spawn(wrap_future(commit).map(move |res, act: &mut Self, ctx| {
                let _entered = span.enter();
                let res = res
                    .unwrap_or_else(|e| Err(StoreError::Other(format!("commit task failed: {e}"))));
                tracing::debug!(kind = E::KIND, id = %act.id, ok = res.is_ok(), "batch committed");
                act.committed(res, replies, ctx);
            }));
        }
        self.passivate_if_requested(ctx);
    }

    fn take_batch(&mut self) -> (Vec<E::Change>, Vec<Queued<E>>) {
        let max = self.inner.config.batch_changes_max;
        let mut changes = Vec::new();
        let mut replies = Vec::new();
        while let Some(mut q) = self.queued.pop_front() {
            if let Some(change) = q.change.take() {
                if changes.len() == max {
                    q.change = Some(change);
                    self.queued.push_front(q);
                    break;
                }
                changes.push(change);
            }
            replies.push(q);
        }
        (changes, replies)
    }

    fn committed(
        &mut self,
        res: Result<(), StoreError>,
        replies: Vec<Queued<E>>,
        ctx: &mut Context<Self>,
    ) {
        self.in_flight = false;
        if let Err(e) = res {
            self.inner
                .stats
                .commit_failed(matches!(e, StoreError::Conflict));
            self.inner.journal.record(
                E::KIND,
                &self.id,
                SupervisionEvent::CommitFailed,
                &e.to_string(),
            );
            tracing::warn!(kind = E::KIND, id = %self.id, error = %e, "batch commit failed; reloading");
            let error = DispatchError::from(e);
            for q in replies {
                let _ = q.reply.send(Outcome::Failed(error.clone()));
            }
            self.fail_and_restart(Cause::CommitFailed, ctx);
            return;
        }
        for q in replies {
            let _ = q.reply.send(Outcome::Done(q.answer));
        }
        if let Some(cause) = self.restart_after_commit.take() {
            self.restart(cause, ctx);
            return;
        }
        self.flush(ctx);
    }

    /// Throws the in-memory state away and reloads it, once the in-flight batch (decided on a
    /// sound state) has finished.
    fn fail_and_restart(&mut self, cause: Cause, ctx: &mut Context<Self>) {
        self.state = None;
        // Decided on the state being discarded and not yet committing: never acknowledged, so
        // failing them loses nothing.
        for q in self.queued.drain(..) {
            let _ = q.reply.send(Outcome::Failed(DispatchError::Aborted));
        }
        if self.in_flight {
            self.restart_after_commit = Some(cause);
            return;
        }
        self.restart(cause, ctx);
    }

    fn restart(&mut self, cause: Cause, ctx: &mut Context<Self>) {
        self.phase = Phase::Restarting;
        self.state = None;
        let config = &self.inner.config;
        let now = Instant::now();
        if cause == Cause::Panic {
            self.panics.push_back(now);
            while self
                .panics
                .front()
                .is_some_and(|t| now.duration_since(*t) > config.restart_window)
            {
                self.panics.pop_front();
            }
            if self.panics.len() > config.restart_intensity_max {
                self.escalate(ctx);
                return;
            }
        }
        let attempts = self.panics.len() as u32 + self.reload_failures;
        let delay = match cause {
            Cause::Requested if attempts == 0 => Duration::ZERO,
            _ => backoff(
                config.restart_backoff_min,
                config.restart_backoff_max,
                attempts,
            ),
        };
        self.load(delay, ctx, Self::reloaded);
    }

    fn reloaded(&mut self, loaded: Result<E, StoreError>, ctx: &mut Context<Self>) {
        match loaded {
            Ok(state) => {
                self.state = Some(state);
                self.phase = Phase::Ready;
                self.reload_failures = 0;
                self.inner.stats.restarted();
                self.inner
                    .journal
                    .record(E::KIND, &self.id, SupervisionEvent::Restarted, "");
                self.probe.restarts.fetch_add(1, Ordering::Relaxed);
                self.replay_stash(ctx);
            }
            Err(e) => {
                self.reload_failures += 1;
                self.inner.stats.reloaded();
                self.inner.journal.record(
                    E::KIND,
                    &self.id,
                    SupervisionEvent::ReloadFailed,
                    &e.to_string(),
                );
                tracing::warn!(kind = E::KIND, id = %self.id, error = %e, attempt = self.reload_failures, "reload failed");
                if self.reload_failures >= RELOAD_ATTEMPTS_MAX {
                    self.drain(Drain::Refuse(DispatchError::from(e)), ctx);
                } else {
                    self.restart(Cause::CommitFailed, ctx);
                }
            }
        }
    }

    fn replay_stash(&mut self, ctx: &mut Context<Self>) {
        while matches!(self.phase, Phase::Ready) && self.restart_after_commit.is_none() {
            match self.stash.pop_front() {
                Some(envelope) => self.decide(envelope, ctx),
                None => break,
            }
        }
        self.passivate_if_requested(ctx);
    }

    /// Too many restarts in the window: stop, and keep the id quarantined for a while so a
    /// poison command cannot spin the actor.
    fn escalate(&mut self, ctx: &mut Context<Self>) {
        let until = Instant::now() + self.inner.config.restart_quarantine;
        self.inner.shards[self.shard]
            .quarantine
            .insert(self.id.clone(), until);
        tracing::error!(kind = E::KIND, id = %self.id, "restart intensity exceeded; quarantined");
        let detail = "restart intensity exceeded";
        self.inner
            .journal
            .record(E::KIND, &self.id, SupervisionEvent::Quarantined, detail);
        self.drain(
            Drain::Refuse(DispatchError::Unavailable(
                "the actor failed repeatedly".into(),
            )),
            ctx,
        );
    }

    fn passivate_if_requested(&mut self, ctx: &mut Context<Self>) {
        if let Some(reason) = self.passivate_when_idle {
            if !self.busy() && matches!(self.phase, Phase::Ready) {
                self.passivate_when_idle = None;
                self.inner.stats.passivated(reason);
                self.drain(Drain::Redirect, ctx);
            }
        }
    }

    /// Unregisters the actor; from then on no new command can reach it. What is already in its
    /// mailbox or stash is answered per `drain`, and it stops once nothing is left.
    fn drain(&mut self, drain: Drain, ctx: &mut Context<Self>) {
        self.inner.unregister(self.shard, &self.id, self.generation);
        self.state = None;
        for envelope in std::mem::take(&mut self.stash) {
            answer_draining(&drain, envelope);
        }
        self.phase = Phase::Draining(drain);
        self.stop_if_drained(ctx);
    }

    fn idle_for(&self, at_least: Duration) -> bool {
        let last = self.probe.last_active_ms.load(Ordering::Relaxed);
        let idle_ms = self.inner.now_ms().saturating_sub(last);
        idle_ms >= at_least.as_millis() as u64
    }

    /// Hands the state to the shard's registry and stops, if the actor is idle with nothing
    /// uncommitted and nothing in its mailbox. Its state is then exactly what was committed.
    fn hibernate(&mut self, ctx: &mut Context<Self>) {
        let ready = matches!(self.phase, Phase::Ready)
            && !self.busy()
            && self.passivate_when_idle.is_none()
            && self.idle_for(self.inner.config.hibernate_idle);
        if !ready {
            return;
        }
        let Some(state) = self.state.take() else {
            return;
        };
        let last = self.probe.last_active_ms.load(Ordering::Relaxed);
        match self
            .inner
            .hibernate(self.shard, &self.id, self.generation, state, last)
        {
            Ok(()) => {
                // Unreachable from now on: nothing can be in or enter its mailbox.
                self.phase = Phase::Draining(Drain::Redirect);
                ctx.stop();
            }
            // A command arrived meanwhile: stay.
            Err(state) => self.state = Some(state),
        }
    }

    fn stop_if_drained(&mut self, ctx: &mut Context<Self>) {
        if self.probe.depth.load(Ordering::Acquire) == 0 && !self.in_flight {
            ctx.stop();
        }
    }
}

/// How a decision went, for the `command decided` debug line.
fn decision_name<E: Entity>(decided: &std::thread::Result<Decision<E>>) -> &'static str {
    match decided {
        Ok(Decision::Reply(_)) => "reply",
        Ok(Decision::Reject(_)) => "reject",
        Ok(Decision::Persist { .. }) => "persist",
        Err(_) => "panic",
    }
}

fn answer_draining<E: Entity>(drain: &Drain, envelope: Envelope<E>) {
    let outcome = match drain {
        Drain::Redirect => Outcome::Redirect(envelope.command),
        Drain::Refuse(e) => Outcome::Failed(e.clone()),
    };
    let _ = envelope.reply.send(outcome);
}

/// Exponential backoff: `min * 2^attempts`, capped at `max`.
fn backoff(min: Duration, max: Duration, attempts: u32) -> Duration {
    let factor = 1u32.checked_shl(attempts.min(16)).unwrap_or(u32::MAX);
    min.saturating_mul(factor).min(max)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

impl<E: Entity> Actor for EntityActor<E> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.woken {
            self.inner.stats.woken();
        } else {
            self.inner.stats.activated();
        }
        match self.state.take() {
            Some(state) => self.activated(Ok(state), ctx),
            None => self.load(Duration::ZERO, ctx, Self::activated),
        }
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.inner.unregister(self.shard, &self.id, self.generation);
        self.inner.stats.stopped();
    }
}

impl<E: Entity> Handler<Envelope<E>> for EntityActor<E> {
    type Result = ();

    fn handle(&mut self, envelope: Envelope<E>, ctx: &mut Self::Context) {
        self.probe.depth.fetch_sub(1, Ordering::AcqRel);
        metrics::histogram!("actor_mailbox_wait_seconds", "actor_type" => E::KIND)
            .record(envelope.sent.elapsed().as_secs_f64());
        self.probe
            .last_active_ms
            .store(self.inner.now_ms(), Ordering::Relaxed);
        match &self.phase {
            Phase::Draining(drain) => {
                let drain = drain.clone();
                answer_draining(&drain, envelope);
                self.stop_if_drained(ctx);
            }
            Phase::Ready if self.restart_after_commit.is_none() => self.decide(envelope, ctx),
            // Loading and Restarting read no mailbox (`ctx.wait`); what arrives while a restart
            // waits for its in-flight batch is stashed and replayed after the reload.
            _ => {
                if self.stash.len() >= self.inner.config.stash_max {
                    self.inner.stats.overloaded();
                    let _ = envelope
                        .reply
                        .send(Outcome::Failed(DispatchError::Overloaded(
                            "restart stash full",
                        )));
                } else {
                    self.stash.push_back(envelope);
                }
            }
        }
    }
}

impl<E: Entity> Handler<Control> for EntityActor<E> {
    type Result = ();

    fn handle(&mut self, control: Control, ctx: &mut Self::Context) {
        match control {
            Control::Passivate(reason) => {
                if matches!(self.phase, Phase::Draining(_)) {
                    return;
                }
                // The sweeper saw the actor idle, but a command may have arrived since.
                let idle = self.inner.config.passivation_idle;
                if reason == PassivationReason::Idle && !self.idle_for(idle) {
                    return;
                }
                self.passivate_when_idle = Some(reason);
                self.passivate_if_requested(ctx);
            }
            Control::Hibernate => self.hibernate(ctx),
            Control::Restart => {
                if matches!(self.phase, Phase::Ready) && self.restart_after_commit.is_none() {
                    if self.in_flight || !self.queued.is_empty() {
                        // Let what was decided commit first; a requested restart discards nothing.
                        self.restart_after_commit = Some(Cause::Requested);
                    } else {
                        self.restart(Cause::Requested, ctx);
                    }
                }
            }
        }
    }
}
