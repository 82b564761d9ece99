//! The stateright actors: thin wrappers that feed messages, timers and
//! choices to the protocol core and turn its effects into actor commands.
//! They add only what the model needs around the core: crashes and
//! restarts, fault bounds, and ghost state for the properties.

use super::compact::ELECTION;
use super::config::{CrashMode, ModelConfig};
use super::record::Rec;
use crate::core::config::ProtocolConfig;
use crate::core::consumer::Consumer;
use crate::core::controller::Controller;
use crate::core::effects::Effects;
use crate::core::messages::{Msg, Node};
use crate::core::producer::{Producer, ProducerConfig};
use crate::core::replica::Replica;
use crate::core::types::{Acks, BrokerId, BrokerSet, Offset};
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
    /// Ghost state: every (offset, record) this broker exposed below its
    /// HW while leading, sorted. Survives crashes: it is an observation.
    pub exposed: Vec<(Offset, Rec)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ControllerState {
    pub core: Controller,
    /// Ghost counter of ISR shrinks committed for lag (bounded by `lag_removals`).
    pub lag_removals: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeState {
    Broker(BrokerState),
    Controller(ControllerState),
    Producer(Producer<Rec>),
    Consumer(Consumer<Rec>),
}

/// Faults and timeouts: any armed timer may fire at any moment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// The broker crashes (kill -9 or power loss, per `crash_mode`).
    Crash,
    /// The crashed broker starts again.
    Restart,
    /// `replica.lag.time.max.ms` passes for a follower that is behind.
    ReplicaLagTimeMax(BrokerId),
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
            .map(|value| Rec {
                value,
                idempotent: self.settings.cfg.enable_idempotence,
            })
            .collect()
    }

    /// The initial state, and what it sends.
    pub fn start(&self, fx: &mut Effects<Rec>) -> NodeState {
        let s = &self.settings;
        let initial = self.initial_partition();
        match self.node {
            Node::Broker(b) => {
                let mut replica = Replica::new(b, s.layout.replicas(), initial.state);
                replica.start(fx);
                NodeState::Broker(BrokerState {
                    replica,
                    down: false,
                    crashes: 0,
                    exposed: Vec::new(),
                })
            }
            Node::Controller => NodeState::Controller(ControllerState {
                core: initial,
                lag_removals: 0,
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
            (NodeState::Broker(b), Input::Msg(src, msg)) if b.down => {
                // The port is closed: clients see their connection refused.
                let reset = match msg {
                    Msg::Produce { acks, .. } => acks != Acks::Zero,
                    Msg::ConsumerFetch { .. } => true,
                    _ => false,
                };
                if reset {
                    fx.send(src, Msg::ConnectionReset);
                }
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
                let relevant = matches!(
                    msg,
                    Msg::ProduceResponse { .. } | Msg::ConnectionReset | Msg::Metadata { .. }
                );
                if !relevant || p.is_done() {
                    return;
                }
                let NodeState::Producer(p) = state.to_mut() else {
                    unreachable!()
                };
                let cfg = &s.producer;
                match (src, msg) {
                    (Node::Broker(b), Msg::ProduceResponse { request, result }) => {
                        p.on_produce_response(b, request, result, cfg, fx)
                    }
                    (Node::Broker(b), Msg::ConnectionReset) => p.on_connection_reset(b, cfg, fx),
                    (
                        _,
                        Msg::Metadata {
                            leader,
                            leader_epoch,
                        },
                    ) => p.on_metadata(leader, leader_epoch, cfg, fx),
                    _ => {}
                }
            }
            (NodeState::Consumer(_), Input::Msg(src, msg)) => {
                let NodeState::Consumer(c) = state.to_mut() else {
                    unreachable!()
                };
                match (src, msg) {
                    (
                        Node::Broker(b),
                        Msg::ConsumerFetchResponse {
                            request,
                            offset,
                            result,
                        },
                    ) => c.on_fetch_response(b, request, offset, result, fx),
                    (Node::Broker(b), Msg::ConnectionReset) => c.on_connection_reset(b, fx),
                    (
                        _,
                        Msg::Metadata {
                            leader,
                            leader_epoch,
                        },
                    ) => c.on_metadata(leader, leader_epoch, fx),
                    _ => {}
                }
            }
            (_, _) => {}
        }
    }

    fn broker_step(&self, b: &mut BrokerState, input: Input, fx: &mut Effects<Rec>) {
        let s = &self.settings;
        let cfg = &s.protocol;
        let r = &mut b.replica;
        match input {
            Input::Msg(src, msg) => match (src, msg) {
                (
                    client,
                    Msg::Produce {
                        request,
                        acks,
                        record,
                        leader_epoch,
                    },
                ) => r.on_produce(client, request, acks, record, leader_epoch, cfg, fx),
                (Node::Broker(f), Msg::Fetch(req)) => r.on_fetch(f, req, cfg, fx),
                (Node::Broker(l), Msg::FetchResponse(resp)) => {
                    r.on_fetch_response(l, resp, cfg, fx)
                }
                (
                    client,
                    Msg::ConsumerFetch {
                        request,
                        offset,
                        leader_epoch,
                    },
                ) => r.on_consumer_fetch(client, request, offset, leader_epoch, fx),
                (
                    Node::Controller,
                    Msg::LeaderAndIsr {
                        state,
                        broker_epoch,
                    },
                ) => r.on_leader_and_isr(state, broker_epoch, cfg, fx),
                _ => {}
            },
            Input::Timer(Timer::Crash) => {
                let power_loss = s.cfg.crash_mode == CrashMode::Machine;
                for client in r.crash(power_loss, fx) {
                    fx.send(client, Msg::ConnectionReset);
                }
                // The controller's heartbeat timeout fires later, as its own step.
                fx.send(Node::Controller, Msg::SessionExpired);
                b.down = true;
                b.crashes += 1;
            }
            Input::Timer(Timer::Restart) => {
                b.down = false;
                r.restart(cfg, fx);
            }
            Input::Timer(Timer::ReplicaLagTimeMax(f)) => r.on_replica_lag_timeout(f, fx),
            Input::Choice(_) => {}
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

    /// The timers a broker state wants armed: a pure function of the state,
    /// so the armed set never drifts from it.
    fn broker_timers(&self, b: &BrokerState) -> SmallVec<[Timer; 8]> {
        let cfg = &self.settings.cfg;
        let mut t = SmallVec::new();
        if b.down {
            t.push(Timer::Restart);
            return t;
        }
        if cfg.crashes > b.crashes {
            t.push(Timer::Crash);
        }
        if cfg.lag_removals > 0 {
            t.extend(
                b.replica
                    .lagging_followers()
                    .iter()
                    .map(Timer::ReplicaLagTimeMax),
            );
        }
        t
    }

    fn election_choices(&self, c: &ControllerState) -> Vec<Choice> {
        let (candidates, _) = c.core.election_candidates(&self.settings.protocol);
        candidates.iter().map(Choice::Elect).collect()
    }

    /// Emits timer and choice changes between two states of this actor.
    fn sync(&self, before: Option<&NodeState>, after: &NodeState, o: &mut Out<Self>) {
        match after {
            NodeState::Broker(b) => {
                let old = match before {
                    Some(NodeState::Broker(ob)) => self.broker_timers(ob),
                    _ => SmallVec::new(),
                };
                let new = self.broker_timers(b);
                for t in &old {
                    if !new.contains(t) {
                        o.cancel_timer(t.clone());
                    }
                }
                for t in new {
                    if !old.contains(&t) {
                        o.set_timer(t, stateright::actor::model_timeout());
                    }
                }
            }
            NodeState::Controller(c) => {
                let old = match before {
                    Some(NodeState::Controller(oc)) => self.election_choices(oc),
                    _ => Vec::new(),
                };
                let new = self.election_choices(c);
                if old != new {
                    o.choose_random(ELECTION, new);
                }
            }
            _ => {}
        }
    }

    fn emit(&self, fx: Effects<Rec>, o: &mut Out<Self>) {
        let layout = self.settings.layout;
        for (to, msg) in fx.sends {
            o.send(layout.id(to), msg);
        }
    }
}

fn controller_step(
    c: &mut ControllerState,
    input: Input,
    cfg: &ProtocolConfig,
    fx: &mut Effects<Rec>,
) {
    match input {
        Input::Msg(Node::Broker(b), Msg::SessionExpired) => c.core.on_session_expired(b, cfg, fx),
        Input::Msg(
            Node::Broker(b),
            Msg::BrokerRegistration {
                clean_shutdown,
                broker_epoch,
            },
        ) => c
            .core
            .on_broker_registration(b, clean_shutdown, broker_epoch, cfg, fx),
        Input::Msg(
            Node::Broker(b),
            Msg::AlterPartition {
                leader_epoch,
                partition_epoch,
                new_isr,
            },
        ) => {
            let before = c.core.state.isr;
            c.core
                .on_alter_partition(b, leader_epoch, partition_epoch, new_isr, cfg, fx);
            if !before.minus(c.core.state.isr).is_empty() {
                c.lag_removals += 1;
            }
        }
        Input::Choice(Choice::Elect(b)) => c.core.elect(b, cfg, fx),
        _ => {}
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
        self.emit(fx, o);
        self.sync(None, &state, o);
        state
    }

    fn on_msg(&self, _id: Id, state: &mut Cow<NodeState>, src: Id, msg: KMsg, o: &mut Out<Self>) {
        let src = self.settings.layout.node(src);
        self.handle(state, Input::Msg(src, msg), o);
    }

    fn on_timeout(&self, _id: Id, state: &mut Cow<NodeState>, timer: &Timer, o: &mut Out<Self>) {
        self.handle(state, Input::Timer(timer.clone()), o);
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
        let mut fx = Effects::new();
        self.step(state, input, &mut fx);
        self.emit(fx, o);
        if matches!(state, Cow::Owned(_)) {
            self.sync(before, state.as_ref(), o);
        }
    }
}
