//! One partition on one broker: the protocol core's `Replica` of record
//! batches, its files and its trace. Sans IO on the network side: it is
//! handed `now`, and what the core addresses to others (answers to waiting
//! requests included) collects in `outbox` for the broker to route.
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
use crate::core::messages::{FetchRequest, Msg, Node, PartitionState, ProduceRequest};
use crate::core::replica::{Input, Replica};
use crate::core::types::{Acks, BrokerId, BrokerSet, Offset};
use crate::wire::batch::Batch;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// The answer to one produce: the batch's base offset, or an error.
pub type ProduceResult = Result<Offset, ErrorCode>;

/// How a produce was answered.
#[derive(Debug, PartialEq, Eq)]
pub enum Appended {
    /// acks=0: nothing is sent back.
    Unanswered,
    Now(ProduceResult),
    /// acks=all: the answer comes once the HW passes the batch, as a
    /// `ProduceResponse` to this ticket in the outbox. The ticket stays
    /// taken until then, so the answer cannot reach a later request that
    /// reused the number, even when its client stopped waiting.
    Waiting(u16),
}

#[derive(Debug)]
pub struct Partition {
    pub replica: Replica<Batch>,
    pub cfg: ProtocolConfig,
    tickets: Tickets,
    /// The core's armed `replica.lag.time.max.ms` timers, each with the
    /// time its clock runs from: when it was armed (its follower fell
    /// behind), or later, the previous fetch the core says the follower
    /// counts as caught up at (Kafka's `lastCaughtUpTimeMs`).
    lag_timers: HashMap<BrokerId, Instant>,
    /// When each follower's last fetch the core counted was handled
    /// (Kafka's `lastFetchTimeMs`).
    last_fetch: HashMap<BrokerId, Instant>,
    /// What the core addressed to others, in order: answers to produces
    /// (by ticket) and follower fetches, AlterPartition, follower fetches
    /// of its own. The broker routes them.
    pub outbox: Vec<(Node, Msg<Batch>)>,
    trace: Option<PartitionTrace>,
    /// The partition's files, when the broker has a data folder.
    files: Option<PartitionDir>,
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

    /// A partition whose log was read back from disk at startup, on the
    /// broker's `life` (its replica's incarnation).
    #[allow(clippy::too_many_arguments)]
    pub fn restored(
        broker: BrokerId,
        life: u8,
        replicas: BrokerSet,
        state: PartitionState,
        cfg: ProtocolConfig,
        (files, recovered): (PartitionDir, Recovered),
        trace: Option<PartitionTrace>,
        now: Instant,
    ) -> Self {
        let mut recovery = effects(trace.is_some(), true);
        let mut replica = Replica::restored(
            broker,
            replicas,
            state,
            recovered.log,
            recovered.high_watermark,
            &cfg,
            &mut recovery,
        );
        replica.incarnation = life;
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
            lag_timers: HashMap::new(),
            last_fetch: HashMap::new(),
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
    pub fn produce(&mut self, batch: Batch, acks: Acks, now: Instant) -> Appended {
        let Some(ticket) = self.tickets.take() else {
            // 65,536 produces in flight on one partition: shed load the way a
            // full purgatory would, with a retriable error.
            return Appended::Now(Err(ErrorCode::RequestTimedOut));
        };
        let (client, request) = ticket_parts(ticket);
        let req = ProduceRequest {
            request,
            acks,
            record: batch,
            leader_epoch: self.replica.partition.leader_epoch,
        };
        self.step(Input::Message(client, Msg::Produce(req)), now);
        if acks == Acks::Zero {
            self.tickets.free(ticket);
            return Appended::Unanswered;
        }
        let answered = self.outbox.iter().position(|(to, m)| {
            *to == client && matches!(m, Msg::ProduceResponse { request: r, .. } if *r == request)
        });
        match answered.map(|i| self.outbox.remove(i)) {
            Some((_, Msg::ProduceResponse { result, .. })) => Appended::Now(result),
            _ => Appended::Waiting(ticket),
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

    /// A follower's Fetch, on the leader. Its answer, now or once there is
    /// news, goes to the outbox.
    pub fn on_follower_fetch(&mut self, from: BrokerId, req: FetchRequest, now: Instant) {
        self.step(Input::Message(Node::Broker(from), Msg::Fetch(req)), now);
    }

    /// The HW checkpoint to write now, if any.
    pub fn checkpoint_due(&mut self) -> Option<HwCheckpoint> {
        let hw = self.replica.high_watermark;
        self.files.as_mut()?.high_watermark_due(hw)
    }

    /// The HW checkpoint, due or not.
    pub fn checkpoint_now(&mut self) -> Option<HwCheckpoint> {
        let hw = self.replica.high_watermark;
        Some(self.files.as_mut()?.high_watermark_now(hw))
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
            if !self.replica.accepts_timeout(timer) {
                continue;
            }
            let Some(since) = self.lag_timers.remove(&f) else {
                continue;
            };
            self.step(Input::Timeout(timer), now);
            // The core arms the clock again while the follower stays behind
            // (the controller may refuse the change): it still runs from when
            // the follower fell behind, as Kafka's `lastCaughtUpTimeMs` does.
            if let Some(armed) = self.lag_timers.get_mut(&f) {
                *armed = since;
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
                Effect::Send(to, msg) => {
                    if let (Node::Client(c), Msg::ProduceResponse { request, .. }) = (to, &msg) {
                        // Answered: the ticket may serve a new request.
                        self.tickets.free(ticket_of(c, *request));
                    }
                    self.outbox.push((to, msg));
                }
                Effect::ArmTimer(Timer::ReplicaLagTimeMax(f)) => {
                    self.lag_timers.insert(f, now);
                }
                Effect::CancelTimer(Timer::ReplicaLagTimeMax(f)) => {
                    self.lag_timers.remove(&f);
                }
                Effect::FollowerFetched {
                    follower,
                    caught_up_as_of_previous,
                } => {
                    let previous = self.last_fetch.insert(follower, now);
                    if caught_up_as_of_previous
                        && let Some(previous) = previous
                        && let Some(since) = self.lag_timers.get_mut(&follower)
                    {
                        *since = (*since).max(previous);
                    }
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

/// The ticket a core answer to `client`'s `request` is for.
pub fn ticket_of(client: u8, request: u8) -> u16 {
    u16::from(client) << 8 | u16::from(request)
}

#[derive(Debug, Default)]
struct Tickets {
    /// Tickets never handed out start here.
    next: u32,
    free: Vec<u16>,
    /// Taken tickets, until their answer.
    taken: HashSet<u16>,
}

impl Tickets {
    fn take(&mut self) -> Option<u16> {
        let t = match self.free.pop() {
            Some(t) => t,
            None => {
                let t = u16::try_from(self.next).ok()?;
                self.next += 1;
                t
            }
        };
        self.taken.insert(t);
        Some(t)
    }

    /// A ticket whose request is answered, or never will be (acks=0).
    fn free(&mut self, ticket: u16) {
        if self.taken.remove(&ticket) {
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
            Appended::Now(Ok(0))
        ));
        assert!(matches!(
            p.produce(batch(2), Acks::All, Instant::now()),
            Appended::Now(Ok(3))
        ));
        assert!(matches!(
            p.produce(batch(1), Acks::Zero, Instant::now()),
            Appended::Unanswered
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
        assert!(p.tickets.taken.is_empty(), "every ticket came back");
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
            Appended::Now(Err(ErrorCode::NotEnoughReplicas))
        ));
        assert_eq!(p.replica.log.end_offset(), 0);
        assert!(matches!(
            p.produce(batch(1), Acks::One, Instant::now()),
            Appended::Now(Ok(0))
        ));
    }

    /// Broker 0 leading, broker 1 its follower in the ISR, no files.
    fn leading_with_one_follower(now: Instant) -> Partition {
        let state = PartitionState {
            leader: Some(0),
            leader_epoch: 0,
            isr: BrokerSet::of([0, 1]),
            elr: BrokerSet::EMPTY,
            partition_epoch: 0,
        };
        Partition::new(
            Replica::new(0, BrokerSet::of([0, 1]), state),
            ProtocolConfig::default(),
            None,
            None,
            now,
        )
    }

    #[test]
    fn an_acks_all_answer_waits_in_the_outbox_for_its_ticket() {
        let mut p = leading_with_one_follower(Instant::now());
        let Appended::Waiting(ticket) = p.produce(batch(2), Acks::All, Instant::now()) else {
            panic!("broker 1 has not fetched the batch yet")
        };
        assert!(p.tickets.taken.contains(&ticket));
        p.outbox.clear();
        let req = FetchRequest {
            leader_epoch: 0,
            fetch_offset: 2,
            last_fetched_epoch: Some(0),
            incarnation: 0,
        };
        p.on_follower_fetch(1, req, Instant::now());
        let (to, request) = ticket_parts(ticket);
        assert!(p.outbox.iter().any(|(n, m)| *n == to
            && matches!(m, Msg::ProduceResponse { request: r, result: Ok(0) } if *r == request)));
        assert!(p.tickets.taken.is_empty(), "answered, the ticket is free");
    }

    /// Kafka's caught-up timing (`Replica.updateFetchStateOrThrow`): under
    /// steady writes a follower that fetches every 40 ms, each time reaching
    /// the LEO of its previous fetch but never the current one, stays in
    /// the ISR with `replica.lag.time.max.ms` at 100 ms; its clock restarts
    /// at its previous fetch each time. Once its fetches stop reaching even
    /// that, it is dropped after the lag allowance.
    #[test]
    fn a_follower_one_fetch_behind_under_steady_writes_stays_in_sync() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let lag = Duration::from_millis(100);
        let mut p = leading_with_one_follower(t0);
        let fetch = |offset: u64| FetchRequest {
            leader_epoch: 0,
            fetch_offset: offset,
            last_fetched_epoch: (offset > 0).then_some(0),
            incarnation: 0,
        };
        let shrinks = |p: &Partition| {
            p.outbox
                .iter()
                .filter(|(to, m)| {
                    *to == Node::Controller && matches!(m, Msg::AlterPartition { .. })
                })
                .count()
        };
        // The follower fetches what the leader had at its previous fetch;
        // a write lands after every fetch.
        let mut previous_leo = 0;
        let mut t = 0;
        for _ in 0..20 {
            t += 40;
            p.on_follower_fetch(1, fetch(previous_leo), ms(t));
            previous_leo = p.replica.log.end_offset();
            p.produce(batch(1), Acks::One, ms(t + 1));
            p.check_lag(ms(t + 2), lag);
            assert_eq!(shrinks(&p), 0, "still in sync at {t} ms");
        }
        assert_eq!(p.replica.partition.isr, BrokerSet::of([0, 1]));
        // Now it stays where it is while the writes go on.
        let stuck = previous_leo;
        for _ in 0..5 {
            t += 40;
            p.on_follower_fetch(1, fetch(stuck), ms(t));
            p.produce(batch(1), Acks::One, ms(t + 1));
            p.check_lag(ms(t + 2), lag);
        }
        assert_eq!(shrinks(&p), 1, "dropped once its lag passed 100 ms");
        assert!(p.outbox.iter().any(|(_, m)| matches!(
            m,
            Msg::AlterPartition { new_isr, .. } if *new_isr == BrokerSet::of([0])
        )));
    }

    #[test]
    fn tickets_are_reused_only_once_answered() {
        let mut t = Tickets::default();
        let a = t.take().unwrap();
        let b = t.take().unwrap();
        assert_ne!(a, b);
        t.free(a);
        assert_eq!(t.take(), Some(a));
        t.next = u32::from(u16::MAX) + 1;
        assert_eq!(t.take(), None, "all 65,536 tickets taken");
    }
}
