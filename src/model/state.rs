//! The model's global state, whichever representation holds it, and what
//! the properties and the search read of it: one module owns `KafkaModel`
//! and `KafkaState`.

use super::actor::{BrokerState, ControllerState, KMsg, KafkaActor, NodeState, Timer};
use super::config::ModelConfig;
use super::history::History;
use super::record::Rec;
use crate::core::consumer::Consumer;
use crate::core::log::Log;
use crate::core::producer::Producer;
use smallvec::SmallVec;
use stateright::actor::{ActorModel, ActorModelState, Id, Network};

pub type KafkaModel = ActorModel<KafkaActor, ModelConfig, History>;
pub type KafkaState = ActorModelState<KafkaActor, History>;

/// What the properties read of a global state, whichever representation
/// holds it: stateright's `ActorModelState` (the Explorer, random walks,
/// replays) or the search's compact state.
pub trait Snapshot {
    fn nodes(&self) -> impl Iterator<Item = &NodeState>;
    /// Every message in flight.
    fn messages(&self) -> impl Iterator<Item = &KMsg>;
    fn history(&self) -> &History;
    /// Nothing more can happen without a new fault: no message in flight
    /// but ones that change nothing whenever they arrive
    /// (`NodeState::ignored`), no election to decide, and no timer armed that ends a fault or
    /// lets the protocol move on (a restart, a healing partition, a lag
    /// removal). What may still fire starts a new fault.
    fn quiet(&self) -> bool;
}

impl Snapshot for KafkaState {
    fn nodes(&self) -> impl Iterator<Item = &NodeState> {
        self.actor_states.iter().map(|s| &**s)
    }
    /// stateright 0.31's `Network::iter_all` never advances within an
    /// ordered channel (it yields the channel's head forever), so ordered
    /// channels are walked here directly.
    fn messages(&self) -> impl Iterator<Item = &KMsg> {
        let it: Box<dyn Iterator<Item = &KMsg> + '_> = match &self.network {
            Network::Ordered(channels) => Box::new(channels.values().flatten()),
            other => Box::new(other.iter_all().map(|env| env.msg)),
        };
        it
    }
    fn history(&self) -> &History {
        &self.history
    }
    fn quiet(&self) -> bool {
        let ignored = |src: Id, dst: Id, msg: &KMsg, ordered| {
            let node = |id: Id| &*self.actor_states[usize::from(id)];
            NodeState::ignored(node(src), node(dst), msg, ordered)
        };
        let all_ignored = match &self.network {
            Network::Ordered(channels) => channels
                .iter()
                .all(|((src, dst), q)| q.iter().all(|m| ignored(*src, *dst, m, true))),
            other => other
                .iter_all()
                .all(|env| ignored(env.src, env.dst, env.msg, false)),
        };
        all_ignored
            && self
                .random_choices
                .iter()
                .all(|c| c.map.values().all(Vec::is_empty))
            && self
                .timers_set
                .iter()
                .all(|t| t.iter().all(Timer::starts_a_fault))
    }
}

/// `state` without the messages their receivers ignore for good: the
/// state the search's compact twin holds where it drops them
/// (`CompactModel::dropping_ignored`). Only ordered networks are searched so.
pub fn without_ignored(state: &KafkaState) -> KafkaState {
    let mut s = state.clone();
    if let Network::Ordered(channels) = &mut s.network {
        for ((src, dst), q) in channels.iter_mut() {
            let sender = &state.actor_states[usize::from(*src)];
            let receiver = &state.actor_states[usize::from(*dst)];
            q.retain(|m| !NodeState::ignored(sender, receiver, m, true));
        }
        channels.retain(|_, q| !q.is_empty());
    }
    s
}

/// Typed access to one global state.
pub struct View<'a> {
    pub brokers: SmallVec<[&'a BrokerState; 8]>,
    pub controller: &'a ControllerState,
    pub producer: &'a Producer<Rec>,
    pub consumer: Option<&'a Consumer<Rec>>,
}

impl<'a> View<'a> {
    pub fn of<S: Snapshot>(state: &'a S) -> View<'a> {
        let mut brokers = SmallVec::new();
        let mut controller = None;
        let mut producer = None;
        let mut consumer = None;
        for s in state.nodes() {
            match s {
                NodeState::Broker(b) => brokers.push(b),
                NodeState::Controller(c) => controller = Some(c),
                NodeState::Producer(p) => producer = Some(p),
                NodeState::Consumer(c) => consumer = Some(c),
            }
        }
        View {
            brokers,
            controller: controller.expect("the model has a controller"),
            producer: producer.expect("the model has a producer"),
            consumer,
        }
    }

    pub fn broker(&self, id: u8) -> &'a BrokerState {
        self.brokers[id as usize - 1]
    }

    /// The log of the current leader: the broker the controller elected,
    /// once it runs and acts as leader of that epoch. Before it learns of
    /// its election nobody serves the partition, so nothing can be read.
    pub fn leader_log(&self) -> Option<&'a Log<Rec>> {
        let p = self.controller.core.state;
        let b = self.broker(p.leader?);
        let r = &b.replica;
        let acting = !b.down && r.is_leader() && r.partition.leader_epoch == p.leader_epoch;
        acting.then_some(&r.log)
    }

    pub fn crashes(&self) -> u32 {
        self.brokers.iter().map(|b| b.crashes as u32).sum()
    }

    pub fn shutdowns(&self) -> u32 {
        self.brokers.iter().map(|b| b.shutdowns as u32).sum()
    }

    pub fn partitions(&self) -> u32 {
        self.brokers.iter().map(|b| b.partitions as u32).sum()
    }
}

/// Keeps the state space finite: at most `crashes` crashes, `lag_removals`
/// lag removals, `controlled_shutdowns` shutdowns, `network_partitions`
/// partitions and `preferred_elections` preferred-leader elections in one run.
pub fn within_bounds_view(cfg: &ModelConfig, v: &View) -> bool {
    v.crashes() <= cfg.crashes as u32
        && v.shutdowns() <= cfg.controlled_shutdowns as u32
        && v.partitions() <= cfg.network_partitions as u32
        && v.controller.lag_removals <= cfg.lag_removals
        && v.controller.preferred_elections <= cfg.preferred_elections
}

/// Everything `within_bounds_view` counts. A step that leaves these alone
/// cannot be taken out of bounds by another actor's step, nor take one
/// out of bounds: the search's sleep sets rely on it.
pub fn fault_counts(v: &View) -> [u32; 5] {
    [
        v.crashes(),
        v.shutdowns(),
        v.partitions(),
        v.controller.lag_removals as u32,
        v.controller.preferred_elections as u32,
    ]
}

pub fn within_bounds(cfg: &ModelConfig, state: &KafkaState) -> bool {
    within_bounds_view(cfg, &View::of(state))
}
