//! The controller process's state: registered brokers with their
//! heartbeats, and for every partition the protocol core's `Controller`,
//! which decides fencing, ISR changes and elections exactly as the model
//! checks them. This file only places replicas, picks the preferred
//! candidate of an election and carries the core's messages to brokers.

use super::wire::ToBroker;
use crate::core::config::ProtocolConfig;
use crate::core::controller::{Controller, Input};
use crate::core::effects::{Effect, Effects};
use crate::core::error::ErrorCode;
use crate::core::messages::{Msg, Node};
use crate::core::types::{BrokerId, BrokerSet, Epoch, PartitionEpoch};
use crate::server::metadata::{BrokerAddr, ClusterView, PartitionView, TopicView};
use crate::server::topic_settings::{TopicError, TopicSettings, check_topic_name};
use crate::wire::batch::Batch;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use uuid::Uuid;

/// One connection's identity, so a restarted broker's old connection
/// cannot speak for it.
pub type ConnId = u64;

#[derive(Debug)]
struct Member {
    addr: BrokerAddr,
    conn: ConnId,
    link: UnboundedSender<ToBroker>,
    last_heartbeat: Instant,
    fenced: bool,
}

#[derive(Debug)]
struct Placed {
    /// Replicas in preference order: the first live candidate leads.
    assignment: Vec<BrokerId>,
    protocol: ProtocolConfig,
    core: Controller,
}

#[derive(Debug)]
pub struct ControllerNode {
    cluster_id: String,
    /// `broker.session.timeout.ms`.
    session_timeout: Duration,
    brokers: BTreeMap<BrokerId, Member>,
    partitions: BTreeMap<(String, i32), Placed>,
    topic_ids: BTreeMap<String, Uuid>,
    /// Every core decision, for `--trace`.
    pub events: Vec<serde_json::Value>,
    trace: bool,
}

impl ControllerNode {
    pub fn new(session_timeout: Duration, trace: bool) -> Self {
        ControllerNode {
            cluster_id: format!("insync-{}", Uuid::new_v4().simple()),
            session_timeout,
            brokers: BTreeMap::new(),
            partitions: BTreeMap::new(),
            topic_ids: BTreeMap::new(),
            events: Vec::new(),
            trace,
        }
    }

    fn effects(&self) -> Effects<Batch> {
        if self.trace {
            Effects::traced()
        } else {
            Effects::new()
        }
    }

    fn is_current(&self, broker: BrokerId, conn: ConnId) -> bool {
        self.brokers.get(&broker).is_some_and(|m| m.conn == conn)
    }

    /// BrokerRegistration: a broker (re)starts.
    pub fn register(
        &mut self,
        addr: BrokerAddr,
        clean_shutdown: bool,
        conn: ConnId,
        link: UnboundedSender<ToBroker>,
        now: Instant,
    ) {
        let id = addr.id;
        if self
            .brokers
            .get(&id)
            .is_some_and(|m| !m.fenced && m.conn != conn)
        {
            // A new incarnation while the old one still counts as alive: as
            // KRaft does, fence the old one first, so the partitions it led
            // or sat in the ISR of move on before the new life registers.
            self.fence(id);
        }
        self.brokers.insert(
            id,
            Member {
                addr,
                conn,
                link,
                last_heartbeat: now,
                fenced: false,
            },
        );
        let keys: Vec<_> = self.partitions_of(id);
        for key in keys {
            let registration = Msg::BrokerRegistration {
                clean_shutdown,
                broker_epoch: 0,
            };
            self.step(&key, Input::Message(Node::Broker(id), registration));
        }
        self.settle();
    }

    /// BrokerHeartbeat. A fenced broker that speaks again (it was paused,
    /// not killed) registers anew: its log is intact, as after a clean stop.
    pub fn heartbeat(&mut self, broker: BrokerId, conn: ConnId, now: Instant) {
        if !self.is_current(broker, conn) {
            return;
        }
        let m = self.brokers.get_mut(&broker).expect("current");
        m.last_heartbeat = now;
        if m.fenced {
            let (addr, link) = (m.addr.clone(), m.link.clone());
            self.register(addr, true, conn, link, now);
        }
    }

    /// AlterPartition from a partition's leader.
    #[allow(clippy::too_many_arguments)]
    pub fn alter_partition(
        &mut self,
        broker: BrokerId,
        conn: ConnId,
        topic: String,
        partition: i32,
        leader_epoch: Epoch,
        partition_epoch: PartitionEpoch,
        new_isr: BrokerSet,
    ) {
        if !self.is_current(broker, conn) {
            return;
        }
        let key = (topic, partition);
        let alter = Msg::AlterPartition {
            leader_epoch,
            partition_epoch,
            new_isr,
        };
        self.step(&key, Input::Message(Node::Broker(broker), alter));
        self.settle();
    }

    /// Fences every broker whose heartbeats stopped.
    pub fn tick(&mut self, now: Instant) {
        let expired: Vec<BrokerId> = self
            .brokers
            .iter()
            .filter(|(_, m)| {
                !m.fenced && now.duration_since(m.last_heartbeat) > self.session_timeout
            })
            .map(|(b, _)| *b)
            .collect();
        if expired.is_empty() {
            return;
        }
        for b in expired {
            self.fence(b);
        }
        self.settle();
    }

    fn fence(&mut self, b: BrokerId) {
        self.brokers.get_mut(&b).expect("listed").fenced = true;
        for key in self.partitions_of(b) {
            self.step(&key, Input::Message(Node::Broker(b), Msg::SessionExpired));
        }
    }

    /// Creates a topic, placing replicas round-robin over the live brokers.
    pub fn create_topic(&mut self, name: &str, s: &TopicSettings) -> Result<(), TopicError> {
        check_topic_name(name)?;
        let err = |code, message| Err(TopicError { code, message });
        if self.topic_ids.contains_key(name) {
            return err(
                ErrorCode::TopicAlreadyExists,
                format!("topic '{name}' already exists"),
            );
        }
        s.check()?;
        let live: Vec<BrokerId> = self.live().iter().collect();
        let rf = usize::from(s.kafka.replication_factor);
        if rf > live.len() {
            return err(
                ErrorCode::InvalidReplicationFactor,
                format!(
                    "replication factor {} with {} live broker(s)",
                    rf,
                    live.len()
                ),
            );
        }
        self.topic_ids.insert(name.to_string(), Uuid::new_v4());
        for index in 0..s.partitions {
            let start = index as usize % live.len();
            let assignment: Vec<BrokerId> =
                (0..rf).map(|i| live[(start + i) % live.len()]).collect();
            let mut core = Controller::new(BrokerSet::of(assignment.iter().copied()), Vec::new());
            core.fenced = core.replicas.minus(self.live());
            self.partitions.insert(
                (name.to_string(), index),
                Placed {
                    assignment,
                    protocol: s.protocol(),
                    core,
                },
            );
        }
        self.settle();
        Ok(())
    }

    fn live(&self) -> BrokerSet {
        BrokerSet::of(
            self.brokers
                .iter()
                .filter(|(_, m)| !m.fenced)
                .map(|(b, _)| *b),
        )
    }

    fn partitions_of(&self, broker: BrokerId) -> Vec<(String, i32)> {
        self.partitions
            .iter()
            .filter(|(_, p)| p.core.replicas.contains(broker))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Elects a leader wherever the core allows one, then tells every broker
    /// the new cluster view.
    fn settle(&mut self) {
        let leaderless: Vec<_> = self
            .partitions
            .iter()
            .filter(|(_, p)| p.core.state.leader.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        for key in leaderless {
            let p = &self.partitions[&key];
            let (candidates, _) = p.core.election_candidates(&p.protocol);
            // Kafka's preferred order: the first candidate in the assignment.
            let Some(&winner) = p.assignment.iter().find(|b| candidates.contains(**b)) else {
                continue;
            };
            self.step(&key, Input::Elect(winner));
        }
        let view = self.view();
        for m in self.brokers.values().filter(|m| !m.fenced) {
            let _ = m.link.send(ToBroker::Cluster(view.clone()));
        }
    }

    /// One step of a partition's core, its effects carried out: events into
    /// the trace, LeaderAndIsr to its broker. A partition not (or no
    /// longer) known takes nothing.
    fn step(&mut self, key: &(String, i32), input: Input<Batch>) {
        let mut fx = self.effects();
        let Some(p) = self.partitions.get_mut(key) else {
            return;
        };
        p.core.step(input, &p.protocol, &mut fx);
        let p = &self.partitions[key];
        for effect in fx {
            match effect {
                Effect::Event(e) => {
                    let mut line = crate::server::trace::trace_line(&e);
                    line["topic"] = key.0.clone().into();
                    line["partition"] = key.1.into();
                    self.events.push(line);
                }
                Effect::Send(Node::Broker(b), Msg::LeaderAndIsr { state, .. }) => {
                    if let Some(m) = self.brokers.get(&b) {
                        let _ = m.link.send(ToBroker::LeaderAndIsr {
                            topic: key.0.clone(),
                            partition: key.1,
                            replicas: p.core.replicas,
                            protocol: p.protocol.clone(),
                            state,
                        });
                    }
                }
                // Metadata reaches clients through the cluster view; the
                // controller keeps no log and arms no timer.
                Effect::Send(..)
                | Effect::Write(_)
                | Effect::ArmTimer(_)
                | Effect::CancelTimer(_) => {}
            }
        }
    }

    /// The cluster as Metadata reports it: live brokers, every partition's
    /// state as the core holds it.
    pub fn view(&self) -> ClusterView {
        let live = self.live();
        let mut topics = BTreeMap::new();
        for ((name, _), p) in &self.partitions {
            let t = topics.entry(name.clone()).or_insert_with(|| TopicView {
                id: self.topic_ids[name],
                partitions: Vec::new(),
            });
            t.partitions.push(PartitionView {
                replicas: p.core.replicas,
                state: p.core.state,
            });
        }
        ClusterView {
            cluster_id: self.cluster_id.clone(),
            controller: live.iter().next(),
            brokers: self
                .brokers
                .values()
                .filter(|m| !m.fenced)
                .map(|m| m.addr.clone())
                .collect(),
            topics,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

    fn addr(id: BrokerId) -> BrokerAddr {
        BrokerAddr {
            id,
            host: "127.0.0.1".into(),
            port: 9092 + u16::from(id),
        }
    }

    fn cluster(n: u8) -> (ControllerNode, Vec<UnboundedReceiver<ToBroker>>, Instant) {
        let mut c = ControllerNode::new(Duration::from_secs(1), false);
        let now = Instant::now();
        let mut rxs = Vec::new();
        for b in 0..n {
            let (tx, rx) = unbounded_channel();
            c.register(addr(b), false, u64::from(b), tx, now);
            rxs.push(rx);
        }
        (c, rxs, now)
    }

    fn settings(rf: u8, min_isr: u8) -> TopicSettings {
        TopicSettings {
            partitions: 3,
            kafka: crate::core::settings::KafkaSettings {
                replication_factor: rf,
                min_insync_replicas: min_isr,
                ..Default::default()
            },
        }
    }

    #[test]
    fn topics_are_placed_round_robin_with_the_first_replica_leading() {
        let (mut c, mut rxs, _) = cluster(3);
        c.create_topic("t", &settings(3, 2)).unwrap();
        let v = c.view();
        let leaders: Vec<_> = v.topics["t"]
            .partitions
            .iter()
            .map(|p| p.state.leader)
            .collect();
        assert_eq!(leaders, vec![Some(0), Some(1), Some(2)]);
        assert!(
            v.topics["t"]
                .partitions
                .iter()
                .all(|p| p.state.leader_epoch == 1)
        );
        let told: Vec<ToBroker> = std::iter::from_fn(|| rxs[1].try_recv().ok()).collect();
        let states = told
            .iter()
            .filter(|m| matches!(m, ToBroker::LeaderAndIsr { .. }))
            .count();
        assert_eq!(states, 3, "broker 1 hosts all three partitions");
        assert_eq!(
            c.create_topic("t", &settings(3, 2)).unwrap_err().code,
            ErrorCode::TopicAlreadyExists
        );
        assert_eq!(
            c.create_topic("u", &settings(4, 1)).unwrap_err().code,
            ErrorCode::InvalidReplicationFactor
        );
        assert_eq!(
            c.create_topic("u", &settings(2, 3)).unwrap_err().code,
            ErrorCode::InvalidConfig
        );
    }

    #[test]
    fn a_restarted_broker_is_fenced_before_it_registers_again() {
        let (mut c, _rxs, now) = cluster(3);
        c.create_topic("t", &settings(3, 2)).unwrap();
        let (tx, _rx) = unbounded_channel();
        c.register(addr(0), false, 100, tx, now);
        let p0 = c.view().topics["t"].partitions[0].state;
        assert_eq!(p0.leader, Some(1), "its old life lost the leadership");
        assert_eq!(p0.isr, BrokerSet::of([1, 2]), "and its ISR seat");
        assert_eq!(c.view().brokers.len(), 3, "the new life is registered");
    }

    #[test]
    fn a_silent_broker_is_fenced_and_its_partitions_get_new_leaders() {
        let (mut c, _rxs, start) = cluster(3);
        c.create_topic("t", &settings(3, 2)).unwrap();
        let later = start + Duration::from_millis(1500);
        c.heartbeat(1, 1, later);
        c.heartbeat(2, 2, later);
        c.heartbeat(0, 99, later); // from a stale connection: ignored
        c.tick(later);
        let v = c.view();
        assert_eq!(v.brokers.len(), 2, "broker 0 is fenced");
        let p0 = &v.topics["t"].partitions[0].state;
        assert_eq!(p0.leader, Some(1), "the next replica in the assignment");
        assert_eq!(p0.leader_epoch, 2);
        assert_eq!(p0.isr, BrokerSet::of([1, 2]));
    }
}
