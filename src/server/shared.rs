//! The broker as every connection of it sees it: the sans-IO `Broker`
//! behind one lock, with what carries out its outputs. Each `lock()` hands
//! out the broker; when the lock is let go, everything the broker decided
//! meanwhile is routed: answers to the requests waiting on them, messages
//! to the controller link and the fetcher.

use super::broker::{Broker, FollowerFetch, Output, PartitionKey};
use super::control::wire::{ElectionType, ToController, TopicElections};
use super::partition::{Appended, ProduceResult};
use super::topic_settings::{TopicError, TopicSettings};
use crate::core::error::ErrorCode;
use crate::core::messages::{FetchRequest, FetchResponse};
use crate::core::types::{Acks, BrokerId};
use crate::wire::batch::Batch;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{Notify, oneshot};

/// Where the broker's messages go: the controller link and the fetcher.
#[derive(Debug)]
pub struct Outlets {
    pub control: UnboundedSender<ToController>,
    pub fetches: UnboundedSender<FollowerFetch>,
}

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

#[derive(Debug)]
struct Inner {
    broker: Broker,
    outlets: Outlets,
    /// Produce requests waiting for their answer, by partition and ticket.
    /// A client that stops waiting drops the receiver; the entry stays
    /// until the core answers the ticket.
    produce_waiters: HashMap<(PartitionKey, u16), oneshot::Sender<ProduceResult>>,
    /// Followers' fetches waiting for the core's answer, by partition and
    /// follower: a newer fetch replaces the older, in the core and here.
    fetch_waiters: HashMap<(PartitionKey, BrokerId), oneshot::Sender<FetchResponse<Batch>>>,
    /// Topic requests waiting for the controller.
    creates: HashMap<u64, oneshot::Sender<Result<(), TopicError>>>,
    /// ElectLeaders requests waiting for the controller.
    elections: HashMap<u64, oneshot::Sender<Vec<TopicElections>>>,
}

impl Inner {
    /// Carries out the broker's outputs, oldest first. A receiver that is
    /// gone (a client that stopped waiting) leaves its answer nowhere.
    fn route(&mut self) {
        for out in self.broker.take_outputs() {
            match out {
                Output::Controller(msg) => {
                    let request = match &msg {
                        ToController::CreateTopic { request, .. }
                        | ToController::ElectLeaders { request, .. } => Some(*request),
                        _ => None,
                    };
                    // With no controller link the request cannot be sent:
                    // its waiter hears at once.
                    if self.outlets.control.send(msg).is_err()
                        && let Some(r) = request
                    {
                        self.creates.remove(&r);
                        self.elections.remove(&r);
                    }
                }
                Output::Fetch(f) => {
                    let _ = self.outlets.fetches.send(f);
                }
                Output::Produced {
                    partition,
                    ticket,
                    result,
                } => {
                    if let Some(tx) = self.produce_waiters.remove(&(partition, ticket)) {
                        let _ = tx.send(result);
                    }
                }
                Output::Fetched {
                    partition,
                    follower,
                    response,
                } => {
                    // Nobody waits for an answer to a fetch that expired.
                    if let Some(tx) = self.fetch_waiters.remove(&(partition, follower)) {
                        let _ = tx.send(response);
                    }
                }
                Output::TopicCreated { request, result } => {
                    if let Some(tx) = self.creates.remove(&request) {
                        let _ = tx.send(result);
                    }
                }
                Output::LeadersElected { request, results } => {
                    if let Some(tx) = self.elections.remove(&request) {
                        let _ = tx.send(results);
                    }
                }
            }
        }
    }
}

/// The broker as every connection of it sees it.
#[derive(Debug)]
pub struct Shared {
    inner: Mutex<Inner>,
    /// Woken whenever a log or high watermark may have moved, so that
    /// waiting fetches look again.
    pub changed: Notify,
    /// A fault-injection hook for tests: while set, this broker neither
    /// sends follower fetches nor takes in their answers, yet stays alive
    /// for the controller. Toggled by SIGUSR1.
    pub fetching_paused: std::sync::atomic::AtomicBool,
    /// A controlled shutdown was asked for: heartbeats stop, and the
    /// controller's allowance is awaited.
    pub stopping: std::sync::atomic::AtomicBool,
}

/// The locked broker; letting go of it routes what it decided.
pub struct Locked<'a>(MutexGuard<'a, Inner>);

impl Deref for Locked<'_> {
    type Target = Broker;
    fn deref(&self) -> &Broker {
        &self.0.broker
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Broker {
        &mut self.0.broker
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.0.route();
    }
}

impl Locked<'_> {
    /// Appends a batch to a hosted partition; `None` if not hosted.
    pub fn produce(
        &mut self,
        topic: &str,
        index: i32,
        batch: Batch,
        acks: Acks,
        now: Instant,
    ) -> Option<Produced> {
        Some(
            match self.0.broker.append(topic, index, batch, acks, now)? {
                Appended::Unanswered => Produced::Unanswered,
                Appended::Now(r) => Produced::Now(r),
                Appended::Waiting(ticket) => {
                    let (tx, rx) = oneshot::channel();
                    let key = (topic.to_string(), index);
                    self.0.produce_waiters.insert((key, ticket), tx);
                    Produced::Later(rx)
                }
            },
        )
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
        // The core replaces the follower's parked fetch: so does the waiter.
        self.0.fetch_waiters.remove(&(key.clone(), from));
        Some(
            match self.0.broker.follower_fetch(topic, index, from, req, now)? {
                Some(r) => FollowerAnswer::Now(r),
                None => {
                    let (tx, rx) = oneshot::channel();
                    self.0.fetch_waiters.insert((key, from), tx);
                    FollowerAnswer::Later(rx)
                }
            },
        )
    }
}

impl Shared {
    pub fn new(broker: Broker, outlets: Outlets) -> Self {
        Shared {
            inner: Mutex::new(Inner {
                broker,
                outlets,
                produce_waiters: HashMap::new(),
                fetch_waiters: HashMap::new(),
                creates: HashMap::new(),
                elections: HashMap::new(),
            }),
            changed: Notify::new(),
            fetching_paused: Default::default(),
            stopping: Default::default(),
        }
    }

    /// A broker 0 with no controller behind it: its messages go nowhere and
    /// topic requests time out. For tests of request handling alone.
    pub fn detached() -> Self {
        let (control, _) = tokio::sync::mpsc::unbounded_channel();
        let (fetches, _) = tokio::sync::mpsc::unbounded_channel();
        Shared::new(
            Broker::new(0, TopicSettings::default(), None),
            Outlets { control, fetches },
        )
    }

    /// Asks the controller to create a topic and waits for its answer.
    pub async fn create_topic(
        &self,
        name: &str,
        settings: TopicSettings,
    ) -> Result<(), TopicError> {
        let rx = {
            let mut b = self.lock();
            let request = b.request_topic(name, settings);
            let (tx, rx) = oneshot::channel();
            b.0.creates.insert(request, tx);
            rx
        };
        match tokio::time::timeout(std::time::Duration::from_secs(30), rx).await {
            Ok(Ok(result)) => result,
            // The request could not be sent (no controller) or went unanswered.
            _ => Err(TopicError {
                code: ErrorCode::RequestTimedOut,
                message: format!("the controller did not answer for topic '{name}'"),
            }),
        }
    }

    /// Forwards ElectLeaders to the controller and waits up to `within`
    /// for its answer; `None` if none came.
    pub async fn elect_leaders(
        &self,
        election: ElectionType,
        partitions: Option<Vec<(String, Vec<i32>)>>,
        within: std::time::Duration,
    ) -> Option<Vec<TopicElections>> {
        let rx = {
            let mut b = self.lock();
            let request = b.request_election(election, partitions);
            let (tx, rx) = oneshot::channel();
            b.0.elections.insert(request, tx);
            rx
        };
        tokio::time::timeout(within, rx).await.ok()?.ok()
    }

    /// The broker, for one request's synchronous part.
    pub fn lock(&self) -> Locked<'_> {
        match self.inner.lock() {
            Ok(b) => Locked(b),
            // A protocol assertion failed while the state was held: the
            // state may break Kafka's rules, so stop rather than serve it.
            Err(_) => {
                eprintln!("insync: a protocol invariant broke; stopping the broker");
                std::process::abort()
            }
        }
    }
}
