//! What a protocol step asks its runtime to do, and what it decided.
//!
//! State machines never do I/O: they push messages here, and, when the
//! runtime asks for them, trace events naming each decision. The model turns
//! events into a counterexample's story; the server writes them as its trace.

use super::messages::{Msg, Node};
use super::types::{BrokerId, BrokerSet, Epoch, ErrorCode, Offset};
use std::fmt;

#[derive(Debug)]
pub struct Effects<R> {
    pub sends: Vec<(Node, Msg<R>)>,
    events: Option<Vec<Event<R>>>,
}

impl<R> Effects<R> {
    /// Effects without trace events: what the checker uses on its hot path.
    pub fn new() -> Self {
        Effects {
            sends: Vec::new(),
            events: None,
        }
    }
    /// Effects that also record every decision as an [`Event`].
    pub fn traced() -> Self {
        Effects {
            sends: Vec::new(),
            events: Some(Vec::new()),
        }
    }
    pub fn send(&mut self, to: Node, msg: Msg<R>) {
        self.sends.push((to, msg));
    }
    pub fn event(&mut self, event: impl FnOnce() -> Event<R>) {
        if let Some(events) = &mut self.events {
            events.push(event());
        }
    }
    pub fn events(&self) -> &[Event<R>] {
        self.events.as_deref().unwrap_or(&[])
    }
    pub fn is_traced(&self) -> bool {
        self.events.is_some()
    }
}

impl<R> Default for Effects<R> {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ElectionKind {
    /// From the live members of the ISR.
    Clean,
    /// KIP-966: from the live Eligible Leader Replicas.
    Elr,
    /// `unclean.leader.election.enable`: from any live replica.
    Unclean,
}

/// One protocol decision, named after the Kafka behaviour it is.
/// In a trace, an event is `{"type": "LeaderAppend", ...fields}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
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
        reason: &'static str,
    },
    IsrChangeProposed {
        leader: BrokerId,
        isr: BrokerSet,
        why: &'static str,
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
        reason: &'static str,
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
                if *power_loss {
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
            BrokerRegistered { broker, isr, elr } => write!(
                f,
                "controller unfences {} after an unclean shutdown: ISR {isr}, ELR {elr}",
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
