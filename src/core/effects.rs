//! What a protocol step asks its runtime to do, and what it decided.
//!
//! State machines never do I/O. A step pushes everything it decided into
//! [`Effects`]: log writes, messages, timers to arm or cancel and, when the
//! runtime asks for them, trace events naming each decision. A runtime
//! takes them back only as one ordered stream of [`Effect`]s (events, then
//! log writes, then messages, then timers, then follower fetch times), so
//! it cannot send an
//! acknowledgement before it wrote what the acknowledgement is about, as
//! raft-rs's `Ready` orders persisting before sending.

use super::error::ErrorCode;
use super::log::Entry;
use super::messages::{Msg, Node};
use super::types::{BrokerId, BrokerSet, Epoch, Offset};
use smallvec::SmallVec;
use std::fmt;

/// A timer the core runs on its runtime's clock. The set of armed timers is
/// a pure function of the state (`Replica::timers`); a step reports how it
/// changed as [`Effect::ArmTimer`] and [`Effect::CancelTimer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// `replica.lag.time.max.ms` for an ISR follower that is not caught up
    /// to the leader's LEO: armed when it falls behind, cancelled when it
    /// catches up or leaves the ISR (`Partition.getOutOfSyncReplicas`).
    ReplicaLagTimeMax(BrokerId),
}

/// A change to the replica's log that the runtime must make in its files
/// before anything the same step sends leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogWrite<R> {
    /// Write this entry after the last one.
    Append(Entry<R>),
    /// Remove every entry at or above this offset.
    Truncate { to: Offset },
    /// fsync everything below this offset (`log.flush.interval.messages`).
    Flush { to: Offset },
}

/// One thing a step asks its runtime to do, in the order it must be done.
#[derive(Debug)]
pub enum Effect<R> {
    /// A decision, for the trace and the story (only when traced).
    Event(Event<R>),
    /// A log change (only when the runtime keeps files: `with_writes`).
    Write(LogWrite<R>),
    Send(Node, Msg<R>),
    ArmTimer(Timer),
    CancelTimer(Timer),
    /// The leader counted a fetch of `follower` (Kafka's
    /// `Replica.updateFetchStateOrThrow`). The runtime notes now as that
    /// follower's last fetch time. With `caught_up_as_of_previous`, the
    /// fetch reached the LEO the leader had at the follower's previous
    /// fetch, so the follower counts as caught up as of that previous
    /// fetch: its [`Timer::ReplicaLagTimeMax`], if armed, runs from the
    /// time noted for that fetch, or from later if it already does (a
    /// clock that never moves back). Comes after the step's timers, so it
    /// applies to the timer as the step left it.
    FollowerFetched {
        follower: BrokerId,
        caught_up_as_of_previous: bool,
    },
}

#[derive(Debug)]
pub struct Effects<R> {
    events: Option<Vec<Event<R>>>,
    writes: Option<Vec<LogWrite<R>>>,
    sends: Vec<(Node, Msg<R>)>,
    /// `(timer, armed)`: armed, or cancelled. Inline: the checker's hot
    /// path should not allocate for the few a step changes.
    timers: SmallVec<[(Timer, bool); 4]>,
    /// `(follower, caught_up_as_of_previous)` per counted fetch; a step
    /// counts at most one.
    fetches: SmallVec<[(BrokerId, bool); 1]>,
}

impl<R> Effects<R> {
    /// Messages and timers only: what the checker uses on its hot path.
    pub fn new() -> Self {
        Effects {
            events: None,
            writes: None,
            sends: Vec::new(),
            timers: SmallVec::new(),
            fetches: SmallVec::new(),
        }
    }
    /// Effects that also record every decision as an [`Event`].
    pub fn traced() -> Self {
        Effects {
            events: Some(Vec::new()),
            ..Effects::new()
        }
    }
    /// Also reports every log change as a [`LogWrite`], for a runtime
    /// whose logs live in files.
    pub fn with_writes(mut self) -> Self {
        self.writes = Some(Vec::new());
        self
    }
    pub fn send(&mut self, to: Node, msg: Msg<R>) {
        self.sends.push((to, msg));
    }
    pub fn event(&mut self, event: impl FnOnce() -> Event<R>) {
        if let Some(events) = &mut self.events {
            events.push(event());
        }
    }
    /// A log change; `write` runs only when the runtime asked for writes.
    pub fn write(&mut self, write: impl FnOnce() -> LogWrite<R>) {
        if let Some(writes) = &mut self.writes {
            writes.push(write());
        }
    }
    pub fn arm(&mut self, timer: Timer) {
        self.timers.push((timer, true));
    }
    pub fn cancel(&mut self, timer: Timer) {
        self.timers.push((timer, false));
    }
    /// See [`Effect::FollowerFetched`].
    pub fn follower_fetched(&mut self, follower: BrokerId, caught_up_as_of_previous: bool) {
        self.fetches.push((follower, caught_up_as_of_previous));
    }
    /// Hands every effect to `f`, in the order a runtime must carry them
    /// out: events, then log writes, then messages, then timers, then
    /// follower fetch times. The one place that order is written.
    pub fn apply(self, mut f: impl FnMut(Effect<R>)) {
        if let Some(events) = self.events {
            for e in events {
                f(Effect::Event(e));
            }
        }
        if let Some(writes) = self.writes {
            for w in writes {
                f(Effect::Write(w));
            }
        }
        for (to, msg) in self.sends {
            f(Effect::Send(to, msg));
        }
        for (t, armed) in self.timers {
            f(if armed {
                Effect::ArmTimer(t)
            } else {
                Effect::CancelTimer(t)
            });
        }
        for (follower, caught_up_as_of_previous) in self.fetches {
            f(Effect::FollowerFetched {
                follower,
                caught_up_as_of_previous,
            });
        }
    }

    /// The decisions so far, for a story.
    pub fn events(&self) -> &[Event<R>] {
        self.events.as_deref().unwrap_or(&[])
    }
}

impl<R> Default for Effects<R> {
    fn default() -> Self {
        Self::new()
    }
}

/// The same order as [`Effects::apply`], collected: for runtimes off the
/// checker's hot path and for tests.
impl<R> IntoIterator for Effects<R> {
    type Item = Effect<R>;
    type IntoIter = std::vec::IntoIter<Effect<R>>;
    fn into_iter(self) -> Self::IntoIter {
        let mut all = Vec::new();
        self.apply(|e| all.push(e));
        all.into_iter()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ElectionKind {
    /// From the live members of the ISR.
    Clean,
    /// KIP-966: from the live Eligible Leader Replicas.
    Elr,
    /// `unclean.leader.election.enable`, or an ElectLeaders request of
    /// type UNCLEAN: from any live replica.
    Unclean,
    /// KIP-966's last resort: with the ISR and the ELR both empty, the
    /// partition's last leader, once it is back.
    LastKnownLeader,
    /// Preferred-leader election (`auto.leader.rebalance.enable`, or
    /// `kafka-leader-election.sh`): leadership moves, with no failure, from
    /// a live leader to another live ISR member.
    Preferred,
}

/// The reason a decision names: fixed text when the core makes it, owned
/// when a trace is read back.
pub type Why = std::borrow::Cow<'static, str>;

/// One protocol decision, named after the Kafka behaviour it is.
/// In a trace, an event is `{"type": "LeaderAppend", ...fields}`, and
/// `insync conform` reads it back as this same type.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type")]
pub enum Event<R> {
    LeaderAppend {
        broker: BrokerId,
        epoch: Epoch,
        offset: Offset,
        record: R,
        high_watermark: Offset,
        flushed: bool,
    },
    ProduceRejected {
        broker: BrokerId,
        record: R,
        error: ErrorCode,
    },
    DuplicateSequence {
        broker: BrokerId,
        record: R,
        offset: Offset,
    },
    ProduceCompleted {
        broker: BrokerId,
        offset: Offset,
        result: Result<Offset, ErrorCode>,
    },
    FollowerAppend {
        broker: BrokerId,
        leader: BrokerId,
        from: Offset,
        to: Offset,
        high_watermark: Offset,
        flushed: bool,
    },
    FollowerHighWatermark {
        broker: BrokerId,
        high_watermark: Offset,
    },
    FetchRecorded {
        leader: BrokerId,
        follower: BrokerId,
        fetch_offset: Offset,
    },
    HighWatermarkAdvanced {
        broker: BrokerId,
        high_watermark: Offset,
    },
    Truncated {
        broker: BrokerId,
        to: Offset,
        reason: Why,
    },
    IsrChangeProposed {
        leader: BrokerId,
        isr: BrokerSet,
        why: Why,
    },
    BecameLeader {
        broker: BrokerId,
        epoch: Epoch,
        isr: BrokerSet,
        high_watermark: Offset,
    },
    BecameFollower {
        broker: BrokerId,
        leader: Option<BrokerId>,
        epoch: Epoch,
    },
    IsrUpdated {
        broker: BrokerId,
        isr: BrokerSet,
    },
    Crashed {
        broker: BrokerId,
        power_loss: bool,
        end_offset: Offset,
    },
    Restarted {
        broker: BrokerId,
        end_offset: Offset,
        high_watermark: Offset,
    },
    BrokerFenced {
        broker: BrokerId,
        isr: BrokerSet,
        elr: BrokerSet,
        leader_lost: bool,
    },
    BrokerRegistered {
        broker: BrokerId,
        isr: BrokerSet,
        elr: BrokerSet,
        /// After a controlled shutdown (older traces leave it out).
        #[serde(default)]
        clean_shutdown: bool,
    },
    /// The broker asked to stop (SIGTERM).
    ShutdownRequested {
        broker: BrokerId,
    },
    /// The controller took the broker out of the ISR and of leadership and
    /// fenced it, so it may stop.
    ShutdownGranted {
        broker: BrokerId,
        isr: BrokerSet,
        elr: BrokerSet,
        leader_lost: bool,
    },
    /// The broker flushed its log and stopped.
    ShutDown {
        broker: BrokerId,
        end_offset: Offset,
    },
    /// A network partition healed: the broker's heartbeats reach the
    /// controller again.
    HeartbeatResumed {
        broker: BrokerId,
        leading: bool,
    },
    LeaderElected {
        broker: BrokerId,
        epoch: Epoch,
        kind: ElectionKind,
        isr: BrokerSet,
    },
    IsrChanged {
        isr: BrokerSet,
        elr: BrokerSet,
        partition_epoch: u32,
    },
    AlterPartitionRejected {
        leader: BrokerId,
        reason: Why,
    },
    ProducerSent {
        record: R,
        to: BrokerId,
        attempt: u8,
    },
    ProducerAcked {
        record: R,
        offset: Option<Offset>,
    },
    ProducerRetries {
        record: R,
        reason: String,
        retries_left: u8,
    },
    ProducerGaveUp {
        record: R,
        reason: String,
    },
    ConsumerRead {
        offset: Offset,
        record: R,
    },
}

fn b(id: BrokerId) -> String {
    format!("broker {id}")
}

impl<R: fmt::Display> fmt::Display for Event<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Event::*;
        let fl = |flushed: bool| if flushed { ", fsynced" } else { "" };
        match self {
            LeaderAppend {
                broker,
                epoch,
                offset,
                record,
                high_watermark,
                flushed,
            } => write!(
                f,
                "{} (leader, epoch {epoch}) appends {record} at offset {offset}, HW {high_watermark}{}",
                b(*broker),
                fl(*flushed)
            ),
            ProduceRejected {
                broker,
                record,
                error,
            } => write!(f, "{} rejects {record} with {error}", b(*broker)),
            DuplicateSequence {
                broker,
                record,
                offset,
            } => write!(
                f,
                "{} finds {record}'s sequence already at offset {offset} and drops the retry",
                b(*broker)
            ),
            ProduceCompleted {
                broker,
                offset,
                result,
            } => match result {
                Ok(_) => write!(
                    f,
                    "{} acknowledges offset {offset} to the producer",
                    b(*broker)
                ),
                Err(e) => write!(f, "{} answers offset {offset} with {e}", b(*broker)),
            },
            FollowerAppend {
                broker,
                leader,
                from,
                to,
                high_watermark,
                flushed,
            } => write!(
                f,
                "{} fetches offsets {from}..{to} from {}, HW {high_watermark}{}",
                b(*broker),
                b(*leader),
                fl(*flushed)
            ),
            FollowerHighWatermark {
                broker,
                high_watermark,
            } => write!(f, "{} learns HW {high_watermark}", b(*broker)),
            FetchRecorded {
                leader,
                follower,
                fetch_offset,
            } => write!(
                f,
                "{} records that {} has everything below offset {fetch_offset}",
                b(*leader),
                b(*follower)
            ),
            HighWatermarkAdvanced {
                broker,
                high_watermark,
            } => write!(f, "{} advances the HW to {high_watermark}", b(*broker)),
            Truncated { broker, to, reason } => {
                write!(
                    f,
                    "{} truncates its log to offset {to} ({reason})",
                    b(*broker)
                )
            }
            IsrChangeProposed { leader, isr, why } => write!(
                f,
                "{} asks the controller to change the ISR to {isr} ({why})",
                b(*leader)
            ),
            BecameLeader {
                broker,
                epoch,
                isr,
                high_watermark,
            } => write!(
                f,
                "{} becomes leader for epoch {epoch} with ISR {isr}, HW {high_watermark}",
                b(*broker)
            ),
            BecameFollower {
                broker,
                leader,
                epoch,
            } => match leader {
                Some(l) => write!(f, "{} follows {} in epoch {epoch}", b(*broker), b(*l)),
                None => write!(f, "{} learns the partition has no leader", b(*broker)),
            },
            IsrUpdated { broker, isr } => {
                write!(f, "{} (leader) learns the ISR is {isr}", b(*broker))
            }
            Crashed {
                broker,
                power_loss,
                end_offset,
            } => {
                if *power_loss && *end_offset == 0 {
                    write!(
                        f,
                        "{} loses power; nothing was flushed, so its log is empty",
                        b(*broker)
                    )
                } else if *power_loss {
                    write!(
                        f,
                        "{} loses power; its log keeps only the flushed offsets below {end_offset}",
                        b(*broker)
                    )
                } else {
                    write!(
                        f,
                        "{} is killed (kill -9); the page cache keeps its log up to offset {end_offset}",
                        b(*broker)
                    )
                }
            }
            Restarted {
                broker,
                end_offset,
                high_watermark,
            } => write!(
                f,
                "{} restarts with LEO {end_offset}, HW {high_watermark}, and registers with the controller",
                b(*broker)
            ),
            BrokerFenced {
                broker,
                isr,
                elr,
                leader_lost,
            } => write!(
                f,
                "controller fences {} after its heartbeat timeout{}: ISR {isr}, ELR {elr}",
                b(*broker),
                if *leader_lost {
                    ", the partition has no leader"
                } else {
                    ""
                }
            ),
            BrokerRegistered {
                broker,
                isr,
                elr,
                clean_shutdown,
            } => write!(
                f,
                "controller unfences {} after {} shutdown: ISR {isr}, ELR {elr}",
                b(*broker),
                if *clean_shutdown {
                    "a clean"
                } else {
                    "an unclean"
                }
            ),
            ShutdownRequested { broker } => write!(
                f,
                "{} is asked to stop (SIGTERM) and asks the controller for a controlled shutdown",
                b(*broker)
            ),
            ShutdownGranted {
                broker,
                isr,
                elr,
                leader_lost,
            } => write!(
                f,
                "controller grants {}'s controlled shutdown and fences it: {}ISR {isr}, ELR {elr}",
                b(*broker),
                if *leader_lost {
                    "it no longer leads, "
                } else {
                    ""
                }
            ),
            HeartbeatResumed { broker, leading } => write!(
                f,
                "the network partition heals: {}'s heartbeats reach the controller again{}",
                b(*broker),
                if *leading {
                    " (it still believes it leads)"
                } else {
                    ""
                }
            ),
            ShutDown { broker, end_offset } => write!(
                f,
                "{} flushes its log (LEO {end_offset}) and stops cleanly",
                b(*broker)
            ),
            LeaderElected {
                broker,
                epoch,
                kind,
                isr,
            } => write!(
                f,
                "controller elects {} ({}), epoch {epoch}, ISR {isr}",
                b(*broker),
                match kind {
                    ElectionKind::Clean => "clean election from the ISR",
                    ElectionKind::Elr => "from the ELR",
                    ElectionKind::Unclean => "UNCLEAN election, outside the ISR",
                    ElectionKind::LastKnownLeader => {
                        "the last known leader, as the ISR and the ELR are empty (KIP-966's last resort)"
                    }
                    ElectionKind::Preferred => {
                        "preferred-leader election: leadership moves with no failure"
                    }
                }
            ),
            IsrChanged {
                isr,
                elr,
                partition_epoch,
            } => write!(
                f,
                "controller commits ISR {isr}, ELR {elr} (partition epoch {partition_epoch})"
            ),
            AlterPartitionRejected { leader, reason } => write!(
                f,
                "controller rejects the ISR change from {} ({reason})",
                b(*leader)
            ),
            ProducerSent {
                record,
                to,
                attempt,
            } => {
                if *attempt == 0 {
                    write!(f, "producer sends {record} to {}", b(*to))
                } else {
                    write!(
                        f,
                        "producer resends {record} to {} (retry {attempt})",
                        b(*to)
                    )
                }
            }
            ProducerAcked { record, offset } => match offset {
                Some(o) => write!(f, "producer gets the ack for {record}: offset {o}"),
                None => write!(f, "producer counts {record} as written (acks=0)"),
            },
            ProducerRetries {
                record,
                reason,
                retries_left,
            } => write!(
                f,
                "producer will retry {record} after {reason} ({retries_left} retries left)"
            ),
            ProducerGaveUp { record, reason } => {
                write!(f, "producer gives up on {record}: {reason}")
            }
            ConsumerRead { offset, record } => {
                write!(f, "consumer reads {record} at offset {offset}")
            }
        }
    }
}
