//! The stateright actors: thin wrappers that feed messages, timers and
//! choices to the protocol core and turn its effects into actor commands.
//! They add only what the model needs around the core: crashes and
//! restarts, fault bounds, and ghost state for the properties.

use super::config::{CrashMode, ModelConfig};
use super::record::Rec;
use crate::core::config::ProtocolConfig;
use crate::core::consumer::Consumer;
use crate::core::controller::{self, Controller};
use crate::core::effects::{self, Effect, Effects};
use crate::core::messages::{Msg, Node};
use crate::core::producer::{Producer, ProducerConfig};
use crate::core::replica::{self, Replica};
use crate::core::types::{Acks, BrokerId, BrokerSet, Offset, RenameBrokers};
use smallvec::SmallVec;
use stateright::actor::{Actor, Id, Out};
use std::borrow::Cow;
use std::sync::Arc;

pub type KMsg = Msg<Rec>;

/// Where each participant sits among the model's actors: brokers 1..=RF
/// first, then the controller, the producer and the optional consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    pub rf: u8,
}

/// The key the controller offers its election choices under.
pub const ELECTION: &str = "election";

pub const PRODUCER: u8 = 0;
pub const CONSUMER: u8 = 1;

impl Layout {
    pub fn id(self, node: Node) -> Id {
        Id::from(match node {
            Node::Broker(b) => {
                debug_assert!(b >= 1 && b <= self.rf);
                b as usize - 1
            }
            Node::Controller => self.rf as usize,
            Node::Client(c) => self.rf as usize + 1 + c as usize,
        })
    }
    pub fn node(self, id: Id) -> Node {
        let i = usize::from(id);
        let rf = self.rf as usize;
        if i < rf {
            Node::Broker(i as u8 + 1)
        } else if i == rf {
            Node::Controller
        } else {
            Node::Client((i - rf - 1) as u8)
        }
    }
    pub fn brokers(self) -> impl Iterator<Item = BrokerId> {
        1..=self.rf
    }
    pub fn replicas(self) -> BrokerSet {
        BrokerSet::of(self.brokers())
    }
}

/// The settings every actor reads.
#[derive(Debug)]
pub struct Settings {
    pub cfg: ModelConfig,
    pub protocol: ProtocolConfig,
    pub producer: ProducerConfig,
    pub layout: Layout,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BrokerState {
    pub replica: Replica<Rec>,
    pub down: bool,
    /// How many times this broker crashed (bounded by `crashes`).
    pub crashes: u8,
    /// How many controlled shutdowns it began (bounded by `controlled_shutdowns`).
    pub shutdowns: u8,
    /// It asked for a controlled shutdown and has not stopped yet.
    pub stopping: bool,
    /// How many times it was cut off (bounded by `network_partitions`).
    pub partitions: u8,
    /// Cut off from the controller and the other brokers, both ways;
    /// clients still reach it.
    pub isolated: bool,
    /// Its fetch, or the answer to it, was lost in the partition: on
    /// healing it fetches again, as Kafka's fetcher does after its request
    /// times out (`replica.socket.timeout.ms`).
    pub fetch_lost: bool,
    /// Ghost state: every (offset, record) this broker exposed below its
    /// HW while leading, sorted. Survives crashes: it is an observation.
    pub exposed: Vec<(Offset, Rec)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ControllerState {
    pub core: Controller,
    /// Ghost counter of ISR shrinks committed for lag (bounded by `lag_removals`).
    pub lag_removals: u8,
    /// Ghost counter of preferred-leader elections (bounded by `preferred_elections`).
    pub preferred_elections: u8,
    /// The rolling restart's operator: the brokers it has sent SIGTERM.
    pub rolled: BrokerSet,
    /// The last broker it restarted, with that broker's epoch then: it
    /// moves on once the broker has registered a new life.
    pub rolling: Option<(BrokerId, u8)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeState {
    Broker(BrokerState),
    Controller(ControllerState),
    Producer(Producer<Rec>),
    Consumer(Consumer<Rec>),
}

impl NodeState {
    /// Whether `msg`, on its way from `sender` to `receiver`, changes
    /// nothing whenever it arrives and sends nothing but what is ignored in
    /// turn: a message its broker ignores for good
    /// (`Replica::ignores_for_good`), or, on ordered channels, a
    /// follower's fetch its old leader refuses for good
    /// (`Replica::refuses_for_good`) with a NOT_LEADER the follower ignores
    /// for good (`Replica::ignores_answers_to`). Each only grows more so as
    /// either broker moves, and [`KafkaActor::step`] keeps it so: a broker
    /// that is down drops all of these, and one cut off loses them without
    /// a mark. Only brokers' messages are ever ignored here.
    pub fn ignored(sender: &NodeState, receiver: &NodeState, msg: &KMsg, ordered: bool) -> bool {
        match (sender, receiver, msg) {
            (NodeState::Broker(f), NodeState::Broker(l), Msg::Fetch(req)) => {
                ordered
                    && l.replica.refuses_for_good(f.replica.id, req)
                    && f.replica
                        .ignores_answers_to(req.leader_epoch, req.incarnation)
            }
            (_, NodeState::Broker(b), _) => b.replica.ignores_for_good(msg),
            _ => false,
        }
    }
}

/// Faults and timeouts: any armed timer may fire at any moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// The broker crashes (kill -9 or power loss, per `crash_mode`).
    Crash,
    /// The crashed broker starts again.
    Restart,
    /// `replica.lag.time.max.ms` passes for a follower that is behind.
    ReplicaLagTimeMax(BrokerId),
    /// The broker gets SIGTERM (a rolling restart): a controlled shutdown.
    ControlledShutdown,
    /// A network partition cuts the broker off from the controller and the
    /// other brokers (both directions); clients on its side still reach it.
    Isolate,
    /// The partition heals.
    Heal,
    /// The controller's leader-imbalance check moves leadership to this
    /// broker (`auto.leader.rebalance.enable`, or an ElectLeaders request).
    ElectPreferred(BrokerId),
    /// The rolling restart moves on to this broker: the operator sends it
    /// SIGTERM once no partition is under-replicated and no broker is away.
    RollingRestart(BrokerId),
}

impl Timer {
    /// Whether firing starts a new fault (bounded by the scenario), rather
    /// than ending one or letting the protocol move on.
    pub fn starts_a_fault(&self) -> bool {
        match self {
            Timer::Crash
            | Timer::ControlledShutdown
            | Timer::Isolate
            | Timer::ElectPreferred(_)
            | Timer::RollingRestart(_) => true,
            Timer::Restart | Timer::Heal | Timer::ReplicaLagTimeMax(_) => false,
        }
    }
}

/// The controller's open choices.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Choice {
    /// Which candidate wins the election: Kafka takes the first in replica
    /// order, and any order is some partition's order.
    Elect(BrokerId),
}

/// One event a step handles.
#[derive(Clone, Debug)]
pub enum Input {
    Msg(Node, KMsg),
    Timer(Timer),
    Choice(Choice),
}

impl RenameBrokers for BrokerState {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        let BrokerState {
            replica,
            down: _,
            crashes: _,
            shutdowns: _,
            stopping: _,
            partitions: _,
            isolated: _,
            fetch_lost: _,
            exposed: _,
        } = self;
        replica.rename_brokers(to);
    }
}

impl RenameBrokers for ControllerState {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        let ControllerState {
            core,
            lag_removals: _,
            preferred_elections: _,
            rolled,
            rolling,
        } = self;
        core.rename_brokers(to);
        rolled.rename_brokers(to);
        if let Some((b, _)) = rolling {
            *b = to(*b);
        }
    }
}

impl RenameBrokers for NodeState {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        match self {
            NodeState::Broker(b) => b.rename_brokers(to),
            NodeState::Controller(c) => c.rename_brokers(to),
            NodeState::Producer(p) => p.rename_brokers(to),
            NodeState::Consumer(c) => c.rename_brokers(to),
        }
    }
}

impl Timer {
    /// The broker the timer names besides the actor that arms it: the one
    /// thing about it a renaming of brokers changes.
    fn broker_mut(&mut self) -> Option<&mut BrokerId> {
        match self {
            Timer::ReplicaLagTimeMax(b) | Timer::ElectPreferred(b) | Timer::RollingRestart(b) => {
                Some(b)
            }
            Timer::Crash
            | Timer::Restart
            | Timer::ControlledShutdown
            | Timer::Isolate
            | Timer::Heal => None,
        }
    }

    pub fn broker(mut self) -> Option<BrokerId> {
        self.broker_mut().copied()
    }
}

impl RenameBrokers for Timer {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        if let Some(b) = self.broker_mut() {
            *b = to(*b);
        }
    }
}

impl RenameBrokers for Choice {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        let Choice::Elect(b) = self;
        *b = to(*b);
    }
}

#[derive(Clone)]
pub struct KafkaActor {
    pub node: Node,
    pub settings: Arc<Settings>,
}

impl KafkaActor {
    fn initial_partition(&self) -> Controller {
        let l = self.settings.layout;
        Controller::new(l.replicas(), self.clients())
    }

    fn clients(&self) -> Vec<Node> {
        let mut c = vec![Node::Client(PRODUCER)];
        if self.settings.cfg.consumer {
            c.push(Node::Client(CONSUMER));
        }
        c
    }

    fn records(&self) -> Vec<Rec> {
        (0..self.settings.cfg.records)
            .map(|value| Rec::new(value, self.settings.cfg.kafka.enable_idempotence))
            .collect()
    }

    /// The initial state, and what it sends.
    pub fn start(&self, fx: &mut Effects<Rec>) -> NodeState {
        let s = &self.settings;
        let initial = self.initial_partition();
        match self.node {
            Node::Broker(b) => {
                let mut replica = Replica::new(b, s.layout.replicas(), initial.state);
                replica.start(&s.protocol, fx);
                NodeState::Broker(BrokerState {
                    replica,
                    down: false,
                    crashes: 0,
                    shutdowns: 0,
                    stopping: false,
                    partitions: 0,
                    isolated: false,
                    fetch_lost: false,
                    exposed: Vec::new(),
                })
            }
            Node::Controller => NodeState::Controller(ControllerState {
                core: initial,
                lag_removals: 0,
                preferred_elections: 0,
                rolled: BrokerSet::EMPTY,
                rolling: None,
            }),
            Node::Client(PRODUCER) => {
                let mut p = Producer::new(
                    self.records(),
                    &s.producer,
                    initial.state.leader,
                    initial.state.leader_epoch,
                );
                p.start(&s.producer, fx);
                NodeState::Producer(p)
            }
            Node::Client(_) => {
                let mut c = Consumer::new(
                    s.cfg.records as usize,
                    initial.state.leader,
                    initial.state.leader_epoch,
                );
                c.start(fx);
                NodeState::Consumer(c)
            }
        }
    }

    /// Handles one input. Leaves `state` borrowed when nothing changed.
    pub fn step(&self, state: &mut Cow<NodeState>, input: Input, fx: &mut Effects<Rec>) {
        let s = &self.settings;
        match (&**state, input) {
            // The operator's signal is not a network message: no partition
            // stops it. A broker that is down or already stopping has
            // nothing to do with it, and the rolling restart stalls there.
            (NodeState::Broker(b), Input::Msg(_, Msg::Sigterm)) => {
                if b.down || b.stopping || b.isolated {
                    return;
                }
                let NodeState::Broker(b) = state.to_mut() else {
                    unreachable!()
                };
                self.broker_step(b, Input::Msg(Node::Controller, Msg::Sigterm), fx);
            }
            (NodeState::Broker(b), Input::Msg(src, msg)) if b.down => {
                // The port is closed: clients see their connection refused.
                let reset = match msg {
                    Msg::Produce(req) => req.acks != Acks::Zero,
                    Msg::ConsumerFetch { .. } => true,
                    _ => false,
                };
                if reset {
                    fx.send(src, Msg::ConnectionReset);
                }
            }
            (
                NodeState::Broker(b),
                Input::Msg(from @ (Node::Controller | Node::Broker(_)), msg),
            ) if b.isolated => {
                // Lost in the partition. Only the answer its fetcher waits
                // for leaves a mark: an answer to an earlier fetch is one
                // it would have dropped anyway (so losing it is one of the
                // messages `NodeState::ignored` counts on).
                let awaited = match (from, &msg) {
                    (Node::Broker(l), Msg::FetchResponse(r)) => b.replica.awaits_fetch_answer(
                        l,
                        r.leader_epoch,
                        r.incarnation,
                        r.fetch_offset,
                    ),
                    _ => false,
                };
                if awaited && !b.fetch_lost {
                    let NodeState::Broker(b) = state.to_mut() else {
                        unreachable!()
                    };
                    b.fetch_lost = true;
                }
            }
            (NodeState::Broker(b), Input::Timer(Timer::ReplicaLagTimeMax(f)))
                if !b
                    .replica
                    .accepts_timeout(effects::Timer::ReplicaLagTimeMax(f)) =>
            {
                // The core cannot act on it yet: it stays armed, a no-op step.
                fx.arm(effects::Timer::ReplicaLagTimeMax(f));
            }
            (NodeState::Broker(_), input) => {
                let NodeState::Broker(b) = state.to_mut() else {
                    unreachable!()
                };
                self.broker_step(b, input, fx);
            }
            (NodeState::Controller(_), input) => {
                let NodeState::Controller(c) = state.to_mut() else {
                    unreachable!()
                };
                controller_step(c, input, &s.protocol, fx);
            }
            (NodeState::Producer(p), Input::Msg(src, msg)) => {
                if !p.wants(&msg) {
                    return;
                }
                let NodeState::Producer(p) = state.to_mut() else {
                    unreachable!()
                };
                p.step(src, msg, &s.producer, fx);
            }
            (NodeState::Consumer(_), Input::Msg(src, msg)) => {
                let NodeState::Consumer(c) = state.to_mut() else {
                    unreachable!()
                };
                c.step(src, msg, fx);
            }
            (_, _) => {}
        }
    }

    fn broker_step(&self, b: &mut BrokerState, input: Input, fx: &mut Effects<Rec>) {
        let s = &self.settings;
        let power_loss = s.cfg.crash_mode == CrashMode::Machine;
        let rolling = matches!(input, Input::Msg(_, Msg::Sigterm));
        let input = match input {
            Input::Msg(_, Msg::Sigterm) => replica::Input::ControlledShutdown,
            Input::Msg(src, msg) => replica::Input::Message(src, msg),
            Input::Timer(Timer::Crash) => replica::Input::Crash { power_loss },
            Input::Timer(Timer::Restart) => replica::Input::Restart,
            Input::Timer(Timer::ReplicaLagTimeMax(f)) => {
                replica::Input::Timeout(effects::Timer::ReplicaLagTimeMax(f))
            }
            Input::Timer(Timer::ControlledShutdown) => replica::Input::ControlledShutdown,
            Input::Timer(Timer::Isolate) => {
                // Its heartbeats stop reaching the controller, whose session
                // timeout then fires as a step of its own, as after a crash.
                fx.send(Node::Controller, Msg::SessionExpired);
                b.isolated = true;
                b.partitions += 1;
                return;
            }
            Input::Timer(Timer::Heal) => {
                b.isolated = false;
                if std::mem::take(&mut b.fetch_lost)
                    && let Some(leader) = b.replica.partition.leader
                {
                    let lost = Msg::ConnectionReset;
                    let from = Node::Broker(leader);
                    b.replica
                        .step(replica::Input::Message(from, lost), &s.protocol, fx);
                }
                replica::Input::HeartbeatResumed
            }
            Input::Timer(Timer::ElectPreferred(_) | Timer::RollingRestart(_))
            | Input::Choice(_) => {
                return;
            }
        };
        let crash = matches!(input, replica::Input::Crash { .. });
        let restart = matches!(input, replica::Input::Restart);
        let sigterm = matches!(input, replica::Input::ControlledShutdown);
        let r = &mut b.replica;
        r.step(input, &s.protocol, fx);
        if crash {
            // The controller's heartbeat timeout fires later, as its own step.
            fx.send(Node::Controller, Msg::SessionExpired);
            b.down = true;
            b.crashes += 1;
            b.stopping = false;
        }
        if sigterm {
            // A rolling restart's shutdowns are its own, not the
            // `controlled_shutdowns` a scenario allows at any moment.
            b.shutdowns += u8::from(!rolling);
            b.stopping = true;
        }
        if r.stopped && !b.down {
            // The controller let it go: it already fenced it.
            b.down = true;
            b.stopping = false;
        }
        if restart {
            b.down = false;
        }
        if let Some(_l) = &r.leader {
            let hw = r.high_watermark;
            for e in r.log.entries().iter().take_while(|e| e.offset < hw) {
                if let Err(i) = b.exposed.binary_search(&(e.offset, e.record)) {
                    b.exposed.insert(i, (e.offset, e.record));
                }
            }
        }
    }

    /// The fault timers a broker state wants armed: a pure function of the
    /// state, as the core's own timers are.
    fn fault_timers(&self, b: &BrokerState) -> SmallVec<[Timer; 2]> {
        let cfg = &self.settings.cfg;
        let mut t = SmallVec::new();
        if b.down {
            t.push(Timer::Restart);
            return t;
        }
        if b.isolated {
            t.push(Timer::Heal);
            return t;
        }
        if cfg.network_partitions > b.partitions && !b.stopping {
            t.push(Timer::Isolate);
        }
        if cfg.crashes > b.crashes {
            t.push(Timer::Crash);
        }
        if cfg.controlled_shutdowns > b.shutdowns && !b.stopping {
            t.push(Timer::ControlledShutdown);
        }
        t
    }

    /// The preferred-leader elections the controller may run next, and
    /// the rolling restart's next brokers.
    fn controller_timers(&self, c: &ControllerState) -> SmallVec<[Timer; 2]> {
        let mut t = SmallVec::new();
        if c.preferred_elections < self.settings.cfg.preferred_elections {
            let candidates = c.core.preferred_candidates(&self.settings.protocol);
            t.extend(candidates.iter().map(Timer::ElectPreferred));
        }
        if self.settings.cfg.rolling_restart {
            t.extend(rolling_candidates(c).iter().map(Timer::RollingRestart));
        }
        t
    }

    fn election_choices(&self, c: &ControllerState) -> Vec<Choice> {
        let (candidates, _) = c.core.election_candidates(&self.settings.protocol);
        candidates.iter().map(Choice::Elect).collect()
    }

    /// Emits the model's own timer and choice changes between two states of
    /// this actor: crashes, shutdowns and restarts, and the controller's
    /// elections. A timer that just fired is no longer armed: `fired` is
    /// armed again if the new state still wants it.
    fn sync(
        &self,
        before: Option<&NodeState>,
        after: &NodeState,
        fired: Option<&Timer>,
        o: &mut Out<Self>,
    ) {
        let (mut old, new) = match after {
            NodeState::Broker(b) => {
                let old = match before {
                    // Most steps leave every fault alone: nothing to compare.
                    Some(NodeState::Broker(ob)) if fault_key(ob) == fault_key(b) => return,
                    Some(NodeState::Broker(ob)) => self.fault_timers(ob),
                    _ => SmallVec::new(),
                };
                (old, self.fault_timers(b))
            }
            NodeState::Controller(c) => {
                let (old, old_choices) = match before {
                    Some(NodeState::Controller(oc)) => {
                        (self.controller_timers(oc), self.election_choices(oc))
                    }
                    _ => (SmallVec::new(), Vec::new()),
                };
                let new_choices = self.election_choices(c);
                if old_choices != new_choices {
                    o.choose_random(ELECTION, new_choices);
                }
                (old, self.controller_timers(c))
            }
            _ => return,
        };
        if let Some(f) = fired {
            old.retain(|t| t != f);
        }
        for t in &old {
            if !new.contains(t) {
                o.cancel_timer(*t);
            }
        }
        for t in new {
            if !old.contains(&t) {
                o.set_timer(t, stateright::actor::model_timeout());
            }
        }
    }

    /// Carries out the core's effects: messages onto the network, its
    /// timers as actor timers. Log writes need nothing (the state is the
    /// log), events feed only the story, and follower fetch times are for
    /// a clock the untimed model does not have (its lag timers may fire
    /// whenever armed).
    /// A broker `cut` off by a network partition reaches only clients; the
    /// heartbeat timeout it sends stands for the controller's own clock.
    /// Answers whether a fetch of the broker's own was lost in the cut.
    fn emit(&self, fx: Effects<Rec>, cut: bool, o: &mut Out<Self>) -> bool {
        let layout = self.settings.layout;
        // Without lag removals, a lag timer could never do anything.
        let lag = self.settings.cfg.lag_removals > 0;
        let mut fetch_lost = false;
        fx.apply(|effect| match effect {
            Effect::Send(Node::Controller | Node::Broker(_), msg)
                if cut && msg != Msg::SessionExpired =>
            {
                fetch_lost |= matches!(msg, Msg::Fetch(_));
            }
            Effect::Send(to, msg) => o.send(layout.id(to), msg),
            Effect::ArmTimer(effects::Timer::ReplicaLagTimeMax(f)) if lag => o.set_timer(
                Timer::ReplicaLagTimeMax(f),
                stateright::actor::model_timeout(),
            ),
            Effect::CancelTimer(effects::Timer::ReplicaLagTimeMax(f)) if lag => {
                o.cancel_timer(Timer::ReplicaLagTimeMax(f))
            }
            Effect::ArmTimer(_)
            | Effect::CancelTimer(_)
            | Effect::Write(_)
            | Effect::Event(_)
            | Effect::FollowerFetched { .. } => {}
        });
        fetch_lost
    }
}

/// Everything [`KafkaActor::fault_timers`] reads of a broker: a fault
/// timer that fires always changes it.
fn fault_key(b: &BrokerState) -> (bool, bool, bool, u8, u8, u8) {
    (
        b.down,
        b.isolated,
        b.stopping,
        b.crashes,
        b.shutdowns,
        b.partitions,
    )
}

/// Who a rolling restart may restart next: any broker not yet restarted,
/// once the previous one is back with a new life, no broker is fenced and
/// the ISR holds every replica (the operator waits for the
/// UnderReplicatedPartitions metric to reach 0, as Kafka's operations
/// guide asks before each broker). The order is left open: any order is
/// some operator's.
fn rolling_candidates(c: &ControllerState) -> BrokerSet {
    let core = &c.core;
    let settled = c
        .rolling
        .is_none_or(|(b, epoch)| core.broker_epoch(b) != epoch);
    let whole = core.state.isr == core.replicas && core.fenced.is_empty();
    if !settled || !whole || core.state.leader.is_none() {
        return BrokerSet::EMPTY;
    }
    core.replicas.minus(c.rolled)
}

fn controller_step(
    c: &mut ControllerState,
    input: Input,
    cfg: &ProtocolConfig,
    fx: &mut Effects<Rec>,
) {
    let input = match input {
        Input::Timer(Timer::RollingRestart(b)) => {
            c.rolled.insert(b);
            c.rolling = Some((b, c.core.broker_epoch(b)));
            fx.send(Node::Broker(b), Msg::Sigterm);
            return;
        }
        Input::Msg(src, msg) => controller::Input::Message(src, msg),
        Input::Choice(Choice::Elect(b)) => controller::Input::Elect(b),
        Input::Timer(Timer::ElectPreferred(b)) => {
            c.preferred_elections += 1;
            controller::Input::ElectPreferred(b)
        }
        Input::Timer(_) => return,
    };
    let alter = matches!(
        input,
        controller::Input::Message(_, Msg::AlterPartition { .. })
    );
    let before = c.core.state.isr;
    c.core.step(input, cfg, fx);
    if alter && !before.minus(c.core.state.isr).is_empty() {
        c.lag_removals += 1;
    }
}

impl Actor for KafkaActor {
    type Msg = KMsg;
    type State = NodeState;
    type Timer = Timer;
    type Random = Choice;
    type Storage = ();

    fn on_start(&self, _id: Id, _storage: &Option<()>, o: &mut Out<Self>) -> NodeState {
        let mut fx = Effects::new();
        let state = self.start(&mut fx);
        self.emit(fx, false, o);
        self.sync(None, &state, None, o);
        state
    }

    fn on_msg(&self, _id: Id, state: &mut Cow<NodeState>, src: Id, msg: KMsg, o: &mut Out<Self>) {
        let src = self.settings.layout.node(src);
        self.handle(state, Input::Msg(src, msg), o);
    }

    fn on_timeout(&self, _id: Id, state: &mut Cow<NodeState>, timer: &Timer, o: &mut Out<Self>) {
        self.handle(state, Input::Timer(*timer), o);
    }

    fn on_random(&self, _id: Id, state: &mut Cow<NodeState>, random: &Choice, o: &mut Out<Self>) {
        self.handle(state, Input::Choice(random.clone()), o);
    }

    fn name(&self) -> String {
        match self.node {
            Node::Broker(b) => format!("broker {b}"),
            Node::Controller => "controller".into(),
            Node::Client(PRODUCER) => "producer".into(),
            Node::Client(_) => "consumer".into(),
        }
    }
}

impl KafkaActor {
    fn handle(&self, state: &mut Cow<NodeState>, input: Input, o: &mut Out<Self>) {
        let before: Option<&NodeState> = match *state {
            Cow::Borrowed(b) => Some(b),
            Cow::Owned(_) => None,
        };
        let fired = match &input {
            Input::Timer(t) => Some(*t),
            _ => None,
        };
        let mut fx = Effects::new();
        self.step(state, input, &mut fx);
        let cut = matches!(&**state, NodeState::Broker(b) if b.isolated);
        if self.emit(fx, cut, o)
            && let NodeState::Broker(b) = state.to_mut()
        {
            b.fetch_lost = true;
        }
        // The fault timers and choices are a pure function of the state:
        // whatever changed it, compare.
        if matches!(state, Cow::Owned(_)) {
            self.sync(before, state.as_ref(), fired.as_ref(), o);
        }
    }
}
