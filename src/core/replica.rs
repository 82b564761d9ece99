//! One broker's replica of the partition: Kafka's `Partition` and the parts
//! of `ReplicaManager` and the replica fetcher that decide anything.
//!
//! As leader it appends produce requests, records follower fetch positions,
//! moves the high watermark, proposes ISR changes and answers acks=all once
//! the HW passes. As follower it fetches, appends and truncates.

use super::config::{Mutation, ProtocolConfig, Truncation};
use super::effects::{Effects, Event, LogWrite, Timer, Why};
use super::error::ErrorCode;
use super::log::{Entry, Log};
use super::messages::{
    FetchRequest, FetchResponse, FetchResult, Msg, Node, PartitionState, ProduceRequest,
};
use super::types::{Acks, BrokerId, BrokerSet, Epoch, Offset, ProducerSeq, Record, RenameBrokers};
use smallvec::SmallVec;
use std::hash::{Hash, Hasher};

/// Everything that can happen to a replica: one step handles one input.
#[derive(Clone, Debug)]
pub enum Input<R> {
    /// A request or response from another participant.
    Message(Node, Msg<R>),
    /// A timer the replica armed ran out. Deliver it only while
    /// [`Replica::accepts_timeout`] says so; until then it stays armed.
    Timeout(Timer),
    /// `replica.fetch.wait.max.ms` passed for `from`'s parked fetch
    /// (`DelayedFetch` expiry): answer it with no entries and the current
    /// HW. The model leaves this out (it would only carry a newer HW); the
    /// server needs it so a follower's request does not wait forever.
    FetchWaitExpired(BrokerId),
    /// The process dies (kill -9); with `power_loss` the machine loses its
    /// page cache too.
    Crash { power_loss: bool },
    /// The process starts again on what its log kept.
    Restart,
    /// SIGTERM: ask the controller for a controlled shutdown. The broker
    /// serves on until the controller allows it to stop.
    ControlledShutdown,
    /// The broker's heartbeats reach the controller again after a network
    /// partition. Its session expired meanwhile, so the controller fenced
    /// it; a heartbeat from the same broker epoch unfences it
    /// (`BrokerHeartbeatManager`: FENCED → UNFENCED,
    /// `ReplicationControlManager.handleBrokerUnfenced`) with its log
    /// intact, and the broker then catches up on the partition's state.
    HeartbeatResumed,
}

/// What a step compares the state after it with.
struct Before {
    lag_clocks: BrokerSet,
    leader_epoch: Epoch,
    /// The epoch it led in, if it was leader.
    leading: Option<Epoch>,
    high_watermark: Offset,
}

/// The leader's bookkeeping (`Partition` while `isLeader`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LeaderState {
    /// An AlterPartition in flight: the ISR the leader proposed.
    pub pending_isr: Option<BrokerSet>,
    /// The LEO when this leader's epoch began: a follower must reach it to rejoin the ISR.
    pub epoch_start_offset: Offset,
    /// Each follower's LEO as of its last fetch, sorted by broker; absent until it fetches.
    pub follower_end: Vec<(BrokerId, Offset)>,
    /// acks=all requests waiting for the HW to pass them.
    pub pending_acks: Vec<PendingAck>,
    /// The leader's LEO at each follower's last fetch: what a runtime's
    /// lag clock needs, and nothing else.
    pub last_fetch_leader_end: LastFetchLeaderEnds,
}

/// Kafka's `ReplicaState.lastFetchLeaderLogEndOffset` for each follower
/// that fetched in this leader's epoch: the leader's LEO at the fetch, the
/// largest seen (`Replica.updateFetchStateOrThrow`; a new leader starts
/// with none, as `Replica.resetReplicaState` does). It decides only what a
/// step tells the runtime's `replica.lag.time.max.ms` clock
/// ([`Effect::FollowerFetched`](super::effects::Effect::FollowerFetched)),
/// never a change of state. The model is untimed: a lag timer there may
/// fire whenever it is armed, and the armed set does not depend on this.
/// So two states that differ only here behave alike, and it is left out of
/// the state's equality and hash: the checker walks exactly the states it
/// walked without it.
#[derive(Clone, Debug, Default)]
pub struct LastFetchLeaderEnds(SmallVec<[(BrokerId, Offset); 2]>);

impl LastFetchLeaderEnds {
    /// Counts `follower`'s fetch at `fetch_offset` while the leader's LEO
    /// is `leader_end`. Answers whether the fetch fell short of the current
    /// LEO but reached the one the leader had at the follower's previous
    /// fetch: then the follower counts as caught up as of that previous
    /// fetch (Kafka's second case in `updateFetchStateOrThrow`; the first,
    /// reaching the current LEO, stops the lag timer altogether).
    fn count(&mut self, follower: BrokerId, fetch_offset: Offset, leader_end: Offset) -> bool {
        match self.0.binary_search_by_key(&follower, |(b, _)| *b) {
            Ok(i) => {
                let previous = self.0[i].1;
                self.0[i].1 = previous.max(leader_end);
                fetch_offset < leader_end && fetch_offset >= previous
            }
            Err(i) => {
                self.0.insert(i, (follower, leader_end));
                false
            }
        }
    }

    /// The leader's LEO at `follower`'s last fetch, if it fetched.
    pub fn get(&self, follower: BrokerId) -> Option<Offset> {
        self.0.iter().find(|(b, _)| *b == follower).map(|(_, o)| *o)
    }
}

impl PartialEq for LastFetchLeaderEnds {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for LastFetchLeaderEnds {}

impl Hash for LastFetchLeaderEnds {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PendingAck {
    pub client: Node,
    pub request: u8,
    pub offset: Offset,
    /// The offset the HW must reach.
    pub end: Offset,
}

/// A request the replica holds until it can answer (Kafka's purgatory).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Parked<R> {
    /// A follower fetch naming a leader epoch this broker has not heard of.
    /// Kafka answers it UNKNOWN_LEADER_EPOCH (`Partition.checkCurrentLeaderEpoch`)
    /// and the follower's `AbstractFetcherThread` sends it again after a
    /// backoff; here it waits for the LeaderAndIsr instead, and is then
    /// handled from the start, as that retry would be: nothing about it has
    /// been checked yet.
    FetchForUnknownEpoch(BrokerId, FetchRequest),
    /// A follower fetch that passed every check of [`Replica::on_fetch`] for
    /// the current epoch and has nothing new to return yet (`DelayedFetch`):
    /// it only waits for new entries.
    DelayedFetch(BrokerId, FetchRequest),
    /// A consumer fetch at or above the HW.
    Read {
        client: Node,
        request: u8,
        offset: Offset,
        leader_epoch: u32,
    },
    /// A produce request for an epoch this broker has not heard of yet.
    Produce(Node, ProduceRequest<R>),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Replica<R> {
    pub id: BrokerId,
    /// The brokers assigned to the partition.
    pub replicas: BrokerSet,
    pub log: Log<R>,
    pub high_watermark: Offset,
    /// The latest partition state the controller sent.
    pub partition: PartitionState,
    pub leader: Option<LeaderState>,
    /// A follower's fetch for the current epoch is awaiting its answer.
    pub fetch_in_flight: bool,
    pub parked: Vec<Parked<R>>,
    /// Counts process restarts, so answers to a previous life are ignored.
    pub incarnation: u8,
    /// The controller allowed a controlled shutdown and the log is flushed:
    /// the runtime stops the process, and its next start is a clean one.
    pub stopped: bool,
}

impl<R: Record> Replica<R> {
    /// A new replica that already knows the partition's initial state.
    pub fn new(id: BrokerId, replicas: BrokerSet, initial: PartitionState) -> Self {
        assert!(replicas.contains(id));
        let mut r = Replica {
            id,
            replicas,
            log: Log::default(),
            high_watermark: 0,
            partition: PartitionState {
                leader: None,
                leader_epoch: 0,
                isr: BrokerSet::EMPTY,
                elr: BrokerSet::EMPTY,
                partition_epoch: 0,
            },
            leader: None,
            fetch_in_flight: false,
            parked: Vec::new(),
            incarnation: 0,
            stopped: false,
        };
        if initial.leader == Some(id) {
            r.partition = initial;
            r.leader = Some(r.fresh_leader_state());
        } else {
            r.partition = follower_view(initial);
        }
        r
    }

    /// A replica whose log and HW checkpoint were read back from disk after
    /// a restart, told the partition's state by the controller. The same
    /// recovery rule as the model's restart applies.
    pub fn restored(
        id: BrokerId,
        replicas: BrokerSet,
        initial: PartitionState,
        log: Log<R>,
        high_watermark: Offset,
        cfg: &ProtocolConfig,
        fx: &mut Effects<R>,
    ) -> Self {
        let mut r = Replica::new(
            id,
            replicas,
            PartitionState {
                leader: None,
                ..initial
            },
        );
        r.log = log;
        r.high_watermark = high_watermark.min(r.log.end_offset());
        r.recover_log(cfg, fx);
        if initial.leader == Some(id) {
            r.partition = initial;
            r.leader = Some(r.fresh_leader_state());
        } else {
            r.partition = follower_view(initial);
        }
        r
    }

    /// Log recovery: before leader epochs, a restarted broker cut its log
    /// back to its HW checkpoint (KIP-101's bug).
    fn recover_log(&mut self, cfg: &ProtocolConfig, fx: &mut Effects<R>) {
        if cfg.truncation == Truncation::HighWatermark
            && self.log.end_offset() > self.high_watermark
        {
            self.truncate(
                self.high_watermark,
                "recovery truncates to the HW checkpoint",
                fx,
            );
        }
    }

    pub fn is_leader(&self) -> bool {
        self.leader.is_some()
    }

    /// The ISR used for the HW: the committed ISR plus members being added.
    pub fn maximal_isr(&self) -> BrokerSet {
        let pending = self
            .leader
            .as_ref()
            .and_then(|l| l.pending_isr)
            .unwrap_or_default();
        self.partition.isr.union(pending)
    }

    fn fresh_leader_state(&self) -> LeaderState {
        LeaderState {
            pending_isr: None,
            epoch_start_offset: self.log.end_offset(),
            follower_end: Vec::new(),
            pending_acks: Vec::new(),
            last_fetch_leader_end: LastFetchLeaderEnds::default(),
        }
    }

    pub fn follower_end(&self, follower: BrokerId) -> Option<Offset> {
        self.leader.as_ref().and_then(|l| {
            l.follower_end
                .iter()
                .find(|(b, _)| *b == follower)
                .map(|(_, o)| *o)
        })
    }

    /// A replica that starts with a known leader begins fetching from it; a
    /// leader arms its followers' lag timers.
    pub fn start(&mut self, cfg: &ProtocolConfig, fx: &mut Effects<R>) {
        let mut before = self.before();
        before.lag_clocks = BrokerSet::EMPTY; // nothing is armed yet
        // The role a replica starts in was the controller's decision; a
        // trace shows it as the LeaderAndIsr that would have brought it.
        if self.leader.is_some() {
            fx.event(|| Event::BecameLeader {
                broker: self.id,
                epoch: self.partition.leader_epoch,
                isr: self.partition.isr,
                high_watermark: self.high_watermark,
            });
        } else if self.partition.leader.is_some() {
            fx.event(|| Event::BecameFollower {
                broker: self.id,
                leader: self.partition.leader,
                epoch: self.partition.leader_epoch,
            });
        }
        self.start_fetching(fx);
        self.finish_step(before, None, cfg, fx);
    }

    /// One step: the input's handler, then the timers it armed or
    /// cancelled, then the invariants, which hold after every step.
    pub fn step(&mut self, input: Input<R>, cfg: &ProtocolConfig, fx: &mut Effects<R>) {
        let before = self.before();
        let mut fired = None;
        match input {
            Input::Message(from, msg) => self.on_message(from, msg, cfg, fx),
            Input::Timeout(t @ Timer::ReplicaLagTimeMax(f)) => {
                fired = Some(t);
                self.on_replica_lag_timeout(f, fx);
            }
            Input::FetchWaitExpired(from) => self.expire_fetch(from, fx),
            Input::Crash { power_loss } => self.crash(power_loss, fx),
            Input::Restart => self.restart(cfg, fx),
            Input::HeartbeatResumed => {
                fx.event(|| Event::HeartbeatResumed {
                    broker: self.id,
                    leading: self.is_leader(),
                });
                fx.send(
                    Node::Controller,
                    Msg::BrokerRegistration {
                        clean_shutdown: true,
                        broker_epoch: self.incarnation,
                    },
                );
            }
            Input::ControlledShutdown => {
                fx.event(|| Event::ShutdownRequested { broker: self.id });
                fx.send(
                    Node::Controller,
                    Msg::ControlledShutdown {
                        broker_epoch: self.incarnation,
                    },
                );
            }
        }
        self.finish_step(before, fired, cfg, fx);
    }

    /// Which handler a message goes to. Anything else is not for a replica.
    fn on_message(&mut self, from: Node, msg: Msg<R>, cfg: &ProtocolConfig, fx: &mut Effects<R>) {
        match (from, msg) {
            (client, Msg::Produce(req)) => self.on_produce(client, req, cfg, fx),
            (Node::Broker(f), Msg::Fetch(req)) => self.on_fetch(f, req, cfg, fx),
            (Node::Broker(l), Msg::FetchResponse(resp)) => self.on_fetch_response(l, resp, cfg, fx),
            (
                client,
                Msg::ConsumerFetch {
                    request,
                    offset,
                    leader_epoch,
                },
            ) => self.on_consumer_fetch(client, request, offset, leader_epoch, fx),
            (
                Node::Controller,
                Msg::LeaderAndIsr {
                    state,
                    broker_epoch,
                },
            ) => self.on_leader_and_isr(state, broker_epoch, cfg, fx),
            (
                Node::Controller,
                Msg::AlterPartitionRejected {
                    new_isr,
                    partition_epoch,
                    ineligible,
                },
            ) => self.on_alter_partition_rejected(new_isr, partition_epoch, ineligible, cfg, fx),
            (Node::Broker(l), Msg::ConnectionReset)
                if self.partition.leader == Some(l)
                    && cfg.mutation != Some(Mutation::FetcherWaitsForLostFetch) =>
            {
                // The fetch to our leader is gone with its connection:
                // `AbstractFetcherThread.processFetchRequest` marks the
                // partitions failed, backs off `replica.fetch.backoff.ms`
                // and fetches again on a new connection.
                self.fetch_in_flight = false;
                self.start_fetching(fx);
            }
            (Node::Controller, Msg::ShutdownAllowed { broker_epoch })
                if broker_epoch == self.incarnation && !self.stopped =>
            {
                self.shut_down(fx)
            }
            _ => {}
        }
    }

    fn before(&self) -> Before {
        Before {
            lag_clocks: self.lag_clocks(),
            leader_epoch: self.partition.leader_epoch,
            leading: self.is_leader().then_some(self.partition.leader_epoch),
            high_watermark: self.high_watermark,
        }
    }

    /// Arms and cancels what the step changed: the armed timers are always
    /// [`Replica::timers`] of the state. A timer that fired is no longer
    /// armed, so it is armed again if the state still wants it.
    fn finish_step(
        &self,
        before: Before,
        fired: Option<Timer>,
        cfg: &ProtocolConfig,
        fx: &mut Effects<R>,
    ) {
        let mut armed = before.lag_clocks;
        if let Some(Timer::ReplicaLagTimeMax(f)) = fired {
            armed.remove(f);
        }
        let wanted = self.lag_clocks();
        for f in armed.minus(wanted).iter() {
            fx.cancel(Timer::ReplicaLagTimeMax(f));
        }
        for f in wanted.minus(armed).iter() {
            fx.arm(Timer::ReplicaLagTimeMax(f));
        }
        assert!(
            self.partition.leader_epoch >= before.leader_epoch,
            "broker {}: leader epoch went back from {} to {}",
            self.id,
            before.leader_epoch,
            self.partition.leader_epoch
        );
        if before.leading.is_some() && before.leading == self.leading_epoch() {
            assert!(
                self.high_watermark >= before.high_watermark,
                "broker {}: the leader's HW went back from {} to {} in epoch {}",
                self.id,
                before.high_watermark,
                self.high_watermark,
                self.partition.leader_epoch
            );
        }
        self.invariants(cfg);
    }

    fn leading_epoch(&self) -> Option<Epoch> {
        self.is_leader().then_some(self.partition.leader_epoch)
    }

    /// What holds after every step (TigerBeetle-style: a broken rule stops
    /// the process instead of serving a state Kafka forbids). Deliberate
    /// protocol bugs (`mutation`) may break the rules they are about.
    pub fn invariants(&self, cfg: &ProtocolConfig) {
        let id = self.id;
        let leo = self.log.end_offset();
        assert!(
            self.high_watermark <= leo,
            "broker {id}: HW {} past LEO {leo}",
            self.high_watermark
        );
        assert!(
            self.log.flushed_offset() <= leo,
            "broker {id}: flushed offset past LEO"
        );
        let mut fetches = BrokerSet::EMPTY;
        for p in &self.parked {
            let (f, req, checked) = match p {
                Parked::FetchForUnknownEpoch(f, req) => (f, req, false),
                Parked::DelayedFetch(f, req) => (f, req, true),
                _ => continue,
            };
            assert!(
                !fetches.contains(*f),
                "broker {id}: two parked fetches from broker {f}"
            );
            fetches.insert(*f);
            if checked {
                assert!(
                    self.is_leader() && req.leader_epoch == self.partition.leader_epoch,
                    "broker {id}: a delayed fetch from broker {f} outlived epoch {}",
                    req.leader_epoch
                );
            } else {
                assert!(
                    req.leader_epoch > self.partition.leader_epoch,
                    "broker {id}: a fetch from broker {f} for known epoch {} was never checked",
                    req.leader_epoch
                );
            }
        }
        let Some(l) = &self.leader else {
            return;
        };
        assert_eq!(
            self.partition.leader,
            Some(id),
            "broker {id} leads a partition whose leader it does not know to be itself"
        );
        if cfg.mutation.is_none() {
            assert!(
                self.partition.isr.contains(id),
                "broker {id} leads outside its ISR {}",
                self.partition.isr
            );
            if let Some(p) = l.pending_isr {
                assert!(
                    p.contains(id),
                    "broker {id} proposed an ISR {p} without itself"
                );
            }
        }
        assert!(
            l.epoch_start_offset <= leo,
            "broker {id}: epoch start past LEO"
        );
        let maximal = self.maximal_isr();
        let mut last = None;
        for &(f, end) in &l.follower_end {
            assert!(
                last < Some(f) && maximal.contains(f) && end <= leo,
                "broker {id}: follower {f}'s fetch position {end} is not one a leader with LEO {leo} and ISR {maximal} keeps"
            );
            last = Some(f);
        }
    }

    /// The first fetch a follower sends for its current leader, if it has one.
    fn start_fetching(&mut self, fx: &mut Effects<R>) {
        if let Some(leader) = self.partition.leader
            && leader != self.id
            && !self.fetch_in_flight
        {
            self.fetch_in_flight = true;
            let req = FetchRequest {
                leader_epoch: self.partition.leader_epoch,
                fetch_offset: self.log.end_offset(),
                last_fetched_epoch: self.log.last_epoch(),
                incarnation: self.incarnation,
            };
            fx.send(Node::Broker(leader), Msg::Fetch(req));
        }
    }

    // ----- controller → broker -------------------------------------------

    /// LeaderAndIsr: the controller's newest state for the partition.
    fn on_leader_and_isr(
        &mut self,
        state: PartitionState,
        broker_epoch: u8,
        cfg: &ProtocolConfig,
        fx: &mut Effects<R>,
    ) {
        if broker_epoch != self.incarnation {
            return; // meant for this broker's previous life
        }
        if state.partition_epoch < self.partition.partition_epoch
            || state.leader_epoch < self.partition.leader_epoch
        {
            return; // stale
        }
        if self.follows_already(&state) {
            return; // an ISR change: a follower keeps no ISR
        }
        let old = self.partition;
        self.partition = state;
        let same_epoch = old.leader_epoch == state.leader_epoch && old.leader == state.leader;
        if state.leader == Some(self.id) {
            if let (true, Some(l)) = (same_epoch, self.leader.as_mut()) {
                // An ISR update, or the answer to our AlterPartition.
                l.pending_isr = None;
                fx.event(|| Event::IsrUpdated {
                    broker: self.id,
                    isr: state.isr,
                });
            } else {
                self.leader = Some(self.fresh_leader_state());
                self.fetch_in_flight = false;
                fx.event(|| Event::BecameLeader {
                    broker: self.id,
                    epoch: state.leader_epoch,
                    isr: state.isr,
                    high_watermark: self.high_watermark,
                });
            }
            self.maybe_advance_high_watermark(cfg, fx);
        } else {
            if let Some(l) = self.leader.take() {
                // Kafka completes delayed produces with NOT_LEADER_OR_FOLLOWER.
                for p in l.pending_acks {
                    fx.send(
                        p.client,
                        Msg::ProduceResponse {
                            request: p.request,
                            result: Err(ErrorCode::NotLeaderOrFollower),
                        },
                    );
                }
            }
            if !same_epoch {
                self.fetch_in_flight = false;
                fx.event(|| Event::BecameFollower {
                    broker: self.id,
                    leader: state.leader,
                    epoch: state.leader_epoch,
                });
                if cfg.truncation == Truncation::HighWatermark
                    && state.leader.is_some()
                    && self.log.end_offset() > self.high_watermark
                {
                    // Before 0.11 a new follower cut its log back to its HW.
                    self.truncate(
                        self.high_watermark,
                        "becoming a follower truncates to the HW",
                        fx,
                    );
                }
                self.start_fetching(fx);
            }
        }
        if !self.is_leader() {
            self.partition = follower_view(self.partition);
        } else {
            let maximal = self.maximal_isr();
            if let Some(l) = self.leader.as_mut() {
                l.follower_end.retain(|(b, _)| maximal.contains(*b));
            }
        }
        self.redispatch_parked(cfg, fx);
    }

    /// The controller refused an AlterPartition. Kafka's leader ignores the
    /// answer unless it still waits for that proposal (`Partition
    /// .submitAlterPartition` compares its state with the proposal it
    /// sent); then INELIGIBLE_REPLICA resets it to the last committed ISR,
    /// and any other error leaves the proposal pending until new metadata
    /// arrives (`Partition.handleAlterPartitionError`). Taking a stale
    /// answer for the current proposal would drop a joiner from the
    /// maximal ISR and let the HW pass records it does not have.
    fn on_alter_partition_rejected(
        &mut self,
        new_isr: BrokerSet,
        partition_epoch: Epoch,
        ineligible: bool,
        cfg: &ProtocolConfig,
        fx: &mut Effects<R>,
    ) {
        let current = partition_epoch == self.partition.partition_epoch;
        let Some(l) = self.leader.as_mut() else {
            return;
        };
        if !ineligible || !current || l.pending_isr != Some(new_isr) {
            return;
        }
        l.pending_isr = None;
        fx.event(|| Event::IsrUpdated {
            broker: self.id,
            isr: self.partition.isr,
        });
        let maximal = self.maximal_isr();
        if let Some(l) = self.leader.as_mut() {
            l.follower_end.retain(|(b, _)| maximal.contains(*b));
        }
        self.maybe_advance_high_watermark(cfg, fx);
    }

    /// Answers or re-handles requests parked for an epoch we had not heard of.
    fn redispatch_parked(&mut self, cfg: &ProtocolConfig, fx: &mut Effects<R>) {
        let epoch = self.partition.leader_epoch;
        let parked = std::mem::take(&mut self.parked);
        for p in parked {
            match p {
                Parked::FetchForUnknownEpoch(from, req) if req.leader_epoch > epoch => {
                    self.parked.push(Parked::FetchForUnknownEpoch(from, req));
                }
                // Its epoch has come: the retry Kafka's follower would send.
                Parked::FetchForUnknownEpoch(from, req) => self.on_fetch(from, req, cfg, fx),
                // A new epoch ends it with NOT_LEADER/FENCED_LEADER_EPOCH
                // (`DelayedFetch.tryComplete`); an ISR change in the same
                // epoch has it handled again, standing for the fetch the
                // follower sends once `replica.fetch.wait.max.ms` expires,
                // which the model leaves out. For a follower that has died
                // since, that is a fetch Kafka would never see again (it
                // records a fetch's position when it reads it, in
                // `ReplicaManager.fetchMessages`); but a fetch of the same
                // position still unread in the leader's socket is handled
                // after the death just so, and the model reaches that too
                // (the stale-fetch scenarios find the same verdicts when a
                // waiting fetch expires instead). Answering the expiry and
                // the follower's fetch as steps of their own doubles the
                // largest scenarios, so the shortcut stays.
                Parked::DelayedFetch(from, req) => self.on_fetch(from, req, cfg, fx),
                Parked::Read {
                    client,
                    request,
                    offset,
                    leader_epoch,
                } => {
                    if leader_epoch > epoch {
                        self.parked
                            .push(p_read(client, request, offset, leader_epoch));
                    } else {
                        self.on_consumer_fetch(client, request, offset, leader_epoch, fx);
                    }
                }
                Parked::Produce(client, req) => self.on_produce(client, req, cfg, fx),
            }
        }
    }

    // ----- producer → leader ---------------------------------------------

    /// Produce (`appendRecordsToLeader`). `leader_epoch` is the epoch the
    /// client believes in: a request for an epoch this broker has not heard
    /// of waits here for the controller's word instead of bouncing.
    fn on_produce(
        &mut self,
        client: Node,
        req: ProduceRequest<R>,
        cfg: &ProtocolConfig,
        fx: &mut Effects<R>,
    ) {
        if self.waits_for_epoch(req.leader_epoch) {
            self.parked.push(Parked::Produce(client, req));
            return;
        }
        let ProduceRequest {
            request,
            acks,
            record,
            ..
        } = req;
        let reply = |fx: &mut Effects<R>, result| {
            if acks != Acks::Zero {
                fx.send(client, Msg::ProduceResponse { request, result });
            }
        };
        if !self.is_leader() {
            fx.event(|| Event::ProduceRejected {
                broker: self.id,
                record: record.clone(),
                error: ErrorCode::NotLeaderOrFollower,
            });
            return reply(fx, Err(ErrorCode::NotLeaderOrFollower));
        }
        if acks == Acks::All
            && self.partition.isr.len() < cfg.min_isr(self.replicas.len())
            && cfg.mutation != Some(Mutation::SkipMinIsrCheck)
        {
            fx.event(|| Event::ProduceRejected {
                broker: self.id,
                record: record.clone(),
                error: ErrorCode::NotEnoughReplicas,
            });
            return reply(fx, Err(ErrorCode::NotEnoughReplicas));
        }
        if let Some(seq) = record.producer_seq() {
            if let Some(offset) = self.log.find_sequence(seq) {
                fx.event(|| Event::DuplicateSequence {
                    broker: self.id,
                    record: record.clone(),
                    offset,
                });
                let end = offset + record.offset_count();
                return self.answer_after_append(client, request, acks, offset, end, cfg, fx);
            }
            let known = self.log.last_of_producer(seq.producer_id);
            let pre_kip_360 = cfg.mutation == Some(Mutation::RejectUnknownProducerSequence)
                && known.is_none()
                && seq.sequence != 0;
            let verdict = if pre_kip_360 {
                Err(ErrorCode::OutOfOrderSequenceNumber)
            } else {
                check_sequence(seq, known)
            };
            if let Err(error) = verdict {
                fx.event(|| Event::ProduceRejected {
                    broker: self.id,
                    record: record.clone(),
                    error,
                });
                return reply(fx, Err(error));
            }
        }
        let epoch = self.partition.leader_epoch;
        let count = record.offset_count();
        let offset = self.log.append(epoch, record.clone());
        fx.write(|| LogWrite::Append(self.log.entries().last().expect("appended").clone()));
        let flushed = self.flush(cfg, fx);
        self.maybe_advance_high_watermark_quiet(cfg);
        fx.event(|| Event::LeaderAppend {
            broker: self.id,
            epoch,
            offset,
            record,
            high_watermark: self.high_watermark,
            flushed,
        });
        self.answer_after_append(client, request, acks, offset, offset + count, cfg, fx);
        self.after_high_watermark_or_log_change(cfg, fx);
    }

    #[allow(clippy::too_many_arguments)]
    fn answer_after_append(
        &mut self,
        client: Node,
        request: u8,
        acks: Acks,
        offset: Offset,
        end: Offset,
        cfg: &ProtocolConfig,
        fx: &mut Effects<R>,
    ) {
        let acks = match (acks, cfg.mutation) {
            (Acks::All, Some(Mutation::AckBeforeIsrHasRecord)) => Acks::One,
            (acks, _) => acks,
        };
        match acks {
            Acks::Zero => {}
            Acks::One => fx.send(
                client,
                Msg::ProduceResponse {
                    request,
                    result: Ok(offset),
                },
            ),
            Acks::All => {
                let ack = PendingAck {
                    client,
                    request,
                    offset,
                    end,
                };
                let l = self.leader.as_mut().expect("only a leader appends");
                l.pending_acks.push(ack);
                self.complete_pending_acks(cfg, fx);
            }
        }
    }

    /// `checkEnoughReplicasReachOffset`: every ISR member has the record
    /// once the HW passes it; min.insync.replicas is checked again then.
    fn complete_pending_acks(&mut self, cfg: &ProtocolConfig, fx: &mut Effects<R>) {
        let hw = self.high_watermark;
        let maximal = self.maximal_isr().len();
        let min_isr = cfg.min_isr(self.replicas.len());
        let id = self.id;
        let Some(l) = self.leader.as_mut() else {
            return;
        };
        l.pending_acks.retain(|p| {
            if hw < p.end {
                return true;
            }
            let result = if maximal >= min_isr {
                Ok(p.offset)
            } else {
                Err(ErrorCode::NotEnoughReplicasAfterAppend)
            };
            fx.event(|| Event::ProduceCompleted {
                broker: id,
                offset: p.offset,
                result,
            });
            fx.send(
                p.client,
                Msg::ProduceResponse {
                    request: p.request,
                    result,
                },
            );
            false
        });
    }

    // ----- high watermark -------------------------------------------------

    /// `maybeIncrementLeaderHW`: the minimum LEO over the leader and every
    /// member of the maximal ISR. Returns whether it moved.
    fn maybe_advance_high_watermark_quiet(&mut self, cfg: &ProtocolConfig) -> bool {
        let Some(l) = &self.leader else { return false };
        if cfg.strict_min_isr && self.under_min_isr(cfg) {
            return false;
        }
        let mut hw = self.log.end_offset();
        let members = if cfg.mutation == Some(Mutation::HighWatermarkPastLaggingIsr) {
            BrokerSet::EMPTY
        } else {
            self.maximal_isr().without(self.id)
        };
        for member in members.iter() {
            match l.follower_end.iter().find(|(b, _)| *b == member) {
                Some((_, end)) => hw = hw.min(*end),
                None => return false, // not heard from since this epoch began
            }
        }
        if hw > self.high_watermark {
            self.high_watermark = hw;
            true
        } else {
            false
        }
    }

    fn maybe_advance_high_watermark(&mut self, cfg: &ProtocolConfig, fx: &mut Effects<R>) {
        if self.maybe_advance_high_watermark_quiet(cfg) {
            fx.event(|| Event::HighWatermarkAdvanced {
                broker: self.id,
                high_watermark: self.high_watermark,
            });
        }
        self.after_high_watermark_or_log_change(cfg, fx);
    }

    /// Completes what waits on the HW or on new entries.
    fn after_high_watermark_or_log_change(&mut self, cfg: &ProtocolConfig, fx: &mut Effects<R>) {
        self.complete_pending_acks(cfg, fx);
        if self.parked.is_empty() {
            return;
        }
        let parked = std::mem::take(&mut self.parked);
        for p in parked {
            match p {
                // Only a fetch that passed `on_fetch` may be answered with
                // records: one still waiting for its epoch has not been
                // checked for divergence (issue 16) even if that epoch has
                // just begun; `redispatch_parked` takes it through `on_fetch`.
                Parked::DelayedFetch(from, req)
                    if self.is_leader() && req.leader_epoch == self.partition.leader_epoch =>
                {
                    if self.fetch_has_news(&req) {
                        self.respond_records(from, req, fx);
                    } else {
                        self.parked.push(Parked::DelayedFetch(from, req));
                    }
                }
                Parked::FetchForUnknownEpoch(from, req)
                    if cfg.mutation == Some(Mutation::AnswerFetchBeforeCheckingIt)
                        && self.is_leader()
                        && req.leader_epoch == self.partition.leader_epoch
                        && self.fetch_has_news(&req) =>
                {
                    self.respond_records(from, req, fx);
                }
                Parked::Read {
                    client,
                    request,
                    offset,
                    leader_epoch,
                } if self.is_leader() && offset < self.high_watermark => {
                    self.on_consumer_fetch(client, request, offset, leader_epoch, fx)
                }
                other => self.parked.push(other),
            }
        }
    }

    // ----- follower fetch, leader side -----------------------------------

    /// A follower's Fetch: divergence check, fetch-position bookkeeping, ISR
    /// expansion, HW advance, then the records (or a wait for some).
    fn on_fetch(
        &mut self,
        from: BrokerId,
        req: FetchRequest,
        cfg: &ProtocolConfig,
        fx: &mut Effects<R>,
    ) {
        // A follower may only replace its own earlier fetch.
        self.parked.retain(|p| {
            !matches!(p, Parked::FetchForUnknownEpoch(b, _) | Parked::DelayedFetch(b, _) if *b == from)
        });
        if self.waits_for_epoch(req.leader_epoch) {
            self.parked.push(Parked::FetchForUnknownEpoch(from, req));
            return;
        }
        if !self.is_leader() || req.leader_epoch != self.partition.leader_epoch {
            return send_fetch_response(from, req, FetchResult::NotLeader, fx);
        }
        if cfg.truncation == Truncation::LeaderEpoch
            && let Some(last_epoch) = req.last_fetched_epoch
        {
            let (epoch, end_offset) = self.log.end_offset_for_epoch(last_epoch);
            if epoch != last_epoch || end_offset < req.fetch_offset {
                return send_fetch_response(
                    from,
                    req,
                    FetchResult::Diverging { epoch, end_offset },
                    fx,
                );
            }
        }
        let leo = self.log.end_offset();
        if req.fetch_offset > leo {
            return send_fetch_response(
                from,
                req,
                FetchResult::OffsetOutOfRange {
                    leader_end_offset: leo,
                },
                fx,
            );
        }
        self.answer_fetch_or_park(from, req, cfg, fx);
    }

    fn answer_fetch_or_park(
        &mut self,
        from: BrokerId,
        req: FetchRequest,
        cfg: &ProtocolConfig,
        fx: &mut Effects<R>,
    ) {
        let id = self.id;
        let leader_end = self.log.end_offset();
        let caught_up_as_of_previous = self
            .leader
            .as_mut()
            .expect("checked by caller")
            .last_fetch_leader_end
            .count(from, req.fetch_offset, leader_end);
        fx.follower_fetched(from, caught_up_as_of_previous);
        self.maybe_expand_isr(from, &req, cfg, fx);
        // Only (maximal) ISR members' positions matter: for the HW and for
        // lag. Expansion judges by this fetch alone.
        if self.maximal_isr().contains(from) {
            let l = self.leader.as_mut().expect("checked by caller");
            match l.follower_end.binary_search_by_key(&from, |(b, _)| *b) {
                Ok(i) => l.follower_end[i].1 = req.fetch_offset,
                Err(i) => l.follower_end.insert(i, (from, req.fetch_offset)),
            }
            fx.event(|| Event::FetchRecorded {
                leader: id,
                follower: from,
                fetch_offset: req.fetch_offset,
            });
        }
        if self.maybe_advance_high_watermark_quiet(cfg) {
            fx.event(|| Event::HighWatermarkAdvanced {
                broker: id,
                high_watermark: self.high_watermark,
            });
        }
        if self.fetch_has_news(&req) {
            self.respond_records(from, req, fx);
        } else {
            self.parked.push(Parked::DelayedFetch(from, req));
        }
        self.after_high_watermark_or_log_change(cfg, fx);
    }

    /// `Partition.isUnderMinIsr`, against `effectiveMinIsr`: never more
    /// than the partition's replicas (only the strict HW rule asks, and it
    /// came with the cap).
    fn under_min_isr(&self, cfg: &ProtocolConfig) -> bool {
        let effective_min_isr = usize::from(cfg.min_insync_replicas).min(self.replicas.len());
        self.partition.isr.len() < effective_min_isr
    }

    /// `isFollowerInSync` during the fetch: the follower has reached the HW
    /// and the start of this leader's epoch, judged by this very fetch.
    /// KAFKA-19996 (apache/kafka PR 23024, open) adds, while the partition
    /// is under min.insync.replicas, the shrink side's own test
    /// (`Replica.isCaughtUp`): the follower must have reached the leader's
    /// log end, since the strict rule holds the HW back there.
    /// The proposal names the broker epoch the fetch came from, which the
    /// controller checks from 3.5 (KIP-903): a fetch sent by the follower's
    /// previous life may arrive after it restarted, empty.
    fn maybe_expand_isr(
        &mut self,
        follower: BrokerId,
        req: &FetchRequest,
        cfg: &ProtocolConfig,
        fx: &mut Effects<R>,
    ) {
        let fetch_offset = req.fetch_offset;
        let maximal = self.maximal_isr();
        let hw = self.high_watermark;
        let behind_the_leader = cfg.caught_up_isr_expansion_under_min_isr
            && self.under_min_isr(cfg)
            && fetch_offset < self.log.end_offset();
        let l = self.leader.as_ref().expect("leader");
        if maximal.contains(follower)
            || l.pending_isr.is_some()
            || fetch_offset < hw
            || fetch_offset < l.epoch_start_offset
            || behind_the_leader
        {
            return;
        }
        let isr = self.partition.isr.with(follower);
        let (epoch, offset) = (req.incarnation, req.fetch_offset);
        let why = move || {
            format!(
                "broker {follower} caught up: its fetch from offset {offset}, \
                 sent in broker epoch {epoch}"
            )
            .into()
        };
        self.propose_isr(isr, Some((follower, epoch)), why, fx);
    }

    /// AlterPartition (`Partition.prepareIsrExpand`/`prepareIsrShrink`, then
    /// `submitAlterPartition`): the leader proposes `isr` and keeps it as
    /// pending until the controller answers; the HW counts the union.
    fn propose_isr(
        &mut self,
        isr: BrokerSet,
        joining: Option<(BrokerId, u8)>,
        why: impl FnOnce() -> Why,
        fx: &mut Effects<R>,
    ) {
        self.leader
            .as_mut()
            .expect("only a leader proposes")
            .pending_isr = Some(isr);
        fx.event(|| Event::IsrChangeProposed {
            leader: self.id,
            isr,
            why: why(),
        });
        fx.send(
            Node::Controller,
            Msg::AlterPartition {
                leader_epoch: self.partition.leader_epoch,
                partition_epoch: self.partition.partition_epoch,
                new_isr: isr,
                joining,
            },
        );
    }

    /// A fetch is answered at once only when it has entries to return.
    /// Otherwise it waits for new entries, as a `DelayedFetch` with
    /// `fetch.min.bytes=1`; its `replica.fetch.wait.max.ms` expiry, which
    /// would only carry a newer HW, is left out. Followers' HWs therefore
    /// lag by up to a record, which is the lag KIP-101 is about.
    fn fetch_has_news(&self, req: &FetchRequest) -> bool {
        self.log.end_offset() > req.fetch_offset
    }

    /// `replica.fetch.wait.max.ms` passed for `from`'s parked fetch: answer
    /// it with no entries and the current HW (`DelayedFetch` expiry). The
    /// model leaves this out (it only carries a newer HW); the server needs
    /// it so a follower's request does not wait forever. A fetch for an
    /// epoch this broker has not heard of keeps waiting for the controller.
    fn expire_fetch(&mut self, from: BrokerId, fx: &mut Effects<R>) {
        let epoch = self.partition.leader_epoch;
        let leader = self.is_leader();
        let Some(i) = self.parked.iter().position(
            |p| matches!(p, Parked::DelayedFetch(b, req) if *b == from && leader && req.leader_epoch == epoch),
        ) else {
            return;
        };
        let Parked::DelayedFetch(_, req) = self.parked.remove(i) else {
            unreachable!("matched a parked fetch")
        };
        let result = FetchResult::Records {
            entries: Vec::new(),
            high_watermark: self.high_watermark,
        };
        send_fetch_response(from, req, result, fx);
    }

    fn respond_records(&self, from: BrokerId, req: FetchRequest, fx: &mut Effects<R>) {
        let entries = self.log.entries_from(req.fetch_offset).to_vec();
        let result = FetchResult::Records {
            entries,
            high_watermark: self.high_watermark,
        };
        send_fetch_response(from, req, result, fx);
    }

    /// ISR followers not caught up to the leader's LEO: each has its
    /// `replica.lag.time.max.ms` clock running, from when it fell behind or
    /// from the fetch it last counts as caught up at, whichever is later
    /// (Kafka's `lastCaughtUpTimeMs`, read by `Partition.isFollowerOutOfSync`;
    /// see [`LastFetchLeaderEnds`]).
    fn lag_clocks(&self) -> BrokerSet {
        if self.leader.is_none() {
            return BrokerSet::EMPTY;
        }
        let leo = self.log.end_offset();
        let mut out = BrokerSet::EMPTY;
        for f in self.partition.isr.without(self.id).iter() {
            if self.follower_end(f) != Some(leo) {
                out.insert(f);
            }
        }
        out
    }

    /// The timers this state wants armed.
    pub fn timers(&self) -> impl Iterator<Item = Timer> {
        self.lag_clocks().iter().map(Timer::ReplicaLagTimeMax)
    }

    /// Whether `timer` running out now would do anything. While an ISR
    /// change is in flight the leader proposes no other
    /// (`Partition.maybeShrinkIsr` skips while `partitionState.isInflight`),
    /// so a lag timer that runs out then stays armed, its clock still
    /// running, until the controller answers.
    pub fn accepts_timeout(&self, timer: Timer) -> bool {
        let Timer::ReplicaLagTimeMax(f) = timer;
        self.leader
            .as_ref()
            .is_some_and(|l| l.pending_isr.is_none())
            && self.lag_clocks().contains(f)
    }

    /// `replica.lag.time.max.ms` passed for `follower`: propose its removal.
    fn on_replica_lag_timeout(&mut self, follower: BrokerId, fx: &mut Effects<R>) {
        if !self.accepts_timeout(Timer::ReplicaLagTimeMax(follower)) {
            return;
        }
        let isr = self.partition.isr.without(follower);
        let why = || "replica.lag.time.max.ms passed for a follower".into();
        self.propose_isr(isr, None, why, fx);
    }

    // ----- follower fetch, follower side ---------------------------------

    /// Whether this follower still waits for the answer to the fetch it
    /// sent `from` at that epoch, life and position. Anything else is an
    /// answer to an earlier request, which the follower ignores, and which a
    /// runtime need not retry.
    pub fn awaits_fetch_answer(
        &self,
        from: BrokerId,
        leader_epoch: Epoch,
        incarnation: u8,
        fetch_offset: Offset,
    ) -> bool {
        !self.is_leader()
            && self.fetch_in_flight
            && self.partition.leader == Some(from)
            && leader_epoch == self.partition.leader_epoch
            && incarnation == self.incarnation
            && fetch_offset == self.log.end_offset()
    }

    fn on_fetch_response(
        &mut self,
        from: BrokerId,
        resp: FetchResponse<R>,
        cfg: &ProtocolConfig,
        fx: &mut Effects<R>,
    ) {
        if !self.awaits_fetch_answer(from, resp.leader_epoch, resp.incarnation, resp.fetch_offset) {
            return; // an answer for an earlier epoch, life or position
        }
        self.fetch_in_flight = false;
        match resp.result {
            FetchResult::Records {
                entries,
                high_watermark,
            } => {
                let before = self.log.end_offset();
                for e in entries {
                    fx.write(|| LogWrite::Append(e.clone()));
                    self.log.append_replicated(e);
                }
                let after = self.log.end_offset();
                let flushed = after > before && self.flush(cfg, fx);
                let hw = high_watermark.min(after);
                let hw_changed = hw != self.high_watermark;
                self.high_watermark = hw;
                if after > before {
                    fx.event(|| Event::FollowerAppend {
                        broker: self.id,
                        leader: from,
                        from: before,
                        to: after,
                        high_watermark: hw,
                        flushed,
                    });
                } else if hw_changed {
                    fx.event(|| Event::FollowerHighWatermark {
                        broker: self.id,
                        high_watermark: hw,
                    });
                }
            }
            FetchResult::Diverging { epoch, end_offset } => {
                let (_, own_end) = self.log.end_offset_for_epoch(epoch);
                let to = end_offset.min(own_end);
                self.truncate(
                    to,
                    "the leader's log diverges after this epoch (KIP-320)",
                    fx,
                );
            }
            FetchResult::OffsetOutOfRange { leader_end_offset } => {
                if self.log.end_offset() > leader_end_offset {
                    self.truncate(leader_end_offset, "its LEO is past the leader's", fx);
                }
            }
            FetchResult::NotLeader => return, // the controller will say who leads
        }
        self.start_fetching(fx);
    }

    /// `log.flush.interval.messages`: whether this append made the log fsync.
    fn flush(&mut self, cfg: &ProtocolConfig, fx: &mut Effects<R>) -> bool {
        let flushed = self.log.maybe_flush(cfg.flush_interval_messages);
        if flushed {
            fx.write(|| LogWrite::Flush {
                to: self.log.flushed_offset(),
            });
        }
        flushed
    }

    fn truncate(&mut self, to: Offset, reason: &'static str, fx: &mut Effects<R>) {
        self.log.truncate_to(to);
        fx.write(|| LogWrite::Truncate {
            to: self.log.end_offset(),
        });
        self.high_watermark = self.high_watermark.min(self.log.end_offset());
        fx.event(|| Event::Truncated {
            broker: self.id,
            to: self.log.end_offset(),
            reason: reason.into(),
        });
    }

    // ----- consumer -------------------------------------------------------

    /// A consumer fetch: only entries below the HW are visible.
    fn on_consumer_fetch(
        &mut self,
        client: Node,
        request: u8,
        offset: Offset,
        leader_epoch: u32,
        fx: &mut Effects<R>,
    ) {
        if self.waits_for_epoch(leader_epoch) || (self.is_leader() && offset >= self.high_watermark)
        {
            self.parked
                .push(p_read(client, request, offset, leader_epoch));
            return;
        }
        let result = self
            .consumer_read(offset)
            .map(|entries| entries.first().map(|e| e.record.clone()));
        fx.send(
            client,
            Msg::ConsumerFetchResponse {
                request,
                offset,
                result,
            },
        );
    }

    /// What a consumer may read from `offset`: the leader's entries from the
    /// one holding `offset` up to the HW, none when `offset` is at or past
    /// the HW, and OFFSET_OUT_OF_RANGE past the LEO. Records above the HW
    /// are never shown: they may still be lost.
    pub fn consumer_read(&self, offset: Offset) -> Result<&[Entry<R>], ErrorCode> {
        if !self.is_leader() {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        if offset > self.log.end_offset() {
            return Err(ErrorCode::OffsetOutOfRange);
        }
        let from = self.log.entries_from(offset);
        let visible = from.partition_point(|e| e.end_offset() <= self.high_watermark);
        Ok(&from[..visible])
    }

    // ----- crashes --------------------------------------------------------

    /// The process dies: the clients whose requests it held see their
    /// connections reset. A power loss also loses the page cache: the log
    /// keeps only what was flushed (what the disk kept, not a write).
    fn crash(&mut self, power_loss: bool, fx: &mut Effects<R>) {
        if power_loss {
            self.log.cut_to_flushed();
        }
        self.stop_process(fx);
        fx.event(|| Event::Crashed {
            broker: self.id,
            power_loss,
            end_offset: self.log.end_offset(),
        });
    }

    /// The end of a controlled shutdown (`BrokerServer.shutdown` →
    /// `LogManager.shutdown`): every log flushed and the clean-shutdown
    /// marker written, so the next start recovers nothing and registers as
    /// a clean shutdown (which keeps an ELR member eligible, KIP-966).
    fn shut_down(&mut self, fx: &mut Effects<R>) {
        let end = self.log.end_offset();
        if self.log.flush() {
            fx.write(|| LogWrite::Flush { to: end });
        }
        self.stop_process(fx);
        self.stopped = true;
        fx.event(|| Event::ShutDown {
            broker: self.id,
            end_offset: end,
        });
    }

    /// The clients this replica holds a request of: an acks=all produce
    /// waiting for the HW, or a produce or read parked for an epoch. It
    /// answers them later, or resets their connections when it stops.
    /// Nothing else makes a replica send to a client unasked: every other
    /// answer goes out in the step that receives the request (the model's
    /// client-first reduction relies on it, `model::client_first`).
    pub fn clients_owed(&self) -> impl Iterator<Item = Node> + '_ {
        let pending = self.leader.iter().flat_map(|l| l.pending_acks.iter());
        let parked = self.parked.iter().filter_map(|p| match p {
            Parked::Read { client, .. } | Parked::Produce(client, _) => Some(*client),
            Parked::FetchForUnknownEpoch(..) | Parked::DelayedFetch(..) => None,
        });
        pending.map(|p| p.client).chain(parked)
    }

    /// Whether this replica ignores `msg` whenever it arrives: delivering
    /// it now, or after any steps of this replica, changes nothing and
    /// sends nothing. Each case is its handler's own guard, under a
    /// condition no later step can undo, since a replica's incarnation
    /// (one more at each `stop_process`, and a broker restarts far fewer
    /// than 256 times in a model) and its leader epoch (`finish_step`
    /// asserts it) never go back:
    /// - a FetchResponse to a fetch of an earlier life or epoch
    ///   (`awaits_fetch_answer`; the responses to this replica's fetches
    ///   carry the life and epoch they were sent in, never newer ones);
    /// - a LeaderAndIsr meant for an earlier life, or of an older leader
    ///   epoch, or, at a follower, one naming the leader and epoch it
    ///   follows already (`on_leader_and_isr`'s first three checks; the
    ///   third, `follows_already`, stays so until the controller's next
    ///   word, which comes behind it);
    /// - a ShutdownAllowed for an earlier life (`on_message`);
    /// - a rejected AlterPartition other than INELIGIBLE_REPLICA
    ///   (`on_alter_partition_rejected` keeps such a proposal pending).
    ///
    /// The model checker drops these messages as they are sent or become
    /// so, and does not wait for them before judging that nothing more
    /// can happen (`model::ignored`).
    pub fn ignores_for_good(&self, msg: &Msg<R>) -> bool {
        match msg {
            Msg::FetchResponse(r) => self.ignores_answers_to(r.leader_epoch, r.incarnation),
            Msg::LeaderAndIsr {
                state,
                broker_epoch,
            } => {
                *broker_epoch != self.incarnation
                    || state.leader_epoch < self.partition.leader_epoch
                    || self.follows_already(state)
            }
            Msg::ShutdownAllowed { broker_epoch } => *broker_epoch != self.incarnation,
            Msg::AlterPartitionRejected { ineligible, .. } => !ineligible,
            _ => false,
        }
    }

    /// Whether `state` tells this follower only what it knows: the leader
    /// and epoch it follows already (an ISR change). A follower keeps
    /// neither the ISR nor the partition epoch (`follower_view`), and what
    /// it parked waits for a newer epoch, so there is nothing to do.
    fn follows_already(&self, state: &PartitionState) -> bool {
        !self.is_leader()
            && state.leader != Some(self.id)
            && follower_view(*state) == self.partition
    }

    /// Whether a request for `leader_epoch` waits here (parked) until this
    /// replica hears of that epoch, rather than being handled now: a
    /// produce, a follower's fetch or a consumer's read for an epoch newer
    /// than its own.
    pub fn waits_for_epoch(&self, leader_epoch: Epoch) -> bool {
        leader_epoch > self.partition.leader_epoch
    }

    /// Whether this replica ignores for good every answer to a fetch it
    /// sent in `leader_epoch` and life `incarnation` (see
    /// [`Replica::ignores_for_good`]).
    pub fn ignores_answers_to(&self, leader_epoch: Epoch, incarnation: u8) -> bool {
        incarnation != self.incarnation || leader_epoch < self.partition.leader_epoch
    }

    /// Whether `from`'s fetch `req` gets NOT_LEADER whenever it arrives and
    /// changes nothing else here: it names an older leader epoch than this
    /// replica's (`on_fetch`), and no fetch of `from`'s waits here for it
    /// to replace. On an ordered channel that stays so: every fetch parked
    /// here names this replica's epoch or a newer one (a new epoch
    /// re-handles the parked ones, `redispatch_parked`), so `from`'s parked
    /// fetch could only be one it sent after `req`, which `req` arrives
    /// before.
    pub fn refuses_for_good(&self, from: BrokerId, req: &FetchRequest) -> bool {
        req.leader_epoch < self.partition.leader_epoch
            && !self.parked.iter().any(|p| {
                matches!(p, Parked::FetchForUnknownEpoch(b, _) | Parked::DelayedFetch(b, _) if *b == from)
            })
    }

    /// What ends with the process, however it ends: its leadership, its
    /// parked requests and its connections: each client with a request
    /// pending sees its connection reset.
    fn stop_process(&mut self, fx: &mut Effects<R>) {
        let mut clients: Vec<Node> = self.clients_owed().collect();
        self.leader = None;
        self.parked.clear();
        clients.sort();
        clients.dedup();
        self.high_watermark = self.high_watermark.min(self.log.end_offset());
        self.fetch_in_flight = false;
        // What it knew of the partition as a leader (the ISR, the partition
        // epoch) goes with the process too: it restarts knowing what a
        // follower knows, its leader epoch, until the controller speaks.
        self.partition = follower_view(PartitionState {
            leader: None,
            ..self.partition
        });
        self.incarnation = self.incarnation.wrapping_add(1);
        for client in clients {
            fx.send(client, Msg::ConnectionReset);
        }
    }

    /// Log recovery on restart, then registration with the controller.
    fn restart(&mut self, cfg: &ProtocolConfig, fx: &mut Effects<R>) {
        self.recover_log(cfg, fx);
        fx.event(|| Event::Restarted {
            broker: self.id,
            end_offset: self.log.end_offset(),
            high_watermark: self.high_watermark,
        });
        fx.send(
            Node::Controller,
            Msg::BrokerRegistration {
                clean_shutdown: std::mem::take(&mut self.stopped),
                broker_epoch: self.incarnation,
            },
        );
    }
}

impl<R> RenameBrokers for Replica<R> {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        let Replica {
            id,
            replicas,
            log: _,
            high_watermark: _,
            partition,
            leader,
            fetch_in_flight: _,
            parked,
            incarnation: _,
            stopped: _,
        } = self;
        *id = to(*id);
        replicas.rename_brokers(to);
        partition.rename_brokers(to);
        if let Some(l) = leader {
            l.rename_brokers(to);
        }
        // Parked requests keep their order: it decides the order of appends
        // when a new epoch redispatches them.
        for p in parked {
            match p {
                Parked::FetchForUnknownEpoch(b, _) | Parked::DelayedFetch(b, _) => *b = to(*b),
                Parked::Read { client, .. } | Parked::Produce(client, _) => {
                    client.rename_brokers(to)
                }
            }
        }
    }
}

impl RenameBrokers for LeaderState {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        let LeaderState {
            pending_isr,
            epoch_start_offset: _,
            follower_end,
            pending_acks,
            last_fetch_leader_end,
        } = self;
        for (b, _) in last_fetch_leader_end.0.iter_mut() {
            *b = to(*b);
        }
        last_fetch_leader_end.0.sort();
        if let Some(p) = pending_isr {
            p.rename_brokers(to);
        }
        for (b, _) in follower_end.iter_mut() {
            *b = to(*b);
        }
        follower_end.sort();
        for PendingAck {
            client,
            request: _,
            offset: _,
            end: _,
        } in pending_acks
        {
            client.rename_brokers(to);
        }
    }
}

/// What a follower keeps of the partition state: who leads in which epoch.
/// The ISR and partition epoch matter only to the leader; forgetting them
/// keeps followers from differing by history they never use.
fn follower_view(state: PartitionState) -> PartitionState {
    PartitionState {
        leader: state.leader,
        leader_epoch: state.leader_epoch,
        isr: BrokerSet::EMPTY,
        elr: BrokerSet::EMPTY,
        partition_epoch: 0,
    }
}

fn p_read<R>(client: Node, request: u8, offset: Offset, leader_epoch: u32) -> Parked<R> {
    Parked::Read {
        client,
        request,
        offset,
        leader_epoch,
    }
}

fn send_fetch_response<R>(
    to: BrokerId,
    req: FetchRequest,
    result: FetchResult<R>,
    fx: &mut Effects<R>,
) {
    fx.send(
        Node::Broker(to),
        Msg::FetchResponse(FetchResponse {
            leader_epoch: req.leader_epoch,
            fetch_offset: req.fetch_offset,
            incarnation: req.incarnation,
            result,
        }),
    );
}

/// Whether a leader appends an idempotent producer's batch, given what its
/// log knows of that producer (Kafka's `ProducerAppendInfo`: the epoch
/// check of `checkProducerEpoch`, then `checkSequence`).
/// - An older epoch than the log's is fenced: INVALID_PRODUCER_EPOCH.
/// - A producer the log does not know may start at any sequence (KIP-360,
///   2.5): its earlier batches may be gone with a truncated log.
/// - A new epoch starts at sequence 0, and within one epoch each batch
///   follows the last: OUT_OF_ORDER_SEQUENCE_NUMBER otherwise.
fn check_sequence(seq: ProducerSeq, known: Option<ProducerSeq>) -> Result<(), ErrorCode> {
    let Some(last) = known else { return Ok(()) };
    if seq.producer_epoch < last.producer_epoch {
        return Err(ErrorCode::InvalidProducerEpoch);
    }
    let in_order = if seq.producer_epoch > last.producer_epoch {
        seq.sequence == 0
    } else {
        seq.sequence == last.sequence.wrapping_add(1)
    };
    if in_order {
        Ok(())
    } else {
        Err(ErrorCode::OutOfOrderSequenceNumber)
    }
}
