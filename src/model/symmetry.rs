//! The broker-only symmetry reduction. Brokers are interchangeable: the
//! partition starts with no leader and every choice between brokers is left
//! open. The producer, consumer and controller are not, so stateright's
//! built-in symmetry (which permutes every actor) does not apply. This maps
//! a state to the one whose brokers are renamed into a canonical order.

use super::actor::{BrokerState, Choice, ControllerState, KMsg, NodeState, Timer};
use super::properties::KafkaState;
use crate::core::consumer::Consumer;
use crate::core::messages::{Msg, PartitionState};
use crate::core::producer::Producer;
use crate::core::replica::{Parked, Replica};
use crate::core::types::{BrokerId, BrokerSet};
use stateright::actor::{Id, Network, Timers};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// A renaming of brokers: `map[old - 1] = new`.
struct Renaming {
    map: Vec<BrokerId>,
}

impl Renaming {
    fn b(&self, id: BrokerId) -> BrokerId {
        self.map[id as usize - 1]
    }
    fn set(&self, s: BrokerSet) -> BrokerSet {
        s.map(|b| self.b(b))
    }
    fn opt(&self, b: Option<BrokerId>) -> Option<BrokerId> {
        b.map(|b| self.b(b))
    }
    /// Actor ids: brokers occupy the first `rf` slots, in id order.
    fn id(&self, id: Id) -> Id {
        let i = usize::from(id);
        if i < self.map.len() {
            Id::from(self.map[i] as usize - 1)
        } else {
            id
        }
    }
    fn partition(&self, p: PartitionState) -> PartitionState {
        PartitionState {
            leader: self.opt(p.leader),
            isr: self.set(p.isr),
            elr: self.set(p.elr),
            ..p
        }
    }
    fn msg(&self, m: &KMsg) -> KMsg {
        match m {
            Msg::LeaderAndIsr {
                state,
                broker_epoch,
            } => Msg::LeaderAndIsr {
                state: self.partition(*state),
                broker_epoch: *broker_epoch,
            },
            Msg::Metadata {
                leader,
                leader_epoch,
            } => Msg::Metadata {
                leader: self.opt(*leader),
                leader_epoch: *leader_epoch,
            },
            Msg::AlterPartition {
                leader_epoch,
                partition_epoch,
                new_isr,
            } => Msg::AlterPartition {
                leader_epoch: *leader_epoch,
                partition_epoch: *partition_epoch,
                new_isr: self.set(*new_isr),
            },
            other => other.clone(),
        }
    }
    fn replica(&self, r: &Replica<super::record::Rec>) -> Replica<super::record::Rec> {
        let mut r = r.clone();
        r.id = self.b(r.id);
        r.replicas = self.set(r.replicas);
        r.partition = self.partition(r.partition);
        if let Some(l) = &mut r.leader {
            l.pending_isr = l.pending_isr.map(|s| self.set(s));
            for (b, _) in &mut l.follower_end {
                *b = self.b(*b);
            }
            l.follower_end.sort();
        }
        for p in &mut r.parked {
            if let Parked::Fetch(b, _) = p {
                *b = self.b(*b);
            }
        }
        r.parked.sort();
        r
    }
    fn broker(&self, b: &BrokerState) -> BrokerState {
        BrokerState {
            replica: self.replica(&b.replica),
            ..b.clone()
        }
    }
    fn controller(&self, c: &ControllerState) -> ControllerState {
        let mut c = c.clone();
        c.core.replicas = self.set(c.core.replicas);
        c.core.state = self.partition(c.core.state);
        c.core.fenced = self.set(c.core.fenced);
        for (b, _) in &mut c.core.broker_epochs {
            *b = self.b(*b);
        }
        c.core.broker_epochs.sort();
        c
    }
    fn producer(&self, p: &Producer<super::record::Rec>) -> Producer<super::record::Rec> {
        let mut p = p.clone();
        p.leader = self.opt(p.leader);
        if let Some(a) = &mut p.in_flight {
            a.to = self.b(a.to);
        }
        p
    }
    fn consumer(&self, c: &Consumer<super::record::Rec>) -> Consumer<super::record::Rec> {
        let mut c = c.clone();
        c.leader = self.opt(c.leader);
        if let Some((_, to, _)) = &mut c.in_flight {
            *to = self.b(*to);
        }
        c
    }
    fn timer(&self, t: &Timer) -> Timer {
        match t {
            Timer::ReplicaLagTimeMax(b) => Timer::ReplicaLagTimeMax(self.b(*b)),
            other => other.clone(),
        }
    }
}

/// What a broker looks like with its id and other brokers' ids left out:
/// brokers are put in the order of these keys.
fn sort_key<'a>(b: &'a BrokerState, c: &ControllerState) -> impl Ord + 'a {
    let r = &b.replica;
    let id = r.id;
    (
        (
            b.down,
            b.crashes,
            r.is_leader(),
            c.core.state.isr.contains(id),
            c.core.state.elr.contains(id),
            c.core.fenced.contains(id),
        ),
        r.log.entries(),
        (
            r.log.flushed_offset(),
            r.high_watermark,
            r.incarnation,
            r.fetch_in_flight,
            r.partition.leader_epoch,
        ),
        &b.exposed[..],
    )
}

/// The representative of `state`'s class under renaming brokers.
pub fn representative(state: &KafkaState) -> KafkaState {
    let mut brokers = Vec::new();
    let mut controller = None;
    for s in &state.actor_states {
        match &**s {
            NodeState::Broker(b) => brokers.push(b),
            NodeState::Controller(c) => controller = Some(c),
            _ => {}
        }
    }
    let controller = controller.expect("the model has a controller");
    let rf = brokers.len();
    let mut order: Vec<usize> = (0..rf).collect();
    order.sort_by(|&i, &j| {
        sort_key(brokers[i], controller)
            .cmp(&sort_key(brokers[j], controller))
            .then(i.cmp(&j))
    });
    // order[new - 1] = old index; invert it.
    let mut map = vec![0 as BrokerId; rf];
    for (new, &old) in order.iter().enumerate() {
        map[old] = new as BrokerId + 1;
    }
    if map.iter().enumerate().all(|(i, &b)| b as usize == i + 1) {
        return state.clone();
    }
    let ren = Renaming { map };
    let mut next = state.clone();
    for (i, s) in state.actor_states.iter().enumerate() {
        let new = match &**s {
            NodeState::Broker(b) => NodeState::Broker(ren.broker(b)),
            NodeState::Controller(c) => NodeState::Controller(ren.controller(c)),
            NodeState::Producer(p) => NodeState::Producer(ren.producer(p)),
            NodeState::Consumer(c) => NodeState::Consumer(ren.consumer(c)),
        };
        next.actor_states[usize::from(ren.id(Id::from(i)))] = Arc::new(new);
    }
    for (i, timers) in state.timers_set.iter().enumerate() {
        let mut t = Timers::new();
        for timer in timers.iter() {
            t.set(ren.timer(timer));
        }
        next.timers_set[usize::from(ren.id(Id::from(i)))] = t;
    }
    for (i, choices) in state.random_choices.iter().enumerate() {
        let mut c = choices.clone();
        for v in c.map.values_mut() {
            for Choice::Elect(b) in v.iter_mut() {
                *b = ren.b(*b);
            }
            v.sort();
        }
        next.random_choices[usize::from(ren.id(Id::from(i)))] = c;
    }
    next.network = match &state.network {
        Network::Ordered(channels) => {
            let mut out: BTreeMap<(Id, Id), VecDeque<KMsg>> = BTreeMap::new();
            for ((src, dst), q) in channels {
                out.insert(
                    (ren.id(*src), ren.id(*dst)),
                    q.iter().map(|m| ren.msg(m)).collect(),
                );
            }
            Network::Ordered(out)
        }
        _ => unreachable!("symmetry is only used with the ordered network"),
    };
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;
    use stateright::Model;

    #[test]
    fn representatives_are_stable_and_keep_verdict_inputs() {
        let model = ModelConfig::default().into_model();
        let mut frontier = model.init_states();
        for _ in 0..6 {
            let mut next = Vec::new();
            for s in &frontier {
                let r = representative(s);
                assert_eq!(representative(&r), r, "the representative is a fixed point");
                for p in model.properties() {
                    assert_eq!(
                        (p.condition)(&model, s),
                        (p.condition)(&model, &r),
                        "{}",
                        p.name
                    );
                }
                let mut actions = Vec::new();
                model.actions(s, &mut actions);
                next.extend(actions.into_iter().filter_map(|a| model.next_state(s, a)));
            }
            frontier = next;
        }
    }
}
