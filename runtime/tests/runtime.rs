//! Behaviour of the generic runtime with a counter entity over an in-memory store. The store can
//! be told to delay or fail commits and loads, which is how these tests provoke batching,
//! commit failures and restarts. Commerce entities are tested against real stores elsewhere.

use futures::future::BoxFuture;
use runtime::{
    ActorSystem, Decision, DispatchError, Entity, EntityStore, RuntimeConfig, Sharding, StoreError,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug)]
struct Counter {
    value: u64,
}

#[derive(Debug)]
enum Cmd {
    Add(u64),
    Get,
    /// Panics inside `decide`: compiled only into this test.
    Panic,
    /// Rejected when the value would exceed the limit.
    AddUpTo {
        amount: u64,
        limit: u64,
    },
}

impl Entity for Counter {
    type Id = String;
    type Command = Cmd;
    type Reply = u64;
    type Rejection = &'static str;
    type Change = u64;
    const KIND: &'static str = "counter";

    fn decide(&mut self, command: Cmd) -> Decision<Self> {
        match command {
            Cmd::Get => Decision::Reply(self.value),
            Cmd::Add(n) => {
                self.value += n;
                Decision::Persist {
                    reply: self.value,
                    change: self.value,
                }
            }
            Cmd::AddUpTo { amount, limit } if self.value + amount > limit => {
                Decision::Reject("limit")
            }
            Cmd::AddUpTo { amount, .. } => {
                self.value += amount;
                Decision::Persist {
                    reply: self.value,
                    change: self.value,
                }
            }
            Cmd::Panic => {
                // Mutate first so the test can prove the half-applied state is thrown away.
                self.value += 1_000_000;
                panic!("panic on purpose");
            }
        }
    }

    fn command_name(command: &Cmd) -> &'static str {
        match command {
            Cmd::Add(_) => "add",
            Cmd::Get => "get",
            Cmd::Panic => "panic",
            Cmd::AddUpTo { .. } => "add_up_to",
        }
    }
}

#[derive(Default)]
struct MemoryStore {
    values: Mutex<HashMap<String, u64>>,
    loads: AtomicUsize,
    commits: AtomicUsize,
    commit_delay_ms: AtomicU64,
    load_delay_ms: AtomicU64,
    fail_next_commit: AtomicBool,
    /// While set, every load and commit fails as an unreachable database would.
    outage: AtomicBool,
    /// Calls of `commit_many`: one per shard-level transaction.
    transactions: AtomicUsize,
}

impl EntityStore<Counter> for Arc<MemoryStore> {
    fn load(&self, id: &String) -> BoxFuture<'static, Result<Counter, StoreError>> {
        let this = self.clone();
        let id = id.clone();
        Box::pin(async move {
            this.loads.fetch_add(1, Ordering::SeqCst);
            let delay = this.load_delay_ms.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            if this.outage.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("outage".into()));
            }
            let value = this
                .values
                .lock()
                .map_err(|_| StoreError::Other("poisoned".into()))?
                .get(&id)
                .copied();
            Ok(Counter {
                value: value.unwrap_or(0),
            })
        })
    }

    fn commit_many(
        &self,
        batches: Vec<(String, Vec<u64>)>,
    ) -> BoxFuture<'static, Vec<Result<(), StoreError>>> {
        self.transactions.fetch_add(1, Ordering::SeqCst);
        let commits: Vec<_> = batches
            .into_iter()
            .map(|(id, changes)| self.commit(&id, changes))
            .collect();
        Box::pin(async move { futures::future::join_all(commits).await })
    }

    fn fresh(&self, _id: &String) -> Option<Counter> {
        Some(Counter { value: 0 })
    }

    fn commit(&self, id: &String, changes: Vec<u64>) -> BoxFuture<'static, Result<(), StoreError>> {
        let this = self.clone();
        let id = id.clone();
        Box::pin(async move {
            let delay = this.commit_delay_ms.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            if this.outage.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("outage".into()));
            }
            if this.fail_next_commit.swap(false, Ordering::SeqCst) {
                return Err(StoreError::Unavailable("injected failure".into()));
            }
            this.commits.fetch_add(1, Ordering::SeqCst);
            let last = *changes
                .last()
                .ok_or_else(|| StoreError::Other("empty batch".into()))?;
            this.values
                .lock()
                .map_err(|_| StoreError::Other("poisoned".into()))?
                .insert(id, last);
            Ok(())
        })
    }
}

fn config() -> RuntimeConfig {
    RuntimeConfig {
        shards: 4,
        arbiters: 2,
        restart_backoff_min: Duration::from_millis(1),
        restart_backoff_max: Duration::from_millis(20),
        ..RuntimeConfig::default()
    }
}

fn start(config: RuntimeConfig) -> (ActorSystem, Sharding<Counter>, Arc<MemoryStore>) {
    let system = ActorSystem::start(config.arbiters).expect("actor system starts");
    let store = Arc::new(MemoryStore::default());
    let sharding = Sharding::new(&system, config, Arc::new(store.clone()));
    (system, sharding, store)
}

async fn add(
    sharding: &Sharding<Counter>,
    id: &str,
    n: u64,
) -> Result<Result<u64, &'static str>, DispatchError> {
    sharding.ask(id.to_string(), Cmd::Add(n)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_commits_are_grouped_into_batches_and_every_caller_answered_after_its_batch() {
    let (system, sharding, store) = start(config());
    store.commit_delay_ms.store(30, Ordering::SeqCst);
    let calls = (0..300).map(|_| add(&sharding, "hot", 1));
    let answers = futures::future::join_all(calls).await;
    let mut replies: Vec<u64> = answers
        .into_iter()
        .map(|a| a.expect("dispatched").expect("accepted"))
        .collect();
    replies.sort_unstable();
    assert_eq!(
        replies,
        (1..=300).collect::<Vec<_>>(),
        "each command decided once, in order"
    );
    assert_eq!(
        store.values.lock().unwrap()["hot"],
        300,
        "everything acknowledged is stored"
    );
    let commits = store.commits.load(Ordering::SeqCst);
    assert!(
        commits < 30,
        "300 commands took {commits} commits: not batched"
    );
    let stats = sharding.stats();
    assert_eq!(stats.batch_changes, 300);
    assert!(stats.batch_changes_max_seen > 1);
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_activate_exactly_one_actor() {
    let (system, sharding, store) = start(config());
    let calls = (0..100).map(|_| add(&sharding, "fresh", 1));
    for answer in futures::future::join_all(calls).await {
        answer.expect("dispatched").expect("accepted");
    }
    assert_eq!(sharding.stats().activations, 1);
    assert_eq!(store.loads.load(Ordering::SeqCst), 1, "one actor, one load");
    assert_eq!(store.values.lock().unwrap()["fresh"], 100);
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_answers_actor_failed_and_the_actor_restarts_from_its_persisted_state() {
    let (system, sharding, _store) = start(config());
    assert_eq!(add(&sharding, "p", 5).await, Ok(Ok(5)));
    let failed = sharding.ask("p".to_string(), Cmd::Panic).await;
    assert!(
        matches!(failed, Err(DispatchError::ActorFailed(ref m)) if m.contains("on purpose")),
        "{failed:?}"
    );
    // The half-applied +1,000,000 was thrown away: the actor reloaded 5 from the store.
    assert_eq!(sharding.ask("p".to_string(), Cmd::Get).await, Ok(Ok(5)));
    assert_eq!(add(&sharding, "p", 1).await, Ok(Ok(6)));
    let stats = sharding.stats();
    assert_eq!(stats.failures, 1);
    assert_eq!(stats.restarts, 1);
    assert_eq!(stats.activations, 1, "restarted in place, not re-activated");
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_actor_does_not_disturb_other_actors_on_the_same_thread() {
    let config = RuntimeConfig {
        shards: 1,
        arbiters: 1,
        ..config()
    };
    let (system, sharding, _store) = start(config);
    assert_eq!(add(&sharding, "calm", 1).await, Ok(Ok(1)));
    let _ = sharding.ask("wild".to_string(), Cmd::Panic).await;
    assert_eq!(add(&sharding, "calm", 1).await, Ok(Ok(2)));
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_fails_its_callers_and_the_actor_reloads_only_what_committed() {
    let (system, sharding, store) = start(config());
    assert_eq!(add(&sharding, "f", 10).await, Ok(Ok(10)));
    store.fail_next_commit.store(true, Ordering::SeqCst);
    let failed = add(&sharding, "f", 5).await;
    assert!(
        matches!(failed, Err(DispatchError::Unavailable(_))),
        "{failed:?}"
    );
    assert_eq!(
        sharding.ask("f".to_string(), Cmd::Get).await,
        Ok(Ok(10)),
        "nothing unacknowledged lingers"
    );
    assert_eq!(add(&sharding, "f", 1).await, Ok(Ok(11)));
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_behind_an_uncommitted_batch_wait_for_it() {
    let (system, sharding, store) = start(config());
    store.commit_delay_ms.store(50, Ordering::SeqCst);
    let accepted = sharding.ask(
        "r".to_string(),
        Cmd::AddUpTo {
            amount: 3,
            limit: 3,
        },
    );
    let rejected = sharding.ask(
        "r".to_string(),
        Cmd::AddUpTo {
            amount: 1,
            limit: 3,
        },
    );
    let (accepted, rejected) = tokio::join!(accepted, rejected);
    assert_eq!(accepted, Ok(Ok(3)));
    assert_eq!(rejected, Ok(Err("limit")));
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mailbox_answers_overloaded_instead_of_queueing() {
    let config = RuntimeConfig {
        mailbox_capacity_max: 4,
        ..config()
    };
    let (system, sharding, store) = start(config);
    // While the actor loads, it reads no mail: the mailbox fills up.
    store.load_delay_ms.store(200, Ordering::SeqCst);
    let calls = (0..20).map(|_| add(&sharding, "m", 1));
    let answers = futures::future::join_all(calls).await;
    let ok = answers.iter().filter(|a| matches!(a, Ok(Ok(_)))).count();
    let overloaded = answers
        .iter()
        .filter(|a| matches!(a, Err(DispatchError::Overloaded(_))))
        .count();
    assert_eq!(ok + overloaded, 20, "{answers:?}");
    assert!(ok <= 4, "mailbox of 4 accepted {ok}");
    assert!(overloaded >= 16);
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_actors_passivate_and_come_back_with_their_state() {
    let config = RuntimeConfig {
        passivation_idle: Duration::from_millis(50),
        passivation_check_interval: Duration::from_millis(10),
        ..config()
    };
    let (system, sharding, _store) = start(config);
    assert_eq!(add(&sharding, "idle", 7).await, Ok(Ok(7)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = sharding.stats();
    assert_eq!(stats.passivations_idle, 1);
    assert_eq!(stats.alive, 0);
    assert_eq!(add(&sharding, "idle", 1).await, Ok(Ok(8)));
    assert_eq!(sharding.stats().activations, 2);
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_actor_bound_evicts_the_least_recently_used() {
    let config = RuntimeConfig {
        shards: 1,
        live_actors_per_shard_max: 10,
        ..config()
    };
    let (system, sharding, _store) = start(config);
    for i in 0..30 {
        add(&sharding, &format!("a{i}"), 1)
            .await
            .expect("dispatched")
            .expect("accepted");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = sharding.stats();
    assert!(stats.passivations_evicted >= 15, "{stats:?}");
    assert!(stats.alive <= 12, "{stats:?}");
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_too_often_quarantines_the_actor() {
    let config = RuntimeConfig {
        restart_intensity_max: 2,
        ..config()
    };
    let (system, sharding, _store) = start(config);
    for _ in 0..3 {
        let answer = sharding.ask("q".to_string(), Cmd::Panic).await;
        assert!(
            matches!(answer, Err(DispatchError::ActorFailed(_))),
            "{answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answer = add(&sharding, "q", 1).await;
    assert!(
        matches!(answer, Err(DispatchError::Unavailable(_))),
        "{answer:?}"
    );
    assert_eq!(add(&sharding, "other", 1).await, Ok(Ok(1)));
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_fails_fast_and_never_quarantines_the_actor() {
    // A lower intensity than the outage's failures: only panics count toward it.
    let config = RuntimeConfig {
        restart_intensity_max: 2,
        ..config()
    };
    let (system, sharding, store) = start(config);
    assert_eq!(add(&sharding, "o", 7).await, Ok(Ok(7)));
    store.outage.store(true, Ordering::SeqCst);
    for _ in 0..10 {
        let answer = add(&sharding, "o", 1).await;
        assert!(
            matches!(answer, Err(DispatchError::Unavailable(_))),
            "{answer:?}"
        );
        // Also activations of ids not yet live fail with the store's own error.
        let cold = add(&sharding, "cold", 1).await;
        assert!(
            matches!(cold, Err(DispatchError::Unavailable(_))),
            "{cold:?}"
        );
    }
    store.outage.store(false, Ordering::SeqCst);
    // The actor may still be backing off its reloads; it serves again within a bounded time.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut answer = add(&sharding, "o", 1).await;
    while answer.is_err() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        answer = add(&sharding, "o", 1).await;
    }
    assert_eq!(
        answer,
        Ok(Ok(8)),
        "no failed command was applied, none lost"
    );
    assert_eq!(add(&sharding, "cold", 1).await, Ok(Ok(1)));
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_commits_what_was_decided_before_stopping() {
    let (system, sharding, store) = start(config());
    store.commit_delay_ms.store(50, Ordering::SeqCst);
    let pending = tokio::spawn({
        let sharding = sharding.clone();
        async move { add(&sharding, "s", 4).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(sharding.shutdown(Duration::from_secs(2)).await);
    assert_eq!(pending.await.expect("task"), Ok(Ok(4)));
    assert_eq!(store.values.lock().unwrap()["s"], 4);
    assert_eq!(
        add(&sharding, "s", 1).await,
        Err(DispatchError::ShuttingDown)
    );
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brand_new_id_is_activated_without_a_load() {
    let (system, sharding, store) = start(config());
    assert_eq!(
        sharding.ask_new("new".to_string(), Cmd::Add(2)).await,
        Ok(Ok(2))
    );
    assert_eq!(
        store.loads.load(Ordering::SeqCst),
        0,
        "nothing to load for an id never stored"
    );
    assert_eq!(add(&sharding, "old", 1).await, Ok(Ok(1)));
    assert_eq!(
        store.loads.load(Ordering::SeqCst),
        1,
        "a plain ask still loads"
    );
    assert_eq!(store.values.lock().unwrap()["new"], 2);
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_actors_of_one_shard_share_transactions() {
    let config = RuntimeConfig {
        shards: 1,
        ..config()
    };
    let (system, sharding, store) = start(config);
    store.commit_delay_ms.store(20, Ordering::SeqCst);
    let calls = (0..200).map(|i| {
        let sharding = sharding.clone();
        async move { sharding.ask_new(format!("cold-{i}"), Cmd::Add(1)).await }
    });
    for answer in futures::future::join_all(calls).await {
        assert_eq!(answer, Ok(Ok(1)));
    }
    let transactions = store.transactions.load(Ordering::SeqCst);
    assert!(
        transactions < 50,
        "200 actors used {transactions} transactions: not coalesced"
    );
    assert_eq!(
        store.values.lock().unwrap().len(),
        200,
        "every acknowledged change is stored"
    );
    system.shutdown();
}

#[test]
fn hotness_by_rate_ranks_by_commands_per_minute_since_activation() {
    let view = |commands, age_ms| runtime::ActorView {
        id: "x".into(),
        shard: 0,
        hibernated: false,
        mailbox_depth: 0,
        commands,
        restarts: 0,
        idle_ms: 0,
        age_ms,
    };
    assert_eq!(view(120, 60_000).commands_per_minute(), 120);
    assert_eq!(
        view(1_000, 600_000).commands_per_minute(),
        100,
        "old but slow"
    );
    assert_eq!(
        view(1, 10).commands_per_minute(),
        60,
        "the first second counts whole"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hottest_actor_by_rate_is_the_busy_one() {
    let (system, sharding, _store) = start(config());
    add(&sharding, "quiet", 1)
        .await
        .expect("dispatched")
        .expect("accepted");
    for _ in 0..50 {
        add(&sharding, "busy", 1)
            .await
            .expect("dispatched")
            .expect("accepted");
    }
    let top = sharding.top_by(1, |v| v.commands_per_minute());
    assert_eq!(top.first().map(|v| v.id.as_str()), Some("busy"));
    system.shutdown();
}

fn hibernating_config() -> RuntimeConfig {
    RuntimeConfig {
        hibernate_idle: Duration::from_millis(30),
        passivation_idle: Duration::from_secs(60),
        passivation_check_interval: Duration::from_millis(10),
        ..config()
    }
}

/// Waits until `done` holds of the stats, or fails after two seconds.
async fn until_stats(
    sharding: &Sharding<Counter>,
    done: impl Fn(&runtime::KindStatsSnapshot) -> bool,
) {
    for _ in 0..200 {
        if done(&sharding.stats()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("stats never got there: {:?}", sharding.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_actors_hibernate_and_wake_with_their_state_without_a_load() {
    let (system, sharding, store) = start(hibernating_config());
    assert_eq!(add(&sharding, "sleepy", 7).await, Ok(Ok(7)));
    let loads = store.loads.load(Ordering::SeqCst);
    until_stats(&sharding, |s| s.hibernated == 1 && s.alive == 0).await;
    let view = sharding
        .view(&"sleepy".to_string())
        .expect("still in memory");
    assert!(view.hibernated, "{view:?}");
    assert!(
        sharding.top_by(10, |v| v.commands).is_empty(),
        "no running actor to rank"
    );

    assert_eq!(
        add(&sharding, "sleepy", 1).await,
        Ok(Ok(8)),
        "woke with its state"
    );
    let stats = sharding.stats();
    assert_eq!(
        (stats.wakes, stats.hibernated, stats.alive),
        (1, 0, 1),
        "{stats:?}"
    );
    assert_eq!(stats.activations, 1, "waking is not an activation");
    assert_eq!(
        store.loads.load(Ordering::SeqCst),
        loads,
        "waking loads nothing"
    );
    assert_eq!(stats.passivations_idle, 0);
    assert_eq!(store.values.lock().unwrap()["sleepy"], 8);
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hibernated_entity_is_passivated_after_the_passivation_time_and_then_loads() {
    let config = RuntimeConfig {
        passivation_idle: Duration::from_millis(150),
        ..hibernating_config()
    };
    let (system, sharding, store) = start(config);
    assert_eq!(add(&sharding, "h", 3).await, Ok(Ok(3)));
    until_stats(&sharding, |s| s.hibernations == 1).await;
    until_stats(&sharding, |s| s.hibernated == 0 && s.passivations_idle == 1).await;
    assert!(
        sharding.view(&"h".to_string()).is_none(),
        "dropped from memory"
    );
    assert_eq!(sharding.live_per_shard().iter().sum::<usize>(), 0);
    let loads = store.loads.load(Ordering::SeqCst);
    assert_eq!(add(&sharding, "h", 1).await, Ok(Ok(4)));
    assert_eq!(
        store.loads.load(Ordering::SeqCst),
        loads + 1,
        "loaded from the store"
    );
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_or_passivating_a_hibernated_entity_drops_it_and_the_next_command_loads() {
    let (system, sharding, store) = start(hibernating_config());
    for id in ["r", "p"] {
        assert_eq!(add(&sharding, id, 5).await, Ok(Ok(5)));
    }
    until_stats(&sharding, |s| s.hibernated == 2).await;
    assert!(sharding.restart(&"r".to_string()));
    assert!(sharding.passivate(&"p".to_string()));
    let stats = sharding.stats();
    assert_eq!(
        (stats.hibernated, stats.passivations_requested),
        (0, 2),
        "{stats:?}"
    );
    let loads = store.loads.load(Ordering::SeqCst);
    assert_eq!(add(&sharding, "r", 1).await, Ok(Ok(6)));
    assert_eq!(add(&sharding, "p", 1).await, Ok(Ok(6)));
    assert_eq!(store.loads.load(Ordering::SeqCst), loads + 2);
    assert!(!sharding.restart(&"nobody".to_string()));
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_bound_evicts_hibernated_entities_too() {
    let config = RuntimeConfig {
        shards: 1,
        live_actors_per_shard_max: 10,
        ..hibernating_config()
    };
    let (system, sharding, _store) = start(config);
    for i in 0..10 {
        add(&sharding, &format!("e{i}"), 1)
            .await
            .expect("dispatched")
            .expect("accepted");
    }
    until_stats(&sharding, |s| s.hibernated == 10).await;
    add(&sharding, "newcomer", 1)
        .await
        .expect("dispatched")
        .expect("accepted");
    let stats = sharding.stats();
    assert!(stats.passivations_evicted >= 2, "{stats:?}");
    assert!(
        sharding.live_per_shard()[0] <= 10,
        "{:?}",
        sharding.live_per_shard()
    );
    assert_eq!(
        add(&sharding, "e9", 1).await,
        Ok(Ok(2)),
        "evicted or not, nothing lost"
    );
    system.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_racing_hibernation_lose_nothing_and_see_every_earlier_change() {
    let config = RuntimeConfig {
        hibernate_idle: Duration::from_millis(1),
        passivation_check_interval: Duration::from_millis(1),
        ..hibernating_config()
    };
    let (system, sharding, store) = start(config);
    let ids: Vec<String> = (0..4).map(|i| format!("race{i}")).collect();
    let runs = ids.iter().map(|id| {
        let sharding = sharding.clone();
        let id = id.clone();
        async move {
            for i in 1..=150u64 {
                let answer = sharding.ask(id.clone(), Cmd::Add(1)).await;
                assert_eq!(answer, Ok(Ok(i)), "{id}: command {i} saw every earlier one");
                tokio::time::sleep(Duration::from_micros(i % 4 * 700)).await;
            }
        }
    });
    futures::future::join_all(runs).await;
    let stats = sharding.stats();
    assert!(stats.wakes >= 20, "the race was run: {stats:?}");
    let values = store.values.lock().unwrap().clone();
    for id in &ids {
        assert_eq!(values[id], 150, "{id}: every acknowledged change stored");
    }
    system.shutdown();
}
