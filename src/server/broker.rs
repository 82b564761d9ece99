//! One broker's state: its partitions, the cluster as Metadata reports it,
//! and the topic settings it creates partitions with. No I/O: the listener
//! locks it for each request and runs the protocol core through it.

use super::control::wire::ToController;
use super::metadata::ClusterView;
use super::partition::{Appended, Partition, ProduceResult, storage_failed, ticket_of};
use super::storage::{PartitionDir, Recovered};
use super::topic_settings::{TopicError, TopicSettings};
use super::trace::PartitionTrace;
use super::trace::TraceSink;
use crate::core::config::ProtocolConfig;
use crate::core::error::ErrorCode;
use crate::core::messages::{FetchRequest, FetchResponse, Msg, Node, PartitionState};
use crate::core::replica::Replica;
use crate::core::types::Acks;
use crate::core::types::{BrokerId, BrokerSet};
use crate::wire::batch::Batch;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{Notify, oneshot};

/// The broker as every connection of it sees it.
#[derive(Debug)]
pub struct Shared {
    broker: Mutex<Broker>,
    /// Woken whenever a log or high watermark may have moved, so that
    /// waiting fetches look again.
    pub changed: Notify,
    /// A fault-injection hook for tests: while set, this broker neither
    /// sends follower fetches nor takes in their answers, yet stays alive
    /// for the controller. Toggled by SIGUSR1.
    pub fetching_paused: std::sync::atomic::AtomicBool,
}

impl Shared {
    pub fn new(broker: Broker) -> Self {
        Shared {
            broker: Mutex::new(broker),
            changed: Notify::new(),
            fetching_paused: Default::default(),
        }
    }

    /// A broker 0 with no controller behind it: its messages go nowhere and
    /// topic requests time out. For tests of request handling alone.
    pub fn detached() -> Self {
        let (control, _) = tokio::sync::mpsc::unbounded_channel();
        let (fetches, _) = tokio::sync::mpsc::unbounded_channel();
        Shared::new(Broker::new(
            0,
            TopicSettings::default(),
            Outlets { control, fetches },
            None,
        ))
    }

    /// Asks the controller to create a topic and waits for its answer.
    pub async fn create_topic(
        &self,
        name: &str,
        settings: TopicSettings,
    ) -> Result<(), TopicError> {
        let rx = self.lock().request_topic(name, settings);
        match tokio::time::timeout(std::time::Duration::from_secs(30), rx).await {
            Ok(Ok(result)) => result,
            // The request could not be sent (no controller) or went unanswered.
            _ => Err(TopicError {
                code: ErrorCode::RequestTimedOut,
                message: format!("the controller did not answer for topic '{name}'"),
            }),
        }
    }

    /// The broker, for one request's synchronous part.
    pub fn lock(&self) -> MutexGuard<'_, Broker> {
        match self.broker.lock() {
            Ok(b) => b,
            // A protocol assertion failed while the state was held: the
            // state may break Kafka's rules, so stop rather than serve it.
            Err(_) => {
                eprintln!("insync: a protocol invariant broke; stopping the broker");
                std::process::abort()
            }
        }
    }
}

/// A partition by topic and index.
type PartitionKey = (String, i32);

/// How a produce was answered.
#[derive(Debug)]
pub enum Produced {
    /// acks=0: nothing is sent back.
    Unanswered,
    Now(ProduceResult),
    /// acks=all: the answer comes once the HW passes the batch.
    Later(oneshot::Receiver<ProduceResult>),
}

/// How a follower's fetch was answered.
#[derive(Debug)]
pub enum FollowerAnswer {
    Now(FetchResponse<Batch>),
    /// Parked until there is news, or until the fetch expires.
    Later(oneshot::Receiver<FetchResponse<Batch>>),
}

/// A follower's fetch for the runtime to send to the leader.
#[derive(Debug, Clone)]
pub struct FollowerFetch {
    pub topic: String,
    pub partition: i32,
    pub leader: BrokerId,
    pub req: FetchRequest,
}

/// Where the broker's messages go: the controller link and the fetcher.
#[derive(Debug)]
pub struct Outlets {
    pub control: UnboundedSender<ToController>,
    pub fetches: UnboundedSender<FollowerFetch>,
}

#[derive(Debug)]
pub struct Broker {
    pub id: BrokerId,
    /// What an auto-created topic gets.
    pub defaults: TopicSettings,
    /// The cluster as the controller last described it.
    pub view: ClusterView,
    partitions: HashMap<(String, i32), Partition>,
    /// Produce requests waiting for their answer, by partition and ticket.
    /// A client that stops waiting drops the receiver; the entry stays
    /// until the core answers the ticket.
    produce_waiters: HashMap<(PartitionKey, u16), oneshot::Sender<ProduceResult>>,
    /// Followers' fetches waiting for the core's answer, by partition and
    /// follower: a newer fetch replaces the older, in the core and here.
    fetch_waiters: HashMap<(PartitionKey, BrokerId), oneshot::Sender<FetchResponse<Batch>>>,
    next_producer_id: i64,
    outlets: Outlets,
    creates: HashMap<u64, oneshot::Sender<Result<(), TopicError>>>,
    next_request: u64,
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
    pub fn new(id: BrokerId, defaults: TopicSettings, outlets: Outlets, trace: TraceSink) -> Self {
        Broker {
            id,
            defaults,
            view: ClusterView::default(),
            partitions: HashMap::new(),
            produce_waiters: HashMap::new(),
            fetch_waiters: HashMap::new(),
            // Producer ids must not repeat across brokers and restarts:
            // this broker's own block, started from the clock.
            next_producer_id: (i64::from(id) << 48)
                | (std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64)
                    & ((1 << 48) - 1)),
            outlets,
            creates: HashMap::new(),
            next_request: 0,
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

    /// Appends a batch to a hosted partition; `None` if not hosted.
    pub fn produce(
        &mut self,
        topic: &str,
        index: i32,
        batch: Batch,
        acks: Acks,
        now: Instant,
    ) -> Option<Produced> {
        let key = (topic.to_string(), index);
        let appended = self.partitions.get_mut(&key)?.produce(batch, acks, now);
        let produced = match appended {
            Appended::Unanswered => Produced::Unanswered,
            Appended::Now(r) => Produced::Now(r),
            Appended::Waiting(ticket) => {
                let (tx, rx) = oneshot::channel();
                self.produce_waiters.insert((key.clone(), ticket), tx);
                Produced::Later(rx)
            }
        };
        self.drain(&key);
        Some(produced)
    }

    /// A follower's Fetch for a hosted partition; `None` if not hosted.
    pub fn follower_fetch(
        &mut self,
        topic: &str,
        index: i32,
        from: BrokerId,
        req: FetchRequest,
        now: Instant,
    ) -> Option<FollowerAnswer> {
        let key = (topic.to_string(), index);
        let p = self.partitions.get_mut(&key)?;
        let (tx, mut rx) = oneshot::channel();
        self.fetch_waiters.insert((key.clone(), from), tx);
        p.on_follower_fetch(from, req, now);
        self.drain(&key);
        Some(match rx.try_recv() {
            Ok(r) => FollowerAnswer::Now(r),
            Err(_) => FollowerAnswer::Later(rx),
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
                let trace = self.trace.clone().map(|sink| PartitionTrace {
                    sink,
                    topic: key.0.clone(),
                    partition: key.1,
                    node: format!("broker {}", self.id),
                });
                let p = match self.recovered.remove(&key) {
                    Some(recovered) => Partition::restored(
                        self.id, replicas, state, protocol, recovered, trace, now,
                    ),
                    None => {
                        let files = self.data_dir.as_ref().map(|dir| {
                            let path = PartitionDir::path(dir, &key.0, key.1);
                            match PartitionDir::open(path.clone()) {
                                Ok((files, _)) => files,
                                Err(e) => storage_failed(&path, &e),
                            }
                        });
                        let replica = Replica::new(self.id, replicas, state);
                        Partition::new(replica, protocol, files, trace, now)
                    }
                };
                self.partitions.insert(key.clone(), p);
            }
        }
        self.drain(&key);
    }

    /// Sends what the partition's core addressed elsewhere: AlterPartition
    /// to the controller, follower fetches to the fetcher.
    fn drain(&mut self, key: &(String, i32)) {
        let p = self.partitions.get_mut(key).expect("hosted");
        for (to, msg) in std::mem::take(&mut p.outbox) {
            match (to, msg) {
                (Node::Client(c), Msg::ProduceResponse { request, result }) => {
                    let ticket = ticket_of(c, request);
                    if let Some(tx) = self.produce_waiters.remove(&(key.clone(), ticket)) {
                        // The receiver may be gone (a timed-out client).
                        let _ = tx.send(result);
                    }
                }
                (Node::Broker(f), Msg::FetchResponse(r)) => {
                    // Nobody waits for an answer to a fetch that expired.
                    if let Some(tx) = self.fetch_waiters.remove(&(key.clone(), f)) {
                        let _ = tx.send(r);
                    }
                }
                (
                    Node::Controller,
                    Msg::AlterPartition {
                        leader_epoch,
                        partition_epoch,
                        new_isr,
                    },
                ) => {
                    let _ = self.outlets.control.send(ToController::AlterPartition {
                        topic: key.0.clone(),
                        partition: key.1,
                        leader_epoch,
                        partition_epoch,
                        new_isr,
                    });
                }
                (Node::Broker(leader), Msg::Fetch(req)) => {
                    let _ = self.outlets.fetches.send(FollowerFetch {
                        topic: key.0.clone(),
                        partition: key.1,
                        leader,
                        req,
                    });
                }
                // A message with no runtime meaning here: nobody waits for it.
                _ => {}
            }
        }
    }

    /// Asks the controller for a topic; the answer arrives on the receiver.
    pub fn request_topic(
        &mut self,
        name: &str,
        settings: TopicSettings,
    ) -> oneshot::Receiver<Result<(), TopicError>> {
        let (tx, rx) = oneshot::channel();
        let request = self.next_request;
        self.next_request += 1;
        let sent = self.outlets.control.send(ToController::CreateTopic {
            request,
            name: name.to_string(),
            settings,
        });
        if sent.is_ok() {
            self.creates.insert(request, tx);
        }
        // Otherwise `tx` is dropped here and the caller hears at once.
        rx
    }

    /// The controller's answer to a topic request.
    pub fn on_topic_created(&mut self, request: u64, result: Result<(), TopicError>) {
        if let Some(tx) = self.creates.remove(&request) {
            let _ = tx.send(result);
        }
    }

    /// InitProducerId for an idempotent producer: a fresh id, epoch 0.
    pub fn init_producer_id(&mut self) -> i64 {
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        id
    }
}
