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
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
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
    fn node(&self, s: &NodeState) -> NodeState {
        match s {
            NodeState::Broker(b) => NodeState::Broker(self.broker(b)),
            NodeState::Controller(c) => NodeState::Controller(self.controller(c)),
            NodeState::Producer(p) => NodeState::Producer(self.producer(p)),
            NodeState::Consumer(c) => NodeState::Consumer(self.consumer(c)),
        }
    }
    fn choices(&self, v: &mut [Choice]) {
        for Choice::Elect(b) in v.iter_mut() {
            *b = self.b(*b);
        }
        v.sort();
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

/// Every renaming that puts `state`'s brokers in sort-key order: one for
/// each way to order brokers whose keys tie. `None` stands for the identity.
fn sorting_renamings(state: &KafkaState) -> Vec<Option<Renaming>> {
    let mut brokers = Vec::with_capacity(state.actor_states.len());
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
    let keys: Vec<_> = brokers.iter().map(|b| sort_key(b, controller)).collect();
    let mut order: Vec<usize> = (0..rf).collect();
    order.sort_by(|&i, &j| keys[i].cmp(&keys[j]).then(i.cmp(&j)));
    // Runs of equal keys: any order within a run sorts the brokers too.
    let mut orders = vec![order.clone()];
    let mut start = 0;
    while start < rf {
        let mut end = start + 1;
        while end < rf && keys[order[end]] == keys[order[start]] {
            end += 1;
        }
        if end - start > 1 {
            let mut more = Vec::new();
            for o in &orders {
                for perm in permutations(&o[start..end]) {
                    let mut o = o.clone();
                    o[start..end].copy_from_slice(&perm);
                    more.push(o);
                }
            }
            orders = more;
        }
        start = end;
    }
    orders
        .into_iter()
        .map(|order| {
            // order[new - 1] = old index; invert it.
            let mut map = vec![0 as BrokerId; rf];
            for (new, &old) in order.iter().enumerate() {
                map[old] = new as BrokerId + 1;
            }
            let identity = map.iter().enumerate().all(|(i, &b)| b as usize == i + 1);
            (!identity).then_some(Renaming { map })
        })
        .collect()
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first);
            out.push(p);
        }
    }
    out
}

/// The sorting renaming whose renamed state hashes lowest, and that hash:
/// a function of the class alone, since every member of a class has the
/// same set of sorted renamings.
fn canonical<B: BuildHasher>(state: &KafkaState, build: &B) -> (Option<Renaming>, u64) {
    let mut best: Option<(Option<Renaming>, u64)> = None;
    for ren in sorting_renamings(state) {
        let mut h = build.build_hasher();
        content_hash(state, ren.as_ref(), &mut h);
        let v = h.finish();
        if best.as_ref().is_none_or(|(_, b)| v < *b) {
            best = Some((ren, v));
        }
    }
    best.expect("there is always a sorting renaming")
}

/// The representative of `state`'s class under renaming brokers.
pub fn representative(state: &KafkaState) -> KafkaState {
    let (ren, _) = canonical(
        state,
        &std::hash::BuildHasherDefault::<DefaultHasher>::default(),
    );
    match ren {
        Some(ren) => rename(state, &ren),
        None => state.clone(),
    }
}

/// `state` with its brokers renamed.
fn rename(state: &KafkaState, ren: &Renaming) -> KafkaState {
    let mut next = state.clone();
    for (i, s) in state.actor_states.iter().enumerate() {
        next.actor_states[usize::from(ren.id(Id::from(i)))] = Arc::new(ren.node(s));
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
            ren.choices(v);
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

/// The state with the lists whose order means nothing sorted, as renaming
/// leaves them: parked requests (each goes to its own connection), the
/// controller's broker epochs.
fn normal(s: &NodeState) -> std::borrow::Cow<'_, NodeState> {
    use std::borrow::Cow;
    match s {
        NodeState::Broker(b) if !b.replica.parked.is_sorted() => {
            let mut b = b.clone();
            b.replica.parked.sort();
            Cow::Owned(NodeState::Broker(b))
        }
        NodeState::Controller(c) if !c.core.broker_epochs.is_sorted() => {
            let mut c = c.clone();
            c.core.broker_epochs.sort();
            Cow::Owned(NodeState::Controller(c))
        }
        other => Cow::Borrowed(other),
    }
}

/// A hash of everything a state holds, in a fixed encoding.
fn content_hash<H: Hasher>(state: &KafkaState, ren: Option<&Renaming>, h: &mut H) {
    let n = state.actor_states.len();
    // Slot `new` holds the actor that the renaming moves there.
    let mut old_of = vec![0usize; n];
    for (i, slot) in old_of.iter_mut().enumerate() {
        *slot = i;
    }
    if let Some(ren) = ren {
        for i in 0..n {
            old_of[usize::from(ren.id(Id::from(i)))] = i;
        }
    }
    for &i in &old_of {
        let s = &state.actor_states[i];
        match ren {
            None => normal(s).hash(h),
            Some(ren) => ren.node(s).hash(h),
        }
        let mut timers: Vec<Timer> = state.timers_set[i]
            .iter()
            .map(|t| ren.map_or_else(|| t.clone(), |r| r.timer(t)))
            .collect();
        timers.sort();
        timers.hash(h);
        let mut choices: Vec<(&String, Vec<Choice>)> = state.random_choices[i]
            .map
            .iter()
            .map(|(k, v)| {
                let mut v = v.clone();
                if let Some(r) = ren {
                    r.choices(&mut v);
                }
                (k, v)
            })
            .collect();
        choices.sort();
        choices.hash(h);
    }
    state.history.hash(h);
    match &state.network {
        Network::Ordered(channels) => {
            let mut keyed: Vec<((Id, Id), &VecDeque<KMsg>)> = channels
                .iter()
                .filter(|(_, q)| !q.is_empty())
                .map(|((src, dst), q)| match ren {
                    None => ((*src, *dst), q),
                    Some(r) => ((r.id(*src), r.id(*dst)), q),
                })
                .collect();
            keyed.sort_by_key(|(k, _)| *k);
            keyed.len().hash(h);
            for (k, q) in keyed {
                k.hash(h);
                q.len().hash(h);
                for m in q {
                    match ren {
                        None => m.hash(h),
                        Some(r) => r.msg(m).hash(h),
                    }
                }
            }
        }
        other => {
            debug_assert!(
                ren.is_none(),
                "symmetry is only used with the ordered network"
            );
            other.hash(h);
        }
    }
}

/// The hash of `state`, or with `symmetry` of its class: equal for two
/// states exactly when one is a renaming of the other (up to collisions).
pub fn fingerprint<B: BuildHasher>(state: &KafkaState, symmetry: bool, build: &B) -> u64 {
    if symmetry {
        canonical(state, build).1
    } else {
        let mut h = build.build_hasher();
        content_hash(state, None, &mut h);
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;
    use stateright::Model;

    fn fp(s: &KafkaState, symmetry: bool) -> u64 {
        fingerprint(
            s,
            symmetry,
            &std::hash::BuildHasherDefault::<DefaultHasher>::default(),
        )
    }

    #[test]
    fn representatives_are_stable_and_keep_verdict_inputs() {
        let model = ModelConfig::default().into_model();
        let mut frontier = model.init_states();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..9 {
            let mut next = Vec::new();
            for s in &frontier {
                let r = representative(s);
                assert_eq!(representative(&r), r, "the representative is a fixed point");
                for map in permutations(&[0, 1, 2]) {
                    let ren = Renaming {
                        map: map.iter().map(|&b| b as BrokerId + 1).collect(),
                    };
                    assert_eq!(
                        fp(s, true),
                        fp(&rename(s, &ren), true),
                        "renaming keeps the class"
                    );
                }
                assert_eq!(fp(s, true), fp(&r, true), "a class has one fingerprint");
                assert_eq!(
                    fp(s, true),
                    fp(&r, false),
                    "the fingerprint hashes the representative"
                );
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
                next.extend(
                    actions
                        .into_iter()
                        .filter_map(|a| model.next_state(s, a))
                        .filter(|n| seen.insert(fp(n, false))),
                );
            }
            frontier = next;
        }
    }
}
