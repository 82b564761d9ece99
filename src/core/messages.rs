//! The requests and responses the protocol exchanges, named after Kafka's
//! APIs. Both runtimes carry these: the model as actor messages, the server
//! by translating them to and from Kafka's wire format.

use super::error::ErrorCode;
use super::log::Entry;
use super::types::{Acks, BrokerId, BrokerSet, Epoch, Offset, PartitionEpoch, RenameBrokers};

/// A participant: brokers by id, the controller, and clients by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    Broker(BrokerId),
    Controller,
    Client(u8),
}

/// The controller's view of the partition, as brokers and clients learn it
/// (KRaft's partition record, or the old LeaderAndIsr request).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct PartitionState {
    pub leader: Option<BrokerId>,
    pub leader_epoch: Epoch,
    pub isr: BrokerSet,
    pub elr: BrokerSet,
    pub partition_epoch: PartitionEpoch,
}

/// A follower's fetch (`Fetch` with `replica_id` set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FetchRequest {
    /// The leader epoch the follower believes in (`current_leader_epoch`).
    pub leader_epoch: Epoch,
    /// The follower's LEO.
    pub fetch_offset: Offset,
    /// The epoch of the follower's last entry (KIP-320).
    pub last_fetched_epoch: Option<Epoch>,
    /// Which life of the follower process sent it; a restarted follower
    /// ignores answers meant for its previous life.
    pub incarnation: u8,
}

/// A producer's request to append one record (a batch, on the server).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProduceRequest<R> {
    /// The client's request number, echoed in the answer.
    pub request: u8,
    pub acks: Acks,
    pub record: R,
    /// The leader epoch the client's metadata names. Kafka's Produce has no
    /// such field; the model uses it so a broker that has not yet heard of
    /// its election waits instead of bouncing the request.
    pub leader_epoch: Epoch,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FetchResult<R> {
    /// Entries from the fetch offset on, and the leader's high watermark.
    Records {
        entries: Vec<Entry<R>>,
        high_watermark: Offset,
    },
    /// KIP-320: the follower's log diverges; the leader's log ends epoch
    /// `epoch` at `end_offset`.
    Diverging { epoch: Epoch, end_offset: Offset },
    /// Before leader epochs: the fetch offset is past the leader's LEO.
    OffsetOutOfRange { leader_end_offset: Offset },
    /// The receiver is not the leader of that epoch.
    NotLeader,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FetchResponse<R> {
    pub leader_epoch: Epoch,
    pub fetch_offset: Offset,
    pub incarnation: u8,
    pub result: FetchResult<R>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Msg<R> {
    /// Producer → leader.
    Produce(ProduceRequest<R>),
    /// Leader → producer: the record's offset, or an error.
    ProduceResponse {
        request: u8,
        result: Result<Offset, ErrorCode>,
    },
    /// Follower → leader.
    Fetch(FetchRequest),
    /// Leader → follower.
    FetchResponse(FetchResponse<R>),
    /// Consumer → leader: read from `offset` (`replica_id = -1`).
    ConsumerFetch {
        request: u8,
        offset: Offset,
        leader_epoch: Epoch,
    },
    /// Leader → consumer: the entry at `offset` below the HW, if any.
    ConsumerFetchResponse {
        request: u8,
        offset: Offset,
        result: Result<Option<R>, ErrorCode>,
    },
    /// A broker's process died with the connection open: the client sees
    /// the TCP connection reset and every pending request on it is lost.
    ConnectionReset,
    /// Leader → controller: AlterPartition (ISR shrink or expand).
    AlterPartition {
        leader_epoch: Epoch,
        partition_epoch: PartitionEpoch,
        new_isr: BrokerSet,
        /// The follower an expansion adds, with the broker epoch its fetch
        /// carried (KIP-903's `newIsrWithEpochs`). Kafka sends an epoch for
        /// every member; only the joiner's can be stale here, because a
        /// member that restarts leaves the ISR when it is fenced, and the
        /// one that stays as the last member is the leader itself.
        joining: Option<(BrokerId, u8)>,
    },
    /// Controller → leader: its AlterPartition proposing `new_isr` at
    /// `partition_epoch` was refused. Kafka answers the request with an
    /// error code, not with the partition's state, and the leader acts on
    /// it only while it still waits for that very proposal
    /// (`Partition.submitAlterPartition`: "Ignoring failed ISR update").
    /// `ineligible`: refused for a fenced or stale joiner
    /// (INELIGIBLE_REPLICA), the one refusal after which Kafka's leader
    /// drops its proposal (`Partition.handleAlterPartitionError`); after
    /// any other it waits for the metadata that made the proposal stale.
    AlterPartitionRejected {
        new_isr: BrokerSet,
        partition_epoch: Epoch,
        ineligible: bool,
    },
    /// Controller → broker: the partition's current state.
    LeaderAndIsr {
        state: PartitionState,
        /// The broker epoch of the registration it answers to (KRaft's
        /// broker epoch): a restarted broker ignores what was meant for its
        /// previous life.
        broker_epoch: u8,
    },
    /// Controller → client: where the leader is (a Metadata response).
    Metadata {
        leader: Option<BrokerId>,
        leader_epoch: Epoch,
    },
    /// The controller's heartbeat timeout for a broker fired
    /// (`broker.session.timeout.ms`): the broker is fenced.
    SessionExpired,
    /// A broker (re)starts and registers with the controller, or, with
    /// `clean_shutdown` and its current epoch, resumes heartbeats after a
    /// network partition: its log kept everything either way.
    BrokerRegistration {
        clean_shutdown: bool,
        broker_epoch: u8,
    },
    /// Broker → controller, on SIGTERM: a BrokerHeartbeat with
    /// `want_shut_down` (KIP-631's controlled shutdown).
    ControlledShutdown { broker_epoch: u8 },
    /// Controller → broker: it leads nothing any more and is fenced, so it
    /// may stop (`should_shut_down` in the heartbeat's answer).
    ShutdownAllowed { broker_epoch: u8 },
    /// The operator's SIGTERM to a broker, the next step of a rolling
    /// restart. Not a Kafka request, and no runtime sends it: the model
    /// delivers it from the controller's side because the operator waits
    /// on what the controller knows (no under-replicated partition, no
    /// broker away) before restarting the next broker.
    Sigterm,
}

impl RenameBrokers for Node {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        match self {
            Node::Broker(b) => *b = to(*b),
            Node::Controller | Node::Client(_) => {}
        }
    }
}

impl RenameBrokers for PartitionState {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        let PartitionState {
            leader,
            leader_epoch: _,
            isr,
            elr,
            partition_epoch: _,
        } = self;
        leader.rename_brokers(to);
        isr.rename_brokers(to);
        elr.rename_brokers(to);
    }
}

impl<R> Msg<R> {
    /// Whether the message names a broker in its content (not counting its
    /// sender and receiver): only then does renaming brokers change it.
    pub fn names_brokers(&self) -> bool {
        match self {
            Msg::LeaderAndIsr { .. }
            | Msg::Metadata { .. }
            | Msg::AlterPartition { .. }
            | Msg::AlterPartitionRejected { .. } => true,
            Msg::Produce(_)
            | Msg::ProduceResponse { .. }
            | Msg::Fetch(_)
            | Msg::FetchResponse(_)
            | Msg::ConsumerFetch { .. }
            | Msg::ConsumerFetchResponse { .. }
            | Msg::ConnectionReset
            | Msg::SessionExpired
            | Msg::BrokerRegistration { .. }
            | Msg::ControlledShutdown { .. }
            | Msg::ShutdownAllowed { .. }
            | Msg::Sigterm => false,
        }
    }
}

impl<R> RenameBrokers for Msg<R> {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        match self {
            Msg::LeaderAndIsr {
                state,
                broker_epoch: _,
            } => state.rename_brokers(to),
            Msg::Metadata {
                leader,
                leader_epoch: _,
            } => leader.rename_brokers(to),
            Msg::AlterPartitionRejected {
                new_isr,
                partition_epoch: _,
                ineligible: _,
            } => new_isr.rename_brokers(to),
            Msg::AlterPartition {
                leader_epoch: _,
                partition_epoch: _,
                new_isr,
                joining,
            } => {
                new_isr.rename_brokers(to);
                if let Some((b, _)) = joining {
                    *b = to(*b);
                }
            }
            // Requests and answers between a client or follower and a
            // leader carry offsets, epochs and records, never a broker id.
            Msg::Produce(_)
            | Msg::ProduceResponse { .. }
            | Msg::Fetch(_)
            | Msg::FetchResponse(_)
            | Msg::ConsumerFetch { .. }
            | Msg::ConsumerFetchResponse { .. }
            | Msg::ConnectionReset
            | Msg::SessionExpired
            | Msg::BrokerRegistration { .. }
            | Msg::ControlledShutdown { .. }
            | Msg::ShutdownAllowed { .. }
            | Msg::Sigterm => {}
        }
    }
}
