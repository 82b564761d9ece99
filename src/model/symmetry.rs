//! The broker-only symmetry reduction. Brokers are interchangeable: the
//! partition starts with no leader and every choice between brokers is left
//! open. The producer, consumer and controller are not, so stateright's
//! built-in symmetry (which permutes every actor) does not apply. This maps
//! a state to the one whose brokers are renamed into a canonical order.

use super::actor::ELECTION;
use super::actor::{BrokerState, Choice, ControllerState, KMsg, NodeState, Timer};
use super::compact::{Compact, TimerBits, choice_set, timer_bit, timers_of};
use super::digest::{hasher, message_digest};
use super::state::{KafkaState, Snapshot};
use super::step_names::SlotMap;
use crate::core::types::{BrokerId, BrokerSet, RenameBrokers};
use smallvec::{SmallVec, smallvec};
use stateright::actor::{Id, Network, Timers};
use std::collections::{BTreeMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

/// Room for every broker a configuration may have.
const MAX_RF: usize = crate::model::config::MAX_REPLICATION_FACTOR as usize;

/// A renaming of brokers: `map[old - 1] = new`.
pub struct Renaming {
    map: SmallVec<[BrokerId; MAX_RF]>,
    /// The permutation's rank among all of its size (0 for the identity):
    /// the slot of a compact state's hash cache.
    index: usize,
}

impl Renaming {
    fn new(map: SmallVec<[BrokerId; MAX_RF]>) -> Renaming {
        // Lehmer code: for each position, how many later entries are smaller.
        let mut index = 0;
        for (i, &m) in map.iter().enumerate() {
            let smaller = map[i + 1..].iter().filter(|&&x| x < m).count();
            index = index * (map.len() - i) + smaller;
        }
        Renaming { map, index }
    }
    fn is_identity(&self) -> bool {
        self.index == 0
    }
    fn b(&self, id: BrokerId) -> BrokerId {
        self.map[id as usize - 1]
    }
    fn set(&self, s: BrokerSet) -> BrokerSet {
        s.map(|b| self.b(b))
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
    /// `v` with its brokers renamed, by the rule beside its type.
    fn renamed<T: RenameBrokers + Clone>(&self, v: &T) -> T {
        let mut v = v.clone();
        v.rename_brokers(&|b| self.b(b));
        v
    }
    fn msg(&self, m: &KMsg) -> KMsg {
        self.renamed(m)
    }
    /// The digest of the renamed message; `known` is the original's.
    fn msg_digest(&self, m: &KMsg, known: Option<u64>) -> u64 {
        if !self.is_identity() && m.names_brokers() {
            message_digest(&self.renamed(m))
        } else {
            known.unwrap_or_else(|| message_digest(m))
        }
    }
    fn timer_bits(&self, bits: TimerBits) -> TimerBits {
        timers_of(bits).fold(0, |acc, t| acc | timer_bit(&self.renamed(&t)))
    }
    fn node(&self, s: &NodeState) -> NodeState {
        self.renamed(s)
    }
    fn choices(&self, v: &mut [Choice]) {
        for c in v.iter_mut() {
            c.rename_brokers(&|b| self.b(b));
        }
        v.sort();
    }
    fn timer(&self, t: &Timer) -> Timer {
        self.renamed(t)
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
            b.shutdowns,
            b.stopping,
            b.partitions,
            (b.isolated, b.fetch_lost),
            r.stopped,
            r.is_leader(),
            c.core.state.isr.contains(id),
            c.core.state.elr.contains(id),
            c.core.fenced.contains(id),
            c.core.last_known_leader == Some(id),
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

/// What a fingerprint reads of a state, in either representation.
pub trait Hashable: Snapshot {
    fn slot_count(&self) -> usize;
    fn node(&self, i: usize) -> &NodeState;
    /// The hash of slot `i`'s actor under `ren`; `compute` gives it.
    fn node_hash(&self, i: usize, ren: &Renaming, compute: &dyn Fn(&NodeState) -> u64) -> u64 {
        let _ = ren;
        compute(self.node(i))
    }
    fn timers(&self, i: usize) -> TimerBits;
    fn choices(&self, i: usize) -> Option<BrokerSet>;
    /// Every message in flight with its channel and, where known, its
    /// `message_digest`: channel by channel in (source, destination) order,
    /// each channel's in sending order.
    fn for_each_message<'a>(&'a self, f: &mut dyn FnMut(usize, usize, &'a KMsg, Option<u64>));
}

impl Hashable for KafkaState {
    fn slot_count(&self) -> usize {
        self.actor_states.len()
    }
    fn node(&self, i: usize) -> &NodeState {
        &self.actor_states[i]
    }
    fn timers(&self, i: usize) -> TimerBits {
        self.timers_set[i]
            .iter()
            .fold(0, |acc, t| acc | timer_bit(t))
    }
    fn choices(&self, i: usize) -> Option<BrokerSet> {
        let map = &self.random_choices[i].map;
        debug_assert!(map.keys().all(|k| k == ELECTION));
        map.get(ELECTION).map(|c| choice_set(c))
    }
    fn for_each_message<'a>(&'a self, f: &mut dyn FnMut(usize, usize, &'a KMsg, Option<u64>)) {
        let Network::Ordered(channels) = &self.network else {
            unreachable!("only ordered networks are hashed by content")
        };
        for ((src, dst), q) in channels {
            for m in q {
                f(usize::from(*src), usize::from(*dst), m, None);
            }
        }
    }
}

impl Hashable for Compact {
    fn slot_count(&self) -> usize {
        self.slots.len()
    }
    fn node(&self, i: usize) -> &NodeState {
        &self.slots[i].node.state
    }
    fn node_hash(&self, i: usize, ren: &Renaming, compute: &dyn Fn(&NodeState) -> u64) -> u64 {
        self.slots[i].node.hash_with(ren.index, compute)
    }
    fn timers(&self, i: usize) -> TimerBits {
        self.slots[i].timers
    }
    fn choices(&self, i: usize) -> Option<BrokerSet> {
        self.slots[i].choices
    }
    fn for_each_message<'a>(&'a self, f: &mut dyn FnMut(usize, usize, &'a KMsg, Option<u64>)) {
        for (src, dst, m, digest) in &self.net {
            f(*src as usize, *dst as usize, m, Some(*digest));
        }
    }
}

/// Every renaming that puts `state`'s brokers in sort-key order: one for
/// each way to order brokers whose keys tie.
fn sorting_renamings<S: Hashable>(state: &S) -> SmallVec<[Renaming; 1]> {
    // Brokers occupy the first slots, the controller the next one.
    let mut rf = 0;
    while let NodeState::Broker(_) = state.node(rf) {
        rf += 1;
    }
    let NodeState::Controller(controller) = state.node(rf) else {
        unreachable!("the controller follows the brokers")
    };
    let broker = |i: usize| match state.node(i) {
        NodeState::Broker(b) => b,
        _ => unreachable!(),
    };
    let key = |i: usize| sort_key(broker(i), controller);
    let mut order: SmallVec<[usize; MAX_RF]> = (0..rf).collect();
    order.sort_by(|&i, &j| key(i).cmp(&key(j)).then(i.cmp(&j)));
    // Runs of equal keys, split again by what the brokers have on their
    // way: any order within what is left of a run sorts the brokers too.
    let mut blocks: SmallVec<[(usize, usize); MAX_RF]> = SmallVec::new();
    let mut start = 0;
    while start < rf {
        let mut end = start + 1;
        while end < rf && key(order[end]) == key(order[start]) {
            end += 1;
        }
        if end - start == 1 {
            blocks.push((start, end));
        } else {
            let mut run: SmallVec<[(u64, usize); MAX_RF]> = order[start..end]
                .iter()
                .map(|&i| (traffic(state, rf, i), i))
                .collect();
            run.sort_unstable();
            let mut from = start;
            for (k, &(t, i)) in run.iter().enumerate() {
                order[start + k] = i;
                if k > 0 && run[k - 1].0 != t {
                    blocks.push((from, start + k));
                    from = start + k;
                }
            }
            blocks.push((from, end));
        }
        start = end;
    }
    let mut orders: SmallVec<[SmallVec<[usize; MAX_RF]>; 1]> = smallvec![order.clone()];
    for &(start, end) in blocks.iter().filter(|(s, e)| e - s > 1) {
        let mut more = SmallVec::new();
        for o in &orders {
            for perm in permutations(&o[start..end]) {
                let mut o = o.clone();
                o[start..end].copy_from_slice(&perm);
                more.push(o);
            }
        }
        orders = more;
    }
    orders
        .into_iter()
        .map(|order| {
            // order[new - 1] = old index; invert it.
            let mut map: SmallVec<[BrokerId; MAX_RF]> = smallvec![0; rf];
            for (new, &old) in order.iter().enumerate() {
                map[old] = new as BrokerId + 1;
            }
            Renaming::new(map)
        })
        .collect()
}

/// What tells apart brokers whose `sort_key`s tie: the timers and
/// election choices that name broker slot `b`, and each channel to or
/// from it with its messages in order. No broker's id goes in (the other
/// brokers are anonymous, a message that names brokers counts by its kind
/// alone) and the parts are summed, not ordered, so renaming brokers
/// leaves it unchanged: it splits ties the same way in every member of a
/// class. Five brokers tie often (followers alike), and every ordering of
/// a tie costs a hash of the whole state.
fn traffic<S: Hashable>(state: &S, rf: usize, b: usize) -> u64 {
    let build = hasher();
    let id = b as BrokerId + 1;
    let anonymous = |j: usize| if j < rf { usize::MAX } else { j };
    let mut sum = 0u64;
    for j in 0..state.slot_count() {
        for t in timers_of(state.timers(j)) {
            let named = t.broker();
            let mine = j == b;
            if mine || named == Some(id) {
                let kind = std::mem::discriminant(&t);
                let whose = (mine, named == Some(id));
                sum = sum.wrapping_add(build.hash_one((anonymous(j), whose, kind)));
            }
        }
        if state.choices(j).is_some_and(|c| c.contains(id)) {
            sum = sum.wrapping_add(build.hash_one((anonymous(j), "elect")));
        }
    }
    let mut channel: Option<((usize, usize), ahash::AHasher)> = None;
    let close = |channel: &mut Option<((usize, usize), ahash::AHasher)>, sum: &mut u64| {
        if let Some((_, h)) = channel.take() {
            *sum = sum.wrapping_add(h.finish());
        }
    };
    state.for_each_message(&mut |src, dst, m, digest| {
        if src != b && dst != b {
            return;
        }
        if channel.as_ref().is_none_or(|(k, _)| *k != (src, dst)) {
            close(&mut channel, &mut sum);
            let mut h = build.build_hasher();
            (src == b, anonymous(if src == b { dst } else { src })).hash(&mut h);
            channel = Some(((src, dst), h));
        }
        let (_, h) = channel.as_mut().expect("opened above");
        if m.names_brokers() {
            std::mem::discriminant(m).hash(h);
        } else {
            h.write_u64(digest.unwrap_or_else(|| message_digest(m)));
        }
    });
    close(&mut channel, &mut sum);
    sum
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
fn canonical<S: Hashable>(state: &S) -> (Renaming, u64) {
    let mut best: Option<(Renaming, u64)> = None;
    for ren in sorting_renamings(state) {
        let v = content_hash(state, &ren);
        if best.as_ref().is_none_or(|(_, b)| v < *b) {
            best = Some((ren, v));
        }
    }
    best.expect("there is always a sorting renaming")
}

/// The representative of `state`'s class under renaming brokers. The
/// search never builds it (fingerprints hash a class without it); the
/// tests do, to show that a class has one fingerprint and one verdict.
pub fn representative(state: &KafkaState) -> KafkaState {
    let (ren, _) = canonical(state);
    if ren.is_identity() {
        state.clone()
    } else {
        rename(state, &ren)
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

/// A hash of everything a state holds under `ren`, in a fixed encoding
/// that both state representations share.
fn content_hash<S: Hashable>(state: &S, ren: &Renaming) -> u64 {
    let build = hasher();
    let n = state.slot_count();
    assert!(n <= 32, "at most 32 actors");
    let mut h = build.build_hasher();
    // Slot `new` holds the actor that the renaming moves there.
    let mut old_of = [0usize; 32];
    for i in 0..n {
        old_of[usize::from(ren.id(Id::from(i)))] = i;
    }
    let compute = |s: &NodeState| {
        let mut h = build.build_hasher();
        if ren.is_identity() {
            s.hash(&mut h);
        } else {
            ren.node(s).hash(&mut h);
        }
        h.finish()
    };
    for &i in &old_of[..n] {
        h.write_u64(state.node_hash(i, ren, &compute));
        h.write_u32(ren.timer_bits(state.timers(i)));
        state.choices(i).map(|c| ren.set(c)).hash(&mut h);
    }
    state.history().hash(&mut h);
    // (renamed channel, sending order, message, digest if known)
    type InFlight<'a> = ((usize, usize), usize, &'a KMsg, Option<u64>);
    let mut msgs: SmallVec<[InFlight; 16]> = SmallVec::new();
    let mut seq = 0;
    state.for_each_message(&mut |src, dst, m, digest| {
        let key = (
            usize::from(ren.id(Id::from(src))),
            usize::from(ren.id(Id::from(dst))),
        );
        msgs.push((key, seq, m, digest));
        seq += 1;
    });
    if !ren.is_identity() {
        msgs.sort_unstable_by_key(|(k, seq, _, _)| (*k, *seq));
    }
    msgs.len().hash(&mut h);
    for (k, _, m, digest) in msgs {
        k.hash(&mut h);
        h.write_u64(ren.msg_digest(m, digest));
    }
    h.finish()
}

/// The hash of `state`, or with `symmetry` of its class: equal for two
/// states exactly when one is a renaming of the other (up to collisions).
pub fn fingerprint<S: Hashable>(state: &S, symmetry: bool) -> u64 {
    if symmetry {
        canonical(state).1
    } else {
        let identity = Renaming::new((1..=brokers(state)).collect());
        content_hash(state, &identity)
    }
}

/// `fingerprint`, with the renaming of actor slots that takes `state` to
/// the member of its class the fingerprint hashes: transitions named by
/// slot (the sleep sets of the search) are carried between members of a
/// class through it.
pub fn fingerprint_and_slots<S: Hashable>(state: &S, symmetry: bool) -> (u64, SlotMap) {
    let (ren, fp) = if symmetry {
        canonical(state)
    } else {
        let identity = Renaming::new((1..=brokers(state)).collect());
        let fp = content_hash(state, &identity);
        (identity, fp)
    };
    let to = (0..state.slot_count())
        .map(|i| usize::from(ren.id(Id::from(i))) as u8)
        .collect();
    (fp, to)
}

fn brokers<S: Hashable>(state: &S) -> BrokerId {
    (0..state.slot_count())
        .filter(|&i| matches!(state.node(i), NodeState::Broker(_)))
        .count() as BrokerId
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;
    use stateright::Model;

    fn fp(s: &KafkaState, symmetry: bool) -> u64 {
        fingerprint(s, symmetry)
    }

    /// Calls `f` on every state of the first `depth` breadth-first levels,
    /// states told apart by `fp(_, symmetry)`; answers how many it met.
    fn levels(
        model: &crate::model::state::KafkaModel,
        depth: usize,
        symmetry: bool,
        mut f: impl FnMut(&KafkaState),
    ) -> usize {
        let mut frontier = model.init_states();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..depth {
            let mut next = Vec::new();
            for s in &frontier {
                f(s);
                let mut actions = Vec::new();
                model.actions(s, &mut actions);
                next.extend(
                    actions
                        .into_iter()
                        .filter_map(|a| model.next_state(s, a))
                        .filter(|n| seen.insert(fp(n, symmetry))),
                );
            }
            frontier = next;
        }
        seen.len()
    }

    /// With five brokers, ties between followers are split by their
    /// traffic; the split must not depend on which member of a class
    /// the search holds.
    #[test]
    fn five_brokers_keep_one_fingerprint_per_class() {
        let mut cfg = ModelConfig::default();
        cfg.kafka.replication_factor = 5;
        cfg.kafka.min_insync_replicas = 3;
        cfg.records = 1;
        let model = cfg.into_model();
        let renamings: Vec<Renaming> = [
            [2, 1, 3, 4, 5],
            [5, 4, 3, 2, 1],
            [3, 5, 1, 2, 4],
            [1, 2, 5, 3, 4],
        ]
        .iter()
        .map(|m| Renaming::new(m.iter().copied().collect()))
        .collect();
        let mut tied = 0;
        let classes = levels(&model, 9, true, |s| {
            tied += usize::from(sorting_renamings(s).len() > 1);
            for ren in &renamings {
                assert_eq!(fp(s, true), fp(&rename(s, ren), true));
            }
        });
        assert!(classes > 1000, "{classes} classes");
        assert!(tied > 0, "some state still ties after the split");
    }

    #[test]
    fn representatives_are_stable_and_keep_verdict_inputs() {
        let model = ModelConfig::default().into_model();
        levels(&model, 9, false, |s| {
            let r = representative(s);
            assert_eq!(representative(&r), r, "the representative is a fixed point");
            for map in permutations(&[0, 1, 2]) {
                let ren = Renaming::new(map.iter().map(|&b| b as BrokerId + 1).collect());
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
        });
    }
}
