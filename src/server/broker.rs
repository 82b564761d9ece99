//! One broker's state: its partitions, the cluster as Metadata reports it,
//! and the topic settings it creates partitions with. Sans IO: it is handed
//! `now`, and what it decides for others (answers to waiting requests,
//! messages to the controller, follower fetches) collects as `Output`s for
//! the runtime (`shared`) to carry out.

use super::control::wire::{ElectionType, ToController, TopicElections};
use super::metadata::ClusterView;
use super::partition::{Appended, Partition, ProduceResult, storage_failed, ticket_of};
use super::storage::{PartitionDir, Recovered};
use super::topic_settings::{TopicError, TopicSettings};
use super::trace::PartitionTrace;
use super::trace::TraceSink;
use crate::core::config::ProtocolConfig;
use crate::core::messages::{FetchRequest, FetchResponse, Msg, Node, PartitionState};
use crate::core::replica::{Input, Replica};
use crate::core::types::Acks;
use crate::core::types::{BrokerId, BrokerSet};
use crate::wire::batch::Batch;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A partition by topic and index.
pub type PartitionKey = (String, i32);

/// What the broker asks its runtime to do, in the order it decided it.
#[derive(Debug)]
pub enum Output {
    /// To the controller: AlterPartition, CreateTopic.
    Controller(ToController),
    /// A follower fetch of this broker's, for the fetcher to send.
    Fetch(FollowerFetch),
    /// The answer to the produce waiting on `ticket` of `partition`.
    Produced {
        partition: PartitionKey,
        ticket: u16,
        result: ProduceResult,
    },
    /// The answer to `follower`'s fetch of `partition`.
    Fetched {
        partition: PartitionKey,
        follower: BrokerId,
        response: FetchResponse<Batch>,
    },
    /// The controller's answer to topic request `request`.
    TopicCreated {
        request: u64,
        result: Result<(), TopicError>,
    },
    /// The controller's answer to election request `request`.
    LeadersElected {
        request: u64,
        results: Vec<TopicElections>,
    },
}

/// A follower's fetch for the runtime to send to the leader.
#[derive(Debug, Clone)]
pub struct FollowerFetch {
    pub topic: String,
    pub partition: i32,
    pub leader: BrokerId,
    pub req: FetchRequest,
}

#[derive(Debug)]
pub struct Broker {
    pub id: BrokerId,
    /// What an auto-created topic gets.
    pub defaults: TopicSettings,
    /// The cluster as the controller last described it.
    pub view: ClusterView,
    /// This life's broker epoch, once the controller registered it.
    pub broker_epoch: Option<u64>,
    /// Which life of its broker id this process is, as the controller
    /// counts them: every partition's replica takes it as its incarnation,
    /// so follower fetches carry it (KIP-903).
    life: Option<u8>,
    partitions: HashMap<(String, i32), Partition>,
    next_producer_id: i64,
    next_request: u64,
    /// What the runtime is to do, oldest first.
    outbox: Vec<Output>,
    /// Where `--trace` lines go. They are written as each step's decisions
    /// are made, so a broker killed mid-run leaves a trace that ends where
    /// it died (the conformance check needs every step that happened).
    trace: TraceSink,
    /// Where partitions keep their files; `None` keeps logs in memory only.
    data_dir: Option<PathBuf>,
    /// Logs read back at startup, waiting for the controller to name their
    /// partitions' state.
    recovered: HashMap<(String, i32), (PartitionDir, Recovered)>,
}

impl Broker {
    pub fn new(id: BrokerId, defaults: TopicSettings, trace: TraceSink) -> Self {
        Broker {
            id,
            defaults,
            view: ClusterView::default(),
            broker_epoch: None,
            life: None,
            partitions: HashMap::new(),
            // Producer ids must not repeat across brokers and restarts:
            // this broker's own block, started from the clock.
            next_producer_id: (i64::from(id) << 48)
                | (std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64)
                    & ((1 << 48) - 1)),
            next_request: 0,
            outbox: Vec::new(),
            trace,
            data_dir: None,
            recovered: HashMap::new(),
        }
    }

    /// Keeps partitions under `dir`, recovering every log already there.
    /// Returns what recovery cut, for the operator.
    pub fn open_data_dir(&mut self, dir: &Path) -> std::io::Result<Vec<String>> {
        std::fs::create_dir_all(dir)?;
        let mut notes = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            if !e.file_type()?.is_dir() {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            let Some((topic, index)) = name.rsplit_once('-') else {
                continue;
            };
            let Ok(index) = index.parse::<i32>() else {
                continue;
            };
            let (files, rec) = PartitionDir::open(e.path())?;
            notes.extend(rec.notes.iter().cloned());
            self.recovered
                .insert((topic.to_string(), index), (files, rec));
        }
        self.data_dir = Some(dir.to_path_buf());
        Ok(notes)
    }

    pub fn partition(&self, topic: &str, index: i32) -> Option<&Partition> {
        self.partitions.get(&(topic.to_string(), index))
    }

    pub fn has_topic(&self, name: &str) -> bool {
        self.view.topics.contains_key(name)
    }

    /// What the runtime is to do now, oldest first.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outbox)
    }

    /// Appends a batch to a hosted partition; `None` if not hosted.
    pub fn append(
        &mut self,
        topic: &str,
        index: i32,
        batch: Batch,
        acks: Acks,
        now: Instant,
    ) -> Option<Appended> {
        let key = (topic.to_string(), index);
        let appended = self.partitions.get_mut(&key)?.produce(batch, acks, now);
        self.drain(&key);
        Some(appended)
    }

    /// A follower's Fetch for a hosted partition (`None` if not hosted):
    /// its answer if there is one now, or `None` while it waits for news.
    pub fn follower_fetch(
        &mut self,
        topic: &str,
        index: i32,
        from: BrokerId,
        req: FetchRequest,
        now: Instant,
    ) -> Option<Option<FetchResponse<Batch>>> {
        let key = (topic.to_string(), index);
        self.partitions
            .get_mut(&key)?
            .on_follower_fetch(from, req, now);
        self.drain(&key);
        let answered = self.outbox.iter().position(|o| {
            matches!(o, Output::Fetched { partition, follower, .. } if *partition == key && *follower == from)
        });
        Some(match answered.map(|i| self.outbox.remove(i)) {
            Some(Output::Fetched { response, .. }) => Some(response),
            _ => None,
        })
    }

    /// Runs `f` on a hosted partition, then sends what the core asked to send.
    pub fn with_partition<T>(
        &mut self,
        topic: &str,
        index: i32,
        f: impl FnOnce(&mut Partition) -> T,
    ) -> Option<T> {
        let key = (topic.to_string(), index);
        let p = self.partitions.get_mut(&key)?;
        let out = f(p);
        self.drain(&key);
        Some(out)
    }

    /// Every hosted partition, for periodic work (lag checks).
    pub fn each_partition(&mut self, mut f: impl FnMut(&mut Partition)) {
        let keys: Vec<_> = self.partitions.keys().cloned().collect();
        for key in keys {
            f(self.partitions.get_mut(&key).expect("listed"));
            self.drain(&key);
        }
    }

    /// LeaderAndIsr: hosts the partition if new, else hands it the state.
    /// The controller's answer to this process's registration. A process
    /// is one life: the controller names it the same whenever the process
    /// registers again, and replicas already fetching with it could not
    /// change it. Another life for this process is refused.
    pub fn registered(&mut self, broker_epoch: u64, life: u8) -> Result<(), String> {
        match self.life {
            Some(known) if known != life => {
                return Err(format!(
                    "the controller named this process life {life} of broker {}, \
                     after life {known}: its metadata is not the one this process \
                     registered with",
                    self.id
                ));
            }
            _ => self.life = Some(life),
        }
        self.broker_epoch = Some(broker_epoch);
        Ok(())
    }

    /// Any other message from the controller about a partition this
    /// broker hosts; one it does not host has nothing to act on.
    pub fn from_controller(
        &mut self,
        topic: String,
        partition: i32,
        msg: Msg<Batch>,
        now: Instant,
    ) {
        if let Some(p) = self.partitions.get_mut(&(topic, partition)) {
            p.step(Input::Message(Node::Controller, msg), now);
        }
    }

    pub fn on_leader_and_isr(
        &mut self,
        topic: String,
        partition: i32,
        replicas: BrokerSet,
        protocol: ProtocolConfig,
        state: PartitionState,
        now: Instant,
    ) {
        let key = (topic, partition);
        match self.partitions.get_mut(&key) {
            Some(p) => p.on_leader_and_isr(state, protocol, now),
            None => {
                // The controller answers a registration before it names a
                // partition, so the life is known here.
                let Some(life) = self.life else {
                    eprintln!(
                        "insync broker {}: the state of {}-{} came before the \
                         registration's answer; ignored",
                        self.id, key.0, key.1
                    );
                    return;
                };
                let trace = self.trace.clone().map(|sink| PartitionTrace {
                    sink,
                    topic: key.0.clone(),
                    partition: key.1,
                    node: format!("broker {}", self.id),
                });
                let p = match self.recovered.remove(&key) {
                    Some(recovered) => Partition::restored(
                        self.id, life, replicas, state, protocol, recovered, trace, now,
                    ),
                    None => {
                        let files = self.data_dir.as_ref().map(|dir| {
                            let path = PartitionDir::path(dir, &key.0, key.1);
                            match PartitionDir::open(path.clone()) {
                                Ok((files, _)) => files,
                                Err(e) => storage_failed(&path, &e),
                            }
                        });
                        let mut replica = Replica::new(self.id, replicas, state);
                        replica.incarnation = life;
                        Partition::new(replica, protocol, files, trace, now)
                    }
                };
                self.partitions.insert(key.clone(), p);
            }
        }
        self.drain(&key);
    }

    /// Turns what the partition's core addressed elsewhere into outputs:
    /// answers to waiting requests, AlterPartition, follower fetches.
    fn drain(&mut self, key: &(String, i32)) {
        let p = self.partitions.get_mut(key).expect("hosted");
        for (to, msg) in std::mem::take(&mut p.outbox) {
            let out = match (to, msg) {
                (Node::Client(c), Msg::ProduceResponse { request, result }) => Output::Produced {
                    partition: key.clone(),
                    ticket: ticket_of(c, request),
                    result,
                },
                (Node::Broker(f), Msg::FetchResponse(response)) => Output::Fetched {
                    partition: key.clone(),
                    follower: f,
                    response,
                },
                (
                    Node::Controller,
                    Msg::AlterPartition {
                        leader_epoch,
                        partition_epoch,
                        new_isr,
                        joining,
                    },
                ) => Output::Controller(ToController::AlterPartition {
                    topic: key.0.clone(),
                    partition: key.1,
                    leader_epoch,
                    partition_epoch,
                    new_isr,
                    joining,
                }),
                (Node::Broker(leader), Msg::Fetch(req)) => Output::Fetch(FollowerFetch {
                    topic: key.0.clone(),
                    partition: key.1,
                    leader,
                    req,
                }),
                // A message with no runtime meaning here: nobody waits for it.
                _ => continue,
            };
            self.outbox.push(out);
        }
    }

    /// SIGTERM: every hosted partition's core asks for a controlled
    /// shutdown; the controller hears it once, for the whole broker, as
    /// Kafka's broker says `WantShutDown` in one heartbeat.
    pub fn request_shutdown(&mut self, now: Instant) {
        self.each_partition(|p| p.step(Input::ControlledShutdown, now));
        self.outbox
            .push(Output::Controller(ToController::ControlledShutdown));
    }

    /// The controller allowed the shutdown: every partition flushes its log
    /// and stops (the core's effects), its HW is checkpointed, and the
    /// clean-shutdown marker is left last, once all of it is on disk.
    pub fn shut_down(&mut self, broker_epoch: u64, now: Instant) -> std::io::Result<()> {
        let mut due = Vec::new();
        self.each_partition(|p| {
            let allowed = Msg::ShutdownAllowed {
                broker_epoch: p.replica.incarnation,
            };
            p.step(Input::Message(Node::Controller, allowed), now);
            due.extend(p.checkpoint_now());
        });
        for c in due {
            c.write()?;
        }
        match &self.data_dir {
            Some(dir) => super::clean_shutdown::write(dir, broker_epoch),
            None => Ok(()),
        }
    }

    /// Asks the controller for a topic; the answer comes back as
    /// `Output::TopicCreated` with the request number returned.
    pub fn request_topic(&mut self, name: &str, settings: TopicSettings) -> u64 {
        let request = self.next_request;
        self.next_request += 1;
        self.outbox
            .push(Output::Controller(ToController::CreateTopic {
                request,
                name: name.to_string(),
                settings,
            }));
        request
    }

    /// Forwards ElectLeaders to the controller; the answer comes back as
    /// `Output::LeadersElected` with the request number returned.
    pub fn request_election(
        &mut self,
        election: ElectionType,
        partitions: Option<Vec<(String, Vec<i32>)>>,
    ) -> u64 {
        let request = self.next_request;
        self.next_request += 1;
        self.outbox
            .push(Output::Controller(ToController::ElectLeaders {
                request,
                election,
                partitions,
            }));
        request
    }

    /// The controller's answer to an election request.
    pub fn on_leaders_elected(&mut self, request: u64, results: Vec<TopicElections>) {
        self.outbox
            .push(Output::LeadersElected { request, results });
    }

    /// The controller's answer to a topic request.
    pub fn on_topic_created(&mut self, request: u64, result: Result<(), TopicError>) {
        self.outbox.push(Output::TopicCreated { request, result });
    }

    /// InitProducerId for an idempotent producer: a fresh id, epoch 0.
    pub fn init_producer_id(&mut self) -> i64 {
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process is one life: the controller may register it again (a new
    /// KRaft broker epoch after it was fenced while cut off) but never as
    /// another life, which its replicas' fetches could not follow.
    #[test]
    fn a_process_keeps_the_life_it_was_first_registered_as() {
        let mut b = Broker::new(0, TopicSettings::default(), None);
        b.registered(5, 1).unwrap();
        b.registered(9, 1).unwrap();
        assert_eq!((b.broker_epoch, b.life), (Some(9), Some(1)));
        let why = b.registered(12, 2).unwrap_err();
        assert!(
            why.contains("life 2") && why.contains("after life 1"),
            "{why}"
        );
        assert_eq!(b.life, Some(1));
    }
}
