//! The properties of DESIGN §3, under exactly those names, plus the
//! `sometimes` sanity properties that keep every verdict from being vacuous.

use super::actor::{BrokerState, ControllerState, KafkaActor, NodeState};
use super::config::ModelConfig;
use super::history::History;
use super::record::Rec;
use crate::core::consumer::Consumer;
use crate::core::log::Log;
use crate::core::messages::Msg;
use crate::core::producer::{Outcome, Producer};
use crate::core::types::Acks;
use stateright::actor::{ActorModel, ActorModelState, Network};

pub type KafkaModel = ActorModel<KafkaActor, ModelConfig, History>;
pub type KafkaState = ActorModelState<KafkaActor, History>;

pub const ACKED_NEVER_LOST: &str = "acked_never_lost";
pub const VISIBLE_NEVER_LOST: &str = "visible_never_lost";
pub const REPLICAS_AGREE: &str = "replicas_agree";
pub const NO_DUPLICATES: &str = "no_duplicates";
pub const LEADER_IN_ISR: &str = "leader_in_isr";
pub const WRITES_AVAILABLE: &str = "writes_available";
pub const LINEARIZABLE: &str = "linearizable";
pub const SOMETIMES_ACKED: &str = "sometimes_write_acknowledged";
pub const SOMETIMES_LEADER_CHANGE: &str = "sometimes_leader_change";
pub const SOMETIMES_CRASH: &str = "sometimes_crash";
pub const SOMETIMES_READ: &str = "sometimes_consumer_read";

/// The `always` properties, in the order reports list them.
pub const SAFETY: [&str; 7] = [
    ACKED_NEVER_LOST,
    VISIBLE_NEVER_LOST,
    REPLICAS_AGREE,
    NO_DUPLICATES,
    LEADER_IN_ISR,
    WRITES_AVAILABLE,
    LINEARIZABLE,
];

/// Typed access to one global state.
pub struct View<'a> {
    pub brokers: Vec<&'a BrokerState>,
    pub controller: &'a ControllerState,
    pub producer: &'a Producer<Rec>,
    pub consumer: Option<&'a Consumer<Rec>>,
}

impl<'a> View<'a> {
    pub fn of(state: &'a KafkaState) -> View<'a> {
        let mut brokers = Vec::new();
        let mut controller = None;
        let mut producer = None;
        let mut consumer = None;
        for s in &state.actor_states {
            match &**s {
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
}

/// Every message in flight. stateright 0.31's `Network::iter_all` never
/// advances within an ordered channel (it yields the channel's head
/// forever), so ordered channels are walked here directly.
pub fn messages_in_flight(
    state: &KafkaState,
) -> Box<dyn Iterator<Item = &crate::model::actor::KMsg> + '_> {
    match &state.network {
        Network::Ordered(channels) => Box::new(channels.values().flatten()),
        other => Box::new(other.iter_all().map(|env| env.msg)),
    }
}

/// Whether a Produce for `value` is still on its way to a broker.
fn produce_in_flight(state: &KafkaState, value: u8) -> bool {
    messages_in_flight(state)
        .any(|msg| matches!(msg, Msg::Produce { record, .. } if record.value == value))
}

fn acked_never_lost(_: &KafkaModel, state: &KafkaState) -> bool {
    let v = View::of(state);
    let Some(log) = v.leader_log() else {
        return true;
    };
    v.producer
        .outcomes
        .iter()
        .zip(&v.producer.records)
        .filter(|(o, r)| match o {
            Outcome::Acked(_) => true,
            // acks=0: acknowledged means sent, once the request left the network.
            Outcome::Sent => !produce_in_flight(state, r.value),
            Outcome::Failed(_) => false,
        })
        .all(|(_, r)| log.entries().iter().any(|e| e.record.value == r.value))
}

fn visible_never_lost(_: &KafkaModel, state: &KafkaState) -> bool {
    let v = View::of(state);
    let Some(log) = v.leader_log() else {
        return true;
    };
    v.brokers.iter().all(|b| {
        b.exposed
            .iter()
            .all(|(offset, rec)| log.entry_at(*offset).is_some_and(|e| e.record == *rec))
    })
}

fn replicas_agree(_: &KafkaModel, state: &KafkaState) -> bool {
    let v = View::of(state);
    for (i, a) in v.brokers.iter().enumerate() {
        for b in &v.brokers[i + 1..] {
            let (a, b) = (a.replica.log.entries(), b.replica.log.entries());
            // The last position where both hold an entry of the same epoch...
            let last_match = a
                .iter()
                .zip(b.iter())
                .rposition(|(x, y)| x.offset == y.offset && x.epoch == y.epoch);
            // ...must be preceded by identical entries.
            if let Some(n) = last_match
                && a[..=n] != b[..=n]
            {
                return false;
            }
        }
    }
    true
}

fn no_duplicates(_: &KafkaModel, state: &KafkaState) -> bool {
    let v = View::of(state);
    let Some(log) = v.leader_log() else {
        return true;
    };
    let mut seen = 0u64;
    log.entries().iter().all(|e| {
        let bit = 1u64 << (e.record.value % 64);
        let fresh = seen & bit == 0;
        seen |= bit;
        fresh
    })
}

fn leader_in_isr(_: &KafkaModel, state: &KafkaState) -> bool {
    let s = View::of(state).controller.core.state;
    s.leader.is_none_or(|l| s.isr.contains(l))
}

fn writes_available(_: &KafkaModel, state: &KafkaState) -> bool {
    // Quiescent: the producer has a final outcome for every record.
    let p = View::of(state).producer;
    !p.is_done() || p.outcomes.iter().all(|o| o.is_success())
}

fn linearizable(_: &KafkaModel, state: &KafkaState) -> bool {
    state.history.tester.serialized_history().is_some()
}

fn sometimes_acked(model: &KafkaModel, state: &KafkaState) -> bool {
    let p = View::of(state).producer;
    match model.cfg.acks {
        Acks::Zero => p.outcomes.contains(&Outcome::Sent),
        _ => p.outcomes.iter().any(|o| matches!(o, Outcome::Acked(_))),
    }
}

fn sometimes_leader_change(_: &KafkaModel, state: &KafkaState) -> bool {
    View::of(state).controller.core.state.leader_epoch > 0
}

fn sometimes_crash(_: &KafkaModel, state: &KafkaState) -> bool {
    View::of(state).crashes() > 0
}

fn sometimes_read(_: &KafkaModel, state: &KafkaState) -> bool {
    View::of(state)
        .consumer
        .is_some_and(|c| !c.reads.is_empty())
}

pub type Condition = fn(&KafkaModel, &KafkaState) -> bool;

/// Every `always` property with its condition.
pub fn always_properties() -> Vec<(&'static str, Condition)> {
    vec![
        (ACKED_NEVER_LOST, acked_never_lost),
        (VISIBLE_NEVER_LOST, visible_never_lost),
        (REPLICAS_AGREE, replicas_agree),
        (NO_DUPLICATES, no_duplicates),
        (LEADER_IN_ISR, leader_in_isr),
        (WRITES_AVAILABLE, writes_available),
        (LINEARIZABLE, linearizable),
    ]
}

/// The `sometimes` properties that make sense for this configuration.
pub fn sometimes_properties(cfg: &ModelConfig) -> Vec<(&'static str, Condition)> {
    let mut v: Vec<(&'static str, Condition)> = vec![(SOMETIMES_ACKED, sometimes_acked)];
    if cfg.crashes > 0 {
        v.push((SOMETIMES_CRASH, sometimes_crash));
        v.push((SOMETIMES_LEADER_CHANGE, sometimes_leader_change));
    }
    if cfg.consumer {
        v.push((SOMETIMES_READ, sometimes_read));
    }
    v
}

/// Keeps the state space finite: at most `crashes` crashes and
/// `lag_removals` lag removals in one run.
pub fn within_bounds(cfg: &ModelConfig, state: &KafkaState) -> bool {
    let v = View::of(state);
    v.crashes() <= cfg.crashes as u32 && v.controller.lag_removals <= cfg.lag_removals
}
