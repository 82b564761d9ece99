//! The controller process's state: registered brokers with their
//! heartbeats, and for every partition the protocol core's `Controller`,
//! which decides fencing, ISR changes and elections exactly as the model
//! checks them. This file only places replicas, picks the preferred
//! candidate of an election and carries the core's messages to brokers.
//!
//! Every decision also becomes a metadata record (`records.rs`). What a
//! step decided is handed out as one [`Ready`]: its records, which the
//! runtime makes durable first, then its messages to brokers. A restarted
//! controller replays the records and resumes where it stopped.

mod elections;

use super::records::{BrokerImage, MetadataImage, MetadataRecord, PartitionImage, TopicImage};
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
    /// The broker process's life (KRaft's `incarnationId`).
    incarnation: Uuid,
    /// The offset of its `RegisterBrokerRecord`, as in KRaft.
    broker_epoch: u64,
    /// Which life of this broker id the registered process is: 0 for the
    /// first, one more for each new process (a new incarnation), the same
    /// for the same process registered again; wrapping at 256. This is the
    /// broker epoch the protocol core compares (KIP-903: a joiner's fetch
    /// must come from the registered life), and the one the broker's
    /// follower fetches carry as `ReplicaState.ReplicaEpoch`.
    ///
    /// Why not KRaft's broker epoch itself: the core keeps broker epochs as
    /// u8, as the model counts lives, and a record offset cut to 8 bits
    /// could name two lives alike with only 256 records between them. A
    /// count of lives can only repeat after 256 new processes, and each
    /// new process is admitted only once its predecessor's session has
    /// expired (DUPLICATE_BROKER_REGISTRATION before that), so 256 of
    /// them span more than 255 session timeouts, while a fetch of a dead
    /// life lingers in its leader only until its `replica.fetch.wait.max.ms`
    /// runs out or its AlterPartition is answered.
    life: u8,
    /// The connection it speaks on; none after a controller restart until
    /// it reconnects.
    conn: Option<ConnId>,
    link: Option<UnboundedSender<ToBroker>>,
    /// When this registration last heard from its broker (Kafka 4.x's
    /// `BrokerHeartbeatTracker` contact time for this broker epoch). None
    /// once a restored controller finds it fenced: Kafka's
    /// `ClusterControlManager.activate` gives only unfenced brokers one.
    last_contact: Option<Instant>,
    fenced: bool,
    /// Granted a controlled shutdown: fenced until a new life registers,
    /// whatever this one still says.
    stopping: bool,
}

impl Member {
    /// `BrokerHeartbeatManager.hasValidSession` as Kafka 4.x has it
    /// (KAFKA-17793): whether the last contact is within the session
    /// timeout, fenced or not. A broker stopped by a controlled shutdown
    /// therefore keeps its session until it runs out, as Kafka's
    /// `ClusterControlManagerTest.testDuplicateBrokerRegistrationWithInactiveBroker`
    /// shows; before 4.0 a fenced broker had none.
    fn has_valid_session(&self, now: Instant, timeout: Duration) -> bool {
        self.last_contact
            .is_some_and(|t| now.saturating_duration_since(t) <= timeout)
    }
}

#[derive(Debug)]
struct Placed {
    /// Replicas in preference order: the first live candidate leads.
    assignment: Vec<BrokerId>,
    protocol: ProtocolConfig,
    core: Controller,
}

#[derive(Debug)]
struct TopicMeta {
    id: Uuid,
    settings: TopicSettings,
}

/// What one operation decided: records to make durable, then messages to
/// send. [`Ready::deliver`] is the only way to send them, after the
/// records are safe.
#[derive(Debug, Default)]
pub struct Ready {
    pub records: Vec<(u64, MetadataRecord)>,
    sends: Vec<(UnboundedSender<ToBroker>, ToBroker)>,
}

impl Ready {
    /// Sends the messages; call once `records` are durable.
    pub fn deliver(self) {
        for (link, msg) in self.sends {
            let _ = link.send(msg);
        }
    }
}

#[derive(Debug)]
pub struct ControllerNode {
    cluster_id: String,
    /// `broker.session.timeout.ms`.
    session_timeout: Duration,
    brokers: BTreeMap<BrokerId, Member>,
    partitions: BTreeMap<(String, i32), Placed>,
    topics: BTreeMap<String, TopicMeta>,
    /// The offset the next metadata record takes.
    next_offset: u64,
    ready: Ready,
    /// Every core decision, for `--trace`.
    pub events: Vec<serde_json::Value>,
    trace: bool,
}

impl ControllerNode {
    /// A controller with an empty metadata log.
    pub fn new(session_timeout: Duration, trace: bool) -> Self {
        let mut n = Self::empty(session_timeout, trace);
        n.cluster_id = format!("insync-{}", Uuid::new_v4().simple());
        n.record(MetadataRecord::Cluster {
            id: n.cluster_id.clone(),
        });
        n
    }

    fn empty(session_timeout: Duration, trace: bool) -> Self {
        ControllerNode {
            cluster_id: String::new(),
            session_timeout,
            brokers: BTreeMap::new(),
            partitions: BTreeMap::new(),
            topics: BTreeMap::new(),
            next_offset: 0,
            ready: Ready::default(),
            events: Vec::new(),
            trace,
        }
    }

    /// A controller that resumes from its metadata log: the snapshot's
    /// image, then every record after it. Brokers count as alive from `now`
    /// until their session times out, as after a KRaft controller
    /// failover; their connections are theirs to make again.
    pub fn restore(
        session_timeout: Duration,
        trace: bool,
        image: Option<MetadataImage>,
        records: Vec<(u64, MetadataRecord)>,
        next_offset: u64,
        now: Instant,
    ) -> Result<Self, String> {
        if image.is_none() && records.is_empty() && next_offset == 0 {
            return Ok(Self::new(session_timeout, trace));
        }
        let mut n = Self::empty(session_timeout, trace);
        if let Some(image) = image {
            n.load_image(image, now)?;
        }
        for (offset, record) in records {
            n.replay(offset, record, now)
                .map_err(|e| format!("metadata record {offset}: {e}"))?;
        }
        n.next_offset = next_offset;
        for p in n.partitions.values() {
            p.core.invariants(&p.protocol);
        }
        Ok(n)
    }

    /// Applies one record read back from the log.
    fn replay(&mut self, offset: u64, record: MetadataRecord, now: Instant) -> Result<(), String> {
        match record {
            MetadataRecord::Cluster { id } => self.cluster_id = id,
            MetadataRecord::RegisterBroker {
                broker,
                incarnation,
            } => {
                let id = broker.id;
                let life = self.next_life(id, incarnation);
                self.brokers.insert(
                    id,
                    Member {
                        addr: broker,
                        incarnation,
                        broker_epoch: offset,
                        life,
                        conn: None,
                        link: None,
                        last_contact: Some(now),
                        fenced: false,
                        stopping: false,
                    },
                );
                self.refresh_fenced(id);
                self.refresh_life(id);
            }
            MetadataRecord::FenceBroker { broker } => {
                let m = self
                    .brokers
                    .get_mut(&broker)
                    .ok_or_else(|| format!("fences broker {broker}, never registered"))?;
                m.fenced = true;
                m.last_contact = None;
                self.refresh_fenced(broker);
            }
            MetadataRecord::Topic { name, id, settings } => {
                self.topics.insert(name, TopicMeta { id, settings });
            }
            MetadataRecord::Partition {
                topic,
                partition,
                assignment,
                state,
            } => {
                let settings = &self
                    .topics
                    .get(&topic)
                    .ok_or_else(|| format!("a partition of unknown topic '{topic}'"))?
                    .settings;
                let replicas = BrokerSet::of(assignment.iter().copied());
                let mut core = Controller::new(replicas, Vec::new());
                core.state = state;
                core.fenced = replicas.minus(self.live());
                core.broker_epochs = self.lives_of(replicas);
                self.partitions.insert(
                    (topic, partition),
                    Placed {
                        assignment,
                        protocol: settings.protocol(),
                        core,
                    },
                );
            }
            MetadataRecord::PartitionChange {
                topic,
                partition,
                state,
                last_known_leader,
            } => {
                let core = &mut self
                    .partitions
                    .get_mut(&(topic.clone(), partition))
                    .ok_or_else(|| format!("a change to unknown partition {topic}-{partition}"))?
                    .core;
                core.state = state;
                core.last_known_leader = last_known_leader;
            }
        }
        Ok(())
    }

    /// The life a registration of `incarnation` as broker `id` is.
    fn next_life(&self, id: BrokerId, incarnation: Uuid) -> u8 {
        match self.brokers.get(&id) {
            None => 0,
            Some(m) if m.incarnation == incarnation => m.life,
            Some(m) => m.life.wrapping_add(1),
        }
    }

    /// The core's broker epochs for `replicas`: their registered lives.
    fn lives_of(&self, replicas: BrokerSet) -> Vec<(BrokerId, u8)> {
        replicas
            .iter()
            .filter_map(|b| self.brokers.get(&b).map(|m| (b, m.life)))
            .collect()
    }

    /// Each partition's core keeps the broker epoch (life) of its replicas,
    /// as registrations replayed from the log set them.
    fn refresh_life(&mut self, broker: BrokerId) {
        let Some(life) = self.brokers.get(&broker).map(|m| m.life) else {
            return;
        };
        for p in self.partitions.values_mut() {
            if p.core.replicas.contains(broker) {
                let epochs = &mut p.core.broker_epochs;
                match epochs.binary_search_by_key(&broker, |(b, _)| *b) {
                    Ok(i) => epochs[i].1 = life,
                    Err(i) => epochs.insert(i, (broker, life)),
                }
            }
        }
    }

    /// Each partition's core keeps which of its replicas are fenced.
    fn refresh_fenced(&mut self, broker: BrokerId) {
        let fenced = self.brokers.get(&broker).is_none_or(|m| m.fenced);
        for p in self.partitions.values_mut() {
            if p.core.replicas.contains(broker) {
                if fenced {
                    p.core.fenced.insert(broker);
                } else {
                    p.core.fenced.remove(broker);
                }
            }
        }
    }

    fn load_image(&mut self, image: MetadataImage, now: Instant) -> Result<(), String> {
        self.cluster_id = image.cluster_id;
        for b in image.brokers {
            self.brokers.insert(
                b.addr.id,
                Member {
                    addr: b.addr,
                    incarnation: b.incarnation,
                    broker_epoch: b.broker_epoch,
                    life: b.life,
                    conn: None,
                    link: None,
                    last_contact: (!b.fenced).then_some(now),
                    fenced: b.fenced,
                    stopping: false,
                },
            );
        }
        for t in image.topics {
            self.topics.insert(
                t.name,
                TopicMeta {
                    id: t.id,
                    settings: t.settings,
                },
            );
        }
        for p in image.partitions {
            let key = (p.topic.clone(), p.partition);
            self.replay(
                0,
                MetadataRecord::Partition {
                    topic: p.topic,
                    partition: p.partition,
                    assignment: p.assignment,
                    state: p.state,
                },
                now,
            )?;
            if let Some(placed) = self.partitions.get_mut(&key) {
                placed.core.last_known_leader = p.last_known_leader;
            }
        }
        Ok(())
    }

    /// Everything the records so far decided, for a snapshot.
    pub fn image(&self) -> MetadataImage {
        MetadataImage {
            cluster_id: self.cluster_id.clone(),
            brokers: self
                .brokers
                .values()
                .map(|m| BrokerImage {
                    addr: m.addr.clone(),
                    broker_epoch: m.broker_epoch,
                    incarnation: m.incarnation,
                    fenced: m.fenced,
                    life: m.life,
                })
                .collect(),
            topics: self
                .topics
                .iter()
                .map(|(name, t)| TopicImage {
                    name: name.clone(),
                    id: t.id,
                    settings: t.settings.clone(),
                })
                .collect(),
            partitions: self
                .partitions
                .iter()
                .map(|((topic, partition), p)| PartitionImage {
                    topic: topic.clone(),
                    partition: *partition,
                    assignment: p.assignment.clone(),
                    state: p.core.state,
                    last_known_leader: p.core.last_known_leader,
                })
                .collect(),
        }
    }

    /// What the operations since the last call decided.
    pub fn take_ready(&mut self) -> Ready {
        std::mem::take(&mut self.ready)
    }

    fn record(&mut self, record: MetadataRecord) -> u64 {
        let offset = self.next_offset;
        self.next_offset += 1;
        self.ready.records.push((offset, record));
        offset
    }

    fn send(&mut self, broker: BrokerId, msg: ToBroker) {
        if let Some(link) = self.brokers.get(&broker).and_then(|m| m.link.clone()) {
            self.ready.sends.push((link, msg));
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
        self.brokers
            .get(&broker)
            .is_some_and(|m| m.conn == Some(conn))
    }

    /// BrokerRegistration: a broker connects. The same process connecting
    /// again (after the controller or the link restarted) keeps its
    /// registration and is told its partitions' state again; a new process
    /// (a new incarnation) is a new life with a new broker epoch, admitted
    /// only once the old life's session has expired
    /// (`ClusterControlManager.registerBroker`). A refusal is answered on
    /// `link` and returned; the caller then closes the connection.
    pub fn register(
        &mut self,
        addr: BrokerAddr,
        incarnation: Uuid,
        previous_broker_epoch: Option<u64>,
        conn: ConnId,
        link: UnboundedSender<ToBroker>,
        now: Instant,
    ) -> Result<(), String> {
        let id = addr.id;
        let existing = self.brokers.get(&id);
        if let Some(m) = existing
            && m.incarnation != incarnation
            && m.has_valid_session(now, self.session_timeout)
        {
            // Kafka's DUPLICATE_BROKER_REGISTRATION: the old life may still
            // be serving, and fencing it on a newcomer's word would let a
            // misconfigured second broker with the same id unseat it. A
            // restarted broker asks again until the session runs out and
            // the ticker fences the old life.
            let message = format!(
                "broker id {id} is still registered by another process, whose \
                 session has not expired (broker.session.timeout.ms {} ms); \
                 a restarted broker is admitted once it has",
                self.session_timeout.as_millis()
            );
            let refusal = ToBroker::RegistrationRefused {
                error: ErrorCode::DuplicateBrokerRegistration,
                message: message.clone(),
            };
            self.ready.sends.push((link, refusal));
            return Err(format!(
                "{}: {message}",
                ErrorCode::DuplicateBrokerRegistration
            ));
        }
        if let Some(m) = self.brokers.get_mut(&id)
            && m.stopping
            && m.incarnation == incarnation
        {
            // The stopping process reconnected: it only needs its answer.
            m.conn = Some(conn);
            m.link = Some(link);
            let (broker_epoch, life) = (m.broker_epoch, m.life);
            self.send(id, ToBroker::Registered { broker_epoch, life });
            self.send(id, ToBroker::ShutdownAllowed { broker_epoch });
            return Ok(());
        }
        if let Some(m) = self.brokers.get_mut(&id)
            && !m.fenced
            && m.incarnation == incarnation
            && m.addr == addr
        {
            m.conn = Some(conn);
            m.link = Some(link);
            m.last_contact = Some(now);
            let (broker_epoch, life) = (m.broker_epoch, m.life);
            self.send(id, ToBroker::Registered { broker_epoch, life });
            for key in self.partitions_of(id) {
                self.send_state(&key, id);
            }
            self.settle();
            return Ok(());
        }
        let existing = self.brokers.get(&id);
        // Kafka 4.x calls a restart clean when the epoch its marker kept is
        // the one the controller registered last (`storedBrokerEpoch ==
        // request.previousBrokerEpoch()` in `registerBroker`); with no
        // registration on record nothing matches. The same process, fenced
        // while cut off, speaking again has its log intact, as the core's
        // `HeartbeatResumed` says, whatever its start found.
        let clean_shutdown = existing.is_some_and(|m| {
            m.incarnation == incarnation || previous_broker_epoch == Some(m.broker_epoch)
        });
        self.admit(addr, incarnation, clean_shutdown, conn, link, now);
        Ok(())
    }

    /// Registers a new life of the broker (a new broker epoch), fencing the
    /// old one first if it still counts as alive: its session ran out
    /// before the ticker noticed, or it is the same process that changed
    /// its address. The partitions it led or sat in the ISR of move on
    /// before the new life registers.
    fn admit(
        &mut self,
        addr: BrokerAddr,
        incarnation: Uuid,
        clean_shutdown: bool,
        conn: ConnId,
        link: UnboundedSender<ToBroker>,
        now: Instant,
    ) {
        let id = addr.id;
        if self.brokers.get(&id).is_some_and(|m| !m.fenced) {
            self.fence(id);
        }
        let life = self.next_life(id, incarnation);
        let broker_epoch = self.record(MetadataRecord::RegisterBroker {
            broker: addr.clone(),
            incarnation,
        });
        self.brokers.insert(
            id,
            Member {
                addr,
                incarnation,
                broker_epoch,
                life,
                conn: Some(conn),
                link: Some(link),
                last_contact: Some(now),
                fenced: false,
                stopping: false,
            },
        );
        self.send(id, ToBroker::Registered { broker_epoch, life });
        for key in self.partitions_of(id) {
            let registration = Msg::BrokerRegistration {
                clean_shutdown,
                broker_epoch: life,
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
        m.last_contact = Some(now);
        if m.fenced
            && !m.stopping
            && let Some(link) = m.link.clone()
        {
            let (addr, incarnation) = (m.addr.clone(), m.incarnation);
            self.admit(addr, incarnation, true, conn, link, now);
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
        joining: Option<(BrokerId, u8)>,
    ) {
        if !self.is_current(broker, conn) {
            return;
        }
        let key = (topic, partition);
        let alter = Msg::AlterPartition {
            leader_epoch,
            partition_epoch,
            new_isr,
            joining,
        };
        self.step(&key, Input::Message(Node::Broker(broker), alter));
        self.settle();
    }

    /// A controlled shutdown (SIGTERM on the broker). Kafka's controller
    /// first takes the broker out of every ISR and leadership
    /// (`ReplicationControlManager.handleBrokerInControlledShutdown`), then
    /// fences it and answers SHUTDOWN_NOW once it leads nothing
    /// (`BrokerHeartbeatManager`); the core does both in one step per
    /// partition, and the new leaders are elected before the broker hears
    /// it may go, so its partitions never wait out a session timeout.
    pub fn controlled_shutdown(&mut self, broker: BrokerId, conn: ConnId) {
        if !self.is_current(broker, conn) {
            return;
        }
        let m = self.brokers.get_mut(&broker).expect("current");
        let already_fenced = m.fenced;
        m.stopping = true;
        let broker_epoch = m.broker_epoch;
        if !already_fenced {
            self.record(MetadataRecord::FenceBroker { broker });
            self.brokers.get_mut(&broker).expect("listed").fenced = true;
            for key in self.partitions_of(broker) {
                let epoch = self.partitions[&key].core.broker_epoch(broker);
                let shutdown = Msg::ControlledShutdown {
                    broker_epoch: epoch,
                };
                self.step(&key, Input::Message(Node::Broker(broker), shutdown));
            }
            self.settle();
        }
        self.send(broker, ToBroker::ShutdownAllowed { broker_epoch });
    }

    /// Fences every broker whose heartbeats stopped.
    pub fn tick(&mut self, now: Instant) {
        let expired: Vec<BrokerId> = self
            .brokers
            .iter()
            .filter(|(_, m)| !m.fenced && !m.has_valid_session(now, self.session_timeout))
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
        self.record(MetadataRecord::FenceBroker { broker: b });
        self.brokers.get_mut(&b).expect("listed").fenced = true;
        for key in self.partitions_of(b) {
            self.step(&key, Input::Message(Node::Broker(b), Msg::SessionExpired));
        }
    }

    /// Creates a topic, placing replicas round-robin over the live brokers.
    pub fn create_topic(&mut self, name: &str, s: &TopicSettings) -> Result<(), TopicError> {
        check_topic_name(name)?;
        let err = |code, message| Err(TopicError { code, message });
        if self.topics.contains_key(name) {
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
        let id = Uuid::new_v4();
        self.record(MetadataRecord::Topic {
            name: name.to_string(),
            id,
            settings: s.clone(),
        });
        self.topics.insert(
            name.to_string(),
            TopicMeta {
                id,
                settings: s.clone(),
            },
        );
        for index in 0..s.partitions {
            let start = index as usize % live.len();
            let assignment: Vec<BrokerId> =
                (0..rf).map(|i| live[(start + i) % live.len()]).collect();
            let mut core = Controller::new(BrokerSet::of(assignment.iter().copied()), Vec::new());
            core.fenced = core.replicas.minus(self.live());
            core.broker_epochs = self.lives_of(core.replicas);
            self.record(MetadataRecord::Partition {
                topic: name.to_string(),
                partition: index,
                assignment: assignment.clone(),
                state: core.state,
            });
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
        let live: Vec<BrokerId> = self.live().iter().collect();
        for b in live {
            self.send(b, ToBroker::Cluster(view.clone()));
        }
    }

    /// Tells `broker` the partition's current state.
    fn send_state(&mut self, key: &(String, i32), broker: BrokerId) {
        let p = &self.partitions[key];
        let msg = ToBroker::LeaderAndIsr {
            topic: key.0.clone(),
            partition: key.1,
            replicas: p.core.replicas,
            protocol: p.protocol.clone(),
            state: p.core.state,
        };
        self.send(broker, msg);
    }

    /// One step of a partition's core, its effects carried out: a record
    /// of the new state, events into the trace, LeaderAndIsr to its
    /// brokers. A partition not (or no longer) known takes nothing.
    fn step(&mut self, key: &(String, i32), input: Input<Batch>) {
        let mut fx = self.effects();
        let Some(p) = self.partitions.get_mut(key) else {
            return;
        };
        let before = (p.core.state, p.core.last_known_leader);
        p.core.step(input, &p.protocol, &mut fx);
        let after = (p.core.state, p.core.last_known_leader);
        if after != before {
            self.record(MetadataRecord::PartitionChange {
                topic: key.0.clone(),
                partition: key.1,
                state: after.0,
                last_known_leader: after.1,
            });
        }
        for effect in fx {
            match effect {
                Effect::Event(e) => {
                    let mut line = crate::server::trace::trace_line(&e);
                    line["topic"] = key.0.clone().into();
                    line["partition"] = key.1.into();
                    self.events.push(line);
                }
                Effect::Send(Node::Broker(b), Msg::LeaderAndIsr { .. }) => {
                    self.send_state(key, b);
                }
                Effect::Send(
                    Node::Broker(b),
                    Msg::AlterPartitionRejected {
                        new_isr,
                        partition_epoch,
                        ineligible,
                    },
                ) => {
                    let msg = ToBroker::AlterPartitionRejected {
                        topic: key.0.clone(),
                        partition: key.1,
                        new_isr,
                        partition_epoch,
                        ineligible,
                    };
                    self.send(b, msg);
                }
                // Metadata reaches clients through the cluster view; the
                // controller's own log is the metadata records above, and
                // it arms no timer.
                Effect::Send(..)
                | Effect::Write(_)
                | Effect::ArmTimer(_)
                | Effect::CancelTimer(_)
                | Effect::FollowerFetched { .. } => {}
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
                id: self.topics[name].id,
                partitions: Vec::new(),
            });
            t.partitions.push(PartitionView {
                replicas: p.core.replicas,
                state: p.core.state,
            });
        }
        ClusterView {
            cluster_id: self.cluster_id.clone(),
            // A KRaft broker reports a live broker as the "controller"
            // (KRaftMetadataCache.getControllerId → getRandomAliveBroker):
            // the one a client sends admin requests to, which the broker
            // forwards. The quorum controller itself is never listed.
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

    /// Broker `b`'s process in its `n`th life.
    /// The kinds of the records the controller has ready, in order.
    fn record_kinds(c: &mut ControllerNode) -> Vec<&'static str> {
        c.take_ready()
            .records
            .into_iter()
            .map(|(_, rec)| match rec {
                MetadataRecord::FenceBroker { .. } => "fence",
                MetadataRecord::RegisterBroker { .. } => "register",
                MetadataRecord::PartitionChange { .. } => "change",
                _ => "other",
            })
            .collect()
    }

    fn life(b: BrokerId, n: u8) -> Uuid {
        Uuid::from_u128(u128::from(b) << 8 | u128::from(n))
    }

    pub(super) fn cluster(n: u8) -> (ControllerNode, Vec<UnboundedReceiver<ToBroker>>, Instant) {
        cluster_traced(n, false)
    }

    pub(super) fn cluster_traced(
        n: u8,
        trace: bool,
    ) -> (ControllerNode, Vec<UnboundedReceiver<ToBroker>>, Instant) {
        let mut c = ControllerNode::new(Duration::from_secs(1), trace);
        let now = Instant::now();
        let mut rxs = Vec::new();
        for b in 0..n {
            let (tx, rx) = unbounded_channel();
            c.register(addr(b), life(b, 0), None, u64::from(b), tx, now)
                .expect("a first registration");
            rxs.push(rx);
        }
        (c, rxs, now)
    }

    /// Everything sent so far on `rx`.
    pub(super) fn drain(rx: &mut UnboundedReceiver<ToBroker>) -> Vec<ToBroker> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    pub(super) fn settings(rf: u8, min_isr: u8) -> TopicSettings {
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
        c.take_ready().deliver();
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
        // Kafka accepts min.insync.replicas above the replica count; from
        // 3.7 the replica count caps it (`ProtocolConfig::min_isr`).
        assert!(c.create_topic("u", &settings(2, 3)).is_ok());
        assert_eq!(
            c.create_topic("v", &settings(2, 0)).unwrap_err().code,
            ErrorCode::InvalidConfig
        );
    }

    /// Kafka 4.x's DUPLICATE_BROKER_REGISTRATION: a new process with the
    /// id of a broker whose session lives is refused, and nothing changes;
    /// once the session has expired and the old life is fenced, it is
    /// admitted. The partitions never see two lives at once.
    #[test]
    fn a_new_process_is_refused_while_the_old_session_lives() {
        let (mut c, _rxs, start) = cluster(3);
        c.create_topic("t", &settings(3, 2)).unwrap();
        c.take_ready().deliver();
        let before = c.image();
        let (tx, mut rx) = unbounded_channel();
        let soon = start + Duration::from_millis(900);
        let why = c
            .register(addr(0), life(0, 1), None, 100, tx, soon)
            .unwrap_err();
        assert!(why.contains("DUPLICATE_BROKER_REGISTRATION"), "{why}");
        let ready = c.take_ready();
        assert!(ready.records.is_empty(), "{:?}", ready.records);
        ready.deliver();
        assert!(
            matches!(
                drain(&mut rx).as_slice(),
                [ToBroker::RegistrationRefused {
                    error: ErrorCode::DuplicateBrokerRegistration,
                    ..
                }]
            ),
            "the refusal, and nothing else"
        );
        assert_eq!(c.image(), before, "the old life keeps everything");
        assert_eq!(c.view().topics["t"].partitions[0].state.leader, Some(0));
        // A refused process does not speak for the broker.
        c.heartbeat(0, 100, soon);
        assert_eq!(c.brokers[&0].conn, Some(0));
        // The session runs out; the ticker fences the old life.
        let later = start + Duration::from_millis(1500);
        c.heartbeat(1, 1, later);
        c.heartbeat(2, 2, later);
        c.tick(later);
        let p0 = c.view().topics["t"].partitions[0].state;
        assert_eq!(p0.leader, Some(1), "its old life lost the leadership");
        assert_eq!(p0.isr, BrokerSet::of([1, 2]), "and its ISR seat");
        let (tx, mut rx) = unbounded_channel();
        c.register(addr(0), life(0, 1), None, 101, tx, later)
            .expect("admitted once the old session expired");
        c.take_ready().deliver();
        let told = drain(&mut rx);
        assert!(
            matches!(told.first(), Some(ToBroker::Registered { broker_epoch, life: 1 }) if *broker_epoch == c.brokers[&0].broker_epoch),
            "told its new broker epoch and its second life first: {told:?}"
        );
        assert_eq!(c.view().brokers.len(), 3, "the new life is registered");
    }

    /// After a controller restart only unfenced brokers have a session
    /// (`ClusterControlManager.activate`): a broker that stopped by a
    /// controlled shutdown comes back at once.
    #[test]
    fn a_restored_controller_gives_fenced_brokers_no_session() {
        let (mut c, _rxs, now) = cluster(3);
        c.create_topic("t", &settings(3, 2)).unwrap();
        c.controlled_shutdown(0, 0);
        let records = c.take_ready().records;
        let n = records.len() as u64;
        let mut r =
            ControllerNode::restore(Duration::from_secs(1), false, None, records, n, now).unwrap();
        let (tx, _rx) = unbounded_channel();
        let epoch = r.brokers[&0].broker_epoch;
        r.register(addr(0), life(0, 1), Some(epoch), 10, tx, now)
            .expect("no session to wait out");
        let (tx, _rx) = unbounded_channel();
        assert!(
            r.register(addr(1), life(1, 1), None, 11, tx, now).is_err(),
            "an unfenced broker's session starts with the restored controller"
        );
    }

    /// The core's broker epochs are the brokers' lives: 0 for a first
    /// process, one more for each new process, the same for the same
    /// process registered again. Partitions created later and a restored
    /// controller start from them, and a leader's expansion naming a
    /// joiner's older life is refused (KIP-903), its current one taken.
    #[test]
    fn each_new_process_is_a_new_life_which_the_core_compares() {
        let (mut c, _rxs, start) = cluster(3);
        let mut log = Vec::new();
        c.create_topic("t", &settings(3, 2)).unwrap();
        assert_restores(&mut c, &mut log);
        let lives = |c: &ControllerNode, topic: &str| -> Vec<Vec<u8>> {
            c.partitions
                .iter()
                .filter(|((t, _), _)| t == topic)
                .map(|(_, p)| (0..3).map(|b| p.core.broker_epoch(b)).collect())
                .collect()
        };
        assert_eq!(lives(&c, "t"), vec![vec![0, 0, 0]; 3]);
        // Broker 1 is killed, fenced, and comes back as a new process.
        let later = start + Duration::from_millis(1500);
        c.heartbeat(0, 0, later);
        c.heartbeat(2, 2, later);
        c.tick(later);
        let (tx, mut rx) = unbounded_channel();
        c.register(addr(1), life(1, 1), None, 10, tx, later)
            .unwrap();
        let ready = c.take_ready();
        log.extend(ready.records.clone());
        ready.deliver();
        assert!(
            matches!(
                drain(&mut rx).first(),
                Some(ToBroker::Registered { life: 1, .. })
            ),
            "told it is the second life"
        );
        assert_eq!(lives(&c, "t"), vec![vec![0, 1, 0]; 3]);
        c.create_topic("u", &settings(3, 2)).unwrap();
        assert_eq!(lives(&c, "u"), vec![vec![0, 1, 0]; 3], "a new topic too");
        assert_restores(&mut c, &mut log);
        // Cut off, fenced, and heard again: the same process, the same life.
        let cut = later + Duration::from_millis(1500);
        c.heartbeat(0, 0, cut);
        c.heartbeat(2, 2, cut);
        c.tick(cut);
        assert!(c.brokers[&1].fenced);
        c.heartbeat(1, 10, cut);
        assert!(!c.brokers[&1].fenced);
        assert_eq!(c.brokers[&1].life, 1);
        assert_eq!(lives(&c, "t"), vec![vec![0, 1, 0]; 3]);
        assert_restores(&mut c, &mut log);
        // Broker 1 is out of partition 0's ISR; its leader proposes it back.
        let p0 = c.view().topics["t"].partitions[0].state;
        assert_eq!((p0.leader, p0.isr), (Some(0), BrokerSet::of([0, 2])));
        let expand = |c: &mut ControllerNode, joiner_life: u8| {
            let p0 = c.view().topics["t"].partitions[0].state;
            c.alter_partition(
                0,
                0,
                "t".into(),
                0,
                p0.leader_epoch,
                p0.partition_epoch,
                BrokerSet::of([0, 1, 2]),
                Some((1, joiner_life)),
            );
            c.view().topics["t"].partitions[0].state.isr
        };
        assert_eq!(
            expand(&mut c, 0),
            BrokerSet::of([0, 2]),
            "a fetch of its killed life"
        );
        assert_eq!(expand(&mut c, 1), BrokerSet::of([0, 1, 2]));
        assert_restores(&mut c, &mut log);
    }

    /// A session that ran out before the ticker noticed: the new life is
    /// admitted, and the old one fenced first, in the same decision.
    #[test]
    fn a_new_process_after_the_session_ran_out_fences_the_old_life_first() {
        let (mut c, _rxs, start) = cluster(3);
        c.create_topic("t", &settings(3, 2)).unwrap();
        c.take_ready();
        let (tx, _rx) = unbounded_channel();
        let later = start + Duration::from_millis(1001);
        c.register(addr(0), life(0, 1), None, 100, tx, later)
            .expect("the old session expired");
        let kinds = record_kinds(&mut c);
        assert_eq!(kinds.first(), Some(&"fence"), "{kinds:?}");
        assert!(kinds.contains(&"register"), "{kinds:?}");
        let p0 = c.view().topics["t"].partitions[0].state;
        assert_eq!((p0.leader, p0.isr), (Some(1), BrokerSet::of([1, 2])));
    }

    /// The core hears a clean restart only when the registration's previous
    /// broker epoch is the one registered last (Kafka 4.x's
    /// `ClusterControlManager.registerBroker`): a marker's mere presence,
    /// or one from an older life, is not enough.
    #[test]
    fn a_restart_is_clean_only_with_the_registered_previous_broker_epoch() {
        let (mut c, _rxs, start) = cluster_traced(3, true);
        c.create_topic("t", &settings(3, 2)).unwrap();
        c.take_ready();
        let epochs: Vec<u64> = (0..3).map(|b| c.brokers[&b].broker_epoch).collect();
        // Brokers 0 and 1 stop cleanly; broker 2 is killed.
        c.controlled_shutdown(0, 0);
        c.controlled_shutdown(1, 1);
        c.take_ready();
        let later = start + Duration::from_secs(2);
        c.tick(later);
        c.events.clear();
        let registered = |c: &mut ControllerNode, b: BrokerId, previous| {
            let (tx, _rx) = unbounded_channel();
            c.register(addr(b), life(b, 1), previous, 10 + u64::from(b), tx, later)
                .expect("the old session is over");
            let clean: Vec<bool> = c
                .events
                .drain(..)
                .filter(|l| l["event"]["type"] == "BrokerRegistered" && l["event"]["broker"] == b)
                .map(|l| l["event"]["clean_shutdown"] == true)
                .collect();
            assert_eq!(clean.len(), 3, "one per partition");
            clean[0]
        };
        assert!(
            !registered(&mut c, 0, Some(epochs[0] + 1)),
            "a marker from another life"
        );
        assert!(
            registered(&mut c, 1, Some(epochs[1])),
            "the marker of the life registered last"
        );
        assert!(!registered(&mut c, 2, None), "no marker");
    }

    #[test]
    fn a_controlled_shutdown_moves_leadership_before_the_broker_may_stop() {
        let (mut c, mut rxs, now) = cluster(3);
        c.create_topic("t", &settings(3, 2)).unwrap();
        c.take_ready().deliver();
        for rx in &mut rxs {
            while rx.try_recv().is_ok() {}
        }
        c.controlled_shutdown(0, 0);
        let ready = c.take_ready();
        assert!(
            matches!(
                ready.records.first(),
                Some((_, MetadataRecord::FenceBroker { broker: 0 }))
            ),
            "fenced durably first: {:?}",
            ready.records
        );
        ready.deliver();
        let p0 = c.view().topics["t"].partitions[0].state;
        assert_eq!(p0.leader, Some(1), "the next replica leads");
        assert_eq!(p0.isr, BrokerSet::of([1, 2]));
        let told: Vec<ToBroker> = std::iter::from_fn(|| rxs[0].try_recv().ok()).collect();
        assert!(
            matches!(told.last(), Some(ToBroker::ShutdownAllowed { .. })),
            "allowed last, after its partitions moved: {told:?}"
        );
        // Its heartbeats no longer count, and a reconnection only hears the
        // answer again.
        c.heartbeat(0, 0, now + Duration::from_millis(10));
        assert_eq!(c.view().brokers.len(), 2, "it stays fenced");
        let (tx, mut rx) = unbounded_channel();
        c.register(addr(0), life(0, 0), None, 50, tx, now).unwrap();
        c.take_ready().deliver();
        assert!(matches!(
            drain(&mut rx).as_slice(),
            [
                ToBroker::Registered { .. },
                ToBroker::ShutdownAllowed { .. }
            ]
        ));
        assert_eq!(c.view().brokers.len(), 2);
        // Fenced, it keeps its session until it runs out (Kafka 4.x): its
        // next life waits for that, then registers as a new broker epoch.
        let epoch = c.brokers[&0].broker_epoch;
        let (tx, _rx) = unbounded_channel();
        let err = c.register(addr(0), life(0, 1), Some(epoch), 51, tx, now);
        assert!(err.is_err(), "its session lives on after the shutdown");
        let (tx, _rx) = unbounded_channel();
        let later = now + Duration::from_millis(1011);
        c.register(addr(0), life(0, 1), Some(epoch), 52, tx, later)
            .unwrap();
        assert_eq!(c.view().brokers.len(), 3);
        assert!(c.brokers[&0].broker_epoch > epoch);
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

    /// Everything the core decides by, its replicas' broker epochs (their
    /// lives) included; the clients it tells are none on the server.
    fn assert_same_core(restored: &Controller, live: &Controller) {
        assert_eq!(
            (restored.replicas, restored.state, restored.fenced),
            (live.replicas, live.state, live.fenced)
        );
        assert_eq!(restored.last_known_leader, live.last_known_leader);
        for b in live.replicas.iter() {
            assert_eq!(restored.broker_epoch(b), live.broker_epoch(b));
        }
    }

    /// Every operation's records, replayed into a new controller, give the
    /// same brokers, topics, settings, leaders, epochs, ISR, ELR and fencing.
    fn assert_restores(c: &mut ControllerNode, log: &mut Vec<(u64, MetadataRecord)>) {
        log.extend(c.take_ready().records);
        let offsets: Vec<u64> = log.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, (0..log.len() as u64).collect::<Vec<_>>());
        let r = ControllerNode::restore(
            Duration::from_secs(1),
            false,
            None,
            log.clone(),
            log.len() as u64,
            Instant::now(),
        )
        .expect("replays");
        assert_eq!(r.image(), c.image());
        assert_eq!(r.view(), c.view());
        for (key, p) in &c.partitions {
            assert_same_core(&r.partitions[key].core, &p.core);
            assert_eq!(r.partitions[key].protocol, p.protocol, "{key:?}");
        }
        // And through a snapshot of the image.
        let s = ControllerNode::restore(
            Duration::from_secs(1),
            false,
            Some(c.image()),
            Vec::new(),
            log.len() as u64,
            Instant::now(),
        )
        .expect("loads");
        assert_eq!(s.image(), c.image());
        for (key, p) in &c.partitions {
            assert_same_core(&s.partitions[key].core, &p.core);
        }
        assert_eq!(s.next_offset, c.next_offset);
    }

    /// KIP-966's last known leader is a decision too: Kafka keeps it in
    /// `PartitionChangeRecord.LastKnownElr`.
    #[test]
    fn a_restored_controller_keeps_the_last_known_leader() {
        let (mut c, _rxs, start) = cluster(2);
        let mut log = Vec::new();
        let mut s = settings(2, 1);
        s.partitions = 1;
        s.kafka.eligible_leader_replicas_enable = true;
        c.create_topic("t", &s).unwrap();
        let p0 = c.view().topics["t"].partitions[0].state;
        let (leader, other) = match p0.leader {
            Some(0) => (0, 1),
            _ => (1, 0),
        };
        c.alter_partition(
            leader,
            u64::from(leader),
            "t".into(),
            0,
            p0.leader_epoch,
            p0.partition_epoch,
            BrokerSet::of([leader]),
            None,
        );
        // The follower keeps its session, the sole ISR member falls silent.
        let later = start + Duration::from_millis(1500);
        c.heartbeat(other, u64::from(other), later);
        c.tick(later);
        let core = &c.partitions[&("t".to_string(), 0)].core;
        assert_eq!(
            (core.state.leader, core.state.isr),
            (None, BrokerSet::EMPTY)
        );
        assert_eq!(core.last_known_leader, Some(leader));
        assert_restores(&mut c, &mut log);
    }

    #[test]
    fn a_restored_controller_resumes_every_decision() {
        let (mut c, _rxs, start) = cluster(3);
        let mut log = Vec::new();
        assert_restores(&mut c, &mut log);
        let mut s = settings(3, 2);
        s.kafka.unclean_leader_election_enable = true;
        c.create_topic("t", &s).unwrap();
        assert_restores(&mut c, &mut log);
        // Broker 0 falls silent: fenced, its partitions move.
        let later = start + Duration::from_millis(1500);
        c.heartbeat(1, 1, later);
        c.heartbeat(2, 2, later);
        c.tick(later);
        assert_restores(&mut c, &mut log);
        // Broker 1, now leading partition 0, shrinks its ISR to itself.
        let p0 = c.view().topics["t"].partitions[0].state;
        assert_eq!(p0.leader, Some(1));
        c.alter_partition(
            1,
            1,
            "t".into(),
            0,
            p0.leader_epoch,
            p0.partition_epoch,
            BrokerSet::of([1]),
            None,
        );
        assert_eq!(
            c.view().topics["t"].partitions[0].state.isr,
            BrokerSet::of([1])
        );
        assert_restores(&mut c, &mut log);
        // Broker 0 comes back as a new process.
        let (tx, _rx) = unbounded_channel();
        c.register(addr(0), life(0, 1), None, 10, tx, later)
            .expect("its old life was fenced");
        assert_restores(&mut c, &mut log);
        assert!(
            c.brokers[&0].broker_epoch > 0,
            "a new life, a new broker epoch"
        );
    }

    #[test]
    fn a_broker_reconnecting_after_a_controller_restart_keeps_its_registration() {
        let (mut c, _rxs, now) = cluster(3);
        c.create_topic("t", &settings(3, 2)).unwrap();
        let records = c.take_ready().records;
        let n = records.len() as u64;
        let mut r =
            ControllerNode::restore(Duration::from_secs(1), false, None, records, n, now).unwrap();
        let before = r.image();
        let (tx, mut rx) = unbounded_channel();
        r.register(addr(0), life(0, 0), None, 7, tx, now).unwrap();
        let ready = r.take_ready();
        assert!(
            ready.records.is_empty(),
            "nothing changed: {:?}",
            ready.records
        );
        ready.deliver();
        assert_eq!(r.image(), before);
        let told: Vec<ToBroker> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        let states = told
            .iter()
            .filter(|m| matches!(m, ToBroker::LeaderAndIsr { .. }))
            .count();
        assert_eq!(states, 3, "it hears every partition's state again");
        // A restored controller gives every unfenced broker a session from
        // its start (`ClusterControlManager.activate`): another process
        // with the same id waits it out, then is a new life, and the old
        // one is fenced first.
        let (tx, _rx) = unbounded_channel();
        assert!(r.register(addr(1), life(1, 1), None, 8, tx, now).is_err());
        let (tx, _rx) = unbounded_channel();
        let later = now + Duration::from_millis(1001);
        r.register(addr(1), life(1, 1), None, 9, tx, later).unwrap();
        let kinds = record_kinds(&mut r);
        assert_eq!(kinds.first(), Some(&"fence"), "{kinds:?}");
        assert!(kinds.contains(&"register"), "{kinds:?}");
    }
}
