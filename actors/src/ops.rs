//! What operators see of the running system and what they may do to it: live actors per kind
//! and shard, the hottest actors, one actor's live figures and state, passivating or restarting
//! one actor, the supervision journal, and sagas in flight.
//!
//! Everything here reads figures the runtime keeps anyway (atomics, a bounded journal) or the
//! store's existing queries; nothing adds work to the command path. The one thing that does
//! touch an actor is `actor_state`, which goes through the actor's ordinary read path (`Get`),
//! so it activates the actor if it was not live, exactly like a `GET` of the resource would.

use crate::aggregates::InventoryView;
use crate::app::Commerce;
use crate::error::AppError;
use crate::hosted::{Ask, Hosted};
use crate::ports::SagaRecord;
use domain::{Cart, CartId, InventorySku, Order, OrderId, Product, SkuCode};
use runtime::{ActorView, JournalEntry, KindStatsSnapshot, Sharding};

/// How many actors a hottest-actors query may return at most.
pub const HOTTEST_MAX: usize = 100;

/// The actor types, by their runtime kind name.
pub const ACTOR_TYPES: [&str; 4] = ["product", "inventory", "cart", "order"];

/// One actor, by type and parsed id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActorRef {
    Product(SkuCode),
    Inventory(SkuCode),
    Cart(CartId),
    Order(OrderId),
}

/// Why an actor reference did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActorRefError {
    #[error("unknown actor type {0:?}: one of product, inventory, cart, order")]
    UnknownType(String),
    #[error("not a valid {kind} id: {reason}")]
    BadId { kind: &'static str, reason: String },
}

impl ActorRef {
    pub fn parse(kind: &str, id: &str) -> Result<ActorRef, ActorRefError> {
        let bad = |kind: &'static str, e: &dyn std::fmt::Debug| ActorRefError::BadId {
            kind,
            reason: format!("{e:?}"),
        };
        match kind {
            "product" => SkuCode::parse(id)
                .map(ActorRef::Product)
                .map_err(|e| bad("product", &e)),
            "inventory" => SkuCode::parse(id)
                .map(ActorRef::Inventory)
                .map_err(|e| bad("inventory", &e)),
            "cart" => CartId::parse(id)
                .map(ActorRef::Cart)
                .map_err(|e| bad("cart", &e)),
            "order" => OrderId::parse(id)
                .map(ActorRef::Order)
                .map_err(|e| bad("order", &e)),
            other => Err(ActorRefError::UnknownType(other.to_owned())),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ActorRef::Product(_) => "product",
            ActorRef::Inventory(_) => "inventory",
            ActorRef::Cart(_) => "cart",
            ActorRef::Order(_) => "order",
        }
    }
}

/// The current state of one actor, read through its read path.
#[derive(Clone, Debug)]
pub enum ActorState {
    Product(Product),
    Inventory(InventoryView),
    Cart(Cart),
    Order(Box<Order>),
}

/// The live figures of one entity kind.
#[derive(Clone, Debug)]
pub struct KindOverview {
    pub kind: &'static str,
    pub stats: KindStatsSnapshot,
    /// Live actors per shard, in shard order.
    pub live_per_shard: Vec<usize>,
    /// Commands waiting in all of this kind's mailboxes.
    pub mailbox_depth: usize,
}

/// What "hottest" ranks by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hotness {
    MailboxDepth,
    /// Command rate: commands per minute since activation.
    Commands,
}

/// A live actor with its type.
#[derive(Clone, Debug)]
pub struct TypedActorView {
    pub kind: &'static str,
    pub view: ActorView,
}

fn overview<E: runtime::Entity>(sharding: &Sharding<E>) -> KindOverview {
    KindOverview {
        kind: sharding.kind(),
        stats: sharding.stats(),
        live_per_shard: sharding.live_per_shard(),
        mailbox_depth: sharding.mailbox_depth_total(),
    }
}

fn hottest<E: runtime::Entity>(
    sharding: &Sharding<E>,
    n: usize,
    by: Hotness,
) -> Vec<TypedActorView> {
    let key = move |v: &ActorView| match by {
        Hotness::MailboxDepth => v.mailbox_depth as u64,
        Hotness::Commands => v.commands_per_minute(),
    };
    sharding
        .top_by(n, key)
        .into_iter()
        .map(|view| TypedActorView {
            kind: sharding.kind(),
            view,
        })
        .collect()
}

async fn get<A: crate::hosted::Aggregate>(
    sharding: &Sharding<Hosted<A>>,
    id: A::Id,
) -> Result<A::View, AppError> {
    match sharding.ask(id, Ask::Get).await? {
        Ok(view) => Ok(view),
        // `Get` never rejects; should an aggregate ever do so, it is not the operator's fault.
        Err(_) => Err(AppError::Gateway("the actor rejected a read".into())),
    }
}

impl Commerce {
    /// Live figures of every entity kind.
    pub fn kinds_overview(&self) -> Vec<KindOverview> {
        let inner = &self.inner;
        vec![
            overview(&inner.products),
            overview(&inner.stock),
            overview(&inner.carts),
            overview(&inner.orders),
        ]
    }

    /// The `n` (at most `HOTTEST_MAX`) hottest live actors over all kinds.
    pub fn hottest_actors(&self, n: usize, by: Hotness) -> Vec<TypedActorView> {
        let n = n.min(HOTTEST_MAX);
        let inner = &self.inner;
        let mut all = hottest(&inner.products, n, by);
        all.extend(hottest(&inner.stock, n, by));
        all.extend(hottest(&inner.carts, n, by));
        all.extend(hottest(&inner.orders, n, by));
        all.sort_by_key(|a| {
            std::cmp::Reverse(match by {
                Hotness::MailboxDepth => a.view.mailbox_depth as u64,
                Hotness::Commands => a.view.commands,
            })
        });
        all.truncate(n);
        all
    }

    /// The live figures of one actor, or `None` when it is not live.
    pub fn actor_view(&self, actor: &ActorRef) -> Option<ActorView> {
        let inner = &self.inner;
        match actor {
            ActorRef::Product(id) => inner.products.view(id),
            ActorRef::Inventory(id) => inner.stock.view(id),
            ActorRef::Cart(id) => inner.carts.view(id),
            ActorRef::Order(id) => inner.orders.view(id),
        }
    }

    /// The actor's current state through its read path (activating it if it was not live).
    pub async fn actor_state(&self, actor: &ActorRef) -> Result<ActorState, AppError> {
        let inner = &self.inner;
        Ok(match actor.clone() {
            ActorRef::Product(id) => {
                ActorState::Product(get::<Product>(&inner.products, id).await?)
            }
            ActorRef::Inventory(id) => {
                ActorState::Inventory(get::<InventorySku>(&inner.stock, id).await?)
            }
            ActorRef::Cart(id) => ActorState::Cart(get::<Cart>(&inner.carts, id).await?),
            ActorRef::Order(id) => {
                ActorState::Order(Box::new(get::<Order>(&inner.orders, id).await?))
            }
        })
    }

    /// Asks the actor to passivate (it commits what it decided first); false if it is not live.
    pub fn passivate_actor(&self, actor: &ActorRef) -> bool {
        let inner = &self.inner;
        match actor {
            ActorRef::Product(id) => inner.products.passivate(id),
            ActorRef::Inventory(id) => inner.stock.passivate(id),
            ActorRef::Cart(id) => inner.carts.passivate(id),
            ActorRef::Order(id) => inner.orders.passivate(id),
        }
    }

    /// Asks the actor to reload its state from the store; false if it is not live.
    pub fn restart_actor(&self, actor: &ActorRef) -> bool {
        let inner = &self.inner;
        match actor {
            ActorRef::Product(id) => inner.products.restart(id),
            ActorRef::Inventory(id) => inner.stock.restart(id),
            ActorRef::Cart(id) => inner.carts.restart(id),
            ActorRef::Order(id) => inner.orders.restart(id),
        }
    }

    /// The newest `n` supervision events over all kinds, newest first.
    pub fn supervision_log(&self, n: usize) -> Vec<JournalEntry> {
        let inner = &self.inner;
        let mut all = inner.products.journal(n);
        all.extend(inner.stock.journal(n));
        all.extend(inner.carts.journal(n));
        all.extend(inner.orders.journal(n));
        all.sort_by_key(|e| std::cmp::Reverse(e.at_unix_ms));
        all.truncate(n);
        all
    }

    /// Sagas not yet completed or failed, oldest first, at most `limit`.
    pub async fn sagas_in_flight(&self, limit: u32) -> Result<Vec<SagaRecord>, AppError> {
        Ok(self.inner.store.sagas_in_flight(limit).await?)
    }

    /// How long a saga may stay untouched before recovery treats it as stuck.
    pub fn saga_stuck_after(&self) -> std::time::Duration {
        self.inner.config.saga_stuck_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_actor_references() {
        assert_eq!(
            ActorRef::parse("product", "HOT-1").map(|a| a.kind()),
            Ok("product")
        );
        assert_eq!(
            ActorRef::parse("inventory", "HOT-1").map(|a| a.kind()),
            Ok("inventory")
        );
        assert!(matches!(
            ActorRef::parse("cart", "not-a-uuid"),
            Err(ActorRefError::BadId { kind: "cart", .. })
        ));
        assert!(matches!(
            ActorRef::parse("widget", "x"),
            Err(ActorRefError::UnknownType(_))
        ));
        for kind in ACTOR_TYPES {
            assert!(!matches!(
                ActorRef::parse(kind, "x"),
                Err(ActorRefError::UnknownType(_))
            ));
        }
    }
}
