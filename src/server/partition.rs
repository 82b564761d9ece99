//! One partition on one broker: the protocol core's `Replica` of record
//! batches, plus the bookkeeping that ties the core's answers back to the
//! connections waiting for them.
//!
//! The core names a waiting producer by a client number and a request
//! number, one byte each, because the model keeps them in every state. The
//! server reads the pair as a 16-bit ticket: one per produce request in
//! flight on this partition.

use super::batch::Batch;
use super::storage::{HwCheckpoint, PartitionDir, Recovered};
use crate::core::config::ProtocolConfig;
use crate::core::effects::Effects;
use crate::core::messages::{FetchRequest, FetchResponse, Msg, Node, PartitionState};
use crate::core::replica::Replica;
use crate::core::types::{Acks, BrokerId, BrokerSet, ErrorCode, Offset};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The answer to one produce: the batch's base offset, or an error.
pub type ProduceResult = Result<Offset, ErrorCode>;

/// How a produce was answered.
#[derive(Debug)]
pub enum Produced {
    /// acks=0: nothing is sent back.
    Unanswered,
    Now(ProduceResult),
    /// acks=all: the answer comes once the HW passes the batch. A client
    /// that stops waiting drops the receiver; its ticket stays taken until
    /// the core answers, so that answer cannot reach a later request that
    /// reused the number.
    Later(oneshot::Receiver<ProduceResult>),
}

#[derive(Debug)]
pub struct Partition {
    pub replica: Replica<Batch>,
    pub cfg: ProtocolConfig,
    tickets: Tickets,
    /// Followers' fetches waiting for the core's answer, by follower.
    follower_fetches: HashMap<BrokerId, oneshot::Sender<FetchResponse<Batch>>>,
    /// When each follower last fetched from the leader's LEO
    /// (`lastCaughtUpTimeMs`), for `replica.lag.time.max.ms`.
    caught_up: HashMap<BrokerId, Instant>,
    /// Messages for other brokers and the controller, for the runtime to send.
    pub outbox: Vec<(Node, Msg<Batch>)>,
    /// Trace events of the core's decisions, when tracing.
    pub events: Option<Vec<serde_json::Value>>,
    /// The partition's files, when the broker has a data folder.
    pub files: Option<PartitionDir>,
}

/// How a follower's fetch was answered.
#[derive(Debug)]
pub enum FollowerAnswer {
    Now(FetchResponse<Batch>),
    /// Parked until there is news, or until the fetch expires.
    Later(oneshot::Receiver<FetchResponse<Batch>>),
}

impl Partition {
    /// A partition whose initial state the controller decided. With
    /// `trace`, its decisions are kept from the first one on (becoming
    /// leader or follower included).
    pub fn new(
        broker: BrokerId,
        replicas: BrokerSet,
        state: PartitionState,
        cfg: ProtocolConfig,
        trace: bool,
    ) -> Self {
        Partition::started(
            Replica::new(broker, replicas, state),
            cfg,
            None,
            effects(trace),
        )
    }

    /// A partition whose log was read back from disk at startup.
    pub fn restored(
        broker: BrokerId,
        replicas: BrokerSet,
        state: PartitionState,
        cfg: ProtocolConfig,
        files: PartitionDir,
        recovered: Recovered,
        trace: bool,
    ) -> Self {
        let mut fx = effects(trace);
        let replica = Replica::restored(
            broker,
            replicas,
            state,
            recovered.log,
            recovered.high_watermark,
            &cfg,
            &mut fx,
        );
        Partition::started(replica, cfg, Some(files), fx)
    }

    /// Starts the replica (a follower begins fetching) and keeps what the
    /// core asked to send.
    fn started(
        mut replica: Replica<Batch>,
        cfg: ProtocolConfig,
        files: Option<PartitionDir>,
        mut fx: Effects<Batch>,
    ) -> Self {
        replica.start(&mut fx);
        let traced = fx.is_traced();
        let mut p = Partition {
            replica,
            cfg,
            tickets: Tickets::default(),
            follower_fetches: HashMap::new(),
            caught_up: HashMap::new(),
            outbox: Vec::new(),
            events: traced.then(Vec::new),
            files,
        };
        p.route(fx);
        p
    }

    /// Appends one batch as the leader, through the core's `on_produce`.
    pub fn produce(&mut self, batch: Batch, acks: Acks) -> Produced {
        let Some(ticket) = self.tickets.take() else {
            // 65,536 produces in flight on one partition: shed load the way a
            // full purgatory would, with a retriable error.
            return Produced::Now(Err(ErrorCode::RequestTimedOut));
        };
        let (tx, rx) = oneshot::channel();
        self.tickets.waiting.insert(ticket, Some(tx));
        let (client, request) = ticket_parts(ticket);
        let epoch = self.replica.partition.leader_epoch;
        let mut fx = self.effects();
        self.replica
            .on_produce(client, request, acks, batch, epoch, &self.cfg, &mut fx);
        self.route(fx);
        if acks == Acks::Zero {
            self.tickets.release(ticket);
            return Produced::Unanswered;
        }
        let mut rx = rx;
        match rx.try_recv() {
            Ok(result) => Produced::Now(result),
            Err(oneshot::error::TryRecvError::Empty) => Produced::Later(rx),
            Err(oneshot::error::TryRecvError::Closed) => {
                unreachable!("a waiting ticket's sender is held until it is answered")
            }
        }
    }

    fn effects(&self) -> Effects<Batch> {
        effects(self.events.is_some())
    }

    /// LeaderAndIsr from the controller.
    pub fn on_leader_and_isr(&mut self, state: PartitionState, cfg: ProtocolConfig, now: Instant) {
        let was_leader = self.replica.is_leader();
        self.cfg = cfg;
        let mut fx = self.effects();
        let incarnation = self.replica.incarnation;
        self.replica
            .on_leader_and_isr(state, incarnation, &self.cfg, &mut fx);
        if self.replica.is_leader() && !was_leader {
            // A new leader gives every follower a full lag period.
            self.caught_up = self.replica.replicas.iter().map(|b| (b, now)).collect();
        }
        self.route(fx);
    }

    /// A follower's Fetch, on the leader.
    pub fn on_follower_fetch(
        &mut self,
        from: BrokerId,
        req: FetchRequest,
        now: Instant,
    ) -> FollowerAnswer {
        if self.replica.is_leader() && req.fetch_offset >= self.replica.log.end_offset() {
            self.caught_up.insert(from, now);
        }
        let (tx, mut rx) = oneshot::channel();
        // A newer fetch from the same follower replaces its parked one, in
        // the core and here.
        self.follower_fetches.insert(from, tx);
        let mut fx = self.effects();
        self.replica.on_fetch(from, req, &self.cfg, &mut fx);
        self.route(fx);
        match rx.try_recv() {
            Ok(r) => FollowerAnswer::Now(r),
            Err(_) => FollowerAnswer::Later(rx),
        }
    }

    /// The follower's fetch waited `replica.fetch.wait.max.ms`.
    pub fn expire_follower_fetch(&mut self, from: BrokerId) {
        let mut fx = self.effects();
        self.replica.expire_fetch(from, &mut fx);
        self.route(fx);
    }

    /// The leader's answer to this follower's fetch.
    pub fn on_fetch_response(&mut self, leader: BrokerId, resp: FetchResponse<Batch>) {
        let mut fx = self.effects();
        self.replica
            .on_fetch_response(leader, resp, &self.cfg, &mut fx);
        self.route(fx);
    }

    /// The HW checkpoint to write now, if any.
    pub fn checkpoint_due(&mut self) -> Option<HwCheckpoint> {
        let hw = self.replica.high_watermark;
        self.files.as_mut()?.high_watermark_due(hw)
    }

    /// Proposes dropping followers that have lagged longer than `lag_max`.
    pub fn check_lag(&mut self, now: Instant, lag_max: Duration) {
        for f in self.replica.lagging_followers().iter() {
            let since = self.caught_up.get(&f).copied().unwrap_or(now);
            if now.duration_since(since) > lag_max {
                let mut fx = self.effects();
                self.replica.on_replica_lag_timeout(f, &mut fx);
                self.route(fx);
            }
        }
    }

    /// Delivers the core's answers to waiting producers and followers, and
    /// keeps the rest for the runtime.
    fn route(&mut self, fx: Effects<Batch>) {
        if let Some(events) = &mut self.events {
            events.extend(fx.events().iter().map(trace_line));
        }
        for (to, msg) in fx.sends {
            match (to, msg) {
                (Node::Client(c), Msg::ProduceResponse { request, result }) => {
                    let ticket = u16::from(c) << 8 | u16::from(request);
                    if let Some(Some(tx)) = self.tickets.waiting.remove(&ticket) {
                        // The receiver may be gone (a timed-out client): the
                        // answer has nowhere to go, and the ticket is free.
                        let _ = tx.send(result);
                    }
                    self.tickets.free.push(ticket);
                }
                (Node::Broker(f), Msg::FetchResponse(r))
                    if self.follower_fetches.contains_key(&f) =>
                {
                    let tx = self.follower_fetches.remove(&f).expect("checked");
                    let _ = tx.send(r);
                }
                other => self.outbox.push(other),
            }
        }
    }
}

fn effects(trace: bool) -> Effects<Batch> {
    if trace {
        Effects::traced()
    } else {
        Effects::new()
    }
}

/// One decision as a trace line: the event's fields and its story text.
pub fn trace_line(e: &crate::core::effects::Event<Batch>) -> serde_json::Value {
    serde_json::json!({"event": e, "text": e.to_string(), "ts_us": super::runtime::now_us()})
}

fn ticket_parts(ticket: u16) -> (Node, u8) {
    (Node::Client((ticket >> 8) as u8), (ticket & 0xff) as u8)
}

#[derive(Debug, Default)]
struct Tickets {
    /// Tickets never handed out start here.
    next: u32,
    free: Vec<u16>,
    /// Taken tickets; `None` once the sender was handed back.
    waiting: HashMap<u16, Option<oneshot::Sender<ProduceResult>>>,
}

impl Tickets {
    fn take(&mut self) -> Option<u16> {
        if let Some(t) = self.free.pop() {
            return Some(t);
        }
        let t = u16::try_from(self.next).ok()?;
        self.next += 1;
        Some(t)
    }

    /// Frees a ticket the core will never answer (acks=0).
    fn release(&mut self, ticket: u16) {
        if self.waiting.remove(&ticket).is_some() {
            self.free.push(ticket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::batch::tests::client_batch;

    fn single(cfg: ProtocolConfig) -> Partition {
        let state = PartitionState {
            leader: Some(0),
            leader_epoch: 0,
            isr: BrokerSet::of([0]),
            elr: BrokerSet::EMPTY,
            partition_epoch: 0,
        };
        Partition::new(0, BrokerSet::of([0]), state, cfg, false)
    }

    fn batch(n: i64) -> Batch {
        Batch::parse_one(&client_batch(n, -1, -1), 0).unwrap()
    }

    #[test]
    fn a_lone_leader_places_batches_back_to_back() {
        let mut p = single(ProtocolConfig::default());
        assert!(matches!(
            p.produce(batch(3), Acks::One),
            Produced::Now(Ok(0))
        ));
        assert!(matches!(
            p.produce(batch(2), Acks::All),
            Produced::Now(Ok(3))
        ));
        assert!(matches!(
            p.produce(batch(1), Acks::Zero),
            Produced::Unanswered
        ));
        let read = p.replica.consumer_read(4).unwrap();
        assert_eq!(read.len(), 2, "the batch holding offset 4, then the next");
        assert_eq!(
            read[0].record.base_offset(),
            3,
            "the stored batch carries its offset"
        );
        assert_eq!(p.replica.consumer_read(6).unwrap().len(), 0);
        assert_eq!(p.replica.consumer_read(7), Err(ErrorCode::OffsetOutOfRange));
        assert!(p.tickets.waiting.is_empty(), "every ticket came back");
    }

    #[test]
    fn acks_all_below_min_isr_is_refused_before_the_append() {
        let cfg = ProtocolConfig {
            min_insync_replicas: 2,
            ..ProtocolConfig::default()
        };
        let mut p = single(cfg);
        assert!(matches!(
            p.produce(batch(1), Acks::All),
            Produced::Now(Err(ErrorCode::NotEnoughReplicas))
        ));
        assert_eq!(p.replica.log.end_offset(), 0);
        assert!(matches!(
            p.produce(batch(1), Acks::One),
            Produced::Now(Ok(0))
        ));
    }

    #[test]
    fn tickets_are_reused_only_once_answered() {
        let mut t = Tickets::default();
        let a = t.take().unwrap();
        t.waiting.insert(a, None);
        let b = t.take().unwrap();
        assert_ne!(a, b);
        t.release(a);
        assert_eq!(t.take(), Some(a));
        t.next = u32::from(u16::MAX) + 1;
        assert_eq!(t.take(), None, "all 65,536 tickets taken");
    }
}
