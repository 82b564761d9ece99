//! The state the exhaustive search walks: the same actors under the same
//! semantics as stateright's `ActorModel` with an ordered network, in a
//! layout that is cheap to copy and to fingerprint.
//!
//! `ActorModelState` keeps the network as a `BTreeMap` of `VecDeque`s and
//! timers and random choices as hash sets and string-keyed maps, so every
//! successor costs a dozen allocations. Here a successor is one vector of
//! slots (shared actor states, timer bits, election choices) and one vector
//! of messages. Each actor state also caches its hash under each broker
//! renaming, so a fingerprint rehashes only the actors a step changed.
//!
//! Every step goes through the actors' own `Actor` callbacks; only the
//! bookkeeping stateright does around them (delivering, arming timers,
//! recording history) is repeated here, and tests check that both walks
//! reach the same classes with the same fingerprints.

use super::actor::{Choice, ELECTION, KMsg, KafkaActor, NodeState, Timer};
use super::client_first;
use super::config::ModelConfig;
use super::digest::message_digest;
use super::history::History;
use super::news_first;
use super::state::{KafkaModel, Snapshot, View, fault_counts, within_bounds_view};
use super::step_names::{NameSet, Named, Names};
use crate::core::messages::Node;
use crate::core::types::{BrokerId, BrokerSet};
use smallvec::SmallVec;
use stateright::actor::{Actor, Command, Envelope, Id, Out};
use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;

/// Renamings cached per actor state: every permutation of up to 3 brokers
/// has a slot of its own; larger clusters share the slots, each holding
/// the renaming that used it last. More slots make every new actor state
/// bigger to build and move.
pub const CACHED_RENAMINGS: usize = 6;

/// An actor's state with its hash under the renamings fingerprints asked
/// for lately.
pub struct Cached {
    pub state: NodeState,
    hashes: [Cell<u64>; CACHED_RENAMINGS],
    /// Which renaming each slot's hash is for: its number plus one, 0 for
    /// none yet.
    tags: [Cell<u16>; CACHED_RENAMINGS],
}

impl Cached {
    fn new(state: NodeState) -> Rc<Cached> {
        Rc::new(Cached {
            state,
            hashes: Default::default(),
            tags: Default::default(),
        })
    }

    /// The hash under renaming number `index`, computed by `f` unless the
    /// slot for `index` still holds it. With 5 brokers a state is
    /// fingerprinted under a few of 120 renamings, mostly the ones its
    /// parent used: without this, rehashing moved brokers' states took a
    /// fifth of the search.
    pub fn hash_with(&self, index: usize, f: impl FnOnce(&NodeState) -> u64) -> u64 {
        let slot = index % CACHED_RENAMINGS;
        let Ok(tag) = u16::try_from(index + 1) else {
            return f(&self.state);
        };
        if self.tags[slot].get() == tag {
            return self.hashes[slot].get();
        }
        let h = f(&self.state);
        self.hashes[slot].set(h);
        self.tags[slot].set(tag);
        h
    }
}

/// An actor's armed timers, one bit each: see `timer_bit`.
pub type TimerBits = u32;

pub fn timer_bit(t: &Timer) -> TimerBits {
    match t {
        Timer::Crash => 1,
        Timer::Restart => 2,
        Timer::ReplicaLagTimeMax(b) => 1 << (1 + *b as u32),
        Timer::ControlledShutdown => 1 << 9,
        Timer::ElectPreferred(b) => 1 << (9 + *b as u32),
        Timer::Isolate => 1 << 17,
        Timer::Heal => 1 << 18,
        Timer::RollingRestart(b) => 1 << (18 + *b as u32),
    }
}

pub fn timers_of(bits: TimerBits) -> impl Iterator<Item = Timer> {
    // Set bits only: most actors have no timer armed.
    let mut rest = bits;
    std::iter::from_fn(move || {
        (rest != 0).then(|| {
            let i = rest.trailing_zeros();
            rest &= rest - 1;
            i
        })
    })
    .map(|i| match i {
        0 => Timer::Crash,
        1 => Timer::Restart,
        2..=8 => Timer::ReplicaLagTimeMax((i - 1) as BrokerId),
        9 => Timer::ControlledShutdown,
        10..=16 => Timer::ElectPreferred((i - 9) as BrokerId),
        17 => Timer::Isolate,
        18 => Timer::Heal,
        _ => Timer::RollingRestart((i - 18) as BrokerId),
    })
}

pub fn choice_set(choices: &[Choice]) -> BrokerSet {
    BrokerSet::of(choices.iter().map(|Choice::Elect(b)| *b))
}

#[derive(Clone)]
pub struct Slot {
    pub node: Rc<Cached>,
    pub timers: TimerBits,
    /// The pending election choices, if the actor offered any.
    pub choices: Option<BrokerSet>,
}

#[derive(Clone)]
pub struct Compact {
    pub slots: Vec<Slot>,
    /// Messages in flight, sorted by (source, destination); each channel's
    /// messages stay in sending order.
    /// Each with its `message_digest`, computed once when it is sent.
    pub net: Vec<(u8, u8, KMsg, u64)>,
    pub history: History,
}

/// A compact state that can move to another thread: its actor states no
/// longer shared (their hashes are cached again over there).
pub struct Portable {
    slots: Vec<(NodeState, TimerBits, Option<BrokerSet>)>,
    net: Vec<(u8, u8, KMsg, u64)>,
    history: History,
}

impl Compact {
    pub fn portable(self) -> Portable {
        let slots = self
            .slots
            .into_iter()
            .map(|s| {
                let state = Rc::try_unwrap(s.node)
                    .map(|c| c.state)
                    .unwrap_or_else(|shared| shared.state.clone());
                (state, s.timers, s.choices)
            })
            .collect();
        Portable {
            slots,
            net: self.net,
            history: self.history,
        }
    }
}

impl Portable {
    pub fn into_compact(self) -> Compact {
        Compact {
            slots: self
                .slots
                .into_iter()
                .map(|(state, timers, choices)| Slot {
                    node: Cached::new(state),
                    timers,
                    choices,
                })
                .collect(),
            net: self.net,
            history: self.history,
        }
    }
}

impl Snapshot for Compact {
    fn nodes(&self) -> impl Iterator<Item = &NodeState> {
        self.slots.iter().map(|s| &s.node.state)
    }
    fn messages(&self) -> impl Iterator<Item = &KMsg> {
        self.net.iter().map(|(_, _, m, _)| m)
    }
    fn history(&self) -> &History {
        &self.history
    }
    fn quiet(&self) -> bool {
        self.net.iter().all(|(src, dst, m, _)| {
            let node = |i: &u8| &self.slots[*i as usize].node.state;
            NodeState::ignored(node(src), node(dst), m, true)
        }) && self
            .slots
            .iter()
            .all(|s| s.choices.is_none_or(|c| c.is_empty()) && s.timers & !FAULT_STARTS == 0)
    }
}

impl client_first::Channels for Compact {
    fn actors(&self) -> usize {
        self.slots.len()
    }
    fn node(&self, actor: usize) -> &NodeState {
        &self.slots[actor].node.state
    }
    fn channel(&self, src: usize, dst: usize) -> impl Iterator<Item = &KMsg> {
        let key = (src as u8, dst as u8);
        // Sorted by channel.
        let start = self.net.partition_point(|(a, b, _, _)| (*a, *b) < key);
        self.net[start..]
            .iter()
            .take_while(move |(a, b, _, _)| (*a, *b) == key)
            .map(|(_, _, m, _)| m)
    }
}

/// The timer bits that only start a new fault (see `Timer::starts_a_fault`).
const FAULT_STARTS: TimerBits = {
    let preferred = ((1 << 7) - 1) << 10;
    let rolling = ((1 << 7) - 1) << 19;
    1 | (1 << 9) | preferred | (1 << 17) | rolling
};

/// One step the search can take from a compact state.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Deliver the head of the channel whose first message is `net[i]`.
    Deliver(usize),
    Timeout(usize, TimerBits),
    Elect(usize, BrokerId),
}

/// A step, as the sleep sets see it.
#[derive(Clone, Copy, Debug)]
pub struct Tag {
    pub name: Option<u8>,
    /// The actor whose state it reads and changes.
    pub owner: u8,
    /// For a delivery, the actor that sent the message.
    pub sender: Option<u8>,
    /// It changes a count `within_bounds_view` bounds.
    pub counting: bool,
}

/// What a step does, as random walks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// The head of channel (source, destination) delivered.
    Deliver(u8, u8),
    /// A timer fired: the actor, and the timer's bit number (`timer_bit`).
    Timer(u8, u8),
    /// The controller picked a leader among its candidates.
    Elect,
}

impl StepKind {
    /// Whether the step starts a fault (a crash, an isolation, ...).
    pub fn starts_a_fault(self) -> bool {
        matches!(self, StepKind::Timer(_, bit) if (1 << bit) & FAULT_STARTS != 0)
    }
}

pub struct CompactModel<'a> {
    actors: &'a [KafkaActor],
    cfg: &'a ModelConfig,
    /// Drop each message its receiver ignores for good (see
    /// [`CompactModel::dropping_ignored`]).
    drop_ignored: bool,
    /// Take a follower's news alone where `model::news_first` allows it.
    news_first: bool,
}

impl<'a> CompactModel<'a> {
    /// Only the ordered network: the other kinds keep stateright's state.
    pub fn new(model: &'a KafkaModel) -> Self {
        CompactModel {
            actors: &model.actors,
            cfg: &model.cfg,
            drop_ignored: false,
            news_first: false,
        }
    }

    /// With `on`, a message that changes nothing whenever it arrives
    /// (`NodeState::ignored`) leaves the network as soon as it is
    /// sent or its receiver comes to ignore it, instead of waiting to be
    /// delivered to no effect: a reduction of the search, not a change of
    /// the protocol.
    ///
    /// **Why verdicts stay.** Delivering such a message changes no actor
    /// and no history, only the network, and it would do the same after
    /// any other steps: the receiver's reasons to ignore it never go away,
    /// and other actors' steps leave the receiver alone. So a state with
    /// the message and the same state without it lead to the same states
    /// up to that message, and they agree on every property: none reads
    /// these messages (`writes_available`'s "nothing more can happen",
    /// `Snapshot::quiet`, does not wait for them, in either search).
    ///
    /// **Why sleep sets and clients first still hold.** A step of actor j
    /// drops only messages to j (its state changed), messages it sends,
    /// and, if j is a broker, its own fetches (a refused fetch is dropped
    /// once its sender ignores the answer); either order of two steps of
    /// different actors drops the same ones, since a message ignored after
    /// the first step is still ignored after both. A channel's head is
    /// never an ignored message, so "deliver the head of (i, j)" names the
    /// same delivery as long as neither j nor, for two brokers, i moves:
    /// the sleep sets count it as depending on both (`check::sleep`).
    /// Neither reduction waits for a message to a client, and none of
    /// these goes to one.
    ///
    /// **What it costs.** A replay on stateright's own states (the
    /// Explorer's) must deliver an ignored message where it blocks the
    /// head of its channel, a step longer than the path the search
    /// measured; the replay then looks for a path as short as measured
    /// through other classes (`check::concrete`).
    pub fn dropping_ignored(mut self, on: bool) -> Self {
        self.drop_ignored = on;
        self
    }

    /// With `on`, the sleep-set search delivers a follower's news of a
    /// newer leader epoch alone, beside the follower's own crash, where
    /// `model::news_first` shows that nothing else matters first.
    pub fn news_first(mut self, on: bool) -> Self {
        self.news_first = on;
        self
    }

    pub fn drops_ignored(&self) -> bool {
        self.drop_ignored
    }

    /// Drops the messages in flight whose receivers ignore them for good.
    fn drop_ignored(&self, s: &mut Compact) {
        if self.drop_ignored {
            let slots = &s.slots;
            let node = |i: &u8| &slots[*i as usize].node.state;
            s.net
                .retain(|(src, dst, m, _)| !NodeState::ignored(node(src), node(dst), m, true));
        }
    }

    pub fn init_state(&self) -> Compact {
        let mut s = Compact {
            slots: Vec::with_capacity(self.actors.len()),
            net: Vec::new(),
            history: History::default(),
        };
        for (i, actor) in self.actors.iter().enumerate() {
            let mut out = Out::new();
            let state = actor.on_start(Id::from(i), &None, &mut out);
            s.slots.push(Slot {
                node: Cached::new(state),
                timers: 0,
                choices: None,
            });
            self.process(i, out, &mut s);
        }
        self.drop_ignored(&mut s);
        s
    }

    /// Every successor of `s` within the model's bounds, as
    /// `ActorModel::next_state` and `within_boundary` would give them.
    pub fn successors(&self, s: &Compact, out: &mut Vec<Compact>) {
        out.extend(
            self.steps(s)
                .into_iter()
                .filter_map(|step| self.next(s, step))
                .filter(|n| within_bounds_view(self.cfg, &View::of(n))),
        );
    }

    /// The successors with the kind of step that leads to each: random
    /// walks weight their choices by it.
    pub fn successors_by_kind(&self, s: &Compact, out: &mut Vec<(StepKind, Compact)>) {
        for step in self.steps(s) {
            let Some(n) = self.next(s, step) else {
                continue;
            };
            if !within_bounds_view(self.cfg, &View::of(&n)) {
                continue;
            }
            let kind = match step {
                Step::Deliver(m) => StepKind::Deliver(s.net[m].0, s.net[m].1),
                Step::Timeout(i, bit) => StepKind::Timer(i as u8, bit.trailing_zeros() as u8),
                Step::Elect(..) => StepKind::Elect,
            };
            out.push((kind, n));
        }
    }

    /// The successors within bounds, leaving out every step whose name
    /// is in `skip` (and, unless `others`, every step without a name), each
    /// with what the sleep sets need to know of its step (see
    /// `check::sleep`). With `client_first`, only the clients' steps where
    /// `client_first::applies`.
    pub fn successors_sleeping(
        &self,
        s: &Compact,
        names: &Names,
        (skip, others, client_first): (NameSet, bool, bool),
        out: &mut Vec<(Tag, Compact)>,
    ) {
        let counts = fault_counts(&View::of(s));
        let mut steps = self.steps(s);
        if client_first && client_first::applies(s, self.cfg) {
            let clients = client_first::client_slots(s, self.cfg);
            steps.retain(|step| match *step {
                Step::Deliver(m) => clients.contains(&(s.net[m].1 as usize)),
                Step::Timeout(i, _) | Step::Elect(i, _) => clients.contains(&i),
            });
        } else if self.news_first {
            let news = self.news_alone(s);
            if !news.is_empty() {
                // Each follower's news, its own crash, the fetch it
                // refuses from the leader the news names, and the answer
                // it awaits from its leader.
                let crash = timer_bit(&Timer::Crash);
                steps.retain(|step| match *step {
                    Step::Timeout(i, bit) => bit == crash && news.iter().any(|(f, _)| *f == i),
                    Step::Deliver(m) => news.iter().any(|&(_, k)| k == m),
                    Step::Elect(..) => false,
                });
            }
        }
        for step in steps {
            let (named, owner, sender) = match step {
                Step::Deliver(m) => {
                    let (src, dst) = (s.net[m].0, s.net[m].1);
                    (Named::Deliver { src, dst }, dst, Some(src))
                }
                Step::Timeout(i, bit) => {
                    let timer = timers_of(bit).next().expect("one timer bit");
                    let actor = i as u8;
                    (Named::Timer { actor, timer }, actor, None)
                }
                Step::Elect(i, broker) => {
                    let controller = i as u8;
                    (Named::Elect { controller, broker }, controller, None)
                }
            };
            let name = names.name(named);
            match name {
                Some(n) if skip & (1 << n) != 0 => continue,
                None if !others => continue,
                _ => {}
            }
            let Some(n) = self.next(s, step) else {
                continue;
            };
            let v = View::of(&n);
            if !within_bounds_view(self.cfg, &v) {
                continue;
            }
            let counting = fault_counts(&v) != counts;
            drop(v);
            let tag = Tag {
                name,
                owner,
                sender,
                counting,
            };
            out.push((tag, n));
        }
    }

    /// The deliveries `news_first::news_for` allows alone, each with its
    /// follower: the news, where it leaves the follower's log as it was
    /// (see `model::news_first`), and the deliveries that go with it.
    fn news_alone(&self, s: &Compact) -> SmallVec<[(usize, usize); 4]> {
        let controller = self.cfg.layout().id(Node::Controller);
        let log = |c: &Compact, f: usize| match &c.slots[f].node.state {
            NodeState::Broker(b) => Some(b.replica.log.entries().to_vec()),
            _ => None,
        };
        let head = |src: usize, dst: usize| {
            let key = (src as u8, dst as u8);
            s.net.partition_point(|(a, b, _, _)| (*a, *b) < key)
        };
        let mut out = SmallVec::new();
        for n in news_first::news_for(s, self.cfg) {
            let f = n.follower;
            let news = head(usize::from(controller), f);
            let Some(told) = self.next(s, Step::Deliver(news)) else {
                continue;
            };
            if log(&told, f) == log(s, f) {
                out.push((f, news));
                out.extend(n.refused_fetch_from.map(|g| (f, head(g, f))));
                out.extend(n.answer_from.map(|l| (f, head(l, f))));
            }
        }
        out
    }

    fn steps(&self, s: &Compact) -> SmallVec<[Step; 16]> {
        let mut steps: SmallVec<[Step; 16]> = SmallVec::new();
        for (i, (src, dst, _, _)) in s.net.iter().enumerate() {
            if i == 0 || (s.net[i - 1].0, s.net[i - 1].1) != (*src, *dst) {
                steps.push(Step::Deliver(i));
            }
        }
        for (i, slot) in s.slots.iter().enumerate() {
            let mut rest = slot.timers;
            while rest != 0 {
                let bit = rest & rest.wrapping_neg();
                steps.push(Step::Timeout(i, bit));
                rest &= rest - 1;
            }
            if let Some(c) = slot.choices {
                steps.extend(c.iter().map(|b| Step::Elect(i, b)));
            }
        }
        steps
    }

    fn next(&self, s: &Compact, step: Step) -> Option<Compact> {
        let mut out = Out::new();
        let (index, state) = match step {
            Step::Deliver(m) => {
                let (src, dst, msg, _) = &s.net[m];
                let (src, dst) = (*src as usize, *dst as usize);
                let mut state = Cow::Borrowed(&s.slots[dst].node.state);
                self.actors[dst].on_msg(
                    Id::from(dst),
                    &mut state,
                    Id::from(src),
                    msg.clone(),
                    &mut out,
                );
                let history = History::record_in(
                    self.cfg,
                    &s.history,
                    Envelope {
                        src: Id::from(src),
                        dst: Id::from(dst),
                        msg,
                    },
                );
                let state = owned(state);
                let mut next = copy(s, Some(m));
                if let Some(h) = history {
                    next.history = h;
                }
                return Some(self.finish(next, dst, state, out));
            }
            Step::Timeout(i, bit) => {
                let timer = timers_of(bit).next().expect("one timer bit");
                let mut state = Cow::Borrowed(&s.slots[i].node.state);
                self.actors[i].on_timeout(Id::from(i), &mut state, &timer, &mut out);
                if stateright::actor::is_no_op_with_timer(&state, &out, &timer) {
                    return None;
                }
                (i, owned(state))
            }
            Step::Elect(i, b) => {
                let mut state = Cow::Borrowed(&s.slots[i].node.state);
                self.actors[i].on_random(Id::from(i), &mut state, &Choice::Elect(b), &mut out);
                (i, owned(state))
            }
        };
        let mut next = copy(s, None);
        match step {
            Step::Timeout(_, bit) => next.slots[index].timers &= !bit,
            Step::Elect(..) => next.slots[index].choices = None,
            Step::Deliver(_) => unreachable!("handled above"),
        }
        Some(self.finish(next, index, state, out))
    }

    fn finish(
        &self,
        mut next: Compact,
        index: usize,
        state: Option<NodeState>,
        out: Out<KafkaActor>,
    ) -> Compact {
        if let Some(state) = state {
            next.slots[index].node = Cached::new(state);
        }
        self.process(index, out, &mut next);
        self.drop_ignored(&mut next);
        next
    }

    /// stateright's `process_commands`, on the compact layout.
    fn process(&self, index: usize, out: Out<KafkaActor>, s: &mut Compact) {
        for c in out {
            match c {
                Command::Send(dst, msg) => {
                    let env = Envelope {
                        src: Id::from(index),
                        dst,
                        msg: &msg,
                    };
                    if let Some(h) = History::record_out(self.cfg, &s.history, env) {
                        s.history = h;
                    }
                    let key = (index as u8, usize::from(dst) as u8);
                    let at = s.net.partition_point(|(a, b, _, _)| (*a, *b) <= key);
                    let digest = message_digest(&msg);
                    s.net.insert(at, (key.0, key.1, msg, digest));
                }
                Command::SetTimer(t, _) => s.slots[index].timers |= timer_bit(&t),
                Command::CancelTimer(t) => s.slots[index].timers &= !timer_bit(&t),
                Command::ChooseRandom(key, choices) => {
                    assert_eq!(key, ELECTION, "the controller's only choice");
                    s.slots[index].choices = (!choices.is_empty()).then(|| choice_set(&choices));
                }
                Command::Save(()) => {}
            }
        }
    }
}

/// `s` without message `skip`, with room for what the step will send
/// (a plain clone's exact capacity would be outgrown at the first send).
fn copy(s: &Compact, skip: Option<usize>) -> Compact {
    let mut net = Vec::with_capacity(s.net.len() + 4);
    for (i, m) in s.net.iter().enumerate() {
        if Some(i) != skip {
            net.push(m.clone());
        }
    }
    Compact {
        slots: s.slots.clone(),
        net,
        history: s.history.clone(),
    }
}

fn owned(state: Cow<NodeState>) -> Option<NodeState> {
    match state {
        Cow::Owned(s) => Some(s),
        Cow::Borrowed(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::state::KafkaState;
    use crate::model::symmetry::fingerprint;
    use stateright::Model;
    use std::collections::HashMap;

    fn model(scenario: &str) -> KafkaModel {
        let path = format!("{}/models/{scenario}.toml", env!("CARGO_MANIFEST_DIR"));
        crate::scenario::Scenario::load(std::path::Path::new(&path))
            .unwrap()
            .config
            .into_model()
    }

    fn compact_successors(cm: &CompactModel, s: &Compact) -> Vec<Compact> {
        let mut out = Vec::new();
        cm.successors(s, &mut out);
        out
    }

    /// Walks both layouts side by side: at every state, both must offer
    /// successors with the same fingerprints.
    fn layouts_agree(scenario: &str) -> usize {
        let m = model(scenario);
        let cm = CompactModel::new(&m);
        let k0 = m.init_states().remove(0);
        let c0 = cm.init_state();
        assert_eq!(fingerprint(&k0, true), fingerprint(&c0, true));
        let mut seen = std::collections::HashSet::new();
        seen.insert(fingerprint(&k0, true));
        let mut stack = vec![(k0, c0)];
        while let Some((k, c)) = stack.pop() {
            let mut actions = Vec::new();
            m.actions(&k, &mut actions);
            let mut ks: Vec<(u64, KafkaState)> = actions
                .into_iter()
                .filter_map(|a| m.next_state(&k, a))
                .filter(|n| Model::within_boundary(&m, n))
                .map(|n| (fingerprint(&n, true), n))
                .collect();
            let mut cs: Vec<(u64, Compact)> = compact_successors(&cm, &c)
                .into_iter()
                .map(|n| (fingerprint(&n, true), n))
                .collect();
            ks.sort_by_key(|x| x.0);
            cs.sort_by_key(|x| x.0);
            assert_eq!(
                ks.iter().map(|x| x.0).collect::<Vec<_>>(),
                cs.iter().map(|x| x.0).collect::<Vec<_>>(),
                "{scenario}: the layouts disagree after {} classes",
                seen.len()
            );
            for ((f, kn), (_, cn)) in ks.into_iter().zip(cs) {
                if seen.insert(f) {
                    stack.push((kn, cn));
                }
            }
        }
        seen.len()
    }

    #[test]
    fn timer_bits_round_trip() {
        let max = crate::model::config::MAX_REPLICATION_FACTOR;
        let mut all: Vec<Timer> = vec![Timer::Crash, Timer::Restart];
        all.extend((1..=max).map(Timer::ReplicaLagTimeMax));
        all.push(Timer::ControlledShutdown);
        all.extend((1..=max).map(Timer::ElectPreferred));
        all.extend([Timer::Isolate, Timer::Heal]);
        all.extend((1..=max).map(Timer::RollingRestart));
        let bits = all.iter().fold(0, |acc, t| acc | timer_bit(t));
        assert_eq!(bits.count_ones() as usize, all.len(), "one bit per timer");
        assert_eq!(timers_of(bits).collect::<Vec<_>>(), all);
        for t in &all {
            let bit_says = timer_bit(t) & FAULT_STARTS != 0;
            assert_eq!(bit_says, t.starts_a_fault(), "{t:?}");
        }
    }

    /// A rolling restart takes one broker at a time, each once, and gets
    /// through: some run ends with every broker in a new life and the ISR
    /// whole again.
    #[test]
    fn a_rolling_restart_restarts_each_broker_once_and_one_at_a_time() {
        use crate::model::state::View;
        let m = model("rolling-restart-acks-all");
        let k0 = m.init_states().remove(0);
        let mut seen = std::collections::HashSet::new();
        seen.insert(fingerprint(&k0, true));
        let mut stack = vec![k0];
        let mut finished = false;
        while let Some(k) = stack.pop() {
            let v = View::of(&k);
            let away = v.brokers.iter().filter(|b| b.down || b.stopping).count();
            assert!(away <= 1, "two brokers away at once");
            let core = &v.controller.core;
            finished |= v.controller.rolled == core.replicas
                && v.brokers
                    .iter()
                    .all(|b| b.replica.incarnation == 1 && !b.down)
                && core.state.isr == core.replicas;
            let mut actions = Vec::new();
            m.actions(&k, &mut actions);
            for n in actions.into_iter().filter_map(|a| m.next_state(&k, a)) {
                let restarts: Vec<u8> = View::of(&n)
                    .brokers
                    .iter()
                    .map(|b| b.replica.incarnation)
                    .collect();
                assert!(restarts.iter().all(|&i| i <= 1), "a broker restarted twice");
                if Model::within_boundary(&m, &n) && seen.insert(fingerprint(&n, true)) {
                    stack.push(n);
                }
            }
        }
        assert!(finished, "no run got through the whole rolling restart");
    }

    #[test]
    fn layouts_agree_on_small_scenarios() {
        assert_eq!(layouts_agree("seed-acksall-isr3-process"), 98_287);
        assert!(layouts_agree("retries-with-idempotence") > 1000);
        // The new faults' timers: a broker's SIGTERM and the controller's
        // preferred-leader elections.
        assert!(layouts_agree("controlled-shutdown-acks1") > 1000);
        assert!(layouts_agree("preferred-election-without-idempotence") > 1000);
        assert!(layouts_agree("network-partition-acks1") > 1000);
        assert!(layouts_agree("rolling-restart-acks1") > 1000);
    }

    /// The reduction may only merge states whose successors fall in the
    /// same classes, or the search's count and verdicts would depend on
    /// which member of a class it happens to meet first.
    fn merged_states_agree(scenario: &str) {
        let m = model(scenario);
        let cm = CompactModel::new(&m);
        let mut classes: HashMap<u64, Vec<u64>> = HashMap::new();
        let mut stack = vec![cm.init_state()];
        while let Some(s) = stack.pop() {
            let next = compact_successors(&cm, &s);
            let mut fps: Vec<u64> = next.iter().map(|n| fingerprint(n, true)).collect();
            fps.sort_unstable();
            fps.dedup();
            match classes.get(&fingerprint(&s, true)) {
                Some(known) => assert_eq!(known, &fps, "{scenario}: a class whose members differ"),
                None => {
                    classes.insert(fingerprint(&s, true), fps);
                    stack.extend(next);
                }
            }
        }
    }

    #[test]
    fn merged_states_have_the_same_successor_classes() {
        merged_states_agree("seed-acks1-isr1-process");
        merged_states_agree("unclean-election");
    }
}
