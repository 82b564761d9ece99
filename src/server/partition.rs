//! One partition on one broker: the protocol core's `Replica` of record
//! batches, plus the bookkeeping that ties the core's answers back to the
//! connections waiting for them.
//!
//! Every input goes through `step`, which hands it to the core and then
//! carries out the core's effects in the core's order: trace lines, then
//! log writes, then messages, then timers.
//!
//! The core names a waiting producer by a client number and a request
//! number, one byte each, because the model keeps them in every state. The
//! server reads the pair as a 16-bit ticket: one per produce request in
//! flight on this partition.

use super::storage::{HwCheckpoint, PartitionDir, Recovered};
use super::trace::PartitionTrace;
use crate::core::config::ProtocolConfig;
use crate::core::effects::{Effect, Effects, Event, Timer};
use crate::core::error::ErrorCode;
use crate::core::messages::{
    FetchRequest, FetchResponse, Msg, Node, PartitionState, ProduceRequest,
};
use crate::core::replica::{Input, Replica};
use crate::core::types::{Acks, BrokerId, BrokerSet, Offset};
use crate::wire::batch::Batch;
use std::collections::HashMap;
use std::path::Path;
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
    /// The core's armed `replica.lag.time.max.ms` timers, each with when it
    /// was armed: when its follower fell behind.
    lag_timers: HashMap<BrokerId, Instant>,
    /// Messages for other brokers and the controller, for the runtime to send.
    pub outbox: Vec<(Node, Msg<Batch>)>,
    trace: Option<PartitionTrace>,
    /// The partition's files, when the broker has a data folder.
    files: Option<PartitionDir>,
}

/// How a follower's fetch was answered.
#[derive(Debug)]
pub enum FollowerAnswer {
    Now(FetchResponse<Batch>),
    /// Parked until there is news, or until the fetch expires.
    Later(oneshot::Receiver<FetchResponse<Batch>>),
}

impl Partition {
    /// A partition whose initial state the controller decided, its log in
    /// `files` if the broker keeps files. With `trace`, its decisions are
    /// traced from the first one on (becoming leader or follower included).
    pub fn new(
        replica: Replica<Batch>,
        cfg: ProtocolConfig,
        files: Option<PartitionDir>,
        trace: Option<PartitionTrace>,
        now: Instant,
    ) -> Self {
        Partition::started(replica, cfg, files, trace, Effects::new(), now)
    }

    /// A partition whose log was read back from disk at startup.
    pub fn restored(
        broker: BrokerId,
        replicas: BrokerSet,
        state: PartitionState,
        cfg: ProtocolConfig,
        (files, recovered): (PartitionDir, Recovered),
        trace: Option<PartitionTrace>,
        now: Instant,
    ) -> Self {
        let mut recovery = effects(trace.is_some(), true);
        let replica = Replica::restored(
            broker,
            replicas,
            state,
            recovered.log,
            recovered.high_watermark,
            &cfg,
            &mut recovery,
        );
        Partition::started(replica, cfg, Some(files), trace, recovery, now)
    }

    /// Carries out what came before the start (recovery), then starts the
    /// replica: a follower begins fetching, a leader arms its lag timers.
    fn started(
        replica: Replica<Batch>,
        cfg: ProtocolConfig,
        files: Option<PartitionDir>,
        trace: Option<PartitionTrace>,
        before: Effects<Batch>,
        now: Instant,
    ) -> Self {
        let mut p = Partition {
            replica,
            cfg,
            tickets: Tickets::default(),
            follower_fetches: HashMap::new(),
            lag_timers: HashMap::new(),
            outbox: Vec::new(),
            trace,
            files,
        };
        p.apply(before, now);
        let mut fx = p.effects();
        p.replica.start(&p.cfg, &mut fx);
        p.apply(fx, now);
        p
    }

    /// Appends one batch as the leader.
    pub fn produce(&mut self, batch: Batch, acks: Acks, now: Instant) -> Produced {
        let Some(ticket) = self.tickets.take() else {
            // 65,536 produces in flight on one partition: shed load the way a
            // full purgatory would, with a retriable error.
            return Produced::Now(Err(ErrorCode::RequestTimedOut));
        };
        let (tx, rx) = oneshot::channel();
        self.tickets.waiting.insert(ticket, Some(tx));
        let (client, request) = ticket_parts(ticket);
        let req = ProduceRequest {
            request,
            acks,
            record: batch,
            leader_epoch: self.replica.partition.leader_epoch,
        };
        self.step(Input::Message(client, Msg::Produce(req)), now);
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
        effects(self.trace.is_some(), self.files.is_some())
    }

    /// One input through the core, its effects carried out.
    pub fn step(&mut self, input: Input<Batch>, now: Instant) {
        let mut fx = self.effects();
        self.replica.step(input, &self.cfg, &mut fx);
        self.apply(fx, now);
    }

    /// LeaderAndIsr from the controller.
    pub fn on_leader_and_isr(&mut self, state: PartitionState, cfg: ProtocolConfig, now: Instant) {
        self.cfg = cfg;
        let msg = Msg::LeaderAndIsr {
            state,
            broker_epoch: self.replica.incarnation,
        };
        self.step(Input::Message(Node::Controller, msg), now);
    }

    /// A follower's Fetch, on the leader.
    pub fn on_follower_fetch(
        &mut self,
        from: BrokerId,
        req: FetchRequest,
        now: Instant,
    ) -> FollowerAnswer {
        let (tx, mut rx) = oneshot::channel();
        // A newer fetch from the same follower replaces its parked one, in
        // the core and here.
        self.follower_fetches.insert(from, tx);
        self.step(Input::Message(Node::Broker(from), Msg::Fetch(req)), now);
        match rx.try_recv() {
            Ok(r) => FollowerAnswer::Now(r),
            Err(_) => FollowerAnswer::Later(rx),
        }
    }

    /// The HW checkpoint to write now, if any.
    pub fn checkpoint_due(&mut self) -> Option<HwCheckpoint> {
        let hw = self.replica.high_watermark;
        self.files.as_mut()?.high_watermark_due(hw)
    }

    /// Fires the lag timers armed longer than `lag_max` ago, where the core
    /// can act on them; the others keep running.
    pub fn check_lag(&mut self, now: Instant, lag_max: Duration) {
        let mut due: Vec<BrokerId> = self
            .lag_timers
            .iter()
            .filter(|(_, armed)| now.duration_since(**armed) > lag_max)
            .map(|(f, _)| *f)
            .collect();
        due.sort_unstable();
        for f in due {
            let timer = Timer::ReplicaLagTimeMax(f);
            if self.lag_timers.contains_key(&f) && self.replica.accepts_timeout(timer) {
                self.lag_timers.remove(&f);
                self.step(Input::Timeout(timer), now);
            }
        }
    }

    /// Carries out the core's effects, in the order it gives them: trace
    /// lines first (a broker killed while writing its files then leaves a
    /// trace covering at least what reached the disk), then the files,
    /// then answers and messages, then timers.
    fn apply(&mut self, fx: Effects<Batch>, now: Instant) {
        let mut events: Vec<Event<Batch>> = Vec::new();
        for effect in fx {
            if !events.is_empty() && !matches!(effect, Effect::Event(_)) {
                self.write_trace(&mut events);
            }
            match effect {
                Effect::Event(e) => events.push(e),
                Effect::Write(w) => {
                    if let Some(files) = &mut self.files
                        && let Err(e) = files.apply(&w)
                    {
                        storage_failed(files.dir(), &e);
                    }
                }
                Effect::Send(Node::Client(c), Msg::ProduceResponse { request, result }) => {
                    let ticket = u16::from(c) << 8 | u16::from(request);
                    if let Some(Some(tx)) = self.tickets.waiting.remove(&ticket) {
                        // The receiver may be gone (a timed-out client): the
                        // answer has nowhere to go, and the ticket is free.
                        let _ = tx.send(result);
                    }
                    self.tickets.free.push(ticket);
                }
                Effect::Send(Node::Broker(f), Msg::FetchResponse(r)) => {
                    // Nobody waits for an answer to a fetch that expired.
                    if let Some(tx) = self.follower_fetches.remove(&f) {
                        let _ = tx.send(r);
                    }
                }
                Effect::Send(to, msg) => self.outbox.push((to, msg)),
                Effect::ArmTimer(Timer::ReplicaLagTimeMax(f)) => {
                    self.lag_timers.insert(f, now);
                }
                Effect::CancelTimer(Timer::ReplicaLagTimeMax(f)) => {
                    self.lag_timers.remove(&f);
                }
            }
        }
        self.write_trace(&mut events);
    }

    fn write_trace(&self, events: &mut Vec<Event<Batch>>) {
        if let Some(t) = &self.trace {
            t.write(events);
        }
        events.clear();
    }
}

/// A log that cannot be written cannot be trusted: stop, as Kafka halts on
/// a log directory failure, rather than acknowledge what is not stored.
pub fn storage_failed(path: &Path, e: &std::io::Error) -> ! {
    eprintln!(
        "insync: cannot write {}: {e}; stopping the broker",
        path.display()
    );
    std::process::exit(3)
}

/// Events only when tracing; log writes only when the log has files.
fn effects(trace: bool, files: bool) -> Effects<Batch> {
    let fx = if trace {
        Effects::traced()
    } else {
        Effects::new()
    };
    if files { fx.with_writes() } else { fx }
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
    use crate::wire::batch::tests::client_batch;

    fn single(cfg: ProtocolConfig) -> Partition {
        let state = PartitionState {
            leader: Some(0),
            leader_epoch: 0,
            isr: BrokerSet::of([0]),
            elr: BrokerSet::EMPTY,
            partition_epoch: 0,
        };
        Partition::new(
            Replica::new(0, BrokerSet::of([0]), state),
            cfg,
            None,
            None,
            Instant::now(),
        )
    }

    fn batch(n: i64) -> Batch {
        Batch::parse_one(&client_batch(n, -1, -1), 0).unwrap()
    }

    #[test]
    fn a_lone_leader_places_batches_back_to_back() {
        let mut p = single(ProtocolConfig::default());
        assert!(matches!(
            p.produce(batch(3), Acks::One, Instant::now()),
            Produced::Now(Ok(0))
        ));
        assert!(matches!(
            p.produce(batch(2), Acks::All, Instant::now()),
            Produced::Now(Ok(3))
        ));
        assert!(matches!(
            p.produce(batch(1), Acks::Zero, Instant::now()),
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
            p.produce(batch(1), Acks::All, Instant::now()),
            Produced::Now(Err(ErrorCode::NotEnoughReplicas))
        ));
        assert_eq!(p.replica.log.end_offset(), 0);
        assert!(matches!(
            p.produce(batch(1), Acks::One, Instant::now()),
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
